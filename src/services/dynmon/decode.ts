// Map keys and values as JSON, decoded through the C types the object's BTF gives them (the
// original decoded through BCC's type descriptions; the shapes are the same): a struct is an
// object of its members (an anonymous member's own members join it), a union an object of all
// its members read at the same place, an enum the name of its value, an array a JSON array,
// except a `char` array, which is the string it holds. Integers beyond 2^53 are strings (as
// the daemon writes 64-bit YANG values), so that no digit is lost.
import type { CType, Json, JsonObject } from "../../lib/sdk/types.ts";

function integer(view: DataView, at: number, size: number, signed: boolean): number | string {
  switch (size) {
    case 1: return signed ? view.getInt8(at) : view.getUint8(at);
    case 2: return signed ? view.getInt16(at, true) : view.getUint16(at, true);
    case 4: return signed ? view.getInt32(at, true) : view.getUint32(at, true);
    case 8: {
      const v = signed ? view.getBigInt64(at, true) : view.getBigUint64(at, true);
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    }
    default: {
      // 128-bit integers and the like: little-endian, unsigned.
      let v = 0n;
      for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(view.getUint8(at + i));
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    }
  }
}

/** A bit field: `bits` bits from bit `bitOffset` of the struct at `base` (little-endian). */
function bitField(view: DataView, base: number, bitOffset: number, bits: number, signed: boolean): number | string {
  const first = base + Math.floor(bitOffset / 8);
  const span = Math.ceil(((bitOffset % 8) + bits) / 8);
  let raw = 0n;
  for (let i = span - 1; i >= 0; i--) raw = (raw << 8n) | BigInt(first + i < view.byteLength ? view.getUint8(first + i) : 0);
  let v = (raw >> BigInt(bitOffset % 8)) & ((1n << BigInt(bits)) - 1n);
  if (signed && v >> BigInt(bits - 1)) v -= 1n << BigInt(bits);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

function at(view: DataView, offset: number, t: CType | undefined): Json {
  if (!t || t.kind === undefined || t.kind === "void") {
    // No type: the bytes as an unsigned integer when they fit one, else as hex.
    const size = t?.size ?? view.byteLength - offset;
    if ([1, 2, 4, 8].includes(size)) return integer(view, offset, size, false);
    return Buffer.from(view.buffer, view.byteOffset + offset, Math.max(0, size)).toString("hex");
  }
  switch (t.kind) {
    case "bool":
      return view.getUint8(offset) !== 0;
    case "int": case "char": case "ptr":
      return integer(view, offset, t.size, !!t.signed);
    case "float":
      return t.size === 4 ? view.getFloat32(offset, true) : t.size === 8 ? view.getFloat64(offset, true) : integer(view, offset, t.size, false);
    case "enum": {
      const v = integer(view, offset, t.size, !!t.signed);
      return t.enumerators?.find((e) => e.value === v)?.name ?? v;
    }
    case "array": {
      const n = t.count ?? 0;
      const elem = t.elem;
      if (elem?.kind === "char" && elem.signed && elem.size === 1) {
        const bytes = new Uint8Array(view.buffer, view.byteOffset + offset, n);
        const end = bytes.indexOf(0);
        return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
      }
      const size = elem?.size || (n ? t.size / n : 0);
      return Array.from({ length: n }, (_, i) => at(view, offset + i * size, elem ?? { name: "?", size }));
    }
    case "struct": case "union": {
      const out: JsonObject = {};
      for (const m of t.members ?? []) {
        const v = m.bits ? bitField(view, offset, m.bitOffset ?? m.offset * 8, m.bits, !!m.type.signed) : at(view, offset + m.offset, m.type);
        if (!m.name && v && typeof v === "object" && !Array.isArray(v)) Object.assign(out, v);
        else out[m.name] = v;
      }
      return out;
    }
  }
}

/** A key or value of a map as JSON, through its C type (raw when the object has no BTF for it). */
export function decode(bytes: Uint8Array, t: CType | undefined): Json {
  return at(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, t ?? { name: "?", size: bytes.length });
}
