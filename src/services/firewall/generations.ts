// Puts a chain's rule changes into the datapath atomically (firewall.bpf.c, "Atomic updates").
// Each chain has two generations of entries and tuple lists; packets read the active one. A
// change is written into the idle generation, which is then made active by one write of
// fw_active[chain]. The generation just left still lacks that change: it gets it, merged with
// the next change, right before it becomes active again, at least a grace period after it was
// left so that no packet is still reading it. A change thus costs two writes per entry it
// touches and no wait, unless changes come faster than the grace period.
import { deleteAll, setAll, type MapAccess } from "../../lib/sdk/types.ts";
import { u32 } from "../../lib/bpf/codec.ts";
import { keyHex } from "../../lib/sdk/mirror.ts";
import { encodeEntryKey, encodeEntryValue, encodeTuples, type EntryChange, type Tuple } from "./classifier.ts";
import { chainValue } from "./layout.ts";

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
    const h = await this.maps.active.get(u32.encode(this.chain));
    this.gen = h ? chainValue.decode(h).gen & 1 : 0;
    this.stale = new Set([this.slot(0), this.slot(1)]);
  }

  /** Writes the default action into the active generation's header (one word: atomic). */
  async setDefault(action: number): Promise<void> {
    await this.maps.active.set(u32.encode(this.chain), header(this.gen, action));
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
      const id = keyHex(encodeEntryKey(0, c.key));
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
    if (tuples || this.tuplesBehind || wasStale) await this.maps.tuples.set(u32.encode(slot), encodeTuples(tuples ?? this.tuplesNow ?? []));
    if (tuples) this.tuplesNow = tuples;
    await this.maps.active.set(u32.encode(this.chain), header(idle, defaultAction)); // the switch
    this.gen = idle;
    this.lastFlip = performance.now();
    this.behind = fresh;
    this.tuplesBehind = tuples !== undefined;
  }

}

/** struct fw_chain */
function header(gen: number, action: number): Uint8Array {
  return chainValue.encode({ gen, defaultAction: action });
}
