// Puts a chain's rule changes into the datapath atomically (firewall.bpf.c, "Atomic updates").
// Each chain has two generations of entries and tuple lists; packets read the active one. A
// change is written into the idle generation, which is then made active by one write of
// fw_active[chain]. The generation just left still lacks that change: it gets it, merged with
// the next change, right before it becomes active again, at least a grace period after it was
// left so that no packet is still reading it. A change thus costs two writes per entry it
// touches and no wait, unless changes come faster than the grace period.
import { deleteAll, setAll, type MapAccess } from "../../lib/sdk/types.ts";
import { encodeEntryKey, encodeEntryValue, encodeTupleSet, type EntryChange, type Tuple } from "./classifier.ts";

/** Long enough for any packet that read the old generation to be done with it. */
const GRACE_MS = 2;

export interface ChainMaps {
  active: MapAccess;
  tuples: MapAccess;
  rules: MapAccess;
}

export class Generations {
  private gen = 0;
  private lastFlip = 0;
  /** Written to the active generation only, keyed by the entry's bytes without the slot. */
  private behind = new Map<string, EntryChange>();
  private tuplesBehind = false;
  /** The tuple list last published. */
  private tuplesNow?: Tuple[];
  /** Slots that may still hold a previous daemon's entries: emptied before they are next written. */
  private stale = new Set<number>();

  constructor(private readonly maps: ChainMaps, private readonly chain: number) {}

  private slot(gen: number): number {
    return (gen << 1) | this.chain;
  }

  /**
   * Takes over maps a previous daemon left forwarding (a restart that keeps the datapath): the
   * generation it made active stays active until the first publish, and each generation is
   * emptied of the previous daemon's entries right before it is first written.
   */
  async adopt(): Promise<void> {
    const h = await this.maps.active.get(u32(this.chain));
    this.gen = h ? new DataView(h.buffer, h.byteOffset, h.byteLength).getUint32(0, true) & 1 : 0;
    this.stale = new Set([this.slot(0), this.slot(1)]);
  }

  /** Writes the default action into the active generation's header (one word: atomic). */
  async setDefault(action: number): Promise<void> {
    await this.maps.active.set(u32(this.chain), header(this.gen, action));
  }

  /** Makes the changes and the tuple list (when given) visible at once, with the default action. */
  async publish(changes: EntryChange[], tuples: Tuple[] | undefined, defaultAction: number): Promise<void> {
    const wait = this.lastFlip + GRACE_MS - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    const idle = this.gen ^ 1;
    const slot = this.slot(idle);
    const wasStale = this.stale.delete(slot);
    if (wasStale) {
      const old = (await this.maps.rules.entries()).filter(([k]) => k[0] === slot).map(([k]) => k);
      if (old.length) await deleteAll(this.maps.rules, old);
    }
    const pending = new Map(this.behind);
    const fresh = new Map<string, EntryChange>();
    for (const c of changes) {
      const id = Buffer.from(encodeEntryKey(0, c.key)).toString("hex");
      pending.set(id, c);
      fresh.set(id, c);
    }
    const sets: Array<[Uint8Array, Uint8Array]> = [];
    const dels: Uint8Array[] = [];
    for (const c of pending.values()) {
      if (c.value) sets.push([encodeEntryKey(slot, c.key), encodeEntryValue(c.value)]);
      else dels.push(encodeEntryKey(slot, c.key));
    }
    if (dels.length) await deleteAll(this.maps.rules, dels);
    if (sets.length) await setAll(this.maps.rules, sets);
    if (tuples || this.tuplesBehind || wasStale) await this.maps.tuples.set(u32(slot), encodeTupleSet(tuples ?? this.tuplesNow ?? []));
    if (tuples) this.tuplesNow = tuples;
    await this.maps.active.set(u32(this.chain), header(idle, defaultAction)); // the switch
    this.gen = idle;
    this.lastFlip = performance.now();
    this.behind = fresh;
    this.tuplesBehind = tuples !== undefined;
  }

}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** struct fw_chain */
function header(gen: number, action: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, gen, true);
  v.setUint32(4, action, true);
  return b;
}
