// Map contents in the original's shapes, and what empty-on-read leaves behind, on maps kept in
// memory (the datapath test reads real ones).
import { describe, expect, test } from "bun:test";
import type { CType, MapAccess } from "../../lib/sdk/types.ts";
import { extract } from "./extract.ts";

const u32t: CType = { name: "__u32", size: 4, kind: "int", signed: false };
const u64t: CType = { name: "__u64", size: 8, kind: "int", signed: false };
const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (n: number) => new Uint8Array(new BigUint64Array([BigInt(n)]).buffer);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** A map in memory; per-CPU values are `cpus` values per key. */
function memMap(valueSize: number, entries: Array<[Uint8Array, Uint8Array[]]>, queue?: Uint8Array[]): MapAccess & { data: Map<string, Uint8Array[]> } {
  const data = new Map(entries.map(([k, v]) => [hex(k), v]));
  const keys = new Map(entries.map(([k]) => [hex(k), k]));
  return {
    data,
    keySize: 4,
    valueSize,
    async get(k) { return data.get(hex(k))?.[0]; },
    async getPerCpu(k) { return data.get(hex(k)); },
    async set(k, v) { keys.set(hex(k), k); data.set(hex(k), (data.get(hex(k)) ?? [v]).map(() => v)); },
    async delete(k) { return data.delete(hex(k)); },
    async entries() { return [...data].map(([k, v]) => [keys.get(k)!, v[0]!] as [Uint8Array, Uint8Array]); },
    async clear() { data.clear(); },
    async deleteMany(ks) { let n = 0; for (const k of ks) if (data.delete(hex(k))) n++; return n; },
    async pop() { return queue?.shift(); },
  };
}

describe("extract", () => {
  test("an array: every value, in index order; empty-on-read zeroes them", async () => {
    const m = memMap(8, [[u32(1), [u64(7)]], [u32(0), [u64(3)]]]);
    expect(await extract(m, 2, { keySize: 4, valueSize: 8, key: u32t, value: u64t }, false)).toEqual([3, 7]);
    expect(await extract(m, 2, { keySize: 4, valueSize: 8, key: u32t, value: u64t }, true)).toEqual([3, 7]);
    expect(await extract(m, 2, { keySize: 4, valueSize: 8, key: u32t, value: u64t }, false)).toEqual([0, 0]);
  });

  test("a hash: key and value per entry; empty-on-read deletes them; nothing is null", async () => {
    const m = memMap(8, [[u32(10), [u64(1)]], [u32(20), [u64(2)]]]);
    const types = { keySize: 4, valueSize: 8, key: u32t, value: u64t };
    expect(await extract(m, 1, types, true)).toEqual([{ key: 10, value: 1 }, { key: 20, value: 2 }]);
    expect(m.data.size).toBe(0);
    expect(await extract(m, 1, types, false)).toBeNull();
  });

  test("per-CPU maps: each key with one value per CPU", async () => {
    const m = memMap(8, [[u32(0), [u64(1), u64(2), u64(3)]]]);
    expect(await extract(m, 6, { keySize: 4, valueSize: 8, key: u32t, value: u64t }, true)).toEqual([{ key: 0, value: [1, 2, 3] }]);
    expect(m.data.get(hex(u32(0)))!.map(hex)).toEqual([hex(u64(0)), hex(u64(0)), hex(u64(0))]);
  });

  test("queues and stacks are taken out as they are read", async () => {
    const q = [u32(5), u32(6)];
    const m = memMap(4, [], q);
    expect(await extract(m, 22, { keySize: 0, valueSize: 4, value: u32t }, false)).toEqual([5, 6]);
    expect(q.length).toBe(0);
    expect(await extract(m, 23, { keySize: 0, valueSize: 4, value: u32t }, false)).toBeNull();
  });
});
