// A cube's learned state across a datapath that changed (a restart with another build of a
// service's eBPF object, docs/datapath.md "Restarts"): for each of its maps, whether the new
// object can use the pinned map as it is, whether the entries can be carried into the new map
// (converted member by member, by name, from the C types the kernel keeps for each map), or
// whether the map starts empty, and why. Pure: no kernel here.
import type { CType } from "../sdk/types.ts";

/** What a map is: its kind, sizes and, where known, the C types of its key and value. */
export interface MapShape {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  key?: CType;
  value?: CType;
}

export type Converter = (bytes: Uint8Array) => Uint8Array;

export type MigrationPlan =
  /** The same layout: the new object takes the pinned map, entries and all. */
  | { kind: "reuse" }
  /** Another layout it can be converted from: the entries are copied into the new map. */
  | { kind: "convert"; key: Converter; value: Converter; notes: string[] }
  /** Nothing carries over: the map starts empty. */
  | { kind: "rebuild"; why: string };

/** Map types whose values are per CPU (their entries are not converted). */
const PER_CPU = new Set([5, 6, 10, 21]);

const identity: Converter = (b) => b;

/** True when the same bytes mean the same things: sizes, and every struct member's name, offset and size. */
export function sameShape(a: CType | undefined, b: CType | undefined): boolean {
  if (!a || !b) return true; // without BTF on one side only sizes can be compared (the caller does)
  if (a.size !== b.size) return false;
  if (!a.members && !b.members) return true;
  if (!a.members || !b.members || a.members.length !== b.members.length) return false;
  return a.members.every((m, i) => {
    const n = b.members![i]!;
    return m.name === n.name && m.offset === n.offset && m.size === n.size && (m.bits ?? 0) === (n.bits ?? 0) && sameShape(m.type, n.type);
  });
}

/** A struct converted member by member, by name; undefined when no member carries over. */
function structConverter(from: CType, to: CType, where: string, notes: string[], strict: boolean): Converter | undefined {
  if (!from.members || !to.members) return undefined;
  const moves: Array<{ from: number; to: number; size: number; convert?: Converter; fromSize: number }> = [];
  for (const m of to.members) {
    const o = from.members.find((x) => x.name === m.name);
    const what = `${where}.${m.name}`;
    if (!o || m.bits || o.bits) {
      if (strict) return undefined;
      notes.push(o ? `${what} is a bit field: starts at 0` : `${what} is new: starts at 0`);
      continue;
    }
    if (sameShape(o.type, m.type) && o.size === m.size) {
      moves.push({ from: o.offset, to: m.offset, size: m.size, fromSize: o.size });
      continue;
    }
    if (o.type.members && m.type.members) {
      const inner = structConverter(o.type, m.type, what, notes, strict);
      if (inner) {
        moves.push({ from: o.offset, to: m.offset, size: m.size, fromSize: o.size, convert: inner });
        continue;
      }
    } else if (isNumber(o.type) && isNumber(m.type) && !strict) {
      // A number that grew or shrank (little-endian: the low bytes are the value).
      notes.push(`${what} changed from ${o.size} to ${m.size} bytes`);
      moves.push({ from: o.offset, to: m.offset, size: Math.min(o.size, m.size), fromSize: Math.min(o.size, m.size) });
      continue;
    }
    if (strict) return undefined;
    notes.push(`${what} changed type (${o.type.name} to ${m.type.name}): starts at 0`);
  }
  for (const o of from.members) if (!to.members.some((m) => m.name === o.name)) notes.push(`${where}.${o.name} is no longer there: dropped`);
  if (!moves.length) return undefined;
  return (bytes) => {
    const out = new Uint8Array(to.size);
    for (const mv of moves) {
      const part = bytes.subarray(mv.from, mv.from + mv.fromSize);
      out.set((mv.convert ? mv.convert(part) : part).subarray(0, mv.size), mv.to);
    }
    return out;
  };
}

/** How a pinned map (old) carries over to the map a new object declares (next). */
export function planMigration(old: MapShape, next: MapShape): MigrationPlan {
  const keySame = old.keySize === next.keySize && sameShape(old.key, next.key);
  const valueSame = old.valueSize === next.valueSize && sameShape(old.value, next.value);
  if (old.type !== next.type) return { kind: "rebuild", why: `its map type changed (${old.type} to ${next.type})` };
  if (keySame && valueSame && old.maxEntries === next.maxEntries) return { kind: "reuse" };
  if (PER_CPU.has(old.type) && !(keySame && valueSame)) return { kind: "rebuild", why: "per-CPU values are not converted" };
  const notes: string[] = [];
  let key = identity;
  if (!keySame) {
    // Keys convert only when every member of the new key comes from the old one: a member
    // starting at 0 would make different entries one.
    const k = old.key && next.key ? structConverter(old.key, next.key, "key", notes, true) : undefined;
    if (!k) return { kind: "rebuild", why: `its key changed (${describe(old.key, old.keySize)} to ${describe(next.key, next.keySize)})` };
    key = k;
  }
  let value = identity;
  if (!valueSame) {
    const v = old.value && next.value ? structConverter(old.value, next.value, "value", notes, false) : undefined;
    if (!v) return { kind: "rebuild", why: `its value changed with nothing to carry over (${describe(old.value, old.valueSize)} to ${describe(next.value, next.valueSize)})` };
    value = v;
  }
  if (old.maxEntries > next.maxEntries) notes.push(`it holds ${next.maxEntries} entries, ${old.maxEntries} before: entries beyond are dropped`);
  return { kind: "convert", key, value, notes };
}

/** An integer (or enum): its value is its low bytes, little-endian. */
function isNumber(t: CType): boolean {
  return t.kind ? t.kind === "int" || t.kind === "enum" || t.kind === "bool" || t.kind === "char" : !t.members && !t.name.includes("[");
}

function describe(t: CType | undefined, size: number): string {
  return t ? `${t.name}, ${size} bytes` : `${size} bytes`;
}
