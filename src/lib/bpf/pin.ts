// bpffs pins of programs and maps: what outlives the daemon (a restart that keeps forwarding).
import { lib, libc } from "./libbpf.ts";
import { check } from "./errors.ts";

/** Pins any bpf object (map or program) fd at a bpffs path. */
export function pinFd(fd: number, path: string): void {
  check(lib.bpf_obj_pin(fd, path), `pin fd ${fd} at ${path}`);
}

/** A new fd for a pinned object; the caller closes it (closeFd). */
export function openPinned(path: string): number {
  return check(lib.bpf_obj_get(path), `open pinned ${path}`);
}

export function closeFd(fd: number): void {
  libc.close(fd);
}
