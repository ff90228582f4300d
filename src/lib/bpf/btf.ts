// C types of map keys and values, read from an object's BTF: what a service's codecs are
// checked against (name, size, struct members with their offsets and sizes).
import { ptr, read, type Pointer } from "bun:ffi";
import { lib } from "./libbpf.ts";
import type { CMember, CType } from "../sdk/types.ts";

export type { CMember, CType };

const KIND = { INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, TYPEDEF: 8, VOLATILE: 9, CONST: 10, RESTRICT: 11, FLOAT: 16, TYPE_TAG: 18, ENUM64: 19 } as const;

function kindOf(t: Pointer): number {
  return (read.u32(t, 4) >>> 24) & 0x1f;
}

function nameOf(btf: Pointer, t: Pointer): string {
  return String(lib.btf__name_by_offset(btf, read.u32(t, 0)) ?? "");
}

/** BTF_INT_* encoding bits of an integer type. */
const INT_SIGNED = 1;
const INT_CHAR = 2;
const INT_BOOL = 4;

/** The C type of a BTF type id; undefined for id 0 (no BTF). */
export function describeType(btf: Pointer, id: number, depth = 0): CType | undefined {
  if (!id) return undefined;
  const t = lib.btf__type_by_id(btf, id) as Pointer | null;
  if (!t) return undefined;
  const size = Number(lib.btf__resolve_size(btf, id));
  const kind = kindOf(t);
  const name = nameOf(btf, t);
  switch (kind) {
    case KIND.TYPEDEF:
      return { ...(describeType(btf, read.u32(t, 8), depth) ?? { size }), name };
    case KIND.CONST: case KIND.VOLATILE: case KIND.RESTRICT: case KIND.TYPE_TAG:
      return describeType(btf, read.u32(t, 8), depth);
    case KIND.INT: {
      const enc = (read.u32(t, 12) >>> 24) & 0x0f;
      // clang marks chars by their name rather than by BTF_INT_CHAR
      const k = enc & INT_BOOL ? "bool" : enc & INT_CHAR || /^(signed |unsigned )?char$/.test(name) ? "char" : "int";
      return { name: name || "?", size, kind: k, signed: (enc & INT_SIGNED) !== 0 };
    }
    case KIND.FLOAT:
      return { name: name || "?", size, kind: "float" };
    case KIND.PTR:
      return { name: name || "void *", size: size || 8, kind: "ptr" };
    case KIND.ENUM: case KIND.ENUM64: {
      const info = read.u32(t, 4);
      const vlen = info & 0xffff;
      const signed = info >>> 31 === 1;
      const enumerators: Array<{ name: string; value: number }> = [];
      for (let i = 0; i < vlen; i++) {
        const at = 12 + i * (kind === KIND.ENUM ? 8 : 12);
        const label = String(lib.btf__name_by_offset(btf, read.u32(t, at)) ?? "");
        const value = kind === KIND.ENUM ? (signed ? read.i32(t, at + 4) : read.u32(t, at + 4)) : read.u32(t, at + 8) * 2 ** 32 + read.u32(t, at + 4);
        enumerators.push({ name: label, value });
      }
      return { name: `enum ${name || "(anonymous)"}`, size, kind: "enum", signed, enumerators };
    }
    case KIND.ARRAY: {
      const elem = describeType(btf, read.u32(t, 12), depth + 1);
      const count = read.u32(t, 20);
      return { name: `${elem?.name ?? "?"}[${count}]`, size, kind: "array", count, ...(elem ? { elem } : {}) };
    }
    case KIND.STRUCT: case KIND.UNION: {
      const info = read.u32(t, 4);
      const vlen = info & 0xffff;
      const kflag = info >>> 31;
      const out: CType = { name: `${kind === KIND.STRUCT ? "struct" : "union"} ${name || "(anonymous)"}`, size, kind: kind === KIND.STRUCT ? "struct" : "union" };
      if (depth > 4) return out;
      out.members = [];
      for (let i = 0; i < vlen; i++) {
        const at = 12 + i * 12;
        const mtype = read.u32(t, at + 4);
        const raw = read.u32(t, at + 8);
        const bitOffset = kflag ? raw & 0xffffff : raw;
        const bits = kflag ? raw >>> 24 : 0;
        const type = describeType(btf, mtype, depth + 1) ?? { name: "?", size: 0 };
        const m: CMember = { name: String(lib.btf__name_by_offset(btf, read.u32(t, at)) ?? ""), offset: Math.floor(bitOffset / 8), size: type.size, type };
        if (bits) {
          m.bits = bits;
          m.bitOffset = bitOffset;
        }
        out.members.push(m);
      }
      return out;
    }
    default:
      return { name: name || "?", size, ...(kind === 0 ? { kind: "void" as const } : {}) };
  }
}

/** Key and value C types of a map of an opened object (libbpf's struct bpf_map). */
export function mapTypes(btf: Pointer | null, map: Pointer): { key?: CType; value?: CType } {
  if (!btf) return {};
  return {
    key: describeType(btf, lib.bpf_map__btf_key_type_id(map)),
    value: describeType(btf, lib.bpf_map__btf_value_type_id(map)),
  };
}

/**
 * Key and value C types of a map already in the kernel (a pinned one, say), from the BTF the
 * kernel keeps for it: empty when it was created without BTF.
 */
export function kernelMapTypes(fd: number): { key?: CType; value?: CType } {
  // struct bpf_map_info: ... btf_id at byte 64, btf_key_type_id at 68, btf_value_type_id at 72
  const info = new Uint32Array(32);
  const len = new Uint32Array([info.byteLength]);
  if (lib.bpf_obj_get_info_by_fd(fd, ptr(info), ptr(len)) < 0 || !info[16]) return {};
  const btf = lib.btf__load_from_kernel_by_id(info[16]!) as Pointer | null;
  if (!btf) return {};
  try {
    return { key: describeType(btf, info[17]!), value: describeType(btf, info[18]!) };
  } finally {
    lib.btf__free(btf);
  }
}
