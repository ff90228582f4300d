// The tuple space finds the same first matching rule as checking rules one by one, as rules
// come and go; the records it hands the writer keep a copy of the entries equal to it.
import { describe, expect, test } from "bun:test";
import { Chain } from "./chain.ts";
import { encodeEntryKey, search, shapeOf, TUPLES_MAX, TupleSpace, type EntryKey, type EntryValue } from "./classifier.ts";
import { admits, parseRule, type Rule } from "./rules.ts";

function rng(seed: number) {
  return (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
}

function randomRule(rnd: (n: number) => number): Rule {
  const f: Record<string, unknown> = {};
  if (rnd(2)) f.src = `10.${rnd(3)}.${rnd(4)}.0/${[8, 16, 24, 32][rnd(4)]}`;
  if (rnd(2)) f.dst = `10.9.${rnd(3)}.${rnd(3)}`;
  if (rnd(2)) f.l4proto = ["TCP", "UDP", "ICMP"][rnd(3)];
  if (rnd(3) === 0 && f.l4proto !== "ICMP") f.dport = 80 + rnd(3);
  if (rnd(4) === 0) { f.l4proto = "TCP"; f.tcpflags = ["SYN", "!ACK", "SYN !ACK"][rnd(3)]; }
  if (rnd(4) === 0) f.conntrack = ["NEW", "ESTABLISHED", "RELATED", "INVALID"][rnd(4)];
  f.action = ["DROP", "ACCEPT", "LOG"][rnd(3)];
  return parseRule(f as any);
}

/** A map that mirrors the writer's records, as the kernel's copy would. */
function mirror() {
  const m = new Map<string, EntryValue>();
  const id = (k: EntryKey) => Buffer.from(encodeEntryKey(0, k)).toString("hex");
  return {
    apply(entries: Array<{ key: EntryKey; value: EntryValue | null }>) {
      for (const e of entries) e.value ? m.set(id(e.key), e.value) : m.delete(id(e.key));
    },
    get: (k: EntryKey) => m.get(id(k)),
    size: () => m.size,
  };
}

describe("firewall tuple space", () => {
  test("rules of one shape are one tuple: 10,000 port rules cost one lookup", () => {
    const chain = new Chain();
    const edits = Array.from({ length: 10000 }, (_, i) => ({ op: "append" as const, rule: parseRule({ src: `10.${i >> 8}.${i & 255}.0/24`, l4proto: "TCP", dport: 1000 + (i % 5000) }) }));
    chain.apply(edits);
    expect(chain.space.tupleCount).toBe(1);
    expect(shapeOf(edits[0]!.rule).sig).toBe(shapeOf(edits[9999]!.rule).sig);
  });

  test("first match equals a rule-by-rule scan through random edits", () => {
    const rnd = rng(11);
    const chain = new Chain();
    const view = mirror();
    for (let round = 0; round < 40; round++) {
      const n = chain.length;
      const k = rnd(4);
      const edit =
        n === 0 || k === 0 ? { op: "append" as const, rule: randomRule(rnd) }
        : k === 1 ? { op: "insert" as const, id: rnd(n + 1), rule: randomRule(rnd) }
        : k === 2 ? { op: "update" as const, id: rnd(n), rule: randomRule(rnd) }
        : { op: "delete" as const, id: rnd(n) };
      const batch = [edit, ...Array.from({ length: rnd(30) }, () => ({ op: "append" as const, rule: randomRule(rnd) }))];
      chain.apply(batch);
      view.apply(chain.take().entries);
      const rules = chain.rules();
      for (let p = 0; p < 60; p++) {
        const proto = [6, 17, 1, 47][rnd(4)]!;
        const pk = { src: (0x0a000000 | (rnd(3) << 16) | (rnd(4) << 8) | rnd(3)) >>> 0, dst: (0x0a090000 | (rnd(3) << 8) | rnd(3)) >>> 0, proto, sport: 5000, dport: 80 + rnd(4), flags: rnd(256), ct: rnd(5) };
        const want = rules.findIndex((r) => admits(r, pk));
        const got = search(chain.space, view.get, pk);
        const gotId = got ? chain.idOfCounter(got.counter) : -1;
        expect(gotId).toBe(want);
      }
    }
  });

  test("a shadowed duplicate takes over when the rule before it goes", () => {
    const chain = new Chain();
    const view = mirror();
    chain.apply([{ op: "append", rule: parseRule({ dst: "10.0.0.1", action: "DROP" }) }, { op: "append", rule: parseRule({ dst: "10.0.0.1", action: "LOG" }) }]);
    view.apply(chain.take().entries);
    const p = { src: 1, dst: 0x0a000001, proto: 1 };
    expect(search(chain.space, view.get, p)?.action).toBe(0);
    chain.apply([{ op: "delete", id: 0 }]);
    view.apply(chain.take().entries);
    expect(search(chain.space, view.get, p)?.action).toBe(2);
    expect(view.size()).toBe(1);
  });

  test("more shapes than the datapath searches: refused, nothing changed", () => {
    const chain = new Chain();
    // Source length x destination length gives distinct shapes.
    const shapes = Array.from({ length: TUPLES_MAX }, (_, i) => ({ op: "append" as const, rule: parseRule({ src: `10.0.0.0/${(i % 32) + 1}`, dst: `10.1.0.0/${(i >> 5) + 1}` }) }));
    chain.apply(shapes);
    chain.take();
    expect(() => chain.apply([{ op: "append", rule: parseRule({ src: "10.0.0.0/8", dst: "10.0.0.0/9" }) }, { op: "delete", id: 0 }])).not.toThrow(); // one out, one in
    expect(() => chain.apply([{ op: "append", rule: parseRule({ l4proto: "UDP" }) }])).toThrow(/more than 128/);
    expect(chain.length).toBe(TUPLES_MAX);
    expect(chain.space.tupleCount).toBe(TUPLES_MAX);
  });

  test("empty space: no tuple, nothing matches", () => {
    const s = new TupleSpace();
    expect(s.list()).toEqual([]);
    expect(search(s, () => undefined, { src: 1, dst: 2, proto: 6 })).toBeUndefined();
  });
});
