// Map access against the kernel: batch reads and writes (with the per-element fallback for map
// types without batch operations), per-CPU values, and pins.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BpfMap, MapType, possibleCpus, u32Bytes } from "../../src/lib/bpf/index.ts";

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

function asU32(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
}

function asU64(b: Uint8Array): number {
  return Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true));
}

describe("BpfMap", () => {
  test("a hash map is written and read in batches, and deleted in a batch", () => {
    const m = BpfMap.create({ type: MapType.HASH, name: "t_batch", keySize: 4, valueSize: 8, maxEntries: 2048 });
    try {
      m.updateMany(Array.from({ length: 1000 }, (_, i) => [u32Bytes(i), u64(i * 3)]));
      const got = new Map(m.entries().map(([k, v]) => [asU32(k), asU64(v)]));
      expect(got.size).toBe(1000);
      for (const i of [0, 1, 499, 999]) expect(got.get(i)).toBe(i * 3);
      expect(m.deleteMany(Array.from({ length: 500 }, (_, i) => u32Bytes(i * 2)))).toBe(500);
      expect(m.entries().length).toBe(500);
      // Deleting keys that are partly gone counts only those that were there.
      expect(m.deleteMany([u32Bytes(1), u32Bytes(2), u32Bytes(3)])).toBe(2);
      m.clear();
      expect(m.entries()).toEqual([]);
    } finally {
      m.close();
    }
  });

  test("per-CPU hash maps: one value goes to every CPU; raw entries hold every CPU's slot", () => {
    const m = BpfMap.create({ type: MapType.PERCPU_HASH, name: "t_percpu", keySize: 4, valueSize: 8, maxEntries: 64 });
    try {
      m.updateMany([[u32Bytes(7), u64(5)]]);
      const perCpu = m.lookupPerCpu(u32Bytes(7))!;
      expect(perCpu.length).toBe(possibleCpus);
      expect(perCpu.map(asU64)).toEqual(Array(possibleCpus).fill(5));
      const [[k, v]] = m.entriesRaw() as [[Uint8Array, Uint8Array]];
      expect(asU32(k)).toBe(7);
      expect(v.length).toBe(8 * possibleCpus);
    } finally {
      m.close();
    }
  });

  test("an LPM trie has no batch operations: the same calls work one element at a time", () => {
    const m = BpfMap.create({ type: MapType.LPM_TRIE, name: "t_lpm", keySize: 8, valueSize: 4, maxEntries: 16, flags: 1 /* BPF_F_NO_PREALLOC */ });
    try {
      const key = (len: number, a: number) => new Uint8Array([len, 0, 0, 0, 10, a, 0, 0]);
      m.updateMany([[key(16, 0), u32Bytes(1)], [key(24, 1), u32Bytes(2)]]);
      expect(m.entries().map(([, v]) => asU32(v)).sort()).toEqual([1, 2]);
      expect(m.deleteMany([key(16, 0)])).toBe(1);
      expect(m.entries().length).toBe(1);
    } finally {
      m.close();
    }
  });

  test("a pinned map is reopened from its pin, and the pin removed", () => {
    // A bpf filesystem of the test's own, mounted for it (the machine may have none mounted).
    const dir = mkdtempSync(join(tmpdir(), "pcn-bpffs-"));
    const mounted = Bun.spawnSync(["mount", "-t", "bpf", "bpf", dir]);
    expect(mounted.exitCode).toBe(0);
    const path = `${dir}/t_pin`;
    const m = BpfMap.create({ type: MapType.ARRAY, name: "t_pin", keySize: 4, valueSize: 4, maxEntries: 4 });
    try {
      m.update(u32Bytes(2), u32Bytes(42));
      m.pin(path);
      const again = BpfMap.fromPin(path);
      try {
        expect(asU32(again.lookup(u32Bytes(2))!)).toBe(42);
        expect(again.id).toBe(m.id);
      } finally {
        again.close();
      }
      BpfMap.unpin(path);
      expect(existsSync(path)).toBe(false);
      expect(() => BpfMap.fromPin(path)).toThrow(/open pinned map/);
    } finally {
      m.close();
      Bun.spawnSync(["umount", dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
