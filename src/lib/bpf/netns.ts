// Running libbpf calls inside a named network namespace (one made by `ip netns add`).
// Attaching XDP/TC, ifindex lookups and XDP live-frames test runs all act on the calling
// thread's network namespace; this switches the JS thread there for the length of a callback.
import { BpfError, lastErrno } from "./errors.ts";
import { libc as sys } from "./libbpf.ts";

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;

function openNs(path: string): number {
  const fd = sys.open(Buffer.from(`${path}\0`), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw new BpfError(`open network namespace ${path}`, lastErrno() || 2);
  return fd;
}

/**
 * Runs fn with the calling thread inside network namespace `name` (a name under /run/netns,
 * or an absolute path), then returns to the namespace it was in, even when fn throws.
 * fn must be synchronous: an await inside it would let other code run in the wrong namespace.
 */
export function withNetns<R>(name: string, fn: () => R): R {
  const home = openNs("/proc/thread-self/ns/net");
  try {
    const target = openNs(name.startsWith("/") ? name : `/run/netns/${name}`);
    try {
      if (sys.setns(target, CLONE_NEWNET) < 0) throw new BpfError(`enter network namespace ${name}`, lastErrno() || 1);
    } finally {
      sys.close(target);
    }
    try {
      const r = fn();
      if (r instanceof Promise) throw new BpfError(`run in network namespace ${name}: the callback must be synchronous`, 22);
      return r;
    } finally {
      if (sys.setns(home, CLONE_NEWNET) < 0) throw new BpfError(`return from network namespace ${name}`, lastErrno() || 1);
    }
  } finally {
    sys.close(home);
  }
}
