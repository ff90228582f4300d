import { describe, expect, test } from "bun:test";
import { memoryMap, type MemoryMap } from "../../../test/lib/memory-context.ts";
import { u32 } from "../bpf/codec.ts";
import { applyInOrder, keyHex, MapMirror, TypedMirror, type Entry } from "./mirror.ts";
import { ServiceError } from "./types.ts";

/** A map that holds at most `capacity` entries and counts the kernel calls it gets. */
function boundedMap(capacity: number): MemoryMap & { calls: string[] } {
  const m = memoryMap();
  const calls: string[] = [];
  const set = m.set;
  return Object.assign(m, {
    calls,
    async set(k: Uint8Array, v: Uint8Array) {
      calls.push(`set ${keyHex(k)}`);
      if (!m.data.has(keyHex(k)) && m.data.size >= capacity) throw Object.assign(new Error("Argument list too long"), { errno: 7 });
      await set(k, v);
    },
    async delete(k: Uint8Array) {
      calls.push(`delete ${keyHex(k)}`);
      return m.data.delete(keyHex(k));
    },
  });
}

const e = (k: number, v: number): Entry => [u32.encode(k), u32.encode(v)];
const content = (m: MemoryMap) => Object.fromEntries([...m.data].map(([k, v]) => [k, keyHex(v)]));

describe("MapMirror", () => {
  test("writes only what changed, deletes first, leaves entries it did not write", async () => {
    const map = boundedMap(100);
    await map.set(u32.encode(99), u32.encode(1)); // learned by the datapath
    const m = new MapMirror(map, "t");
    await m.replace([e(1, 1), e(2, 2), e(3, 3)]);
    expect(map.data.size).toBe(4);
    map.calls.length = 0;
    await m.replace([e(1, 1), e(2, 20), e(4, 4)]);
    expect(map.calls).toEqual([`delete ${keyHex(u32.encode(3))}`, `set ${keyHex(u32.encode(2))}`, `set ${keyHex(u32.encode(4))}`]);
    expect(map.data.has(keyHex(u32.encode(99)))).toBe(true);
    expect(m.size).toBe(3);
    map.calls.length = 0;
    await m.replace([e(1, 1), e(2, 20), e(4, 4)]);
    expect(map.calls).toEqual([]);
  });

  test("patch: writes and deletes only the entries it is given; a refused one puts them back; undo goes back", async () => {
    const map = boundedMap(4);
    await map.set(u32.encode(99), u32.encode(1)); // learned by the datapath
    const m = new MapMirror(map, "t");
    await m.replace([e(1, 1), e(2, 2)]);
    map.calls.length = 0;
    const undo = await m.patch([e(2, 20), e(3, 3), e(1, 1)], [u32.encode(1), u32.encode(7)]);
    expect(map.calls).toEqual([`set ${keyHex(u32.encode(2))}`, `set ${keyHex(u32.encode(3))}`]);
    expect(m.size).toBe(3);
    const before = content(map);
    // The table holds 4: two new entries do not fit; nothing changes.
    const err = await m.patch([e(2, 200), e(5, 5), e(6, 6)]).catch((x) => x);
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).status).toBe(507);
    expect(content(map)).toEqual(before);
    expect(m.size).toBe(3);
    await undo();
    expect(content(map)).toEqual({ [keyHex(u32.encode(99))]: keyHex(u32.encode(1)), [keyHex(u32.encode(1))]: keyHex(u32.encode(1)), [keyHex(u32.encode(2))]: keyHex(u32.encode(2)) });
    const gone = await m.patch([], [u32.encode(1)]);
    expect(map.data.has(keyHex(u32.encode(1)))).toBe(false);
    await gone();
    expect(map.data.has(keyHex(u32.encode(1)))).toBe(true);
  });

  test("uses the context's batches when it has them", async () => {
    const map = memoryMap();
    const batches: string[] = [];
    map.setMany = async (entries) => { batches.push(`set ${entries.length}`); for (const [k, v] of entries) await map.set(k, v); };
    map.deleteMany = async (keys) => { batches.push(`delete ${keys.length}`); let n = 0; for (const k of keys) if (await map.delete(k)) n++; return n; };
    const m = new MapMirror(map, "t");
    await m.replace([e(1, 1), e(2, 2), e(3, 3)]);
    await m.replace([e(3, 3), e(4, 4)]);
    expect(batches).toEqual(["set 3", "delete 2", "set 1"]);
  });

  test("a full table makes room before it takes new entries", async () => {
    const map = boundedMap(2);
    const m = new MapMirror(map, "t");
    await m.replace([e(1, 1), e(2, 2)]);
    await m.replace([e(3, 3), e(4, 4)]);
    expect(Object.keys(content(map)).sort()).toEqual([keyHex(u32.encode(3)), keyHex(u32.encode(4))].sort());
  });

  test("a refused batch puts the map back as it was and throws a 507", async () => {
    const map = boundedMap(3);
    const m = new MapMirror(map, "t", { what: "routing tables" });
    await m.replace([e(1, 1), e(2, 2), e(3, 3)]);
    const before = content(map);
    // 1 changes, 2 goes, 4, 5 and 6 are new: one too many for the table.
    const err = await m.replace([e(1, 10), e(3, 3), e(4, 4), e(5, 5), e(6, 6)]).catch((x) => x);
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).status).toBe(507);
    expect((err as ServiceError).message).toBe("routing tables: Argument list too long");
    expect(content(map)).toEqual(before);
    expect(m.entries().map(([k, v]) => [u32.decode(k), u32.decode(v)])).toEqual([[1, 1], [2, 2], [3, 3]]);
    // The next change that fits goes through from there.
    await m.replace([e(1, 10), e(4, 4)]);
    expect(Object.keys(content(map)).length).toBe(2);
  });

  test("array maps: entries no longer wanted get the absent value", async () => {
    const map = boundedMap(10);
    const m = new MapMirror(map, "ports", { absent: u32.encode(0) });
    await m.replace([e(1, 7), e(2, 7)]);
    await m.replace([e(1, 7)]);
    expect(content(map)).toEqual({ [keyHex(u32.encode(1))]: keyHex(u32.encode(7)), [keyHex(u32.encode(2))]: keyHex(u32.encode(0)) });
  });

  test("keep: writes now, deletes later; undo goes back", async () => {
    const map = boundedMap(10);
    const m = new MapMirror(map, "t");
    await m.replace([e(1, 1), e(2, 2)]);
    const undoAdd = await m.replace([e(2, 2), e(3, 3)], { keep: true });
    expect(map.data.size).toBe(3);
    const undoDel = await m.replace([e(2, 2), e(3, 3)]);
    expect(map.data.size).toBe(2);
    await undoDel();
    await undoAdd();
    expect(m.entries().map(([k]) => u32.decode(k)).sort()).toEqual([1, 2]);
    expect(map.data.size).toBe(2);
  });

  test("single entries outside replace() are remembered", async () => {
    const map = boundedMap(10);
    const m = new MapMirror(map, "arp");
    await m.replace([e(1, 1)]);
    await m.set(u32.encode(2), u32.encode(2));
    expect(m.has(u32.encode(2))).toBe(true);
    await m.replace([e(1, 1)]);
    expect(map.data.size).toBe(1);
    await m.delete(u32.encode(1));
    expect(map.data.size).toBe(0);
  });
});

describe("applyInOrder", () => {
  test("when a map refuses, the maps changed before it go back too", async () => {
    const a = boundedMap(10), b = boundedMap(1);
    const ma = new MapMirror(a, "a"), mb = new MapMirror(b, "b");
    await applyInOrder([() => ma.replace([e(1, 1)]), () => mb.replace([e(1, 1)])]);
    const err = await applyInOrder([() => ma.replace([e(1, 2), e(2, 2)]), () => mb.replace([e(1, 1), e(2, 2)])]).catch((x) => x);
    expect((err as ServiceError).status).toBe(507);
    expect(content(a)).toEqual({ [keyHex(u32.encode(1))]: keyHex(u32.encode(1)) });
    expect(b.data.size).toBe(1);
  });
});

describe("TypedMirror", () => {
  test("records through codecs", async () => {
    const map = boundedMap(10);
    const m = new TypedMirror(map, "t", u32, u32);
    await m.replace([[1, 10], [2, 20]]);
    await m.set(3, 30);
    expect(m.entries()).toEqual([[1, 10], [2, 20], [3, 30]]);
    await m.replace([[2, 21]]);
    expect([...map.data.values()].map((v) => u32.decode(v))).toEqual([21]);
  });
});
