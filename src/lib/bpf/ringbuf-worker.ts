// Drains one BPF ring buffer off the main event loop and posts its records in batches.
//
// It reads the ring's shared memory directly (the kernel's documented layout: a consumer
// page, then the producer page and the data area mapped twice so records never wrap)
// instead of ring_buffer__poll: libbpf would call back into JS through a JSCallback, and
// Bun's JSCallbacks invoked on a Worker thread block the thread.
import { read, toArrayBuffer, type Pointer } from "bun:ffi";
import { ptr } from "bun:ffi";
import { libc } from "./libbpf.ts";
import { BpfMap } from "./map.ts";

// The worker sleeps in epoll_wait on the ring's fd (the kernel wakes it on every submitted
// record) instead of polling; the wait is bounded so that a stop request is seen promptly.
const EPOLLIN = 1;
const EPOLL_CTL_ADD = 1;
const EPOLL_CLOEXEC = 0o2000000;
const WAIT_MS = 100;

declare const self: Worker;

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const BUSY_BIT = 0x80000000;
const DISCARD_BIT = 0x40000000;
const HEADER = 8;

interface Ring {
  epfd: number;
  events: Uint8Array;
  consumer: Pointer;
  producer: Pointer;
  data: number;
  mask: number;
  page: number;
  size: number;
}

let ring: Ring | undefined;
let stopped = false;

function open(fd: number): Ring {
  const size = BpfMap.fromFd(fd, "ringbuf", { owned: false }).maxEntries;
  const page = libc.getpagesize();
  const consumer = <Pointer | null>libc.mmap(null, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const producer = <Pointer | null>libc.mmap(null, page + 2 * size, PROT_READ, MAP_SHARED, fd, page);
  if (!consumer || Number(consumer) === -1 || !producer || Number(producer) === -1) throw new Error(`mmap ring buffer fd ${fd} failed`);
  const epfd = libc.epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) throw new Error("epoll_create1 failed");
  // struct epoll_event { u32 events; u64 data; } packed: 12 bytes.
  const ev = new Uint8Array(12);
  new DataView(ev.buffer).setUint32(0, EPOLLIN, true);
  if (libc.epoll_ctl(epfd, EPOLL_CTL_ADD, fd, ptr(ev)) < 0) throw new Error(`epoll_ctl on ring buffer fd ${fd} failed`);
  return { epfd, events: new Uint8Array(12 * 4), consumer, producer, data: page, mask: size - 1, page, size };
}

/** Consumes every complete record; returns them in order. */
function drain(r: Ring): Uint8Array[] {
  const out: Uint8Array[] = [];
  const cons = new BigUint64Array(toArrayBuffer(r.consumer, 0, 8));
  let pos = Number(cons[0]);
  const prod = Number(read.u64(r.producer, 0));
  while (pos < prod) {
    const off = r.data + (pos & r.mask);
    const len = read.u32(r.producer, off);
    if (len & BUSY_BIT) break;
    const size = len & ~(BUSY_BIT | DISCARD_BIT);
    if (!(len & DISCARD_BIT)) out.push(new Uint8Array(toArrayBuffer(r.producer, off + HEADER, size)).slice());
    pos += (size + HEADER + 7) & ~7;
    cons[0] = BigInt(pos);
  }
  return out;
}

function loop(): void {
  if (stopped || !ring) return;
  const records = drain(ring);
  if (records.length > 0) self.postMessage({ records }, records.map((x) => x.buffer));
  else libc.epoll_wait(ring.epfd, ptr(ring.events), 4, WAIT_MS);
  setTimeout(loop, 0);
}

self.onmessage = (ev: MessageEvent) => {
  const msg = ev.data as { start?: number; stop?: boolean };
  if (msg.start !== undefined) {
    try {
      ring = open(msg.start);
    } catch (e) {
      self.postMessage({ error: (e as Error).message });
      return;
    }
    self.postMessage({ started: true });
    loop();
  } else if (msg.stop) {
    stopped = true;
    if (ring) {
      libc.munmap(ring.consumer, ring.page);
      libc.munmap(ring.producer, ring.page + 2 * ring.size);
      libc.close(ring.epfd);
    }
    ring = undefined;
    self.postMessage({ stopped: true });
  }
};
