// Keeps pbforwarder.bpf.c's maps equal to the configured rules, a change costing map writes in
// proportion to itself: the tuple space (classify.ts) says which entries changed and whether
// the tuple list did. Order of writes: new and changed entries (unreachable until their tuple
// is listed, or replacing an entry in one step), then the tuple list into the idle slot of
// pbf_tuples and the switch of pbf_active to it, then the deletion of stale entries.
import type { TypedMapAccess } from "../../lib/sdk/maps.ts";
import { deleteAll, ServiceError, setAll } from "../../lib/sdk/types.ts";
import { encodeTuples, entryKey, entryValue, keyRecord, newSpace, RULES_MAX, shapeOf, tupleSet, TUPLES_MAX, type Placed } from "./classify.ts";
import { fingerprint, type Rule } from "./rules.ts";

/** Long enough for any packet that read the old tuple list to be done with it. */
const GRACE_MS = 2;

export interface TableMaps {
  rules: TypedMapAccess<ReturnType<typeof entryKey.decode>, ReturnType<typeof entryValue.decode>>;
  tuples: TypedMapAccess<number, ReturnType<typeof tupleSet.decode>>;
  active: TypedMapAccess<number, number>;
}

export class RuleTable {
  readonly space = newSpace();
  private placed = new Map<number, { fp: string; p: Placed }>();
  private slot = 0;
  private lastFlip = -Infinity;

  constructor(private readonly maps: TableMaps) {}

  /** Refuses (4xx) what the datapath cannot hold, before anything changes. */
  static check(rules: Rule[]): void {
    if (rules.length > RULES_MAX) throw new ServiceError(`rules: ${rules.length} rules, the datapath holds ${RULES_MAX}`, 400, "too-many-elements", "rules");
    const shapes = new Set(rules.map((r) => shapeOf(r).sig));
    if (shapes.size > TUPLES_MAX)
      throw new ServiceError(`rules: ${shapes.size} different combinations of fields are in use, the datapath searches at most ${TUPLES_MAX}; rules naming the same fields share one lookup`, 400, "too-many-elements", "rules");
  }

  /** Makes the datapath classify by `rules` (the active ones, any order). */
  async sync(rules: Rule[]): Promise<void> {
    RuleTable.check(rules);
    const want = new Map(rules.map((r) => [r.id, { fp: fingerprint(r), r }]));
    // Removals first: the number of tuples never goes above the final one.
    for (const [id, e] of this.placed) {
      if (want.get(id)?.fp === e.fp) continue;
      this.space.remove(e.p);
      this.placed.delete(id);
    }
    for (const [id, w] of want) {
      if (this.placed.has(id)) continue;
      const p: Placed = { rule: w.r, rank: id };
      this.space.add(p);
      this.placed.set(id, { fp: w.fp, p });
    }
    const { entries, tuplesChanged } = this.space.take();
    const sets: Array<[Uint8Array, Uint8Array]> = [];
    const dels: Uint8Array[] = [];
    for (const e of entries) {
      const k = entryKey.encode(keyRecord(e.tuple, e.key));
      if (e.head) sets.push([k, entryValue.encode({ rank: e.head.rank, action: e.head.rule.action, outPort: e.head.rule.outPort })]);
      else dels.push(k);
    }
    if (sets.length) await setAll(this.maps.rules.raw, sets);
    if (tuplesChanged) await this.publish();
    if (dels.length) await deleteAll(this.maps.rules.raw, dels);
  }

  private async publish(): Promise<void> {
    const wait = this.lastFlip + GRACE_MS - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    const idle = this.slot ^ 1;
    await this.maps.tuples.set(idle, encodeTuples(this.space.list()));
    await this.maps.active.set(0, idle);
    this.slot = idle;
    this.lastFlip = performance.now();
  }

  get ruleCount(): number {
    return this.placed.size;
  }
}

