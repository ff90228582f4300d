// Where libbpf's own messages go. libbpf prints warnings to stderr by default, including the
// kernel's extended ack of requests that fail harmlessly (creating a clsact qdisc that another
// tool already created answers "Exclusivity flag on, cannot modify"). Its messages are routed
// here instead: formatted with libc's vsnprintf, expected noise demoted to debug, and handed to
// a sink the daemon points at its log.
import { JSCallback, FFIType as T, ptr, type Pointer } from "bun:ffi";
import { isMainThread } from "node:worker_threads";
import { lib, libc } from "./libbpf.ts";

export type LibbpfLevel = "warn" | "info" | "debug";
const LEVELS: LibbpfLevel[] = ["warn", "info", "debug"]; // LIBBPF_WARN, LIBBPF_INFO, LIBBPF_DEBUG

/** Messages that describe an expected condition the caller handles (see attachTc). */
const EXPECTED = [/Exclusivity flag on, cannot modify/];

let sink: (level: LibbpfLevel, text: string) => void = (level, text) => {
  if (level !== "debug") process.stderr.write(`libbpf: ${text}\n`);
};

/** Sends libbpf's messages to `fn` (the daemon's log) instead of stderr. */
export function setLibbpfSink(fn: (level: LibbpfLevel, text: string) => void): void {
  sink = fn;
}

let captured: string[] | undefined;

/** Runs `fn` (synchronous libbpf calls) and returns, besides its result or error, libbpf's messages meanwhile (a verifier log). */
export function withLibbpfMessages<T>(fn: () => T): { result?: T; error?: unknown; messages: string[] } {
  const outer = captured;
  const messages: string[] = [];
  captured = messages;
  try {
    return { result: fn(), messages };
  } catch (error) {
    return { error, messages };
  } finally {
    captured = outer;
  }
}

/** libbpf's message as our sink will see it: without its "libbpf: " prefix and trailing newline; expected noise as debug. */
export function classify(level: number, text: string): { level: LibbpfLevel; text: string } {
  const clean = text.replace(/^libbpf: /, "").replace(/\n+$/, "");
  return { level: EXPECTED.some((re) => re.test(clean)) ? "debug" : LEVELS[level] ?? "debug", text: clean };
}

// Large enough for a verifier log, which libbpf passes as one message and whose end says why.
const buf = new Uint8Array(1 << 20);
let callback: JSCallback | undefined;

// The callback receives a va_list, which vsnprintf can consume only where va_list is passed as
// a pointer (x86-64); elsewhere libbpf keeps printing to stderr. libbpf is called from the main
// thread only (the ring buffer's worker uses its own mmap), and a JSCallback must be too.
if (process.arch === "x64" && isMainThread) {
  callback = new JSCallback(
    (level: number, fmt: Pointer, args: Pointer) => {
      const n = libc.vsnprintf(ptr(buf), buf.length, fmt, args);
      const text = new TextDecoder().decode(buf.subarray(0, Math.max(0, Math.min(n, buf.length - 1))));
      const m = classify(level, text);
      if (m.text) {
        captured?.push(m.text);
        sink(m.level, m.text);
      }
      return 0;
    },
    { args: [T.i32, T.ptr, T.ptr], returns: T.i32 },
  );
  lib.libbpf_set_print(callback.ptr);
}
