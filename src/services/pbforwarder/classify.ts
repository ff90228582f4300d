// pbforwarder's classifier: the shared tuple space (src/lib/classifier) with pbforwarder's
// shapes (which of the nine fields a rule tests) and keys (their exact values), the layouts of
// pbforwarder.bpf.c's maps, and the datapath's search redone here as a reference for tests.
// Every field is an exact match, so a shape is just the set of fields a rule names: rules that
// name the same fields, however many, are one tuple and cost a packet one hash lookup.
import { be16, be32, bytes, mac, struct, u16, u32, u8 } from "../../lib/bpf/codec.ts";
import { firstMatch, TupleSpace, type Tuple } from "../../lib/classifier/tuple-space.ts";
import { ServiceError } from "../../lib/sdk/types.ts";
import type { Rule } from "./rules.ts";

/** PBF_TUPLES_MAX, PBF_RULES_MAX in pbforwarder.bpf.c */
export const TUPLES_MAX = 64;
export const RULES_MAX = 16384;

/** Bits of a tuple's `use` (PBF_USE_* in pbforwarder.bpf.c). */
export const USE_SRC_MAC = 0x001, USE_DST_MAC = 0x002, USE_VLAN = 0x004, USE_SRC_IP = 0x008, USE_DST_IP = 0x010;
export const USE_PROTO = 0x020, USE_SPORT = 0x040, USE_DPORT = 0x080, USE_IN_PORT = 0x100;

export interface Placed {
  rule: Rule;
  /** The rule's id: lower ids are tried first. */
  rank: number;
}

export interface PbShape {
  sig: string;
  use: number;
}

export interface PbKey {
  inPort: number;
  vlan: number;
  proto: number;
  srcMac: string;
  dstMac: string;
  srcIp: number;
  dstIp: number;
  sport: number;
  dport: number;
}

const ZERO_MAC = "00:00:00:00:00:00";

export function shapeOf(r: Rule): PbShape {
  let use = 0;
  if (r.srcMac !== undefined) use |= USE_SRC_MAC;
  if (r.dstMac !== undefined) use |= USE_DST_MAC;
  if (r.vlan !== undefined) use |= USE_VLAN;
  if (r.srcIp !== undefined) use |= USE_SRC_IP;
  if (r.dstIp !== undefined) use |= USE_DST_IP;
  if (r.proto !== undefined) use |= USE_PROTO;
  if (r.sport !== undefined) use |= USE_SPORT;
  if (r.dport !== undefined) use |= USE_DPORT;
  if (r.inPort !== undefined) use |= USE_IN_PORT;
  return { sig: String(use), use };
}

export function keyOf(r: Rule): PbKey {
  return {
    inPort: r.inPort ?? 0, vlan: r.vlan ?? 0, proto: r.proto ?? 0, srcMac: r.srcMac ?? ZERO_MAC, dstMac: r.dstMac ?? ZERO_MAC,
    srcIp: r.srcIp ?? 0, dstIp: r.dstIp ?? 0, sport: r.sport ?? 0, dport: r.dport ?? 0,
  };
}

export function newSpace(): TupleSpace<Placed, PbShape, PbKey> {
  return new TupleSpace<Placed, PbShape, PbKey>({
    maxTuples: TUPLES_MAX,
    // ids are part of entry keys only (the tuple array is filled in search order), so a large
    // pool lets a freed id rest until its old entries are gone from the datapath.
    ids: 65536,
    deferFree: true,
    shape: (p) => shapeOf(p.rule),
    key: (p) => keyOf(p.rule),
    keyId: (k) => `${k.inPort}|${k.vlan}|${k.proto}|${k.srcMac}|${k.dstMac}|${k.srcIp}|${k.dstIp}|${k.sport}|${k.dport}`,
    tooMany: () => new ServiceError(`rules: more than ${TUPLES_MAX} different combinations of fields are in use; rules naming the same fields share one lookup`, 400, "too-many-elements", "rules"),
  });
}

/** A packet as the datapath parses it. */
export interface Packet {
  inPort: number;
  srcMac: string;
  dstMac: string;
  vlan?: number;
  ip?: { src: number; dst: number; proto: number; sport?: number; dport?: number };
}

export interface EntryValue {
  rank: number;
  action: number;
  outPort: number;
}

/** The search pbforwarder.bpf.c makes: a tuple whose fields the packet lacks is skipped. */
export function search(tuples: Tuple<PbShape>[], entryOf: (tuple: number, k: PbKey) => EntryValue | undefined, p: Packet): EntryValue | undefined {
  const ports = p.ip && (p.ip.proto === 6 || p.ip.proto === 17);
  return firstMatch(tuples, (t) => {
    const u = t.use;
    if (u & USE_VLAN && p.vlan === undefined) return undefined;
    if (u & (USE_SRC_IP | USE_DST_IP | USE_PROTO) && !p.ip) return undefined;
    if (u & (USE_SPORT | USE_DPORT) && !ports) return undefined;
    return entryOf(t.id, {
      inPort: u & USE_IN_PORT ? p.inPort : 0,
      vlan: u & USE_VLAN ? p.vlan! : 0,
      proto: u & USE_PROTO ? p.ip!.proto : 0,
      srcMac: u & USE_SRC_MAC ? p.srcMac : ZERO_MAC,
      dstMac: u & USE_DST_MAC ? p.dstMac : ZERO_MAC,
      srcIp: u & USE_SRC_IP ? p.ip!.src : 0,
      dstIp: u & USE_DST_IP ? p.ip!.dst : 0,
      sport: u & USE_SPORT ? p.ip!.sport ?? 0 : 0,
      dport: u & USE_DPORT ? p.ip!.dport ?? 0 : 0,
    });
  });
}

/** The rule-by-rule reference: the first rule (by id) that admits the packet. */
export function admits(r: Rule, p: Packet): boolean {
  if (r.inPort !== undefined && r.inPort !== p.inPort) return false;
  if (r.srcMac !== undefined && r.srcMac !== p.srcMac) return false;
  if (r.dstMac !== undefined && r.dstMac !== p.dstMac) return false;
  if (r.vlan !== undefined && r.vlan !== p.vlan) return false;
  if ((r.srcIp !== undefined || r.dstIp !== undefined || r.proto !== undefined) && !p.ip) return false;
  if (r.srcIp !== undefined && r.srcIp !== p.ip!.src) return false;
  if (r.dstIp !== undefined && r.dstIp !== p.ip!.dst) return false;
  if (r.proto !== undefined && r.proto !== p.ip!.proto) return false;
  if (r.sport !== undefined && r.sport !== p.ip!.sport) return false;
  if (r.dport !== undefined && r.dport !== p.ip!.dport) return false;
  return true;
}

// ---- the datapath's layout ---------------------------------------------------------------

/** struct pbf_key */
export const entryKey = struct<{ tuple: number; inPort: number; vlan: number; proto: number; pad: number; srcMac: string; dstMac: string; srcIp: number; dstIp: number; sport: number; dport: number }>(32, {
  tuple: { offset: 0, codec: u16 },
  inPort: { offset: 2, codec: u16 },
  vlan: { offset: 4, codec: u16 },
  proto: { offset: 6, codec: u8 },
  pad: { offset: 7, codec: u8 },
  srcMac: { offset: 8, codec: mac },
  dstMac: { offset: 14, codec: mac },
  srcIp: { offset: 20, codec: be32 },
  dstIp: { offset: 24, codec: be32 },
  sport: { offset: 28, codec: be16 },
  dport: { offset: 30, codec: be16 },
});

/** struct pbf_value */
export const entryValue = struct<{ rank: number; action: number; outPort: number }>(8, {
  rank: { offset: 0, codec: u32 },
  action: { offset: 4, codec: u16 },
  outPort: { offset: 6, codec: u16 },
});

/** struct pbf_tupleset: n, then per tuple (in search order) its best rank, id and use. */
export const tupleSet = struct<{ n: number; pad: number; t: Uint8Array }>(8 + 8 * TUPLES_MAX, {
  n: { offset: 0, codec: u32 },
  pad: { offset: 4, codec: u32 },
  t: { offset: 8, codec: bytes(8 * TUPLES_MAX) },
});

export function encodeTuples(tuples: Tuple<PbShape>[]): { n: number; pad: number; t: Uint8Array } {
  const t = new Uint8Array(8 * TUPLES_MAX);
  const v = new DataView(t.buffer);
  tuples.forEach((x, i) => {
    v.setUint32(8 * i, Math.min(x.best, 0xffffffff), true);
    v.setUint16(8 * i + 4, x.id, true);
    v.setUint16(8 * i + 6, x.use, true);
  });
  return { n: tuples.length, pad: 0, t };
}

export function keyRecord(tuple: number, k: PbKey) {
  return { tuple, pad: 0, ...k };
}
