// ddosmitigator's model matches the original's tree (plus the base model's read-only `parent`);
// its control plane's address validation and datapath configuration.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findDataChild, loadModule } from "../../lib/yang/index.ts";
import { BLACKLIST_MAX, blacklists, ddosConfig, isIpv4 } from "./index.ts";

const root = join(import.meta.dir, "..", "..", "..");
const file = join(import.meta.dir, "ddosmitigator.yang");

describe("ddosmitigator model", () => {
  test("loads in our engine and in yanglint, with the original's tree", () => {
    const schema = loadModule(readFileSync(file, "utf8"));
    for (const t of ["uuid", "type", "loglevel", "parent", "stats", "blacklist-src", "blacklist-dst"]) expect(findDataChild(schema.root, t)).toBeDefined();
    for (const t of ["ports", "shadow", "span"]) expect(findDataChild(schema.root, t)).toBeUndefined();
    const r = spawnSync(["yanglint", "-p", join(root, "yang"), file], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const tree = spawnSync(["yanglint", "-f", "tree", "-p", join(root, "yang"), file], { stdout: "pipe" }).stdout.toString();
    // yang/polycube-transparent-base.yang adds `parent`, which the original served without modelling it.
    const ours = tree.split("\n").filter((l) => !/^ {2}\+--ro parent\? +string$/.test(l)).join("\n");
    expect(ours).toBe(readFileSync(join(import.meta.dir, "ddosmitigator.tree"), "utf8"));
  });
});

describe("ddosmitigator addresses", () => {
  test("single IPv4 addresses in dotted decimal only", () => {
    for (const ok of ["10.0.0.1", "0.0.0.0", "255.255.255.255", "192.168.100.20"]) expect(isIpv4(ok)).toBe(true);
    for (const bad of ["", "10.0.0", "10.0.0.1.2", "256.0.0.1", "10.0.0.0/24", "010.0.0.1", "a.b.c.d", " 10.0.0.1", "::1", "1e1.0.0.1"]) expect(isIpv4(bad)).toBe(false);
  });

  test("a bad address is refused naming its list; a prefix gets a hint", () => {
    expect(blacklists({ "blacklist-src": [{ ip: "10.0.0.1" }], "blacklist-dst": [{ ip: "10.0.0.2" }] })).toEqual({
      "blacklist-src": ["10.0.0.1"],
      "blacklist-dst": ["10.0.0.2"],
    });
    expect(blacklists({})).toEqual({ "blacklist-src": [], "blacklist-dst": [] });
    expect(() => blacklists({ "blacklist-dst": [{ ip: "300.0.0.1" }] })).toThrow(/^blacklist-dst: '300\.0\.0\.1' is not an IPv4 address/);
    expect(() => blacklists({ "blacklist-src": [{ ip: "10.0.0.0/8" }] })).toThrow(/prefixes are not accepted/);
    let error: unknown;
    try {
      blacklists({ "blacklist-src": [{ ip: "x" }] });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ status: 400, field: "blacklist-src.ip" });
  });

  test("no more addresses than the datapath's maps hold", () => {
    const many = Array.from({ length: BLACKLIST_MAX + 1 }, (_, i) => ({ ip: `10.${i >> 8}.${i & 255}.1` }));
    expect(() => blacklists({ "blacklist-src": many })).toThrow(`at most ${BLACKLIST_MAX}`);
    expect(blacklists({ "blacklist-src": many.slice(0, BLACKLIST_MAX) })["blacklist-src"].length).toBe(BLACKLIST_MAX);
  });

  test("datapath configuration layout", () => {
    expect([...ddosConfig.encode({ matchSrc: 1, matchDst: 0 })]).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
  });
});
