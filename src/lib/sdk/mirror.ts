// Keeping a map equal to the configuration: the one way services do it.
//
// A MapMirror owns the entries it writes into one map. replace(want) makes those entries the
// wanted ones: it deletes what is no longer wanted (first, so a full table makes room), writes
// what is new or different, in batches, and nothing else; it remembers what it wrote, so the next
// change costs only its difference. Entries it did not write (learned by the datapath) are left
// alone. When the kernel refuses a batch (a full map), the map is put back as it was and a
// ServiceError (507) is thrown: nothing is half-applied. Several maps that change together go
// through applyInOrder(): when one refuses, those already changed are put back too.
import type { Codec } from "../bpf/codec.ts";
import { deleteAll, ServiceError, setAll, type MapAccess } from "./types.ts";

export type Entry = [Uint8Array, Uint8Array];

/** A key's identity as text (lower-case hex): the one key-hexing of services. */
export function keyHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Puts a map back to what it was before a replace(): undoes the replace when called. */
export type Undo = () => Promise<void>;

export interface MirrorOptions {
  /** What the map is, for errors: "routing tables: <kernel error>". Default: "map <name>". */
  what?: string;
  /**
   * Array maps (no deletes): the value an entry gets when it is no longer wanted (e.g. a
   * disabled port). Without it entries are deleted.
   */
  absent?: Uint8Array;
}

export class MapMirror {
  /** What this mirror has written: key hex -> entry. */
  private written = new Map<string, Entry>();
  private readonly what: string;

  constructor(
    readonly map: MapAccess,
    name: string,
    private readonly opts: MirrorOptions = {},
  ) {
    this.what = opts.what ?? `map ${name}`;
  }

  /** The entries this mirror has written, as they are in the map. */
  entries(): Entry[] {
    return [...this.written.values()];
  }

  has(key: Uint8Array): boolean {
    return this.written.has(keyHex(key));
  }

  get size(): number {
    return this.written.size;
  }

  /**
   * Makes the mirror's entries exactly `want` (later duplicates of a key win). With `keep`, only
   * writes: entries no longer wanted stay until a later replace (e.g. new backend slots before
   * the services that count them, stale ones after). Returns how to undo it.
   */
  async replace(want: Iterable<readonly [Uint8Array, Uint8Array]>, opts: { keep?: boolean } = {}): Promise<Undo> {
    const next = new Map<string, Entry>();
    for (const [k, v] of want) next.set(keyHex(k), [k, v]);
    const before = new Map(this.written);
    const writes: Entry[] = [];
    for (const [id, e] of next) {
      const had = before.get(id);
      if (!had || !sameBytes(had[1], e[1])) writes.push(e);
    }
    const gone = opts.keep ? [] : [...before].filter(([id]) => !next.has(id)).map(([, e]) => e);
    if (opts.keep) for (const [id, e] of before) if (!next.has(id)) next.set(id, e);
    if (writes.length || gone.length) {
      try {
        await this.remove(gone.map(([k]) => k));
        await setAll(this.map, writes);
      } catch (e) {
        await this.restore(before, writes, gone);
        throw e instanceof ServiceError ? e : new ServiceError(`${this.what}: ${(e as Error).message}`, 507);
      }
    }
    this.written = next;
    return () => this.replace(before.values()).then(() => undefined);
  }

  /**
   * Changes some of the mirror's entries and leaves the others: `set` entries are written (when
   * new or different), `del` keys are deleted (when the mirror wrote them). The cost of
   * replace() for a change of a few entries of a large table, with its guarantee: when the
   * kernel refuses, the map is put back as it was and a ServiceError (507) is thrown.
   */
  async patch(set: Iterable<readonly [Uint8Array, Uint8Array]>, del: Iterable<Uint8Array> = []): Promise<Undo> {
    const prior = new Map<string, Entry | undefined>();
    const writes: Entry[] = [];
    const gone = new Map<string, Entry>();
    for (const k of del) {
      const id = keyHex(k);
      const had = this.written.get(id);
      if (!had || prior.has(id)) continue;
      prior.set(id, had);
      gone.set(id, had);
    }
    for (const [k, v] of set) {
      const id = keyHex(k);
      const had = this.written.get(id);
      gone.delete(id); // a key both deleted and set is set
      if (had && sameBytes(had[1], v)) continue;
      if (!prior.has(id)) prior.set(id, had);
      writes.push([k, v]);
    }
    if (!writes.length && !gone.size) return async () => undefined;
    try {
      await this.remove([...gone.values()].map(([k]) => k));
      await setAll(this.map, writes);
    } catch (e) {
      const added = writes.filter(([k]) => !prior.get(keyHex(k))).map(([k]) => k);
      const back = [...prior.values()].filter((x): x is Entry => x !== undefined);
      try {
        await this.remove(added);
        await setAll(this.map, back);
      } catch {
        // As replace(): read the map back, so the next change starts from what is there.
        const owned = new Set([...this.written.keys(), ...writes.map(([k]) => keyHex(k))]);
        this.written = new Map((await this.map.entries().catch(() => [])).filter(([k]) => owned.has(keyHex(k))).map(([k, v]) => [keyHex(k), [k, v]]));
      }
      throw e instanceof ServiceError ? e : new ServiceError(`${this.what}: ${(e as Error).message}`, 507);
    }
    for (const id of gone.keys()) this.written.delete(id);
    for (const e of writes) this.written.set(keyHex(e[0]), e);
    const undoSet: Entry[] = [];
    const undoDel: Uint8Array[] = [];
    const written = new Map(writes.map((w) => [keyHex(w[0]), w[0]]));
    for (const [id, had] of prior) {
      if (had) undoSet.push(had);
      else undoDel.push(written.get(id)!);
    }
    return () => this.patch(undoSet, undoDel).then(() => undefined);
  }

  /** One entry outside replace() (e.g. learned by the slow path), remembered as written. */
  async set(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.map.set(key, value);
    this.written.set(keyHex(key), [key, value]);
  }

  async delete(key: Uint8Array): Promise<void> {
    await this.remove([key]);
    this.written.delete(keyHex(key));
  }

  /** Forgets every entry it wrote (the map was emptied by someone else, e.g. a reload). */
  forget(): void {
    this.written.clear();
  }

  private async remove(keys: Uint8Array[]): Promise<void> {
    if (!keys.length) return;
    if (this.opts.absent) await setAll(this.map, keys.map((k) => [k, this.opts.absent!]));
    else await deleteAll(this.map, keys);
  }

  /**
   * After a refused batch: the entries this change added go, those it changed or deleted get
   * their previous values. Which of the batch's writes reached the map is unknown, so every
   * touched key is put back. When even that fails, the map is read back so the next replace
   * starts from what is really there.
   */
  private async restore(before: Map<string, Entry>, writes: Entry[], gone: Entry[]): Promise<void> {
    const added = writes.filter(([k]) => !before.has(keyHex(k))).map(([k]) => k);
    const back = [...writes.filter(([k]) => before.has(keyHex(k))).map(([k]) => before.get(keyHex(k))!), ...gone];
    try {
      await this.remove(added);
      await setAll(this.map, back);
      this.written = before;
    } catch {
      const owned = new Set([...before.keys(), ...writes.map(([k]) => keyHex(k))]);
      this.written = new Map((await this.map.entries().catch(() => [])).filter(([k]) => owned.has(keyHex(k))).map(([k, v]) => [keyHex(k), [k, v]]));
    }
  }
}

/** A mirror of typed records: keys and values go through codecs. */
export class TypedMirror<K, V> {
  readonly raw: MapMirror;

  constructor(
    map: MapAccess,
    name: string,
    private readonly key: Codec<K>,
    private readonly value: Codec<V>,
    opts: MirrorOptions = {},
  ) {
    this.raw = new MapMirror(map, name, opts);
  }

  replace(want: Iterable<readonly [K, V]>, opts: { keep?: boolean } = {}): Promise<Undo> {
    const entries: Entry[] = [];
    for (const [k, v] of want) entries.push([this.key.encode(k), this.value.encode(v)]);
    return this.raw.replace(entries, opts);
  }

  /** MapMirror.patch() with typed keys and values. */
  patch(set: Iterable<readonly [K, V]>, del: Iterable<K> = []): Promise<Undo> {
    const s: Entry[] = [];
    for (const [k, v] of set) s.push([this.key.encode(k), this.value.encode(v)]);
    return this.raw.patch(s, [...del].map((k) => this.key.encode(k)));
  }

  set(k: K, v: V): Promise<void> {
    return this.raw.set(this.key.encode(k), this.value.encode(v));
  }

  delete(k: K): Promise<void> {
    return this.raw.delete(this.key.encode(k));
  }

  entries(): Array<[K, V]> {
    return this.raw.entries().map(([k, v]) => [this.key.decode(k), this.value.decode(v)]);
  }
}

/**
 * Runs changes of several maps as one: each step is a replace() (or anything returning its
 * undo); when one throws, the steps already done are undone, last first, and the error goes on.
 */
export async function applyInOrder(steps: Array<() => Promise<Undo>>, onUndoError?: (e: Error) => void): Promise<void> {
  const done: Undo[] = [];
  try {
    for (const step of steps) done.push(await step());
  } catch (e) {
    for (const undo of done.reverse()) await undo().catch((again) => onUndoError?.(again as Error));
    throw e;
  }
}
