// The backend choice of lbdsr.bpf.c, in TypeScript: the original's LB_HASHING_SESSION. A
// session (addresses, ports, protocol; ports 0 for ICMP echo) laid out as the datapath's 16-byte
// struct session_key, hashed by the kernel's jhash(key, 16, JHASH_INITVAL) as a little-endian host
// computes it, modulo the pool size: the backend at that place in the pool (ordered by id). The
// datapath remembers the choice per session; this is what a new session gets. The tests predict
// the datapath's choices with it.
import { ipv4ToBytes } from "../../lib/sdk/ipv4.ts";

export const JHASH_INITVAL = 0xdeadbeef;

export interface Session {
  src: string;
  dst: string;
  /** TCP/UDP ports; 0 for ICMP. */
  sport: number;
  dport: number;
  /** IP protocol number (6 TCP, 17 UDP, 1 ICMP). */
  proto: number;
}

/** struct session_key: addresses and ports in wire order, the protocol, 3 bytes of zero padding. */
export function sessionBytes(s: Session): Uint8Array {
  const b = new Uint8Array(16);
  b.set(ipv4ToBytes(s.src), 0);
  b.set(ipv4ToBytes(s.dst), 4);
  b[8] = s.sport >> 8;
  b[9] = s.sport & 255;
  b[10] = s.dport >> 8;
  b[11] = s.dport & 255;
  b[12] = s.proto;
  return b;
}

const rol = (w: number, s: number) => ((w << s) | (w >>> (32 - s))) >>> 0;

/** The kernel's jhash() (lookup3) of `key` with `initval`: whole 12-byte rounds, then the tail. */
export function jhash(key: Uint8Array, initval = JHASH_INITVAL): number {
  let a = (JHASH_INITVAL + key.length + initval) >>> 0;
  let b = a;
  let c = a;
  const word = (o: number) => (key[o]! | (key[o + 1]! << 8) | (key[o + 2]! << 16) | (key[o + 3]! << 24)) >>> 0;
  let o = 0;
  let left = key.length;
  while (left > 12) {
    a = (a + word(o)) >>> 0;
    b = (b + word(o + 4)) >>> 0;
    c = (c + word(o + 8)) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol(c, 4)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol(a, 6)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol(b, 8)) >>> 0; b = (b + a) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol(c, 16)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol(a, 19)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol(b, 4)) >>> 0; b = (b + a) >>> 0;
    o += 12;
    left -= 12;
  }
  if (left === 0) return c;
  // The tail, little-endian, into a, b, c as far as it goes.
  const tail = [0, 0, 0];
  for (let i = 0; i < left; i++) tail[i >> 2]! += key[o + i]! * 2 ** (8 * (i & 3));
  a = (a + tail[0]!) >>> 0;
  b = (b + tail[1]!) >>> 0;
  c = (c + tail[2]!) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol(b, 24)) >>> 0;
  return c;
}

/** The place in the pool (0-based) a new session takes among `n` backends. */
export function backendIndex(s: Session, n: number): number {
  if (n <= 0) throw new Error("an empty pool has no backend");
  return jhash(sessionBytes(s)) % n;
}
