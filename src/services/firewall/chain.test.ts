// Chain edits as the original numbers rules (ids are positions), all or nothing; counters
// follow their rules; ranks keep the order with gaps and renumber only when a gap runs out.
import { describe, expect, test } from "bun:test";
import { Chain, RANK_STEP } from "./chain.ts";
import { parseRule } from "./rules.ts";

const rule = (src: string, extra: Record<string, unknown> = {}) => parseRule({ src, ...extra } as any);
const srcs = (c: Chain) => c.rules().map((r) => r.src);

describe("firewall chain edits", () => {
  test("append, insert, update, delete: ids are positions", () => {
    const c = new Chain();
    expect(c.apply([{ op: "append", rule: rule("10.0.0.1") }])).toEqual([0]);
    expect(c.apply([{ op: "append", rule: rule("10.0.0.2") }])).toEqual([1]);
    expect(c.apply([{ op: "insert", id: 0, rule: rule("10.0.0.0") }])).toEqual([0]);
    expect(c.apply([{ op: "insert", id: 3, rule: rule("10.0.0.3") }])).toEqual([3]);
    expect(srcs(c)).toEqual(["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    c.apply([{ op: "update", id: 1, rule: rule("10.0.0.9") }, { op: "delete", id: 0 }]);
    expect(srcs(c)).toEqual(["10.0.0.9", "10.0.0.2", "10.0.0.3"]);
  });

  test("ids past the end are refused and change nothing, in a batch too", () => {
    const c = new Chain();
    c.apply([{ op: "append", rule: rule("10.0.0.1") }]);
    expect(() => c.apply([{ op: "insert", id: 2, rule: rule("10.0.0.2") }])).toThrow(/beyond the end/);
    expect(() => c.apply([{ op: "delete", id: 1 }])).toThrow(/no rule 1/);
    expect(() => c.apply([{ op: "update", id: 5, rule: rule("10.0.0.2") }], (i) => `batch[${i}]`)).toThrow(/batch\[0\]\.id/);
    expect(() => c.apply([{ op: "append", rule: rule("10.0.0.2") }, { op: "delete", id: 7 }])).toThrow(/no rule 7/);
    expect(srcs(c)).toEqual(["10.0.0.1"]);
    c.take();
    expect(c.take().entries).toEqual([]);
  });

  test("counters follow their rules; a replacement keeps the counter; a new rule's is fresh", () => {
    const c = new Chain();
    c.apply([{ op: "append", rule: rule("10.0.0.1") }, { op: "append", rule: rule("10.0.0.2") }]);
    const [a, b] = c.counters();
    expect(c.take().freshCounters.sort()).toEqual([a, b].sort());
    c.apply([{ op: "insert", id: 0, rule: rule("10.0.0.0") }]);
    const [n, a2, b2] = c.counters();
    expect([a2, b2]).toEqual([a, b]);
    expect(c.take().freshCounters).toEqual([n]);
    c.apply([{ op: "update", id: 1, rule: rule("10.0.0.7") }]);
    expect(c.counters()[1]).toBe(a);
    expect(c.take().freshCounters).toEqual([]);
    c.apply([{ op: "delete", id: 0 }]);
    expect(c.counters()).toEqual([a, b]);
    expect(c.idOfCounter(b!)).toBe(1);
  });

  test("ranks grow with positions; inserting in one gap again and again renumbers, order kept", () => {
    const c = new Chain();
    c.apply([{ op: "append", rule: rule("10.0.0.1") }, { op: "append", rule: rule("10.0.0.2") }]);
    expect([c.at(0)!.rank, c.at(1)!.rank]).toEqual([RANK_STEP, 2 * RANK_STEP]);
    for (let i = 0; i < 40; i++) c.apply([{ op: "insert", id: 1, rule: rule(`10.1.0.${i}`) }]);
    const ranks = Array.from({ length: c.length }, (_, i) => c.at(i)!.rank);
    expect(ranks).toEqual([...ranks].sort((x, y) => x - y));
    expect(new Set(ranks).size).toBe(ranks.length);
    expect(c.rules()[0]!.src).toBe("10.0.0.1");
    expect(c.rules()[1]!.src).toBe("10.1.0.39");
    expect(c.rules().at(-1)!.src).toBe("10.0.0.2");
  });

  test("one append writes one entry, whatever the chain holds", () => {
    const c = new Chain();
    c.apply(Array.from({ length: 5000 }, (_, i) => ({ op: "append" as const, rule: rule(`10.${i >> 8}.${i & 255}.1`) })));
    c.take();
    c.apply([{ op: "append", rule: rule("10.200.0.1") }]);
    const t = c.take();
    expect(t.entries.length).toBe(1);
    expect(t.tuplesChanged).toBe(false);
  });
});
