// Programs the kernel already holds, found by id (e.g. one another process loaded and attached):
// an fd of our own to inspect or test-run them, closed by the caller.
import { ptr } from "bun:ffi";
import { lib, libc } from "./libbpf.ts";
import { check } from "./errors.ts";

export interface ProgramInfo {
  id: number;
  /** enum bpf_prog_type (e.g. 3 SCHED_CLS, 6 XDP). */
  type: number;
  name: string;
}

/** A new fd for the loaded program with this id (needs CAP_SYS_ADMIN); close it with closeProgramFd. */
export function programFdById(id: number): number {
  return check(lib.bpf_prog_get_fd_by_id(id), `open program id ${id}`);
}

export function closeProgramFd(fd: number): void {
  libc.close(fd);
}

/** The program's id, type and name (struct bpf_prog_info: type, id, tag[8], ..., name[16] at 64). */
export function programInfo(fd: number): ProgramInfo {
  const buf = new Uint8Array(256);
  const len = new Uint32Array([buf.byteLength]);
  check(lib.bpf_obj_get_info_by_fd(fd, ptr(buf), ptr(len)), `read info of program fd ${fd}`);
  const v = new DataView(buf.buffer);
  const name = buf.subarray(64, 80);
  const end = name.indexOf(0);
  return { type: v.getUint32(0, true), id: v.getUint32(4, true), name: Buffer.from(name.subarray(0, end < 0 ? 16 : end)).toString("utf8") };
}
