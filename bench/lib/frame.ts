// The benchmark's test frame: 60 bytes of Ethernet + IPv4 + UDP (the smallest Ethernet frame).
export const FRAME_LEN = 60;
/** UDP port of the test flow (discard), both ends unless a Flow says otherwise. */
export const FLOW_PORT = 9;

export interface Flow {
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  srcPort?: number;
  dstPort?: number;
  ttl?: number;
}

function putMac(v: Uint8Array, off: number, mac: string): void {
  const parts = mac.split(":").map((x) => parseInt(x, 16));
  if (parts.length !== 6 || parts.some((x) => !(x >= 0 && x <= 255))) throw new Error(`bad MAC ${mac}`);
  v.set(parts, off);
}

function putIp(v: Uint8Array, off: number, ip: string): void {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((x) => !(Number.isInteger(x) && x >= 0 && x <= 255))) throw new Error(`bad IPv4 address ${ip}`);
  v.set(parts, off);
}

/** One's-complement sum of 16-bit big-endian words, folded and inverted. */
export function inetChecksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A UDP/IPv4 frame of FRAME_LEN bytes, padded with zeros; the UDP checksum is 0 (none). */
export function udpFrame(f: Flow): Uint8Array {
  const b = new Uint8Array(FRAME_LEN);
  const v = new DataView(b.buffer);
  putMac(b, 0, f.dstMac);
  putMac(b, 6, f.srcMac);
  v.setUint16(12, 0x0800);
  const ip = 14;
  const udpLen = 8 + 18;
  b[ip] = 0x45;
  v.setUint16(ip + 2, 20 + udpLen);
  b[ip + 8] = f.ttl ?? 64;
  b[ip + 9] = 17;
  putIp(b, ip + 12, f.srcIp);
  putIp(b, ip + 16, f.dstIp);
  v.setUint16(ip + 10, inetChecksum(b.subarray(ip, ip + 20)));
  const udp = ip + 20;
  v.setUint16(udp, f.srcPort ?? FLOW_PORT);
  v.setUint16(udp + 2, f.dstPort ?? FLOW_PORT);
  v.setUint16(udp + 4, udpLen);
  return b;
}
