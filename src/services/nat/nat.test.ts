// nat's model matches the original's tree (plus the base model's read-only `parent`); rule
// parsing, the refusal of overlapping rules, the map entries rules compile to, and session rows.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findDataChild, loadModule } from "../../lib/yang/index.ts";
import nat, { checkRules, compileRules, parentAddress, parseNet, parsePf, parseSnat, reverseKey, rulesOf, sessionRow } from "./index.ts";

const root = join(import.meta.dir, "..", "..", "..");
const file = join(import.meta.dir, "nat.yang");

describe("nat model", () => {
  test("loads in our engine and in yanglint, with the original's tree", () => {
    const schema = loadModule(readFileSync(file, "utf8"));
    for (const t of ["rule", "natting-table"]) expect(findDataChild(schema.root, t)).toBeDefined();
    const r = spawnSync(["yanglint", "-p", join(root, "yang"), file], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const tree = spawnSync(["yanglint", "-f", "tree", "-p", join(root, "yang"), file], { stdout: "pipe" }).stdout.toString();
    const ours = tree.split("\n").filter((l) => !/^ {2}\+--ro parent\? +string$/.test(l)).join("\n");
    expect(ours).toBe(readFileSync(join(import.meta.dir, "nat.tree"), "utf8"));
    expect(ours).toBe(readFileSync(join(root, "..", "shared", "reference", "yang-trees", "nat.tree"), "utf8"));
    expect(nat.kind).toBe("transparent");
    expect(nat.ownsConfig).toBe(true);
  });
});

describe("nat rules", () => {
  test("parsing and refusals", () => {
    expect(parseNet("10.1.2.3/24")).toEqual([0x0a010200, 24]);
    for (const b of ["10.1.2.3", "10.1.2.3/33", "300.1.1.1/8", "10.1.2/8"]) expect(parseNet(b)).toBeUndefined();
    expect(parseSnat({ "internal-net": "10.1.2.3/24", "external-ip": "1.2.3.4" }, 0, "w").internalNet).toBe("10.1.2.0/24");
    expect(() => parseSnat({ "internal-net": "10.1.2.3", "external-ip": "1.2.3.4" }, 0, "w")).toThrow(/internal-net/);
    expect(parsePf({ "external-ip": "1.1.1.1", "external-port": 80, proto: "tcp", "internal-ip": "10.0.0.1", "internal-port": 8080 }, 0, "w").proto).toBe("TCP");
    expect(() => parsePf({ "external-ip": "1.1.1.1", "external-port": 80, proto: "icmp", "internal-ip": "10.0.0.1", "internal-port": 1 }, 0, "w")).toThrow(/proto/);
    const pf = (id: number, proto?: string) => parsePf({ "external-ip": "1.1.1.1", "external-port": 80, ...(proto ? { proto } : {}), "internal-ip": "10.0.0.1", "internal-port": 1 }, id, "w");
    expect(() => checkRules({ snat: [], dnat: [], pf: [pf(0, "TCP"), pf(1, "UDP")] })).not.toThrow();
    expect(() => checkRules({ snat: [], dnat: [], pf: [pf(0, "TCP"), pf(1)] })).toThrow(/rule 0/);
    expect(() => rulesOf({ rule: { dnat: { entry: [{ id: 0, "external-ip": "1.1.1.1", "internal-ip": "10.0.0.1" }, { id: 3, "external-ip": "1.1.1.1", "internal-ip": "10.0.0.2" }] } } })).toThrow(/dnat/);
  });

  test("map entries: LPM keys, both protocols for a port forward without proto", () => {
    const c = compileRules(rulesOf({ rule: { snat: { entry: [{ id: 2, "internal-net": "10.0.0.0/8", "external-ip": "1.2.3.4" }] }, "port-forwarding": { entry: [{ id: 0, "external-ip": "1.1.1.1", "external-port": 80, "internal-ip": "10.0.0.1", "internal-port": 8080 }] } } }));
    expect(Buffer.from(c.snat[0]![0]).toString("hex")).toBe("080000000a000000");
    expect(Buffer.from(c.snat[0]![1]).toString("hex")).toBe("0102030402000000");
    expect(c.pf.map(([k]) => k[6])).toEqual([6, 17]);
    expect(Buffer.from(c.pf[0]![1]).toString("hex")).toBe("0a0000011f900000");
  });

  test("session rows and reverse keys", () => {
    // 10.0.0.1:1000 -> 8.8.8.8:53 UDP leaving as 1.2.3.4:2000 (masquerade)
    const k = Uint8Array.from([10, 0, 0, 1, 8, 8, 8, 8, 0x03, 0xe8, 0, 53, 17, 1, 0, 0]);
    const v = Uint8Array.from([1, 2, 3, 4, 0x07, 0xd0, 1, 2]);
    expect(sessionRow(k, v)).toEqual({ "internal-src": "10.0.0.1", "internal-dst": "8.8.8.8", "internal-sport": 1000, "internal-dport": 53, proto: "UDP", "originating-rule": "masquerade", "external-ip": "1.2.3.4", "external-port": 2000 });
    expect(Array.from(reverseKey(k, v))).toEqual([8, 8, 8, 8, 1, 2, 3, 4, 0, 53, 0x07, 0xd0, 17, 0, 0, 0]);
    expect(sessionRow(reverseKey(k, v), v)).toBeUndefined();
    expect(parentAddress({ name: "p2", ip: "10.0.0.254/24" })).toBe("10.0.0.254");
    expect(parentAddress({ name: "veth1" })).toBeUndefined();
  });
});
