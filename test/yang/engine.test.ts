// The polycube-specific parts of the YANG engine that yanglint cannot judge: the REST JSON
// rules (§3.3), defaults, the config diff and extension instances on nodes.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  applyDefaults, compilePattern, diffConfig, ext, findDataChild, loadModule, normalise, validateDocument, YangError,
} from "../../src/lib/yang/index.ts";
import type { JsonObject } from "../../src/lib/sdk/types.ts";

const schema = loadModule(readFileSync(join(import.meta.dir, "models", "tyr-everything.yang"), "utf8"));
const root = schema.root;
const base = (): JsonObject => ({ settings: { mode: "x" }, "pick-a": "a" });

describe("REST JSON rules (lenient)", () => {
  const ok = (doc: JsonObject) => validateDocument(root, { ...base(), ...doc });
  test("enumerations match case-insensitively and come out canonical", () => {
    expect(ok({ type: "xdp_skb", loglevel: "trace", action: "forward" }).value).toMatchObject({ type: "XDP_SKB", loglevel: "TRACE", action: "FORWARD" });
  });
  test("64-bit integers and decimals accept numbers and strings", () => {
    expect(ok({ big: -4000000000, ubig: "18446744073709551615", price: 12.5 }).value).toMatchObject({ big: -4000000000, ubig: "18446744073709551615", price: 12.5 });
  });
  test("unsigned types reject negatives, with bad-attribute naming the field", () => {
    expect(ok({ ratio: -1 }).errors).toEqual([{ tag: "bad-attribute", field: "ratio", message: expect.stringContaining("out of the uint8 range") }]);
  });
  test("empty is [null]", () => {
    expect(ok({ enabled: [null] }).errors).toEqual([]);
    expect(ok({ enabled: null }).errors[0]!.tag).toBe("bad-attribute");
  });
  test("unknown and read-only members are invalid-value", () => {
    expect(ok({ nope: 1 }).errors).toEqual([{ tag: "invalid-value", field: "nope", message: "unknown member nope" }]);
    expect(ok({ ports: [{ name: "p1", status: "UP" }] }).errors).toEqual([{ tag: "invalid-value", field: "ports[p1].status", message: "ports[p1].status is read-only" }]);
  });
  test("init-only members on update of an existing entity", () => {
    const before = { ...base(), type: "TC", route: [{ network: "10.0.0.0/24", nexthop: "1.1.1.1", interface: "p1" }] };
    const r = normalise(root, { type: "XDP_SKB", route: [{ network: "10.0.0.0/24", nexthop: "1.1.1.1", interface: "p2" }, { network: "10.0.1.0/24", nexthop: "1.1.1.1", interface: "p2" }] }, { op: "update", before });
    expect(r.errors.map((e) => [e.tag, e.field])).toEqual([["invalid-value", "type"], ["invalid-value", "route[10.0.0.0/24,1.1.1.1].interface"]]);
  });
  test("missing mandatory is missing-attribute", () => {
    expect(validateDocument(root, { "pick-a": "a" }).errors).toEqual([{ tag: "missing-attribute", field: "settings.mode", message: "settings.mode is mandatory" }]);
  });
});

describe("defaults", () => {
  test("applied on create, including inside created containers and list entries; keys never", () => {
    const doc: JsonObject = { ...base(), host: [{ name: "h", addr: "1.2.3.4" }], route: [{ network: "10.0.0.0/24", nexthop: "1.1.1.1" }] };
    applyDefaults(root, doc);
    expect(doc).toMatchObject({
      type: "TC", loglevel: "INFO", shadow: false, span: false, action: "DROP", ratio: 50, tiny: 5, dns: ["8.8.8.8"],
      "tcp-window": 1024, fdb: { aging: 300 },
      settings: { mode: "x", "aging-time": 300, deep: { level: -1 } },
      host: [{ name: "h", addr: "1.2.3.4", mask: 16, details: { ttl: 64 } }],
      route: [{ network: "10.0.0.0/24", nexthop: "1.1.1.1", pathcost: 1 }],
    });
    expect((doc.settings as JsonObject).opt).toBeUndefined();
  });
  test("a non-default case gets no defaults of the default case", () => {
    const doc: JsonObject = { ...base(), "udp-port": 53 };
    applyDefaults(root, doc);
    expect(doc["tcp-window"]).toBeUndefined();
  });
});

describe("diffConfig", () => {
  test("leaves, list entries by key, leaf-lists as sets, in schema order", () => {
    const before: JsonObject = { action: "DROP", tags: ["a", "b"], route: [{ network: "10.0.0.0/24", nexthop: "1.1.1.1", pathcost: 1 }, { network: "10.0.1.0/24", nexthop: "1.1.1.1", pathcost: 1 }], settings: { mode: "x" } };
    const after: JsonObject = { action: "FORWARD", tags: ["b", "a"], route: [{ network: "10.0.1.0/24", nexthop: "1.1.1.1", pathcost: 5 }, { network: "10.0.2.0/24", nexthop: "1.1.1.1" }], settings: { mode: "y" }, ratio: 3 };
    expect(diffConfig(root, before, after).map((c) => [c.op, c.where, c.before ?? null, c.after ?? null])).toEqual([
      ["modify", "/action", "DROP", "FORWARD"],
      ["create", "/ratio", null, 3],
      ["modify", "/settings/mode", "x", "y"],
      ["delete", "/route[network=10.0.0.0/24][nexthop=1.1.1.1]", before.route && (before.route as JsonObject[])[0]!, null],
      ["modify", "/route[network=10.0.1.0/24][nexthop=1.1.1.1]/pathcost", 1, 5],
      ["create", "/route[network=10.0.2.0/24][nexthop=1.1.1.1]", null, { network: "10.0.2.0/24", nexthop: "1.1.1.1" }],
    ]);
  });
  test("identical configurations give no change", () => {
    expect(diffConfig(root, { ...base(), tags: ["a"] }, { ...base(), tags: ["a"] })).toEqual([]);
  });
});

describe("schema details", () => {
  test("extension instances are kept on nodes and on the module", () => {
    expect(ext(schema, "service-name")).toBe("tyr-everything");
    const ip = findDataChild(findDataChild(root, "ports")!, "ip")!;
    expect(ext(ip, "cli-example")).toBe("10.0.0.1/24");
    expect(findDataChild(root, "type")!.initOnly).toBe(true);
    const pkts = findDataChild(findDataChild(root, "stats")!, "pkts")!;
    expect(pkts.config).toBe(false);
    expect(pkts.extensions.map((e) => e.name)).toEqual(["name-metric", "type-metric", "path-metric", "help-metric"]);
    const addr = findDataChild(findDataChild(root, "host")!, "addr")!;
    expect(ext(addr, "cli-example")).toBe("10.0.0.2");
  });
  test("types keep the typedef name, the base and the restrictions", () => {
    const label = findDataChild(root, "label")!.type!;
    expect([label.name, label.base, label.patterns.length, label.patterns[1]!.invert]).toEqual(["no-admin", "string", 2, true]);
    expect(findDataChild(root, "paint")!.type!.enums!.map((e) => e.name)).toEqual(["RED", "GREEN"]);
    expect(findDataChild(root, "proto")!.type!.identities!.sort()).toEqual(["tyr-everything:tcp", "tyr-everything:udp"]);
    expect(findDataChild(root, "main-port")!.type!.target!.name).toBe("name");
  });
  test("XSD patterns: anchored, ^ and $ literal, subtraction, \\d as Unicode digits", () => {
    expect(compilePattern("[a-z]+").test("abc1")).toBe(false);
    expect(compilePattern("a^b$").test("a^b$")).toBe(true);
    expect(compilePattern("[a-z-[aeiou]]+").test("xyz")).toBe(true);
    expect(compilePattern("[a-z-[aeiou]]+").test("xaz")).toBe(false);
    expect(compilePattern("\\d+").test("١٢")).toBe(true);
  });
  test("errors name the problem", () => {
    expect(() => loadModule("module m { namespace urn:m; prefix m; leaf a { type foo; } }")).toThrow(/type foo not found/);
    expect(() => loadModule("module m { namespace urn:m; prefix m; import nothing { prefix n; } }")).toThrow(/module nothing not found/);
    expect(() => loadModule("module m { namespace urn:m; prefix m; leaf a { type string }")).toThrow(/expected ';' or '\{'/);
    expect(() => loadModule("module m { namespace urn:m; prefix m; leaf a { type uint8 { range 1..300; } } }")).toThrow(YangError);
  });
});
