// Values decoded through the BTF of an object clang built from dynmon code (no root needed: the
// object is only opened): every kind of C type a map key or value can have.
import { beforeAll, describe, expect, test } from "bun:test";
import { BpfObject } from "../../lib/bpf/index.ts";
import type { CType, MapDescription } from "../../lib/sdk/types.ts";
import { compile } from "./compile.ts";
import { decode } from "./decode.ts";
import { DEFAULT_CODE, rewrite } from "./rewrite.ts";

const CODE = `
enum state { IDLE = 0, BUSY = 5, GONE = -1 };
struct inner { u16 a; u8 b; };
struct rich {
  u64 big;
  s32 neg;
  char name[8];
  u8 mac[6];
  unsigned int flag : 1;
  unsigned int level : 3;
  int sfield : 4;
  enum state st;
  bool ok;
  struct inner in;
  union { u32 word; u8 bytes[4]; } u;
  struct { u16 x; };
  float f;
  u32 grid[2][2];
};
BPF_HASH(RICH, struct inner, struct rich, 4);
static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) { return RX_OK; }
`;

let types: MapDescription;

beforeAll(async () => {
  const r = rewrite({ ingress: { code: CODE, swap: new Set() }, egress: { code: DEFAULT_CODE, swap: new Set() } });
  const bytes = (await compile(r.source, ["tc"])).get("tc")!;
  const obj = BpfObject.open(bytes, "decode_test");
  try {
    types = obj.describeMaps()[r.maps.ingress.get("RICH")!.object]!;
  } finally {
    obj.close();
  }
});

function member(t: CType, name: string) {
  const m = t.members!.find((x) => x.name === name);
  if (!m) throw new Error(`no member ${name}`);
  return m;
}

describe("decode through BTF", () => {
  test("the types say what they are", () => {
    const v = types.value!;
    expect(v).toMatchObject({ name: "struct rich", kind: "struct" });
    expect(member(v, "big").type).toMatchObject({ name: "u64", kind: "int", signed: false, size: 8 });
    expect(member(v, "neg").type).toMatchObject({ kind: "int", signed: true, size: 4 });
    expect(member(v, "name").type).toMatchObject({ kind: "array", count: 8, elem: { kind: "char", signed: true } });
    expect(member(v, "st").type.enumerators).toEqual([{ name: "IDLE", value: 0 }, { name: "BUSY", value: 5 }, { name: "GONE", value: -1 }]);
    // (no asymmetric matcher here: bun's toMatchObject writes it into the object it checks)
    expect([member(v, "level").bits, member(v, "level").bitOffset! - member(v, "flag").bitOffset!]).toEqual([3, 1]);
    expect(member(v, "ok").type.kind).toBe("bool");
    expect(member(v, "f").type.kind).toBe("float");
  });

  test("a value: big integers as text, char arrays as strings, bytes as numbers, bit fields, enums, unions, anonymous members", () => {
    const v = types.value!;
    const buf = new Uint8Array(v.size);
    const d = new DataView(buf.buffer);
    d.setBigUint64(member(v, "big").offset, 2n ** 63n + 5n, true);
    d.setInt32(member(v, "neg").offset, -42, true);
    buf.set(new TextEncoder().encode("eth0"), member(v, "name").offset);
    buf.set([0xaa, 0xbb, 0xcc, 0, 1, 2], member(v, "mac").offset);
    // flag=1, level=5, sfield=-3 in the bits BTF gives them
    const put = (name: string, value: number) => {
      const m = member(v, name);
      const at = m.bitOffset!;
      for (let i = 0; i < m.bits!; i++) if ((value >> i) & 1) buf[(at + i) >> 3]! |= 1 << ((at + i) & 7);
    };
    put("flag", 1);
    put("level", 5);
    put("sfield", 0b1101);
    d.setInt32(member(v, "st").offset, 5, true);
    d.setUint8(member(v, "ok").offset, 1);
    d.setUint16(member(v, "in").offset, 7, true);
    d.setUint8(member(v, "in").offset + 2, 9);
    d.setUint32(member(v, "u").offset, 0x04030201, true);
    d.setUint16(v.members!.find((m) => m.name === "")!.offset, 33, true);
    d.setFloat32(member(v, "f").offset, 1.5, true);
    const g = member(v, "grid").offset;
    [1, 2, 3, 4].forEach((x, i) => d.setUint32(g + 4 * i, x, true));
    expect(decode(buf, v)).toEqual({
      big: "9223372036854775813",
      neg: -42,
      name: "eth0",
      mac: [0xaa, 0xbb, 0xcc, 0, 1, 2],
      flag: 1,
      level: 5,
      sfield: -3,
      st: "BUSY",
      ok: true,
      in: { a: 7, b: 9 },
      u: { word: 0x04030201, bytes: [1, 2, 3, 4] },
      x: 33,
      f: 1.5,
      grid: [[1, 2], [3, 4]],
    });
  });

  test("an enum value that names nothing stays a number; a key decodes as its struct", () => {
    const v = types.value!;
    const buf = new Uint8Array(v.size);
    new DataView(buf.buffer).setInt32(member(v, "st").offset, 3, true);
    expect((decode(buf, v) as { st: unknown }).st).toBe(3);
    expect(decode(new Uint8Array([1, 0, 2, 0]).subarray(0, types.key!.size), types.key)).toEqual({ a: 1, b: 2 });
  });

  test("without a type: an integer of the value's size, else hex", () => {
    expect(decode(new Uint8Array([1, 1, 0, 0]), undefined)).toBe(257);
    expect(decode(new Uint8Array([1, 2, 3]), undefined)).toBe("010203");
  });
});
