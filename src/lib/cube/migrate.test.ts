import { expect, test } from "bun:test";
import { planMigration, sameShape, type MapShape } from "./migrate.ts";
import type { CType } from "../sdk/types.ts";

const u32: CType = { name: "__u32", size: 4 };
const u64: CType = { name: "__u64", size: 8 };
const mac: CType = { name: "__u8[6]", size: 6 };
const struct = (name: string, members: Array<[string, CType, number]>, size?: number): CType => ({
  name: `struct ${name}`,
  size: size ?? Math.max(...members.map(([, t, o]) => o + t.size)),
  members: members.map(([n, type, offset]) => ({ name: n, type, offset, size: type.size })),
});
const HASH = 1;
const shape = (key: CType, value: CType, maxEntries = 16, type = HASH): MapShape => ({ type, keySize: key.size, valueSize: value.size, maxEntries, key, value });

/** A little-endian number of `size` bytes. */
const le = (n: number, size: number) => Uint8Array.from({ length: size }, (_, i) => Math.floor(n / 256 ** i) % 256);

test("the same layout is reused; a struct named differently with the same members is the same layout", () => {
  const a = struct("stats_v1", [["packets", u64, 0]]);
  const b = struct("stats", [["packets", u64, 0]]);
  expect(sameShape(a, b)).toBe(true);
  expect(planMigration(shape(u32, a), shape(u32, b)).kind).toBe("reuse");
});

test("a value struct that grew is converted by member name: kept members move, new ones start at 0", () => {
  const v1 = struct("stats", [["packets", u64, 0], ["flags", u32, 8]], 16);
  const v2 = struct("stats", [["bytes", u64, 0], ["packets", u64, 8], ["flags", u32, 16]], 24);
  const plan = planMigration(shape(u32, v1), shape(u32, v2));
  if (plan.kind !== "convert") throw new Error(plan.kind);
  expect(plan.notes).toEqual(["value.bytes is new: starts at 0"]);
  const old = new Uint8Array(16);
  new DataView(old.buffer).setBigUint64(0, 42n, true);
  new DataView(old.buffer).setUint32(8, 7, true);
  const out = new DataView(plan.value(old).buffer);
  expect([out.byteLength, out.getBigUint64(0, true), out.getBigUint64(8, true), out.getUint32(16, true)]).toEqual([24, 0n, 42n, 7]);
  expect(plan.key(le(3, 4))).toEqual(le(3, 4));
});

test("same sizes but members moved: converted, not reused as they are", () => {
  const a = struct("p", [["x", u32, 0], ["y", u32, 4]]);
  const b = struct("p", [["y", u32, 0], ["x", u32, 4]]);
  const plan = planMigration(shape(u32, a), shape(u32, b));
  if (plan.kind !== "convert") throw new Error(plan.kind);
  expect([...plan.value(new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0]))]).toEqual([2, 0, 0, 0, 1, 0, 0, 0]);
});

test("a number that grew keeps its value; a dropped member is said", () => {
  const a = struct("c", [["n", u32, 0], ["old", u32, 4]]);
  const b = struct("c", [["n", u64, 0]]);
  const plan = planMigration(shape(u32, a), shape(u32, b));
  if (plan.kind !== "convert") throw new Error(plan.kind);
  expect(plan.notes).toEqual(["value.n changed from 4 to 8 bytes", "value.old is no longer there: dropped"]);
  expect(plan.value(new Uint8Array([5, 1, 0, 0, 9, 9, 9, 9]))).toEqual(le(261, 8));
});

test("rebuilt, with the reason: another key, another map type, per-CPU values, nothing in common", () => {
  const k1 = struct("k", [["addr", mac, 0]], 8);
  const k2 = struct("k", [["addr", mac, 0], ["vlan", { name: "__u16", size: 2 }, 6]], 8);
  const v = struct("v", [["port", u32, 0]]);
  const keyPlan = planMigration(shape(k1, v), shape(k2, v));
  expect(keyPlan.kind === "rebuild" && keyPlan.why).toContain("its key changed");
  expect(planMigration(shape(u32, v), shape(u32, v, 16, 9)).kind).toBe("rebuild");
  const pc = planMigration(shape(u32, u64, 1, 6), shape(u32, struct("s", [["a", u64, 0], ["b", u64, 8]]), 1, 6));
  expect(pc.kind === "rebuild" && pc.why).toBe("per-CPU values are not converted");
  const none = planMigration(shape(u32, struct("a", [["x", u32, 0]])), shape(u32, struct("b", [["y", u32, 0]])));
  expect(none.kind === "rebuild" && none.why).toContain("nothing to carry over");
});

test("a smaller map: converted, and the note says entries beyond are dropped", () => {
  const plan = planMigration(shape(u32, u64, 16), shape(u32, u64, 8));
  if (plan.kind !== "convert") throw new Error(plan.kind);
  expect(plan.notes).toEqual(["it holds 8 entries, 16 before: entries beyond are dropped"]);
});
