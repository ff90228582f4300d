// Built-in YANG types and the parsing of range/length restrictions (RFC 7950 §9.2.4, §9.4.4).
import type { BaseType, Interval, ResolvedType } from "./schema.ts";

export const BUILTIN_TYPES = new Set<string>([
  "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
  "decimal64", "string", "boolean", "enumeration", "bits", "binary",
  "leafref", "identityref", "empty", "union", "instance-identifier",
]);

export const INTEGER_BOUNDS: Record<string, [bigint, bigint]> = {
  int8: [-128n, 127n],
  int16: [-32768n, 32767n],
  int32: [-2147483648n, 2147483647n],
  int64: [-9223372036854775808n, 9223372036854775807n],
  uint8: [0n, 255n],
  uint16: [0n, 65535n],
  uint32: [0n, 4294967295n],
  uint64: [0n, 18446744073709551615n],
};

export function isInteger(base: BaseType): boolean {
  return base in INTEGER_BOUNDS;
}

export function newType(base: BaseType, name: string): ResolvedType {
  return { base, name, ranges: [], lengths: [], patterns: [] };
}

/** The value-space bounds a `min`/`max` keyword refers to for this type so far. */
function bounds(t: ResolvedType, forLength: boolean): Interval {
  const layers = forLength ? t.lengths : t.ranges;
  const last = layers.at(-1);
  if (last && last.length) return [last[0]![0], last.at(-1)![1]];
  if (forLength) return [0n, 18446744073709551615n];
  if (isInteger(t.base)) return INTEGER_BOUNDS[t.base]!;
  if (t.base === "decimal64") {
    const fd = t.fractionDigits ?? 1;
    const lim = 9223372036854775807 / 10 ** fd;
    return [-lim, lim];
  }
  throw new Error(`type ${t.base} cannot have a ${forLength ? "length" : "range"}`);
}

function parseBound(text: string, t: ResolvedType, whole: Interval, forLength: boolean): bigint | number {
  if (text === "min") return whole[0];
  if (text === "max") return whole[1];
  if (t.base === "decimal64" && !forLength) {
    if (!/^-?\d+(\.\d+)?$/.test(text)) throw new Error(`invalid decimal bound ${JSON.stringify(text)}`);
    return Number(text);
  }
  if (!/^-?\d+$/.test(text)) throw new Error(`invalid bound ${JSON.stringify(text)}`);
  return BigInt(text);
}

/** Parses "1..10 | 20..max" for the type t (restrictions so far). Throws naming the problem. */
export function parseIntervals(expr: string, t: ResolvedType, forLength: boolean): Interval[] {
  const whole = bounds(t, forLength);
  const out: Interval[] = [];
  for (const part of expr.split("|")) {
    const p = part.trim();
    const [a, b, extra] = p.split("..").map((s) => s.trim());
    if (extra !== undefined || !a) throw new Error(`invalid ${forLength ? "length" : "range"} part ${JSON.stringify(p)}`);
    const lo = parseBound(a, t, whole, forLength);
    const hi = b === undefined ? lo : parseBound(b, t, whole, forLength);
    if (lo > hi) throw new Error(`${forLength ? "length" : "range"} ${JSON.stringify(p)}: lower bound above upper bound`);
    if (out.length && lo <= out.at(-1)![1]) throw new Error(`${forLength ? "length" : "range"} parts of ${JSON.stringify(expr)} must be ascending and disjoint`);
    if (lo < whole[0] || hi > whole[1]) throw new Error(`${forLength ? "length" : "range"} ${JSON.stringify(p)} is outside the base type's`);
    out.push([lo, hi]);
  }
  return out;
}

export function inIntervals(v: bigint | number, set: Interval[]): boolean {
  return set.some(([lo, hi]) => v >= lo && v <= hi);
}

export function intervalsText(set: Interval[]): string {
  return set.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}..${hi}`)).join(" | ");
}
