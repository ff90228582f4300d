// A metric's value: the content of its map, in the shapes of the original's MapExtractor:
//   array                          [value, ...] (every index)
//   hash, LRU hash                 [{key, value}, ...]
//   per-CPU array, hash, LRU hash  [{key, value: [value on CPU 0, on CPU 1, ...]}, ...]
//   queue, stack                   [value, ...], taken out of the map as they are read
// and null for a map without entries. Empty-on-read then deletes what was read (hashes) or
// zeroes it (arrays). On its own it can lose what the datapath writes between the read and the
// deletion; with swap-on-read the map read is a copy no program writes any more (index.ts).
import type { Json, MapAccess, MapDescription } from "../../lib/sdk/types.ts";
import { decode } from "./decode.ts";

export const MAP_TYPE_NAMES: Record<number, string> = {
  1: "hash", 2: "array", 3: "prog array", 4: "perf event array", 5: "per-CPU hash", 6: "per-CPU array", 9: "LRU hash",
  10: "LRU per-CPU hash", 11: "LPM trie", 12: "array of maps", 13: "hash of maps", 14: "devmap", 16: "cpumap", 17: "xskmap",
  22: "queue", 23: "stack",
};

const PER_CPU = new Set([5, 6, 10]);
const ARRAYS = new Set([2, 6]);

/** Reads (and with `empty`, empties) one map of type `type`. */
export async function extract(map: MapAccess, type: number, types: MapDescription | undefined, empty: boolean): Promise<Json> {
  const out: Json[] = [];
  if (type === 22 || type === 23) {
    if (!map.pop) throw new Error("this context cannot take values out of a queue");
    for (let v = await map.pop(); v !== undefined; v = await map.pop()) out.push(decode(v, types?.value));
    return out.length ? out : null;
  }
  const entries = await map.entries();
  if (ARRAYS.has(type)) entries.sort(([a], [b]) => new DataView(a.buffer, a.byteOffset).getUint32(0, true) - new DataView(b.buffer, b.byteOffset).getUint32(0, true));
  for (const [k, v] of entries) {
    if (PER_CPU.has(type)) {
      const values = (await map.getPerCpu(k)) ?? [];
      out.push({ key: decode(k, types?.key), value: values.map((x) => decode(x, types?.value)) });
    } else if (ARRAYS.has(type)) out.push(decode(v, types?.value));
    else out.push({ key: decode(k, types?.key), value: decode(v, types?.value) });
  }
  if (empty && entries.length) {
    const keys = entries.map(([k]) => k);
    if (ARRAYS.has(type)) {
      const zero = new Uint8Array(map.valueSize);
      if (map.setMany) await map.setMany(keys.map((k) => [k, zero]));
      else for (const k of keys) await map.set(k, zero);
    } else if (map.deleteMany) await map.deleteMany(keys);
    else for (const k of keys) await map.delete(k);
  }
  return out.length ? out : null;
}
