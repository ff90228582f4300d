// nat's rules: parsing, the refusal of overlapping rules, the map entries rules compile to.
import { describe, expect, test } from "bun:test";
import { checkRules, compileRules, parentAddress, parsePf, parseSnat, rulesOf } from "./rules.ts";

describe("nat rules", () => {
  test("parsing and refusals", () => {
    for (const b of ["10.1.2.3", "10.1.2.3/33", "300.1.1.1/8", "10.1.2/8", "10.01.2.3/24"]) {
      expect(() => parseSnat({ "internal-net": b, "external-ip": "1.2.3.4" }, 0, "w")).toThrow(/internal-net: '.*' is not an IPv4 prefix/);
    }
    expect(() => parseSnat({ "internal-net": "10.0.0.0/8", "external-ip": "1.2.3" }, 0, "w")).toThrow(/external-ip: '1.2.3' is not an IPv4 address/);
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

  test("the parent port's address", () => {
    expect(parentAddress({ name: "p2", ip: "10.0.0.254/24" })).toBe("10.0.0.254");
    expect(parentAddress({ name: "veth1" })).toBeUndefined();
  });
});
