// One chain's rules in order, as the model numbers them (ids are positions), with what the
// datapath needs of each: a rank that grows with the position and a counter slot that follows
// the rule. Edits (append, insert, update, delete, and batches of them) are all or nothing, and
// cost in proportion to the edit: ranks leave gaps so that an insert takes a value between its
// neighbours' without renumbering the others (renumbering happens only when a gap is used up).
import { ServiceError } from "../../lib/sdk/types.ts";
import { RULES_MAX, TupleSpace, type Placed } from "./classifier.ts";
import { ACTION_CODE, invalid, type Rule } from "./rules.ts";

export const RANK_STEP = 1 << 16;
const RANK_MAX = 0xfffffff0;

export type Edit =
  | { op: "append"; rule: Rule }
  | { op: "insert"; id: number; rule: Rule }
  | { op: "update"; id: number; rule: Rule }
  | { op: "delete"; id: number };

export class Chain {
  private placed: Placed[] = [];
  readonly space = new TupleSpace();
  private readonly freeCounters: number[] = Array.from({ length: RULES_MAX }, (_, i) => RULES_MAX - 1 - i);
  private fresh = new Set<number>();
  private rewriteAll = false;

  get length(): number {
    return this.placed.length;
  }

  rules(): Rule[] {
    return this.placed.map((p) => p.rule);
  }

  at(id: number): Placed | undefined {
    return this.placed[id];
  }

  /** Position of the rule counted in a counter slot (for LOG reports), or -1. */
  idOfCounter(counter: number): number {
    return this.placed.findIndex((p) => p.counter === counter);
  }

  /** Counter slots in use, by position. */
  counters(): number[] {
    return this.placed.map((p) => p.counter);
  }

  /**
   * Applies the edits in order (each id as the chain is after the edits before it) and returns
   * each edit's id. On any refusal nothing changes.
   */
  apply(edits: Edit[], where: (i: number) => string = () => "rule"): number[] {
    const appendOnly = edits.every((e) => e.op === "append");
    const before = this.placed.length;
    const next = appendOnly ? this.placed : this.placed.slice();
    const added: Placed[] = [];
    const removed: Placed[] = [];
    const ids: number[] = [];
    const fresh = (rule: Placed["rule"]): Placed => ({ rule, rank: NaN, counter: -1, action: ACTION_CODE[rule.action] });
    const existing = (id: number, w: string): Placed => {
      const old = next[id];
      if (!old) throw invalid(`${w}.id`, `there is no rule ${id} (the chain has ${next.length})`);
      return old;
    };
    try {
      edits.forEach((e, i) => {
        const w = where(i);
        switch (e.op) {
          case "append": {
            if (next.length >= RULES_MAX) throw tooMany(w);
            const p = fresh(e.rule);
            next.push(p);
            added.push(p);
            ids.push(next.length - 1);
            return;
          }
          case "insert": {
            if (!Number.isInteger(e.id) || e.id < 0 || e.id > next.length) throw invalid(`${w}.id`, `${e.id} is beyond the end of the chain (${next.length} rules)`);
            if (next.length >= RULES_MAX) throw tooMany(w);
            const p = fresh(e.rule);
            next.splice(e.id, 0, p);
            added.push(p);
            ids.push(e.id);
            return;
          }
          case "update": {
            const old = existing(e.id, w);
            // The replacement keeps the place and the counters of the rule it replaces.
            const p = { rule: e.rule, rank: old.rank, counter: old.counter, action: ACTION_CODE[e.rule.action] };
            next[e.id] = p;
            if (added.includes(old)) added.splice(added.indexOf(old), 1, p);
            else {
              removed.push(old);
              added.push(p);
            }
            ids.push(e.id);
            return;
          }
          case "delete": {
            const old = existing(e.id, w);
            next.splice(e.id, 1);
            if (added.includes(old)) added.splice(added.indexOf(old), 1);
            else removed.push(old);
            ids.push(e.id);
            return;
          }
        }
      });
    } catch (err) {
      if (appendOnly) next.length = before;
      throw err;
    }
    this.commit(next, added, removed, appendOnly ? before : 0);
    return ids;
  }

  /** Ranks, counters and the tuple space for an accepted edit; undone if the tuple space refuses it. */
  private commit(next: Placed[], added: Placed[], removed: Placed[], firstNew: number): void {
    const oldRanks = this.rankNew(next, firstNew);
    const kept = new Set(added.map((p) => p.counter));
    const freed = removed.map((p) => p.counter).filter((c) => !kept.has(c));
    const taken: number[] = [];
    let spare = 0;
    for (const p of added) {
      if (p.counter >= 0) continue;
      // A full chain that deletes and adds in one batch reuses the deleted rules' slots.
      p.counter = this.freeCounters.pop() ?? freed[spare++]!;
      taken.push(p.counter);
    }
    const undo: Array<() => void> = [];
    try {
      for (const p of removed) {
        this.space.remove(p);
        undo.push(() => this.space.add(p));
      }
      for (const p of added) {
        this.space.add(p);
        undo.push(() => this.space.remove(p));
      }
    } catch (err) {
      // Ranks first: the undone entries are recorded with the ranks they had before.
      if (oldRanks) oldRanks.forEach(([p, r]) => (p.rank = r));
      for (const u of undo.reverse()) u();
      if (oldRanks) this.space.rebound();
      for (const p of added) if (taken.includes(p.counter)) p.counter = -1;
      this.freeCounters.push(...taken.filter((c) => !freed.includes(c)));
      if (next === this.placed) next.length = firstNew;
      throw err;
    }
    this.freeCounters.push(...freed.slice(spare));
    for (const c of taken) this.fresh.add(c);
    if (oldRanks) {
      this.space.rebound();
      this.rewriteAll = true;
    }
    this.placed = next;
  }

  /**
   * Gives the new rules (rank NaN) ranks between their neighbours'. When a gap is too small,
   * renumbers every rule and returns the old ranks (to undo it).
   */
  private rankNew(list: Placed[], from: number): Array<[Placed, number]> | undefined {
    for (let i = from; i < list.length; i++) {
      if (!Number.isNaN(list[i]!.rank)) continue;
      let j = i;
      while (j < list.length && Number.isNaN(list[j]!.rank)) j++;
      const lo = i > 0 ? list[i - 1]!.rank : 0;
      const k = j - i;
      const hi = j < list.length ? list[j]!.rank : lo + (k + 1) * RANK_STEP;
      const step = Math.floor((hi - lo) / (k + 1));
      if (step < 1 || hi > RANK_MAX) return this.renumber(list);
      for (let m = 0; m < k; m++) list[i + m]!.rank = lo + step * (m + 1);
      i = j;
    }
    return undefined;
  }

  private renumber(list: Placed[]): Array<[Placed, number]> {
    const old = list.map((p) => [p, p.rank] as [Placed, number]);
    const step = Math.max(1, Math.min(RANK_STEP, Math.floor(RANK_MAX / (list.length + 1))));
    list.forEach((p, i) => (p.rank = (i + 1) * step));
    return old;
  }

  /** What the datapath must learn since the last call: entry writes (all of them after a renumbering), the tuple list, counters to zero. */
  take(): { entries: ReturnType<TupleSpace["all"]>; tuplesChanged: boolean; freshCounters: number[] } {
    const t = this.space.take();
    const out = { entries: this.rewriteAll ? this.space.all() : t.entries, tuplesChanged: t.tuplesChanged || this.rewriteAll, freshCounters: [...this.fresh] };
    this.fresh = new Set();
    this.rewriteAll = false;
    return out;
  }
}

function tooMany(where: string): ServiceError {
  return new ServiceError(`${where}: the chain holds ${RULES_MAX} rules already`, 400, "too-many-elements", where);
}
