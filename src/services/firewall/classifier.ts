// The tuple space the datapath searches (firewall.bpf.c explains the design): rules grouped by
// the shape of their conditions, one exact-match entry per rule inside its tuple. The generic
// bookkeeping is src/lib/classifier/tuple-space.ts (shared with pbforwarder); this module gives
// it the firewall's shapes and keys and encodes them as firewall.bpf.c lays them out.
// Pure: the writer (generations.ts) turns the records into map writes.
import { ServiceError } from "../../lib/sdk/types.ts";
import { firstMatch, TupleSpace as GenericTupleSpace, type Tuple as GenericTuple, type TupleChange } from "../../lib/classifier/tuple-space.ts";
import { encodeTupleSet, ruleKey, ruleValue, TUPLES_MAX } from "./layout.ts";
import { mask, type Rule } from "./rules.ts";

export { TUPLES_MAX };

/** FW_RULES_MAX in firewall.bpf.c */
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

type Shape = ReturnType<typeof shapeOf>;
type Key = Omit<EntryKey, "tuple">;
export type Tuple = GenericTuple<Shape>;

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

function entryKeyOf(r: Rule): Key {
  return {
    src: r.srcNet?.[0] ?? 0, dst: r.dstNet?.[0] ?? 0, proto: r.proto ?? 0,
    sport: r.sport ?? 0, dport: r.dport ?? 0, flags: r.flags?.[1] ?? 0, ct: r.ct ?? 0,
  };
}

function toEntry(c: TupleChange<Key, Placed>): EntryChange {
  const h = c.head;
  return { key: { ...c.key, tuple: c.tuple }, value: h ? { rank: h.rank, counter: h.counter, action: h.action } : null };
}

/** One chain's tuple space (src/lib/classifier), with the firewall's shapes, keys and entry values. */
export class TupleSpace {
  private readonly space = new GenericTupleSpace<Placed, Shape, Key>({
    maxTuples: TUPLES_MAX,
    shape: (p) => shapeOf(p.rule),
    key: (p) => entryKeyOf(p.rule),
    keyId: (k) => `${k.src}|${k.dst}|${k.proto}|${k.sport}|${k.dport}|${k.flags}|${k.ct}`,
    tooMany: () => new ServiceError(`the chain's rules would need more than ${TUPLES_MAX} different combinations of prefix lengths, fields and TCP flags; merge or simplify rules`, 400, "too-many-elements", "rule"),
  });

  get tupleCount(): number {
    return this.space.tupleCount;
  }

  add(p: Placed): void {
    this.space.add(p);
  }

  remove(p: Placed): void {
    this.space.remove(p);
  }

  /** The entry writes and whether the tuple list changed since the last call. */
  take(): { entries: EntryChange[]; tuplesChanged: boolean } {
    const t = this.space.take();
    return { entries: t.entries.map(toEntry), tuplesChanged: t.tuplesChanged };
  }

  /** Every entry as it should be: for a rewrite from scratch. */
  all(): EntryChange[] {
    return this.space.all().map(toEntry);
  }

  /** The tuples in search order: lowest possible rank first. */
  list(): Tuple[] {
    return this.space.list();
  }

  /** Recomputes each tuple's bound exactly (after ranks were renumbered). */
  rebound(): void {
    this.space.rebound();
  }
}

/**
 * The datapath's search, done here over the same structures: the reference the tests compare
 * with a rule-by-rule scan, and a description of what a packet meets.
 */
export function search(space: TupleSpace, entryOf: (k: EntryKey) => EntryValue | undefined, p: { src: number; dst: number; proto: number; sport?: number; dport?: number; flags?: number; ct?: number }): EntryValue | undefined {
  const hasPorts = p.proto === 6 || p.proto === 17;
  return firstMatch(space.list(), (t) => {
    if (t.use & NEED_PORTS && !hasPorts) return undefined;
    if (t.use & NEED_TCP && p.proto !== 6) return undefined;
    return entryOf({
      tuple: t.id,
      src: (p.src & mask(t.srcLen)) >>> 0,
      dst: (p.dst & mask(t.dstLen)) >>> 0,
      proto: t.use & USE_PROTO ? p.proto : 0,
      sport: t.use & USE_SPORT ? p.sport ?? 0 : 0,
      dport: t.use & USE_DPORT ? p.dport ?? 0 : 0,
      flags: (p.flags ?? 0) & t.flagsMask,
      ct: t.use & USE_CT ? p.ct ?? 0 : 0,
    });
  });
}

// ---- the datapath's layout (layout.ts) ---------------------------------------------------

/** struct fw_rule_key of an entry in a generation's slot */
export function encodeEntryKey(slot: number, k: EntryKey): Uint8Array {
  return ruleKey.encode({ slot, pad: 0, ...k });
}

export function encodeEntryValue(e: EntryValue): Uint8Array {
  return ruleValue.encode(e);
}

/** struct fw_tupleset of a chain's tuples */
export function encodeTuples(tuples: Tuple[]): Uint8Array {
  return encodeTupleSet(tuples.map((t) => ({ srcMask: mask(t.srcLen), dstMask: mask(t.dstLen), best: Math.min(t.best, 0xffffffff), id: t.id, flagsMask: t.flagsMask, use: t.use })));
}
