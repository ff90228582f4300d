// Key and value codecs: JS values <-> the bytes a map holds (host order unless named be*).
import { ipv4ToNumber } from "../sdk/ipv4.ts";
import { formatMac, parseMac } from "../sdk/mac.ts";

export interface Codec<T> {
  readonly size: number;
  /** Structs: each field's offset and codec (what typed maps check against the C struct). */
  readonly fields?: Readonly<Record<string, { offset: number; codec: Codec<unknown> }>>;
  encode(value: T, into?: DataView, offset?: number): Uint8Array;
  decode(bytes: Uint8Array, offset?: number): T;
}

function scalar<T>(size: number, set: (v: DataView, o: number, x: T) => void, get: (v: DataView, o: number) => T): Codec<T> {
  return {
    size,
    encode(value, into, offset = 0) {
      const buf = into ?? new DataView(new ArrayBuffer(size));
      set(buf, offset, value);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    },
    decode(bytes, offset = 0) {
      return get(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset);
    },
  };
}

export const u8 = scalar<number>(1, (v, o, x) => v.setUint8(o, x), (v, o) => v.getUint8(o));
export const u16 = scalar<number>(2, (v, o, x) => v.setUint16(o, x, true), (v, o) => v.getUint16(o, true));
export const u32 = scalar<number>(4, (v, o, x) => v.setUint32(o, x >>> 0, true), (v, o) => v.getUint32(o, true));
export const i32 = scalar<number>(4, (v, o, x) => v.setInt32(o, x, true), (v, o) => v.getInt32(o, true));
export const u64 = scalar<bigint>(8, (v, o, x) => v.setBigUint64(o, x, true), (v, o) => v.getBigUint64(o, true));
export const be16 = scalar<number>(2, (v, o, x) => v.setUint16(o, x, false), (v, o) => v.getUint16(o, false));
export const be32 = scalar<number>(4, (v, o, x) => v.setUint32(o, x >>> 0, false), (v, o) => v.getUint32(o, false));

/** "aa:bb:cc:dd:ee:ff" <-> 6 bytes in wire order (strict text: src/lib/sdk/mac.ts). */
export const mac: Codec<string> = {
  size: 6,
  encode(value, into, offset = 0) {
    const b = parseMac(value);
    if (!b) throw new Error(`'${value}' is not a MAC address`);
    const buf = into ?? new DataView(new ArrayBuffer(6));
    new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).set(b, offset);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  },
  decode(bytes, offset = 0) {
    return formatMac(bytes, offset);
  },
};

/** "10.0.0.1" <-> 4 bytes in wire order (strict text: src/lib/sdk/ipv4.ts). */
export const ipv4: Codec<string> = {
  size: 4,
  encode(value, into, offset = 0) {
    const buf = into ?? new DataView(new ArrayBuffer(4));
    buf.setUint32(offset, ipv4ToNumber(value), false);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  },
  decode(bytes, offset = 0) {
    return Array.from(bytes.subarray(offset, offset + 4)).join(".");
  },
};

export function bytes(size: number): Codec<Uint8Array> {
  return {
    size,
    encode(value, into, offset = 0) {
      if (value.length !== size) throw new Error(`expected ${size} bytes, got ${value.length}`);
      if (!into) return new Uint8Array(value);
      new Uint8Array(into.buffer, into.byteOffset, into.byteLength).set(value, offset);
      return new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
    },
    decode(b, offset = 0) {
      return b.slice(offset, offset + size);
    },
  };
}

/** A C array of `n` elements of one codec (e.g. `__u64 timeout[7]`). */
export function array<T>(codec: Codec<T>, n: number): Codec<T[]> {
  return {
    size: codec.size * n,
    encode(value, into, offset = 0) {
      if (value.length !== n) throw new Error(`expected ${n} elements, got ${value.length}`);
      const buf = into ?? new DataView(new ArrayBuffer(codec.size * n));
      value.forEach((x, i) => codec.encode(x, buf, offset + i * codec.size));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    },
    decode(b, offset = 0) {
      return Array.from({ length: n }, (_, i) => codec.decode(b, offset + i * codec.size));
    },
  };
}

type Fields = Record<string, { offset: number; codec: Codec<unknown> }>;

/** A C struct: each field at its offset; `size` includes the struct's padding. */
export function struct<T extends Record<string, unknown>>(size: number, fields: { [K in keyof T]: { offset: number; codec: Codec<T[K]> } }): Codec<T> {
  const f = fields as unknown as Fields;
  return {
    size,
    fields: f,
    encode(value, into, offset = 0) {
      const buf = into ?? new DataView(new ArrayBuffer(size));
      for (const [name, { offset: o, codec }] of Object.entries(f)) codec.encode((value as Record<string, unknown>)[name], buf, offset + o);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    },
    decode(b, offset = 0) {
      const out: Record<string, unknown> = {};
      for (const [name, { offset: o, codec }] of Object.entries(f)) out[name] = codec.decode(b, offset + o);
      return out as T;
    },
  };
}
