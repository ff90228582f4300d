// The YANG engine against libyang's yanglint, the field's reference implementation: for every
// model and data document below, our accept/reject must agree with yanglint's, and with the
// outcome written next to the case (so a case where both are wrong fails too).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { loadModule, validateDocument, type Schema } from "../../src/lib/yang/index.ts";
import type { Json, JsonObject } from "../../src/lib/sdk/types.ts";

const ROOT = join(import.meta.dir, "..", "..");
const BASE_DIR = join(ROOT, "yang");
const MODELS = join(import.meta.dir, "models");
const tmp = mkdtempSync(join(tmpdir(), "tyr-yang-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function yanglint(args: string[]): { ok: boolean; err: string } {
  const p = Bun.spawnSync(["yanglint", "-p", BASE_DIR, ...args], { stdout: "pipe", stderr: "pipe" });
  return { ok: p.exitCode === 0, err: p.stderr.toString() };
}

function ours(file: string): { schema?: Schema; err?: string } {
  try {
    return { schema: loadModule(readFileSync(file, "utf8"), [BASE_DIR, join(file, "..")]) };
  } catch (e) {
    return { err: (e as Error).message };
  }
}

/** RFC 7951 form for yanglint: top-level members qualified by the module name. */
function qualified(module: string, doc: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(doc).map(([k, v]) => [`${module}:${k}`, v]));
}

let seq = 0;
function agreeOnData(schema: Schema, modelFile: string, doc: JsonObject): { ours: boolean; lint: boolean; why: string } {
  const f = join(tmp, `doc${seq++}.json`);
  writeFileSync(f, JSON.stringify(qualified(schema.module, doc)));
  const lint = yanglint(["-t", "config", modelFile, f]);
  const r = validateDocument(schema.root, doc, { strict: true });
  return { ours: r.errors.length === 0, lint: lint.ok, why: `ours: ${JSON.stringify(r.errors)}\nyanglint: ${lint.err}` };
}

describe("models: load/reject like yanglint", () => {
  const valid = [
    ...readdirSync(BASE_DIR).filter((f) => f.endsWith(".yang")).map((f) => join(BASE_DIR, f)),
    join(MODELS, "tyr-everything.yang"),
    join(MODELS, "tyr-rest.yang"),
  ];
  const services = existsSync(join(ROOT, "src", "services"))
    ? readdirSync(join(ROOT, "src", "services"), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .flatMap((d) => readdirSync(join(ROOT, "src", "services", d.name)).filter((f) => f.endsWith(".yang")).map((f) => join(ROOT, "src", "services", d.name, f)))
    : [];
  for (const file of [...valid, ...services]) {
    test(`accepts ${basename(file)}`, () => {
      const lint = yanglint([file]);
      const o = ours(file);
      expect({ lint: lint.ok, ours: !o.err }).toEqual({ lint: true, ours: true });
    });
  }
  const invalid = readdirSync(join(MODELS, "invalid")).filter((f) => f.endsWith(".yang"));
  for (const f of invalid) {
    test(`rejects invalid/${f}`, () => {
      const file = join(MODELS, "invalid", f);
      const lint = yanglint([file]);
      const o = ours(file);
      expect(o.err ?? "").not.toBe("");
      expect({ lint: lint.ok, ours: !o.err }).toEqual({ lint: false, ours: false });
    });
  }
  // Real services: the empty configuration with defaults must be judged alike.
  for (const file of services) {
    test(`empty config of ${basename(file)} judged like yanglint`, () => {
      const o = ours(file)!;
      const r = agreeOnData(o.schema!, file, {});
      expect(r.ours, r.why).toBe(r.lint);
    });
  }
});

describe("data documents: accept/reject like yanglint", () => {
  const file = join(MODELS, "tyr-everything.yang");
  const schema = ours(file).schema!;
  const base = (): JsonObject => ({ settings: { mode: "x" }, "pick-a": "a" });
  const withBase = (extra: JsonObject): JsonObject => ({ ...base(), ...extra });
  const routes = (n: number): Json[] =>
    Array.from({ length: n }, (_, i) => ({ network: `10.0.${i}.0/24`, nexthop: "1.1.1.1" }));

  const cases: Array<[string, JsonObject, boolean]> = [
    ["minimal document", base(), true],
    ["missing mandatory leaf in a non-presence container", { "pick-a": "a" }, false],
    ["missing mandatory choice", { settings: { mode: "x" } }, false],
    ["two cases of one choice", withBase({ "pick-b": "b" }), false],
    ["two cases of a defaulted choice", withBase({ "udp-port": 1, "tcp-port": 2 }), false],
    ["the non-default case alone", withBase({ "udp-port": 53 }), true],
    ["unknown member", withBase({ bogus: 1 }), false],
    ["unknown member deep", withBase({ settings: { mode: "x", nope: true } }), false],
    ["config false member", withBase({ stats: { pkts: "1" } }), false],
    ["range from a typedef: in", withBase({ ratio: 100 }), true],
    ["range from a typedef: out", withBase({ ratio: 101 }), false],
    ["chained typedef range: out", withBase({ tiny: 11 }), false],
    ["uint8 as a string (strict)", withBase({ ratio: "5" }), false],
    ["int64 string in range", withBase({ big: "-4000000000" }), true],
    ["int64 string out of range", withBase({ big: "6000000000" }), false],
    ["decimal64 ok", withBase({ price: "12.34" }), true],
    ["decimal64 too many digits", withBase({ price: "12.345" }), false],
    ["decimal64 out of range", withBase({ price: "1000.01" }), false],
    ["pattern+length ok", withBase({ label: "abc" }), true],
    ["inverted pattern", withBase({ label: "admin1" }), false],
    ["pattern mismatch", withBase({ label: "Abc" }), false],
    ["length too long", withBase({ label: "abcdefghi" }), false],
    ["restricted enum ok", withBase({ paint: "GREEN" }), true],
    ["enum removed by restriction", withBase({ paint: "BLUE" }), false],
    ["enum wrong case (strict)", withBase({ paint: "green" }), false],
    ["bits ok", withBase({ flags: "SYN FIN" }), true],
    ["unknown bit", withBase({ flags: "PSH" }), false],
    ["empty ok", withBase({ enabled: [null] }), true],
    ["empty as boolean", withBase({ enabled: true }), false],
    ["binary ok", withBase({ blob: "AQID" }), true],
    ["binary not base64", withBase({ blob: "!!" }), false],
    ["binary too long", withBase({ blob: "AQIDBAU=" }), false],
    ["identityref derived", withBase({ proto: "tcp" }), true],
    ["identityref qualified", withBase({ proto: "tyr-everything:udp" }), true],
    ["identityref not derived from base", withBase({ proto: "icmp" }), false],
    ["identityref the base itself", withBase({ proto: "l4" }), false],
    ["union ipv6", withBase({ "any-addr": "fe80::1" }), true],
    ["union ipv4", withBase({ "any-addr": "10.0.0.1" }), true],
    ["union neither", withBase({ "any-addr": "10.0.0.256" }), false],
    ["union of number and enum: number", withBase({ "id-or-name": 5 }), true],
    ["union of number and enum: enum", withBase({ "id-or-name": "auto" }), true],
    ["union of number and enum: neither", withBase({ "id-or-name": "manual" }), false],
    ["leafref to an existing port", withBase({ ports: [{ name: "p1" }], "main-port": "p1" }), true],
    ["leafref to a missing port", withBase({ ports: [{ name: "p1" }], "main-port": "p9" }), false],
    ["nested leafref ok", withBase({ backends: [{ name: "b1" }], host: [{ name: "h", addr: "1.2.3.4", service: [{ port: 80, proto: "TCP", backend: "b1" }] }] }), true],
    ["nested leafref dangling", withBase({ backends: [{ name: "b1" }], host: [{ name: "h", addr: "1.2.3.4", service: [{ port: 80, proto: "TCP", backend: "b2" }] }] }), false],
    ["leaf-list ok", withBase({ tags: ["a", "b"] }), true],
    ["leaf-list over max-elements", withBase({ tags: ["a", "b", "c", "d"] }), false],
    ["leaf-list duplicate", withBase({ tags: ["a", "a"] }), false],
    ["leaf-list bad value", withBase({ tags: ["A"] }), false],
    ["leaf-list union values", withBase({ dns: ["1.1.1.1", "::1"] }), true],
    ["multi-key list ok", withBase({ route: routes(2) }), true],
    ["multi-key list missing a key", withBase({ route: [{ network: "10.0.0.0/24" }] }), false],
    ["duplicate list entry", withBase({ route: [...routes(1), ...routes(1)] }), false],
    ["unique violated", withBase({ route: routes(2).map((r) => ({ ...(r as JsonObject), "metric-name": "m" })) }), false],
    ["max-elements exceeded", withBase({ route: routes(6) }), false],
    ["grouping with refine ok", withBase({ host: [{ name: "h", addr: "1.2.3.4", details: { extra: true } }] }), true],
    ["grouping mandatory missing", withBase({ host: [{ name: "h" }] }), false],
    ["augment in uses: wrong type", withBase({ host: [{ name: "h", addr: "1.2.3.4", details: { extra: "yes" } }] }), false],
    ["presence container without its mandatory leaf", withBase({ settings: { mode: "x", opt: {} } }), false],
    ["presence container ok", withBase({ settings: { mode: "x", opt: { "must-have": "y" } } }), true],
    ["int8 range out", withBase({ settings: { mode: "x", deep: { level: -11 } } }), false],
    ["int8 range in", withBase({ settings: { mode: "x", deep: { level: -10 } } }), true],
    ["port without name", withBase({ ports: [{ peer: "x" }] }), false],
    ["port uuid is read-only", withBase({ ports: [{ name: "p1", uuid: "6f1c2a9e-0b7d-4c1e-9a3b-2d4e5f6a7b8c" }] }), false],
    ["augmented port leaf ok", withBase({ ports: [{ name: "p1", ip: "10.1.1.1/24", mac: "aa:bb:cc:dd:ee:ff" }] }), true],
    ["ipv4-prefix without length", withBase({ ports: [{ name: "p1", ip: "10.1.1.1" }] }), false],
    ["bad mac address", withBase({ ports: [{ name: "p1", mac: "zz:bb:cc:dd:ee:ff" }] }), false],
    ["base type enum wrong case (strict)", withBase({ type: "tc" }), false],
    ["base type enum ok", withBase({ type: "XDP_SKB", loglevel: "TRACE" }), true],
    ["base loglevel unknown", withBase({ loglevel: "VERBOSE" }), false],
    ["range 1..max: 0", withBase({ settings: { mode: "x", "aging-time": 0 } }), false],
    ["uint64 negative", withBase({ ubig: "-1" }), false],
    ["uint64 max", withBase({ ubig: "18446744073709551615" }), true],
    ["polycube-uuid bad", withBase({ settings: { mode: "x", "uuid-copy": "not-a-uuid" } }), false],
    ["polycube-uuid ok", withBase({ settings: { mode: "x", "uuid-copy": "6f1c2a9e-0b7d-4c1e-9a3b-2d4e5f6a7b8c" } }), true],
    ["boolean as a string", withBase({ shadow: "true" }), false],
    ["list entry not an object", withBase({ backends: ["b1"] }), false],
    ["container given an array", withBase({ fdb: [] }), false],
  ];
  for (const [name, doc, expected] of cases) {
    test(name, () => {
      const r = agreeOnData(schema, file, doc);
      expect({ ours: r.ours, lint: r.lint }, r.why).toEqual({ ours: expected, lint: expected });
    });
  }
});
