// Reads a BPF ring buffer in a Worker so that draining never blocks the event loop.
import { BpfError } from "./errors.ts";

/**
 * In a `bun build --compile` executable import.meta.url names the executable, not this file,
 * while the worker (an extra entry point of the build) keeps its path under the bundle root,
 * src/ (see the Makefile).
 */
function workerUrl(): string {
  if (import.meta.url.includes("$bunfs")) return "/$bunfs/root/lib/bpf/ringbuf-worker.ts";
  return new URL("./ringbuf-worker.ts", import.meta.url).href;
}

const START_TIMEOUT_MS = 5000;

export class RingBufferReader {
  private worker?: Worker;

  constructor(
    readonly mapFd: number,
    readonly name = "ring buffer",
  ) {}

  /** Starts draining; each record is delivered, in order, to onRecord on the main thread. */
  async start(onRecord: (data: Uint8Array) => void, onError?: (e: Error) => void): Promise<void> {
    if (this.worker) return;
    const worker = new Worker(workerUrl());
    this.worker = worker;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BpfError(`${this.name}: the reader did not start`, 62)), START_TIMEOUT_MS);
      worker.onerror = (ev: ErrorEvent) => {
        clearTimeout(timer);
        reject(new BpfError(`${this.name}: reader failed: ${ev.message}`, 5));
      };
      worker.onmessage = (ev: MessageEvent) => {
        const m = ev.data as { started?: boolean; records?: Uint8Array[]; error?: string };
        if (m.started) {
          clearTimeout(timer);
          resolve();
        }
        else if (m.records) for (const r of m.records) onRecord(r);
        else if (m.error) {
          const e = new BpfError(`${this.name}: ${m.error}`, 5);
          clearTimeout(timer);
          reject(e);
          onError?.(e);
        }
      };
      worker.postMessage({ start: this.mapFd });
    });
    (worker as Worker & { unref(): void }).unref();
  }

  async stop(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 500);
      w.addEventListener("message", (ev: MessageEvent) => {
        if ((ev.data as { stopped?: boolean }).stopped) {
          clearTimeout(t);
          resolve();
        }
      });
      w.postMessage({ stop: true });
    });
    w.terminate();
  }
}
