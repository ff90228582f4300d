// The pinned datapath (src/lib/cube/pins.ts): a second runtime adopting the pins of a first one
// reuses a cube's maps by name when their layout matches, rebuilds (with a warning) those whose
// layout changed, and removeAll leaves nothing in bpffs.
import { afterAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { BpfMap, MapType } from "../../src/lib/bpf/index.ts";
import { PIN_ROOT, PinStore } from "../../src/lib/cube/pins.ts";
import { DatapathRuntime } from "../../src/lib/cube/runtime.ts";

const instance = `test-pins-${process.pid}`;
const warnings: string[] = [];
const log = { trace() {}, debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error() {}, critical() {} };
const key = new Uint8Array([2, 0, 0, 0, 0, 1, 0, 0]);
const value = new Uint8Array(16).fill(7);

afterAll(() => new PinStore(instance, false, log).removeAll());

test("maps are adopted by name when the layout matches, rebuilt with a warning when it changed", async () => {
  const first = new DatapathRuntime(new PinStore(instance, false, log));
  const a = await first.load("simplebridge", "tc", { pcn_cube_id: 1 }, new Map(), "br");
  a.map("fwdtable").update(key, value);
  const configId = a.map("config").id;
  a.close();
  await first.close(true);
  // The "config" map's pin now names a map of another layout (as if the datapath had changed).
  const dir = `${PIN_ROOT}/${instance}/cubes/br/simplebridge`;
  BpfMap.unpin(`${dir}/config`);
  const other = BpfMap.create({ type: MapType.ARRAY, name: "config", keySize: 4, valueSize: 8, maxEntries: 1 });
  other.pin(`${dir}/config`);
  other.close();

  const second = new DatapathRuntime(new PinStore(instance, true, log));
  const b = await second.load("simplebridge", "tc", { pcn_cube_id: 1 }, new Map(), "br");
  expect(b.map("fwdtable").lookup(key)).toEqual(value);
  expect(b.map("config").valueSize).toBe(4);
  expect(b.map("config").id).not.toBe(configId);
  expect(warnings.some((w) => w.includes("map config changed layout"))).toBe(true);
  b.close();
  await second.close(false);
  expect(existsSync(`${PIN_ROOT}/${instance}`)).toBe(false);
});
