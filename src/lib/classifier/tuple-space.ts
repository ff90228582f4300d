// A tuple space: the bookkeeping of a classifier whose per-packet cost does not grow with the
// number of rules. Rules are grouped by their *shape* (which fields they test, with which
// masks): each shape is a tuple, and inside a tuple a rule is one exact-match key (the packet's
// fields, masked as the tuple says). A datapath searches it with one hash lookup per tuple,
// tuples sorted by the best (lowest) rank they hold, and stops as soon as no later tuple can beat
// the match in hand. Several rules with the same key wait behind the best-ranked one.
//
// This module is generic: a service says what a rule's shape and key are; the space keeps the
// tuples (ids reused from a fixed pool, as the datapath's array holds them) and entries as rules
// come and go, and records which entries changed and whether the tuple list did, so that a
// change costs map writes in proportion to itself. Pure: the service turns the records into map
// writes. Used by firewall (classifier.ts) and pbforwarder (classify.ts).

/** A rule's shape: rules with equal `sig` share a tuple. Other members are the service's. */
export interface Shape {
  sig: string;
}

/** What the space holds: anything with a rank (lower = earlier, the first match wins). */
export interface Ranked {
  rank: number;
}

export type Tuple<S extends Shape> = S & {
  /** Slot in the datapath's tuple array; part of every entry's key. */
  id: number;
  count: number;
  /** No rule of the tuple has a lower rank (a bound: it is not raised when rules leave). */
  best: number;
};

/** A pending write: the entry of tuple `tuple` with key `key` is now `head` (its best rule), or gone (null). */
export interface TupleChange<K, M> {
  tuple: number;
  key: K;
  head: M | null;
}

export interface TupleSpaceSpec<M extends Ranked, S extends Shape, K> {
  /** How many tuples the datapath searches. */
  maxTuples: number;
  /** Tuple ids handed out, 0..ids-1 (default maxTuples: ids index the datapath's array). */
  ids?: number;
  shape(m: M): S;
  /** The exact-match key inside its tuple (without the tuple id). */
  key(m: M): K;
  /** A text form of the key, unique within a shape. */
  keyId(k: K): string;
  /** The error when a rule would need one tuple more than maxTuples. */
  tooMany(): Error;
  /**
   * Freed tuple ids return to the pool only at take(), so that one batch of changes never gives
   * a tuple id to a new shape while entries of the old one may still be in the datapath.
   */
  deferFree?: boolean;
}

interface Entry<M, K> {
  sig: string;
  key: K;
  /** Rules with this exact key, best rank first: the first decides, the others wait behind it. */
  members: M[];
}

export class TupleSpace<M extends Ranked, S extends Shape, K> {
  private readonly tuples = new Map<string, Tuple<S>>();
  private readonly entries = new Map<string, Entry<M, K>>();
  private readonly freeIds: number[];
  private freedInBatch: number[] = [];
  private changes = new Map<string, TupleChange<K, M>>();
  private tuplesChanged = false;

  constructor(private readonly spec: TupleSpaceSpec<M, S, K>) {
    const n = spec.ids ?? spec.maxTuples;
    this.freeIds = Array.from({ length: n }, (_, i) => n - 1 - i);
  }

  get tupleCount(): number {
    return this.tuples.size;
  }

  get entryCount(): number {
    return this.entries.size;
  }

  private ids(m: M): { shape: S; key: K; ks: string } {
    const shape = this.spec.shape(m);
    const key = this.spec.key(m);
    return { shape, key, ks: `${shape.sig}|${this.spec.keyId(key)}` };
  }

  add(m: M): void {
    const { shape, key, ks } = this.ids(m);
    let t = this.tuples.get(shape.sig);
    if (!t) {
      const id = this.tuples.size < this.spec.maxTuples ? this.freeIds.pop() : undefined;
      if (id === undefined) throw this.spec.tooMany();
      t = { ...shape, id, count: 0, best: m.rank };
      this.tuples.set(shape.sig, t);
      this.tuplesChanged = true;
    }
    t.count++;
    if (m.rank < t.best) {
      t.best = m.rank;
      this.tuplesChanged = true;
    }
    let e = this.entries.get(ks);
    if (!e) {
      e = { sig: shape.sig, key, members: [] };
      this.entries.set(ks, e);
    }
    // Usually the only member; duplicates of a key are rare, so a linear insert is fine.
    let i = 0;
    while (i < e.members.length && e.members[i]!.rank < m.rank) i++;
    e.members.splice(i, 0, m);
    if (i === 0) this.record(ks, e);
  }

  remove(m: M): void {
    const { shape, key, ks } = this.ids(m);
    const e = this.entries.get(ks);
    const i = e ? e.members.indexOf(m) : -1;
    if (!e || i < 0) throw new Error("tuple space: removing a rule it does not hold");
    e.members.splice(i, 1);
    const t = this.tuples.get(shape.sig)!;
    if (!e.members.length) {
      this.entries.delete(ks);
      this.changes.set(ks, { tuple: t.id, key, head: null });
    } else if (i === 0) {
      this.record(ks, e);
    }
    if (--t.count === 0) {
      this.tuples.delete(shape.sig);
      (this.spec.deferFree ? this.freedInBatch : this.freeIds).push(t.id);
      this.tuplesChanged = true;
    }
  }

  private record(ks: string, e: Entry<M, K>): void {
    this.changes.set(ks, { tuple: this.tuples.get(e.sig)!.id, key: e.key, head: e.members[0]! });
  }

  /** The entry writes and whether the tuple list changed since the last call. */
  take(): { entries: TupleChange<K, M>[]; tuplesChanged: boolean } {
    const out = { entries: [...this.changes.values()], tuplesChanged: this.tuplesChanged };
    this.changes = new Map();
    this.tuplesChanged = false;
    this.freeIds.push(...this.freedInBatch);
    this.freedInBatch = [];
    return out;
  }

  /** Every entry as it should be: for a rewrite from scratch. */
  all(): TupleChange<K, M>[] {
    return [...this.entries.values()].map((e) => ({ tuple: this.tuples.get(e.sig)!.id, key: e.key, head: e.members[0]! }));
  }

  /** The tuples in search order: lowest possible rank first. */
  list(): Tuple<S>[] {
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
 * The datapath's search, done over the same structures: tuples in order, `probe` looks the
 * packet up in one tuple (undefined when the tuple cannot apply or has no such entry). The
 * reference that tests compare with a rule-by-rule scan.
 */
export function firstMatch<S extends Shape, V extends Ranked>(tuples: Tuple<S>[], probe: (t: Tuple<S>) => V | undefined): V | undefined {
  let best: V | undefined;
  for (const t of tuples) {
    if (best && t.best >= best.rank) break;
    const v = probe(t);
    if (v && (!best || v.rank < best.rank)) best = v;
  }
  return best;
}
