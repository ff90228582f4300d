// The generic tuple space: with a toy rule (exact match on any subset of three fields), the
// search over tuples and a copy of the recorded entries finds the same first rule as a scan,
// through random adds and removes; ids come from the pool and go back (at once, or at take()).
import { describe, expect, test } from "bun:test";
import { firstMatch, TupleSpace, type Ranked } from "./tuple-space.ts";

interface Toy extends Ranked {
  f: Array<number | undefined>;
}

const spec = (max: number, deferFree = false) => ({
  maxTuples: max,
  shape: (m: Toy) => ({ sig: m.f.map((v) => (v === undefined ? "-" : "x")).join(""), use: m.f.map((v) => v !== undefined) }),
  key: (m: Toy) => m.f.map((v) => v ?? 0),
  keyId: (k: number[]) => k.join(","),
  tooMany: () => new Error("too many shapes"),
  deferFree,
});

function rng(seed: number) {
  return (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
}

describe("tuple space (shared classifier)", () => {
  test("first match equals a scan through random adds and removes", () => {
    const rnd = rng(7);
    const space = new TupleSpace(spec(8));
    const entries = new Map<string, Toy>();
    const rules: Toy[] = [];
    for (let round = 0; round < 300; round++) {
      if (rules.length && rnd(3) === 0) {
        const [r] = rules.splice(rnd(rules.length), 1);
        space.remove(r!);
      } else {
        const r: Toy = { rank: rnd(1000), f: [0, 1, 2].map(() => (rnd(2) ? rnd(3) : undefined)) };
        rules.push(r);
        space.add(r);
      }
      for (const c of space.take().entries) {
        const id = `${c.tuple}|${c.key.join(",")}`;
        c.head ? entries.set(id, c.head) : entries.delete(id);
      }
      for (let p = 0; p < 20; p++) {
        const pkt = [rnd(3), rnd(3), rnd(3)];
        const want = rules.filter((r) => r.f.every((v, i) => v === undefined || v === pkt[i])).sort((a, b) => a.rank - b.rank)[0];
        const got = firstMatch(space.list(), (t) => entries.get(`${t.id}|${pkt.map((v, i) => (t.use[i] ? v : 0)).join(",")}`));
        expect(got?.rank).toBe(want?.rank);
      }
    }
    expect(space.tupleCount).toBeLessThanOrEqual(8);
  });

  test("one shape is one tuple whatever the number of rules", () => {
    const space = new TupleSpace(spec(4));
    for (let i = 0; i < 1000; i++) space.add({ rank: i, f: [i, undefined, 5] });
    expect(space.tupleCount).toBe(1);
    expect(space.entryCount).toBe(1000);
    expect(space.take().entries.length).toBe(1000);
  });

  test("more shapes than tuples: refused; freed ids come back, at take() when deferred", () => {
    const space = new TupleSpace(spec(1));
    const a: Toy = { rank: 1, f: [1, undefined, undefined] };
    space.add(a);
    expect(() => space.add({ rank: 2, f: [undefined, 1, undefined] })).toThrow("too many shapes");
    space.remove(a);
    expect(() => space.add({ rank: 2, f: [undefined, 1, undefined] })).not.toThrow();

    const deferred = new TupleSpace(spec(1, true));
    deferred.add(a);
    deferred.take();
    deferred.remove(a);
    const b: Toy = { rank: 2, f: [undefined, 1, undefined] };
    expect(() => deferred.add(b)).toThrow("too many shapes");
    const t = deferred.take();
    expect(t.tuplesChanged).toBe(true);
    expect(t.entries).toEqual([{ tuple: 0, key: [1, 0, 0], head: null }]);
    deferred.add(b);
    expect(deferred.list().map((x) => x.id)).toEqual([0]);
  });

  test("a duplicate key waits behind the better rank and takes over", () => {
    const space = new TupleSpace(spec(2));
    const a: Toy = { rank: 1, f: [1, 1, 1] };
    const b: Toy = { rank: 5, f: [1, 1, 1] };
    space.add(b);
    space.add(a);
    expect(space.take().entries.map((c) => c.head?.rank)).toEqual([1]);
    space.remove(a);
    expect(space.take().entries.map((c) => c.head?.rank)).toEqual([5]);
    expect(space.list()[0]!.best).toBe(1); // a bound, not raised
    space.rebound();
    expect(space.list()[0]!.best).toBe(5);
  });
});
