// Checks one scalar value against a resolved type and returns its normalised JSON form.
//
// Two input forms: JSON members (RFC 7951 encoding, or the polycube REST rules when lenient)
// and text (YANG defaults, URL keys, CLI words). Normalised output, which services receive:
// integers up to 32 bits and decimal64 as JSON numbers; int64/uint64 as numbers when they fit
// in a double exactly, else as strings; enumerations as their canonical name; empty as [null].
import type { Json } from "../sdk/types.ts";
import type { ResolvedType } from "./schema.ts";
import { INTEGER_BOUNDS, inIntervals, intervalsText, isInteger } from "./types.ts";

export type ValueResult = { ok: true; value: Json } | { ok: false; message: string };

export interface ValueOptions {
  /**
   * Polycube REST rules (§3.3) instead of strict RFC 7951: 64-bit integers and decimals may be
   * numbers, enumerations match case-insensitively, and scalars in text form are accepted
   * where the CLI produces them (numbers for strings, "10" for integers, "true" for booleans).
   */
  lenient: boolean;
  /** The value is text (a default, a URL key) rather than a JSON member. */
  text?: boolean;
}

const ok = (value: Json): ValueResult => ({ ok: true, value });
const bad = (message: string): ValueResult => ({ ok: false, message });

function describe(v: Json): string {
  return JSON.stringify(v);
}

function checkInteger(t: ResolvedType, v: Json, o: ValueOptions): ValueResult {
  const wide = t.base === "int64" || t.base === "uint64";
  let n: bigint;
  if (typeof v === "number") {
    if (o.text) return bad(`invalid ${t.base} value ${describe(v)}`);
    if (!Number.isInteger(v)) return bad(`${describe(v)} is not an integer`);
    if (wide && !o.lenient) return bad(`${t.base} values are JSON strings, got ${describe(v)}`);
    n = BigInt(v);
  } else if (typeof v === "string") {
    if (!o.text && !wide && !o.lenient) return bad(`${t.base} values are JSON numbers, got ${describe(v)}`);
    const s = o.text ? v.trim() : v;
    if (!/^[+-]?\d+$/.test(s) && !/^[+-]?0[xX][0-9a-fA-F]+$/.test(s) && !(o.text && /^[+-]?0[0-7]+$/.test(s)))
      return bad(`${describe(v)} is not a valid ${t.base}`);
    const neg = s.startsWith("-");
    const body = s.replace(/^[+-]/, "");
    n = BigInt(body.startsWith("0x") || body.startsWith("0X") ? body : body.replace(/^0+(?=\d)/, ""));
    if (neg) n = -n;
  } else return bad(`${t.base} expected, got ${describe(v)}`);
  const [lo, hi] = INTEGER_BOUNDS[t.base]!;
  if (n < lo || n > hi) return bad(`${n} is out of the ${t.base} range ${lo}..${hi}`);
  for (const r of t.ranges) if (!inIntervals(n, r)) return bad(`${n} is out of range ${intervalsText(r)}`);
  const asNum = Number(n);
  return ok(Number.isSafeInteger(asNum) ? asNum : n.toString());
}

function checkDecimal(t: ResolvedType, v: Json, o: ValueOptions): ValueResult {
  let s: string;
  if (typeof v === "number") {
    if (!o.lenient && !o.text) return bad(`decimal64 values are JSON strings, got ${describe(v)}`);
    if (!Number.isFinite(v)) return bad(`${describe(v)} is not a decimal`);
    s = String(v);
  } else if (typeof v === "string") s = o.text ? v.trim() : v;
  else return bad(`decimal64 expected, got ${describe(v)}`);
  const m = /^([+-]?)(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m && !/e/i.test(s)) return bad(`${describe(v)} is not a valid decimal64`);
  const fd = t.fractionDigits ?? 1;
  if (m && (m[3]?.length ?? 0) > fd) return bad(`${describe(v)} has more than ${fd} fraction digits`);
  const n = Number(s);
  for (const r of t.ranges) if (!inIntervals(n, r)) return bad(`${n} is out of range ${intervalsText(r)}`);
  return ok(n);
}

function checkString(t: ResolvedType, v: Json, o: ValueOptions): ValueResult {
  let s: string;
  if (typeof v === "string") s = v;
  else if (o.lenient && (typeof v === "number" || typeof v === "boolean")) s = String(v);
  else return bad(`string expected, got ${describe(v)}`);
  const len = [...s].length;
  for (const r of t.lengths) if (!inIntervals(BigInt(len), r)) return bad(`length of ${describe(s)} is not in ${intervalsText(r)}`);
  for (const p of t.patterns) {
    if (p.regex.test(s) === p.invert)
      return bad(p.errorMessage ?? `${describe(s)} does not match the pattern ${JSON.stringify(p.source)}${p.invert ? " (inverted)" : ""}`);
  }
  return ok(s);
}

function checkEnum(t: ResolvedType, v: Json, o: ValueOptions): ValueResult {
  if (typeof v !== "string") return bad(`enumeration value (a string) expected, got ${describe(v)}`);
  const names = t.enums ?? [];
  const hit = names.find((e) => e.name === v) ?? (o.lenient ? names.find((e) => e.name.toLowerCase() === v.toLowerCase()) : undefined);
  if (!hit) return bad(`${describe(v)} is not one of ${names.map((e) => e.name).join(", ")}`);
  return ok(hit.name);
}

function checkBoolean(v: Json, o: ValueOptions): ValueResult {
  if (typeof v === "boolean") return ok(v);
  if ((o.text || o.lenient) && (v === "true" || v === "false")) return ok(v === "true");
  return bad(`boolean expected, got ${describe(v)}`);
}

function checkBits(t: ResolvedType, v: Json): ValueResult {
  if (typeof v !== "string") return bad(`bits value (a string) expected, got ${describe(v)}`);
  const words = v.split(/\s+/).filter(Boolean);
  const known = new Set((t.bits ?? []).map((b) => b.name));
  for (const w of words) if (!known.has(w)) return bad(`unknown bit ${describe(w)}`);
  if (new Set(words).size !== words.length) return bad(`bit set twice in ${describe(v)}`);
  const order = (t.bits ?? []).map((b) => b.name).filter((n) => words.includes(n));
  return ok(order.join(" "));
}

function checkBinary(t: ResolvedType, v: Json): ValueResult {
  if (typeof v !== "string") return bad(`binary (base64 string) expected, got ${describe(v)}`);
  const clean = v.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) return bad(`${describe(v)} is not base64`);
  const bytes = (clean.length / 4) * 3 - (clean.endsWith("==") ? 2 : clean.endsWith("=") ? 1 : 0);
  for (const r of t.lengths) if (!inIntervals(BigInt(bytes), r)) return bad(`binary length ${bytes} is not in ${intervalsText(r)}`);
  return ok(v);
}

function checkIdentityref(t: ResolvedType, v: Json, module: string | undefined): ValueResult {
  if (typeof v !== "string") return bad(`identity name expected, got ${describe(v)}`);
  const qualified = v.includes(":") ? v : `${module}:${v}`;
  const set = t.identities ?? [];
  if (set.includes(qualified)) return ok(v);
  // An unprefixed name may come from another module when it is unambiguous (lenient CLI use).
  const matches = set.filter((i) => i.endsWith(`:${v}`));
  if (!v.includes(":") && matches.length === 1) return ok(matches[0]!);
  return bad(`${describe(v)} is not an identity derived from the base (${set.join(", ") || "none"})`);
}

/**
 * Checks v against t. `module` is the module of the leaf (for identityref prefixes).
 * Leafref values are checked against the target's type; whether the instance exists is the
 * tree validator's job.
 */
export function checkValue(t: ResolvedType, v: Json, o: ValueOptions, module?: string): ValueResult {
  if (isInteger(t.base)) return checkInteger(t, v, o);
  switch (t.base) {
    case "decimal64": return checkDecimal(t, v, o);
    case "string": return checkString(t, v, o);
    case "enumeration": return checkEnum(t, v, o);
    case "boolean": return checkBoolean(v, o);
    case "bits": return checkBits(t, v);
    case "binary": return checkBinary(t, v);
    case "empty":
      if (Array.isArray(v) && v.length === 1 && v[0] === null) return ok([null]);
      if (o.text && v === "") return ok([null]);
      return bad(`empty leaves are written [null], got ${describe(v)}`);
    case "identityref": return checkIdentityref(t, v, module);
    case "instance-identifier":
      return typeof v === "string" && v.startsWith("/") ? ok(v) : bad(`instance-identifier expected, got ${describe(v)}`);
    case "leafref":
      if (!t.target?.type) return bad("leafref target is not resolved");
      return checkValue(t.target.type, v, o, t.target.module);
    case "union": {
      const msgs: string[] = [];
      // RFC 7951 §6.10: a member type is tried only with values of its own JSON encoding.
      for (const m of t.union ?? []) {
        const r = checkValue(m, v, o, module);
        if (r.ok) return r;
        msgs.push(r.message);
      }
      return bad(`${describe(v)} matches no member of the union (${msgs.join("; ")})`);
    }
  }
  return bad(`unsupported type ${t.base}`);
}

/** Canonical text of a normalised value, as URL keys and `where` paths show it. */
export function valueText(v: Json): string {
  if (Array.isArray(v)) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}
