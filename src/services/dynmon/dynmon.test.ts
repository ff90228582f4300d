// dynmon's model is the original's tree (plus the base model's read-only `parent`), and the
// configuration the control plane reads from it: defaults for paths left out, the maps read
// with swap-on-read, metrics checked against the maps of the code.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findDataChild, loadModule, normalise } from "../../lib/yang/index.ts";
import { datapathKey, DEFAULT_NAME, pathSpecs, swapSets } from "./config.ts";
import { ORIGINAL_PACKET_COUNTER, counterCode } from "./fixtures.ts";
import { checkMetrics, verifierLog } from "./index.ts";
import { DEFAULT_CODE, rewrite } from "./rewrite.ts";

const root = join(import.meta.dir, "..", "..", "..");
const file = join(import.meta.dir, "dynmon.yang");

describe("dynmon model", () => {
  test("loads in our engine and in yanglint, with the original's tree", () => {
    const schema = loadModule(readFileSync(file, "utf8"));
    for (const t of ["uuid", "type", "loglevel", "parent", "dataplane-config", "metrics", "open-metrics"]) expect(findDataChild(schema.root, t)).toBeDefined();
    const r = spawnSync(["yanglint", "-p", join(root, "yang"), file], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const tree = spawnSync(["yanglint", "-f", "tree", "-p", join(root, "yang"), file], { stdout: "pipe" }).stdout.toString();
    const ours = tree.split("\n").filter((l) => !/^ {2}\+--ro parent\? +string$/.test(l)).join("\n");
    expect(ours).toBe(readFileSync(join(import.meta.dir, "dynmon.tree"), "utf8"));
  });
});

describe("the original's example as a REST body", () => {
  test('is valid as it is: "type": "counter" matches Counter, "egress-path": {} is as if absent', () => {
    const schema = loadModule(readFileSync(file, "utf8"));
    const r = normalise(findDataChild(schema.root, "dataplane-config")!, ORIGINAL_PACKET_COUNTER as never, { op: "replace" });
    expect(r.errors).toEqual([]);
    expect(Object.keys(r.value as object)).toEqual(["ingress-path"]);
    expect((r.value as any)["ingress-path"]["metric-configs"][0]["open-metrics-metadata"].type).toBe("Counter");
    // strict RFC 7951 keeps YANG's meaning: an empty presence container is there, without its mandatory code
    expect(normalise(findDataChild(schema.root, "dataplane-config")!, { "egress-path": {} }, { op: "replace", lenient: false }).value).toEqual({ "egress-path": {} });
  });
});

describe("dynmon configuration", () => {
  test("a path left out runs the default code under the default name; options default to false", () => {
    const s = pathSpecs({ "dataplane-config": ORIGINAL_PACKET_COUNTER as never });
    expect(s.egress).toEqual({ name: DEFAULT_NAME, code: DEFAULT_CODE, metrics: [], isDefault: true });
    expect(s.ingress.metrics).toEqual([
      { name: "packets_total", mapName: "PKT_COUNTER", emptyOnRead: false, swapOnRead: false, open: { help: ORIGINAL_PACKET_COUNTER["ingress-path"]["metric-configs"][0]!["open-metrics-metadata"].help, type: "counter", labels: [] } },
    ]);
  });

  test("the datapath depends on the code and the swap-on-read maps only", () => {
    const cfg = (swap: boolean, help: string) => ({
      "dataplane-config": { "ingress-path": { code: counterCode(), "metric-configs": [{ name: "m", "map-name": "COUNTER", "extraction-options": { "swap-on-read": swap, "empty-on-read": true }, "open-metrics-metadata": { help, type: "Gauge" } }] } },
    });
    expect(swapSets(pathSpecs(cfg(true, "a"))).ingress).toEqual(new Set(["COUNTER"]));
    expect(datapathKey(pathSpecs(cfg(true, "a")))).toBe(datapathKey(pathSpecs(cfg(true, "b"))));
    expect(datapathKey(pathSpecs(cfg(true, "a")))).not.toBe(datapathKey(pathSpecs(cfg(false, "a"))));
  });

  test("a metric must name a map of its path's code that dynmon can read", () => {
    const code = `BPF_ARRAY(COUNTER, u64, 1);\nBPF_PROG_ARRAY(JUMPS, 4);\n${DEFAULT_CODE}`;
    const places = rewrite({ ingress: { code, swap: new Set() }, egress: { code: DEFAULT_CODE, swap: new Set() } }).maps;
    const spec = (map: string) => pathSpecs({ "dataplane-config": { "ingress-path": { code, "metric-configs": [{ name: "m", "map-name": map }] } } });
    checkMetrics(spec("COUNTER"), places);
    expect(() => checkMetrics(spec("COUNTR"), places)).toThrow("dataplane-config.ingress-path.metric-configs[m].map-name: the ingress code has no map COUNTR (its maps: COUNTER, JUMPS)");
    expect(() => checkMetrics(spec("JUMPS"), places)).toThrow("dataplane-config.ingress-path.metric-configs[m].map-name: map JUMPS is a prog array; dynmon exports hash, array, LRU, per-CPU, queue and stack maps");
  });

  test("the verifier's log is cut from libbpf's messages, its end kept", () => {
    const lines = Array.from({ length: 60 }, (_, i) => `${i}: insn`);
    const msgs = ["prog 'pcn_ingress': BPF program load failed: Permission denied", `prog 'pcn_ingress': -- BEGIN PROG LOAD LOG --\n${lines.join("\n")}\nR1 invalid mem access 'scalar'\n-- END PROG LOAD LOG --`];
    const log = verifierLog(msgs).split("\n");
    expect(log[0]).toBe("...");
    expect(log.at(-1)).toBe("R1 invalid mem access 'scalar'");
    expect(log.length).toBe(41);
  });
});
