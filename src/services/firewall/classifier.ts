// The tuple space the datapath searches (firewall.bpf.c explains the design): rules grouped by
// the shape of their conditions, one exact-match entry per rule inside its tuple. This module
// keeps that structure for one chain as rules come and go, and records which map entries and
// whether the tuple list changed, so that a change costs map writes in proportion to itself.
// Pure: the writer (generations.ts) turns the records into map writes.
import { ServiceError } from "../../lib/sdk/types.ts";
import { mask, type Rule } from "./rules.ts";

/** FW_TUPLES_MAX, FW_RULES_MAX in firewall.bpf.c */
export const TUPLES_MAX = 128;
export const RULES_MAX = 16384;

/** Bits of a tuple's `use` (FW_USE_* and FW_NEED_* in firewall.bpf.c). */
export const USE_PROTO = 0x01, USE_SPORT = 0x02, USE_DPORT = 0x04, USE_CT = 0x08, NEED_PORTS = 0x10, NEED_TCP = 0x20;

/** A rule in its chain: its rank (lower = earlier), its counter slot and the action code the datapath applies. */
export interface Placed {
  rule: Rule;
  rank: number;
  counter: number;
  action: number;
}

export interface Tuple {
  sig: string;
  id: number;
  srcLen: number;
  dstLen: number;
  use: number;
  flagsMask: number;
  count: number;
  /** No rule of the tuple has a lower rank (a bound: it is not raised when rules leave). */
  best: number;
}

export interface EntryKey {
  tuple: number;
  src: number;
  dst: number;
  proto: number;
  sport: number;
  dport: number;
  flags: number;
  ct: number;
}

export interface EntryValue {
  rank: number;
  counter: number;
  action: number;
}

/** A pending write: the entry's new value, or null to delete it. */
export interface EntryChange {
  key: EntryKey;
  value: EntryValue | null;
}

interface Entry {
  sig: string;
  key: Omit<EntryKey, "tuple">;
  /** Rules with this exact key, best rank first: the first decides, the others wait behind it. */
  members: Placed[];
}

export function shapeOf(r: Rule): { sig: string; srcLen: number; dstLen: number; use: number; flagsMask: number } {
  const srcLen = r.srcNet?.[1] ?? 0;
  const dstLen = r.dstNet?.[1] ?? 0;
  let use = 0;
  if (r.proto !== undefined) use |= USE_PROTO;
  if (r.sport !== undefined) use |= USE_SPORT | NEED_PORTS;
  if (r.dport !== undefined) use |= USE_DPORT | NEED_PORTS;
  if (r.ct !== undefined) use |= USE_CT;
  if (r.flags) use |= NEED_TCP;
  const flagsMask = r.flags?.[0] ?? 0;
  return { sig: `${srcLen}/${dstLen}/${use}/${flagsMask}`, srcLen, dstLen, use, flagsMask };
}

function entryKeyOf(r: Rule): Omit<EntryKey, "tuple"> {
  return {
    src: r.srcNet?.[0] ?? 0, dst: r.dstNet?.[0] ?? 0, proto: r.proto ?? 0,
    sport: r.sport ?? 0, dport: r.dport ?? 0, flags: r.flags?.[1] ?? 0, ct: r.ct ?? 0,
  };
}

export class TupleSpace {
  private readonly tuples = new Map<string, Tuple>();
  private readonly entries = new Map<string, Entry>();
  private readonly freeIds: number[] = Array.from({ length: TUPLES_MAX }, (_, i) => TUPLES_MAX - 1 - i);
  private changes = new Map<string, EntryChange>();
  private tuplesChanged = false;

  get tupleCount(): number {
    return this.tuples.size;
  }

  add(p: Placed): void {
    const shape = shapeOf(p.rule);
    let t = this.tuples.get(shape.sig);
    if (!t) {
      const id = this.freeIds.pop();
      if (id === undefined) {
        throw new ServiceError(`the chain's rules would need more than ${TUPLES_MAX} different combinations of prefix lengths, fields and TCP flags; merge or simplify rules`, 400, "too-many-elements", "rule");
      }
      t = { ...shape, id, count: 0, best: p.rank };
      this.tuples.set(shape.sig, t);
      this.tuplesChanged = true;
    }
    t.count++;
    if (p.rank < t.best) {
      t.best = p.rank;
      this.tuplesChanged = true;
    }
    const key = entryKeyOf(p.rule);
    const ks = `${shape.sig}|${key.src}|${key.dst}|${key.proto}|${key.sport}|${key.dport}|${key.flags}|${key.ct}`;
    let e = this.entries.get(ks);
    if (!e) {
      e = { sig: shape.sig, key, members: [] };
      this.entries.set(ks, e);
    }
    // Usually the only member; duplicates of a key are rare, so a linear insert is fine.
    let i = 0;
    while (i < e.members.length && e.members[i]!.rank < p.rank) i++;
    e.members.splice(i, 0, p);
    if (i === 0) this.record(ks, e);
  }

  remove(p: Placed): void {
    const shape = shapeOf(p.rule);
    const key = entryKeyOf(p.rule);
    const ks = `${shape.sig}|${key.src}|${key.dst}|${key.proto}|${key.sport}|${key.dport}|${key.flags}|${key.ct}`;
    const e = this.entries.get(ks);
    const i = e ? e.members.indexOf(p) : -1;
    if (!e || i < 0) throw new Error("firewall: removing a rule the tuple space does not hold");
    e.members.splice(i, 1);
    const t = this.tuples.get(shape.sig)!;
    if (!e.members.length) {
      this.entries.delete(ks);
      this.changes.set(ks, { key: { ...key, tuple: t.id }, value: null });
    } else if (i === 0) {
      this.record(ks, e);
    }
    if (--t.count === 0) {
      this.tuples.delete(shape.sig);
      this.freeIds.push(t.id);
      this.tuplesChanged = true;
    }
  }

  private record(ks: string, e: Entry): void {
    const head = e.members[0]!;
    const t = this.tuples.get(e.sig)!;
    this.changes.set(ks, { key: { ...e.key, tuple: t.id }, value: { rank: head.rank, counter: head.counter, action: head.action } });
  }

  /** The entry writes and whether the tuple list changed since the last call. */
  take(): { entries: EntryChange[]; tuplesChanged: boolean } {
    const out = { entries: [...this.changes.values()], tuplesChanged: this.tuplesChanged };
    this.changes = new Map();
    this.tuplesChanged = false;
    return out;
  }

  /** Every entry as it should be: for a rewrite from scratch. */
  all(): EntryChange[] {
    return [...this.entries.values()].map((e) => {
      const head = e.members[0]!;
      return { key: { ...e.key, tuple: this.tuples.get(e.sig)!.id }, value: { rank: head.rank, counter: head.counter, action: head.action } };
    });
  }

  /** The tuples in search order: lowest possible rank first. */
  list(): Tuple[] {
    return [...this.tuples.values()].sort((a, b) => a.best - b.best || a.id - b.id);
  }

  /** Recomputes each tuple's bound exactly (after ranks were renumbered). */
  rebound(): void {
    for (const t of this.tuples.values()) t.best = Infinity;
    for (const e of this.entries.values()) {
      const t = this.tuples.get(e.sig)!;
      t.best = Math.min(t.best, e.members[0]!.rank);
    }
    this.tuplesChanged = true;
  }
}

/**
 * The datapath's search, done here over the same structures: the reference the tests compare
 * with a rule-by-rule scan, and a description of what a packet meets.
 */
export function search(space: TupleSpace, entryOf: (k: EntryKey) => EntryValue | undefined, p: { src: number; dst: number; proto: number; sport?: number; dport?: number; flags?: number; ct?: number }): EntryValue | undefined {
  const hasPorts = p.proto === 6 || p.proto === 17;
  let best: EntryValue | undefined;
  for (const t of space.list()) {
    if (best && t.best >= best.rank) break;
    if (t.use & NEED_PORTS && !hasPorts) continue;
    if (t.use & NEED_TCP && p.proto !== 6) continue;
    const v = entryOf({
      tuple: t.id,
      src: (p.src & mask(t.srcLen)) >>> 0,
      dst: (p.dst & mask(t.dstLen)) >>> 0,
      proto: t.use & USE_PROTO ? p.proto : 0,
      sport: t.use & USE_SPORT ? p.sport ?? 0 : 0,
      dport: t.use & USE_DPORT ? p.dport ?? 0 : 0,
      flags: (p.flags ?? 0) & t.flagsMask,
      ct: t.use & USE_CT ? p.ct ?? 0 : 0,
    });
    if (v && (!best || v.rank < best.rank)) best = v;
  }
  return best;
}

// ---- the datapath's layout ---------------------------------------------------------------

/** struct fw_rule_key */
export function encodeEntryKey(slot: number, k: EntryKey): Uint8Array {
  const b = new Uint8Array(20);
  const v = new DataView(b.buffer);
  v.setUint8(0, slot);
  v.setUint8(1, k.proto);
  v.setUint8(2, k.flags);
  v.setUint8(3, k.ct);
  v.setUint16(4, k.tuple, true);
  v.setUint16(6, k.sport, false);
  v.setUint16(8, k.dport, false);
  v.setUint32(12, k.src, false);
  v.setUint32(16, k.dst, false);
  return b;
}

/** struct fw_rule_value */
export function encodeEntryValue(e: EntryValue): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint32(0, e.rank, true);
  v.setUint32(4, e.counter, true);
  v.setUint32(8, e.action, true);
  return b;
}

/** struct fw_tupleset */
export const TUPLESET_BYTES = 8 + 16 * TUPLES_MAX;

export function encodeTupleSet(tuples: Tuple[]): Uint8Array {
  const b = new Uint8Array(TUPLESET_BYTES);
  const v = new DataView(b.buffer);
  v.setUint32(0, tuples.length, true);
  tuples.forEach((t, i) => {
    const o = 8 + 16 * i;
    v.setUint32(o, mask(t.srcLen), false);
    v.setUint32(o + 4, mask(t.dstLen), false);
    v.setUint32(o + 8, Math.min(t.best, 0xffffffff), true);
    v.setUint16(o + 12, t.id, true);
    v.setUint8(o + 14, t.flagsMask);
    v.setUint8(o + 15, t.use);
  });
  return b;
}
