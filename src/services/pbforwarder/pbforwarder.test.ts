// pbforwarder's model is the original's (tree checked by yanglint); rules are read and checked
// as the original checks them, plus ports and VLAN ids; the tuple-space search finds the same
// rule as a scan by id; the table writes entries and switches tuple lists as the datapath reads
// them.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { u32 } from "../../lib/bpf/codec.ts";
import { typedMap } from "../../lib/sdk/maps.ts";
import { ServiceError, type Change } from "../../lib/sdk/types.ts";
import { loadModule } from "../../lib/yang/index.ts";
import { memoryContext, objectMaps } from "../../../test/lib/memory-context.ts";
import { admits, entryKey, entryValue, search, shapeOf, TUPLES_MAX, tupleSet, type Packet } from "./classify.ts";
import { checksFor, NO_PORT, readRule, readRules, type Rule } from "./rules.ts";
import { RuleTable } from "./table.ts";

const root = join(import.meta.dir, "..", "..", "..");
const file = join(import.meta.dir, "pbforwarder.yang");
const ports = new Map([["p1", 0], ["p2", 1], ["p3", 2]]);

function refusal(f: () => unknown): ServiceError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ServiceError);
    return e as ServiceError;
  }
  throw new Error("not refused");
}

describe("pbforwarder model", () => {
  test("loads in our engine and in yanglint, with the original's tree", () => {
    loadModule(readFileSync(file, "utf8"));
    const r = spawnSync(["yanglint", "-p", join(root, "yang"), file], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const tree = spawnSync(["yanglint", "-f", "tree", "-p", join(root, "yang"), file], { stdout: "pipe" }).stdout.toString();
    expect(tree).toBe(readFileSync(join(import.meta.dir, "pbforwarder.tree"), "utf8"));
  });
});

describe("pbforwarder rules", () => {
  test("fields read into the datapath's terms; wildcards stay undefined", () => {
    expect(readRule({ id: 3, src_mac: "AA:bb:cc:dd:ee:01", vlan: 10, dst_ip: "10.0.0.2", l4_proto: "TCP", dst_port: 80, in_port: "p2", action: "FORWARD", out_port: "p3" }, ports, true)).toEqual({
      id: 3, srcMac: "aa:bb:cc:dd:ee:01", vlan: 10, dstIp: 0x0a000002, proto: 6, dport: 80, inPort: 1, action: 2, outPort: 2,
    });
    expect(readRule({ id: 1 }, ports, true)).toEqual({ id: 1, action: 0, outPort: NO_PORT });
  });

  test("the original's checks and ours: 400 naming the field", () => {
    expect(refusal(() => readRule({ id: 1, action: "FORWARD" }, ports, true)).message).toContain("rules 1: out_port is mandatory to FORWARD");
    expect(refusal(() => readRule({ id: 1, dst_port: 80 }, ports, true)).message).toContain("dst_port needs l4_proto");
    expect(refusal(() => readRule({ id: 1, in_port: "nosuch" }, ports, true)).message).toContain("in_port 'nosuch' is not a port");
    expect(refusal(() => readRule({ id: 1, action: "FORWARD", out_port: "nosuch" }, ports, true)).message).toContain("out_port 'nosuch'");
    expect(refusal(() => readRule({ id: 1, vlan: 4096 }, ports, true)).message).toContain("vlan 4096");
    expect(refusal(() => readRule({ id: 1, src_mac: "aa:bb" }, ports, true)).status).toBe(400);
  });

  test("spared rules naming a port that is gone are inert, or drop", () => {
    expect(readRule({ id: 1, in_port: "gone" }, ports, false)).toBeNull();
    expect(readRule({ id: 1, action: "FORWARD", out_port: "gone" }, ports, false)).toEqual({ id: 1, action: 2, outPort: NO_PORT });
    const strict = checksFor([
      { op: "create", path: [{ node: "rules", keys: { id: "5" } }], where: "/rules[id=5]" },
      { op: "modify", path: [{ node: "rules", keys: { id: "7" } }, { node: "action" }], where: "/rules[id=7]/action" },
      { op: "delete", path: [{ node: "ports", keys: { name: "p3" } }], where: "/ports[name=p3]" },
    ] as Change[]);
    expect([5, 7, 8].map(strict)).toEqual([true, true, false]);
    expect(readRules({ rules: [{ id: 9 }, { id: 2 }] }, ports).map((r) => r!.id)).toEqual([2, 9]);
  });
});

function rng(seed: number) {
  return (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
}

const MACS = ["02:00:00:00:00:01", "02:00:00:00:00:02", "ff:ff:ff:ff:ff:ff"];

function randomRule(rnd: (n: number) => number, id: number): Rule {
  const r: Rule = { id, action: rnd(3), outPort: rnd(3) };
  if (!rnd(3)) r.inPort = rnd(3);
  if (!rnd(3)) r.srcMac = MACS[rnd(3)];
  if (!rnd(3)) r.dstMac = MACS[rnd(3)];
  if (!rnd(4)) r.vlan = 10 + rnd(2);
  if (!rnd(3)) r.srcIp = 0x0a000001 + rnd(2);
  if (!rnd(3)) r.dstIp = 0x0a000001 + rnd(2);
  if (!rnd(3)) {
    r.proto = [6, 17][rnd(2)];
    if (rnd(2)) r.sport = 1000 + rnd(2);
    if (rnd(2)) r.dport = 80 + rnd(2);
  }
  return r;
}

function randomPacket(rnd: (n: number) => number): Packet {
  const p: Packet = { inPort: rnd(3), srcMac: MACS[rnd(3)]!, dstMac: MACS[rnd(3)]!, vlan: rnd(3) ? undefined : 10 + rnd(2) };
  if (rnd(4)) p.ip = { src: 0x0a000001 + rnd(2), dst: 0x0a000001 + rnd(2), proto: [6, 17, 1][rnd(3)]!, sport: 1000 + rnd(2), dport: 80 + rnd(2) };
  if (p.ip?.proto === 1) delete p.ip.sport, delete p.ip.dport;
  return p;
}

describe("pbforwarder classification through the table", () => {
  test("the datapath's search over the written maps equals a scan by id, through random edits", async () => {
    const { ctx } = memoryContext({ name: "pb", service: "pbforwarder", ports: [], describe: await objectMaps("pbforwarder") });
    const maps = { rules: typedMap(ctx, "pbf_rules", entryKey, entryValue), tuples: typedMap(ctx, "pbf_tuples", u32, tupleSet), active: typedMap(ctx, "pbf_active", u32, u32) };
    const table = new RuleTable(maps);
    const rnd = rng(5);
    let rules: Rule[] = [];
    for (let round = 0; round < 25; round++) {
      const byId = new Map(rules.map((r) => [r.id, r]));
      for (let k = rnd(20); k > 0; k--) {
        const id = rnd(100);
        if (rnd(4) === 0) byId.delete(id);
        else byId.set(id, randomRule(rnd, id));
      }
      rules = [...byId.values()];
      await table.sync(rules);
      const sorted = rules.slice().sort((a, b) => a.id - b.id);
      // What a packet meets: the active slot's tuple list and the entries, as written.
      // (An array map reads zeros where nothing was written: slot 0, no tuples.)
      const slot = (await maps.active.get(0)) ?? 0;
      const ts = (await maps.tuples.get(slot)) ?? { n: 0, pad: 0, t: new Uint8Array(8 * TUPLES_MAX) };
      const dv = new DataView(ts.t.buffer, ts.t.byteOffset);
      const tuples = Array.from({ length: ts.n }, (_, i) => ({ sig: "", best: dv.getUint32(8 * i, true), id: dv.getUint16(8 * i + 4, true), use: dv.getUint16(8 * i + 6, true), count: 0 }));
      expect(tuples.length).toBe(new Set(rules.map((r) => shapeOf(r).sig)).size);
      for (let i = 0; i < 80; i++) {
        const p = randomPacket(rnd);
        const want = sorted.find((r) => admits(r, p));
        const got = search(tuples, (tuple, k) => maps.rules.get({ tuple, pad: 0, ...k }) as never, p);
        // entryOf is async over the map: resolve the search against a snapshot instead.
        void got;
        const snap = new Map((await maps.rules.entries()).map(([k, v]) => [JSON.stringify(k), v]));
        const found = search(tuples, (tuple, k) => snap.get(JSON.stringify(entryKey.decode(entryKey.encode({ tuple, pad: 0, ...k })))), p);
        expect(found?.rank).toBe(want?.id);
        if (want) expect(found).toEqual({ rank: want.id, action: want.action, outPort: want.outPort });
      }
    }
  });

  test("100 rules of one shape are one tuple; more shapes than the datapath searches are refused", async () => {
    const { ctx } = memoryContext({ name: "pb", service: "pbforwarder", ports: [], describe: await objectMaps("pbforwarder") });
    const table = new RuleTable({ rules: typedMap(ctx, "pbf_rules", entryKey, entryValue), tuples: typedMap(ctx, "pbf_tuples", u32, tupleSet), active: typedMap(ctx, "pbf_active", u32, u32) });
    await table.sync(Array.from({ length: 100 }, (_, i) => ({ id: i, dstIp: 0x0a000000 + i, action: 2, outPort: 1 })));
    expect(table.space.tupleCount).toBe(1);
    const shapes: Rule[] = [];
    for (let use = 1; shapes.length <= TUPLES_MAX; use++) {
      const r: Rule = { id: 1000 + use, action: 0, outPort: NO_PORT };
      if (use & 1) r.inPort = 0;
      if (use & 2) r.vlan = 1;
      if (use & 4) r.srcIp = 1;
      if (use & 8) r.dstIp = 1;
      if (use & 16) r.srcMac = MACS[0];
      if (use & 32) r.dstMac = MACS[0];
      if (use & 64) r.proto = 6;
      shapes.push(r);
    }
    const e = await table.sync(shapes).catch((x) => x);
    expect(e).toBeInstanceOf(ServiceError);
    expect(e.message).toContain(`at most ${TUPLES_MAX}`);
    expect(table.ruleCount).toBe(100);
  });
});
