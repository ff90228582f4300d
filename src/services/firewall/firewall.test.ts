// firewall's model matches the original's tree (plus the base model's read-only `parent`); rule
// parsing and the classification maps the control plane computes, against a reference matcher.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findDataChild, loadModule } from "../../lib/yang/index.ts";
import { classify, compileChain, editRules, parsePrefix, parseRule, parseTcpFlags, type Rule } from "./index.ts";

const root = join(import.meta.dir, "..", "..", "..");
const file = join(import.meta.dir, "firewall.yang");

describe("firewall model", () => {
  test("loads in our engine and in yanglint, with the original's tree", () => {
    const schema = loadModule(readFileSync(file, "utf8"));
    for (const t of ["conntrack", "accept-established", "session-table", "chain"]) expect(findDataChild(schema.root, t)).toBeDefined();
    const r = spawnSync(["yanglint", "-p", join(root, "yang"), file], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const tree = spawnSync(["yanglint", "-f", "tree", "-p", join(root, "yang"), file], { stdout: "pipe" }).stdout.toString();
    const ours = tree.split("\n").filter((l) => !/^ {2}\+--ro parent\? +string$/.test(l)).join("\n");
    expect(ours).toBe(readFileSync(join(import.meta.dir, "firewall.tree"), "utf8"));
  });
});

describe("firewall rules", () => {
  test("addresses and prefixes, protocols, flags", () => {
    expect(parsePrefix("10.1.2.3")).toEqual([0x0a010203, 32]);
    expect(parsePrefix("10.1.2.3/16")).toEqual([0x0a010000, 16]);
    expect(parsePrefix("0.0.0.0/0")).toEqual([0, 0]);
    for (const bad of ["10.1.2", "10.1.2.3/33", "300.1.1.1", "010.1.1.1", "a.b.c.d", "10.1.2.3/"]) expect(parsePrefix(bad)).toBeUndefined();
    expect(parseTcpFlags("SYN !ACK", "f")).toEqual([0x12, 0x02]);
    expect(parseTcpFlags("syn,fin", "f")).toEqual([0x03, 0x03]);
    expect(() => parseTcpFlags("SYN FOO", "f")).toThrow(/FOO/);
    expect(parseRule({ l4proto: "tcp", action: "forward" })).toMatchObject({ l4proto: "TCP", proto: 6, action: "FORWARD" });
    expect(() => parseRule({ l4proto: "icmp", dport: 80 })).toThrow(/dport/);
    expect(() => parseRule({ src: "1.2.3.4/40" })).toThrow(/src/);
  });

  test("edits: insert refuses ids beyond the end, update keeps the counters' identity", () => {
    const rules: Rule[] = [];
    expect(editRules(rules, "append", undefined, { src: "10.0.0.1" }, "w")).toBe(0);
    expect(editRules(rules, "insert", 1, { src: "10.0.0.2" }, "w")).toBe(1);
    expect(() => editRules(rules, "insert", 3, {}, "w")).toThrow(/beyond the end/);
    const uid = rules[0]!.uid;
    editRules(rules, "update", 0, { src: "10.0.0.3" }, "w");
    expect(rules[0]!.uid).toBe(uid);
    expect(() => editRules(rules, "delete", 5, {}, "w")).toThrow(/no rule 5/);
  });

  test("the maps' bitmaps give the first matching rule, as a linear scan does", () => {
    // Random rules and packets: the longest stored prefix plus the AND of the field bitmaps
    // finds the same rule as checking the rules one by one.
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    const rules: Rule[] = [];
    for (let i = 0; i < 300; i++) {
      const f: Record<string, unknown> = {};
      if (rnd(2)) f.src = `10.${rnd(3)}.${rnd(4)}.0/${[8, 16, 24, 32][rnd(4)]}`;
      if (rnd(2)) f.dst = `10.9.${rnd(3)}.${rnd(3)}`;
      if (rnd(2)) f.l4proto = ["TCP", "UDP"][rnd(2)];
      if (rnd(3) === 0) f.dport = 80 + rnd(3);
      if (rnd(4) === 0) { f.l4proto = "TCP"; f.tcpflags = ["SYN", "!ACK", "SYN !ACK"][rnd(3)]; }
      rules.push(parseRule(f as any));
    }
    const c = compileChain(rules, 1);
    const bit = (bm: Uint8Array, i: number) => (bm[i >> 3]! >> (i & 7)) & 1;
    const key = (k: Uint8Array) => Buffer.from(k).toString("hex");
    const fields = new Map(c.fields.map(([k, v]) => [key(k), v]));
    const fieldBm = (field: number, value: number) => {
      const k = (v: number) => { const b = new Uint8Array(8); const d = new DataView(b.buffer); d.setUint32(0, 1 | (field << 8), true); d.setUint32(4, v, true); return key(b); };
      return fields.get(k(value)) ?? fields.get(k(0x10000))!;
    };
    const lpm = (list: Array<[Uint8Array, Uint8Array]>, addr: number) => {
      let best: [number, Uint8Array] | undefined;
      for (const [k, v] of list) {
        const d = new DataView(k.buffer);
        const len = d.getUint32(0, true) - 32, net = d.getUint32(8, false);
        const m = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
        if (((addr & m) >>> 0) === net && (!best || len > best[0])) best = [len, v];
      }
      return best![1];
    };
    for (let n = 0; n < 500; n++) {
      const p = { src: `10.${rnd(3)}.${rnd(4)}.${rnd(3)}`, dst: `10.9.${rnd(3)}.${rnd(3)}`, proto: [6, 17, 1][rnd(3)]!, dport: 80 + rnd(4), sport: 5000, flags: rnd(256) };
      const pk = p.proto === 1 ? { ...p, dport: undefined, sport: undefined, flags: undefined } : p.proto === 17 ? { ...p, flags: undefined } : p;
      const maps = [lpm(c.src, parsePrefix(p.src)![0]), lpm(c.dst, parsePrefix(p.dst)![0]), fieldBm(0, p.proto), fieldBm(1, pk.sport ?? 0x10000), fieldBm(2, pk.dport ?? 0x10000), fieldBm(3, pk.flags ?? 0x10000), fieldBm(4, 0x10000)];
      let found = -1;
      for (let i = 0; i < rules.length && found < 0; i++) if (maps.every((m) => bit(m, i))) found = i;
      expect(found).toBe(classify(rules, pk));
    }
  });
});
