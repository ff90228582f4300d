// Frames services build or read in their slow paths: Ethernet, ARP, IPv4, ICMP (the router's
// ARP and ICMP answers, lbdsr's ARP for its VIP, the firewall's packet log).
//
// Hand-written rather than taken from a packet library: the services need only these few
// fixed-layout headers, and every field is read or written at a known offset.

import { ipv4ToNumber, numberToIpv4 } from "./ipv4.ts";
import { formatMac, macBytes } from "./mac.ts";

export const ETH_HLEN = 14;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_NET_UNREACH = 0;
export const ICMP_HOST_UNREACH = 1;

export const BROADCAST_MAC = "ff:ff:ff:ff:ff:ff";

// ---- addresses ----

// ---- checksums ----

/** RFC 1071 Internet checksum of a byte range, ready to store (big-endian). */
export function internetChecksum(b: Uint8Array, start = 0, end = b.length): number {
  let sum = 0;
  for (let i = start; i + 1 < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if ((end - start) % 2 === 1) sum += b[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

// ---- Ethernet ----

export interface EthernetHeader {
  dst: string;
  src: string;
  ethertype: number;
}

export function parseEthernet(frame: Uint8Array): EthernetHeader | undefined {
  if (frame.length < ETH_HLEN) return undefined;
  return { dst: formatMac(frame, 0), src: formatMac(frame, 6), ethertype: (frame[12]! << 8) | frame[13]! };
}

export function buildEthernet(dst: string, src: string, ethertype: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + payload.length);
  f.set(macBytes(dst), 0);
  f.set(macBytes(src), 6);
  f[12] = ethertype >> 8;
  f[13] = ethertype & 255;
  f.set(payload, ETH_HLEN);
  return f;
}

/** Rewrites the MAC addresses of a frame in place. */
export function setMacs(frame: Uint8Array, dst: string, src: string): void {
  frame.set(macBytes(dst), 0);
  frame.set(macBytes(src), 6);
}

// ---- ARP (Ethernet/IPv4 only) ----

export interface Arp {
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

/** The ARP packet of an Ethernet frame, if it is an Ethernet/IPv4 one. */
export function parseArp(frame: Uint8Array): Arp | undefined {
  const eth = parseEthernet(frame);
  if (!eth || eth.ethertype !== ETH_P_ARP || frame.length < ETH_HLEN + 28) return undefined;
  const a = frame.subarray(ETH_HLEN);
  const dv = new DataView(a.buffer, a.byteOffset, 28);
  if (dv.getUint16(0) !== 1 || dv.getUint16(2) !== ETH_P_IP || a[4] !== 6 || a[5] !== 4) return undefined;
  return {
    op: dv.getUint16(6),
    senderMac: formatMac(a, 8),
    senderIp: numberToIpv4(dv.getUint32(14)),
    targetMac: formatMac(a, 18),
    targetIp: numberToIpv4(dv.getUint32(24)),
  };
}

export function buildArp(ethDst: string, arp: Arp): Uint8Array {
  const a = new Uint8Array(28);
  const dv = new DataView(a.buffer);
  dv.setUint16(0, 1);
  dv.setUint16(2, ETH_P_IP);
  a[4] = 6;
  a[5] = 4;
  dv.setUint16(6, arp.op);
  a.set(macBytes(arp.senderMac), 8);
  dv.setUint32(14, ipv4ToNumber(arp.senderIp));
  a.set(macBytes(arp.targetMac), 18);
  dv.setUint32(24, ipv4ToNumber(arp.targetIp));
  return buildEthernet(ethDst, arp.senderMac, ETH_P_ARP, a);
}

export function buildArpRequest(srcMac: string, srcIp: string, targetIp: string): Uint8Array {
  return buildArp(BROADCAST_MAC, { op: ARP_REQUEST, senderMac: srcMac, senderIp: srcIp, targetMac: "00:00:00:00:00:00", targetIp });
}

/** The reply to `req`, answering that `req.targetIp` is at `mac`. */
export function buildArpReply(req: Arp, mac: string): Uint8Array {
  return buildArp(req.senderMac, { op: ARP_REPLY, senderMac: mac, senderIp: req.targetIp, targetMac: req.senderMac, targetIp: req.senderIp });
}

// ---- IPv4 ----

export interface Ipv4 {
  /** Header length in bytes. */
  ihl: number;
  totalLength: number;
  ttl: number;
  protocol: number;
  src: string;
  dst: string;
  /** Offset of the IPv4 header in the frame. */
  offset: number;
  /** The fragment offset (in 8-byte units): only the first fragment (0) has the L4 header. */
  fragmentOffset: number;
}

export function parseIpv4Header(frame: Uint8Array): Ipv4 | undefined {
  const eth = parseEthernet(frame);
  if (!eth || eth.ethertype !== ETH_P_IP || frame.length < ETH_HLEN + 20) return undefined;
  const dv = new DataView(frame.buffer, frame.byteOffset + ETH_HLEN);
  const vihl = dv.getUint8(0);
  if (vihl >> 4 !== 4) return undefined;
  const ihl = (vihl & 15) * 4;
  if (ihl < 20 || frame.length < ETH_HLEN + ihl) return undefined;
  return {
    ihl,
    totalLength: dv.getUint16(2),
    ttl: dv.getUint8(8),
    protocol: dv.getUint8(9),
    src: numberToIpv4(dv.getUint32(12)),
    dst: numberToIpv4(dv.getUint32(16)),
    offset: ETH_HLEN,
    fragmentOffset: dv.getUint16(6) & 0x1fff,
  };
}

/** The ports of a TCP or UDP packet (its first fragment); undefined for other packets. */
export function parseL4Ports(frame: Uint8Array): { sport: number; dport: number } | undefined {
  const ip = parseIpv4Header(frame);
  if (!ip || (ip.protocol !== IPPROTO_TCP && ip.protocol !== IPPROTO_UDP) || ip.fragmentOffset) return undefined;
  const l4 = ip.offset + ip.ihl;
  if (frame.length < l4 + 4) return undefined;
  const dv = new DataView(frame.buffer, frame.byteOffset + l4, 4);
  return { sport: dv.getUint16(0), dport: dv.getUint16(2) };
}

let ipId = 1;

/** An IPv4 packet (no options, DF clear) carrying payload; checksum filled in. */
export function buildIpv4(src: string, dst: string, protocol: number, payload: Uint8Array, ttl = 64): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  const dv = new DataView(p.buffer);
  p[0] = 0x45;
  dv.setUint16(2, p.length);
  dv.setUint16(4, ipId++ & 0xffff);
  p[8] = ttl;
  p[9] = protocol;
  dv.setUint32(12, ipv4ToNumber(src));
  dv.setUint32(16, ipv4ToNumber(dst));
  dv.setUint16(10, internetChecksum(p, 0, 20));
  p.set(payload, 20);
  return p;
}

/** True if the IPv4 header checksum of the frame is right. */
export function ipv4ChecksumOk(frame: Uint8Array): boolean {
  const ip = parseIpv4Header(frame);
  return !!ip && internetChecksum(frame, ip.offset, ip.offset + ip.ihl) === 0;
}

// ---- ICMP ----

export interface Icmp {
  type: number;
  code: number;
  /** Offset of the ICMP header in the frame. */
  offset: number;
}

export function parseIcmp(frame: Uint8Array): Icmp | undefined {
  const ip = parseIpv4Header(frame);
  if (!ip || ip.protocol !== IPPROTO_ICMP) return undefined;
  const off = ip.offset + ip.ihl;
  if (frame.length < off + 8) return undefined;
  return { type: frame[off]!, code: frame[off + 1]!, offset: off };
}

function icmpMessage(type: number, code: number, rest: Uint8Array, body: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + body.length);
  m[0] = type;
  m[1] = code;
  m.set(rest.subarray(0, 4), 4);
  m.set(body, 8);
  const c = internetChecksum(m);
  m[2] = c >> 8;
  m[3] = c & 255;
  return m;
}

/**
 * The echo reply to an echo request frame: same identifier, sequence and data, addresses swapped.
 * `srcMac` is the MAC the reply leaves from. Undefined if the frame is not an echo request.
 */
export function buildEchoReply(request: Uint8Array, srcMac: string): Uint8Array | undefined {
  const eth = parseEthernet(request);
  const ip = parseIpv4Header(request);
  const icmp = parseIcmp(request);
  if (!eth || !ip || !icmp || icmp.type !== ICMP_ECHO_REQUEST) return undefined;
  const end = Math.min(request.length, ip.offset + ip.totalLength);
  const msg = icmpMessage(ICMP_ECHO_REPLY, 0, request.subarray(icmp.offset + 4, icmp.offset + 8), request.subarray(icmp.offset + 8, end));
  return buildEthernet(eth.src, srcMac, ETH_P_IP, buildIpv4(ip.dst, ip.src, IPPROTO_ICMP, msg));
}

/**
 * An ICMP error (time exceeded, destination unreachable) about `offending`, sent from `srcIp`/`srcMac`
 * back to the offending packet's sender: it quotes the offending IP header and 8 bytes of its data
 * (RFC 792). Undefined for frames that must not cause an ICMP error (non-IPv4, ICMP errors themselves).
 */
export function buildIcmpError(offending: Uint8Array, type: number, code: number, srcIp: string, srcMac: string): Uint8Array | undefined {
  const eth = parseEthernet(offending);
  const ip = parseIpv4Header(offending);
  if (!eth || !ip) return undefined;
  const icmp = parseIcmp(offending);
  if (icmp && icmp.type !== ICMP_ECHO_REQUEST && icmp.type !== ICMP_ECHO_REPLY) return undefined;
  const quoted = offending.subarray(ip.offset, Math.min(offending.length, ip.offset + ip.ihl + 8));
  const msg = icmpMessage(type, code, new Uint8Array(4), quoted);
  return buildEthernet(eth.src, srcMac, ETH_P_IP, buildIpv4(srcIp, ip.src, IPPROTO_ICMP, msg));
}
