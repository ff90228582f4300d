// libbpf failures as JS errors that say what was being done and why it failed.
import { read } from "bun:ffi";
import { lib, libc } from "./libbpf.ts";

export class BpfError extends Error {
  constructor(
    /** What was being done, e.g. "attach XDP to veth0 (ifindex 7)". */
    readonly op: string,
    /** Positive errno. */
    readonly errno: number,
  ) {
    super(`${op}: ${errnoText(errno)}`);
    this.name = "BpfError";
  }
}

export function errnoText(errno: number): string {
  const buf = Buffer.alloc(256);
  if (lib.libbpf_strerror(errno, buf, buf.length) === 0) return buf.toString("utf8", 0, buf.indexOf(0));
  return String(libc.strerror(errno));
}

/** The calling thread's errno, for functions that return NULL or -1. */
export function lastErrno(): number {
  const p = libc.__errno_location();
  return p ? read.i32(p, 0) : 0;
}

/** libbpf int results: negative errno (1.x convention), or -1 with errno for raw syscall wrappers. */
export function check(rc: number, op: string | (() => string)): number {
  if (rc >= 0) return rc;
  const errno = rc === -1 ? lastErrno() || 1 : -rc;
  throw new BpfError(typeof op === "string" ? op : op(), errno);
}

/** libbpf pointer results: NULL means failure, with errno set. */
export function checkPtr<P>(ptr: P | null, op: string | (() => string)): P {
  if (ptr) return ptr;
  throw new BpfError(typeof op === "string" ? op : op(), lastErrno() || 22);
}
