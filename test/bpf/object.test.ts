import { describe, expect, test } from "bun:test";
import { BpfObject, BpfMap, BpfError, MapType, embeddedObject, testRun, codec, TypedMap, RingBufferReader, possibleCpus } from "../../src/lib/bpf/index.ts";

// A minimal Ethernet+IPv4 frame is enough for both program kinds.
const frame = new Uint8Array(64).fill(0xab);

async function open(flavour: "tc" | "xdp", globals: Record<string, number | bigint> = {}) {
  const obj = BpfObject.open(await embeddedObject(`test_counter.${flavour}`), `test_counter_${flavour}`);
  obj.setGlobals(globals);
  obj.load();
  return obj;
}

describe("BpfObject", () => {
  for (const flavour of ["tc", "xdp"] as const) {
    test(`${flavour}: loads, runs with test-run, globals take effect, maps count`, async () => {
      const obj = await open(flavour, { verdict: flavour === "xdp" ? 1 : 2, cookie: 0x1122334455667788n });
      try {
        const prog = obj.program("test_counter");
        const r = testRun(prog.fd, { data: frame, repeat: 3 });
        expect(r.retval).toBe(flavour === "xdp" ? 1 : 2);
        const counters = new TypedMap(obj.map("counters"), codec.u32, codec.u64);
        expect(counters.get(0)).toBe(3n);
        expect(counters.get(1)).toBe(3n * 64n);
        const percpu = new TypedMap(obj.map("percpu_counter"), codec.u32, codec.u64);
        const perCpu = percpu.getPerCpu(0)!;
        expect(perCpu.length).toBe(possibleCpus);
        expect(perCpu.reduce((a, b) => a + b, 0n)).toBe(3n);
        expect(obj.programNames()).toContain("test_counter");
        expect(obj.mapNames()).toEqual(expect.arrayContaining(["counters", "records"]));
      } finally {
        obj.close();
      }
    });
  }

  test("ring buffer records reach the main thread through the worker", async () => {
    const obj = await open("xdp", { verdict: 2, cookie: 42n });
    const reader = new RingBufferReader(obj.map("records").fd, "records");
    const got: Uint8Array[] = [];
    try {
      await reader.start((r) => got.push(r));
      testRun(obj.program("test_counter").fd, { data: frame, repeat: 5 });
      for (let i = 0; i < 100 && got.length < 5; i++) await Bun.sleep(20);
      expect(got.length).toBe(5);
      expect(new DataView(got[0]!.buffer).getBigUint64(0, true)).toBe(42n);
      expect(new DataView(got[0]!.buffer).getUint32(8, true)).toBe(64);
    } finally {
      await reader.stop();
      obj.close();
    }
  });

  test("errors name what was being done", async () => {
    expect(() => BpfObject.open(new Uint8Array([1, 2, 3]), "garbage")).toThrow(BpfError);
    expect(() => BpfObject.open(new Uint8Array([1, 2, 3]), "garbage")).toThrow(/open eBPF object garbage/);
    const raw = BpfObject.open(await embeddedObject("test_counter.tc"), "unknown_global");
    try {
      expect(() => raw.setGlobals({ nosuch: 1 })).toThrow(/set global nosuch of unknown_global: no such variable/);
      expect(() => raw.setGlobals({ verdict: 1n << 40n })).toThrow(/does not fit in 4 bytes/);
      expect(() => raw.reuseMap("nosuch", 0)).toThrow(/has no such map/);
    } finally {
      raw.close();
    }
    const obj = await open("tc");
    try {
      expect(() => obj.program("nosuch")).toThrow(/find program nosuch in test_counter_tc/);
      expect(() => obj.map("counters").lookup(new Uint8Array(2))).toThrow(/key is 2 bytes, the map's are 4/);
    } finally {
      obj.close();
    }
    await expect(embeddedObject("nosuch.tc")).rejects.toThrow(/find embedded eBPF object nosuch.tc/);
  });

  test("standalone maps: create, share with an object, iterate, delete", async () => {
    const shared = BpfMap.create({ type: MapType.ARRAY, name: "tshared", keySize: 4, valueSize: 8, maxEntries: 2 });
    const obj = BpfObject.open(await embeddedObject("test_counter.xdp"), "reuse");
    try {
      obj.reuseMap("counters", shared.fd);
      obj.load();
      testRun(obj.program("test_counter").fd, { data: frame, repeat: 2 });
      const t = new TypedMap(shared, codec.u32, codec.u64);
      expect(t.get(0)).toBe(2n);
      expect(shared.keys().length).toBe(2);
      const h = BpfMap.create({ type: MapType.HASH, name: "thash", keySize: 6, valueSize: 4, maxEntries: 16 });
      const th = new TypedMap(h, codec.mac, codec.u32);
      th.set("aa:bb:cc:00:00:01", 7);
      th.set("aa:bb:cc:00:00:02", 8);
      expect(th.entries().sort((a, b) => a[1] - b[1])).toEqual([["aa:bb:cc:00:00:01", 7], ["aa:bb:cc:00:00:02", 8]]);
      expect(th.delete("aa:bb:cc:00:00:01")).toBe(true);
      expect(th.delete("aa:bb:cc:00:00:01")).toBe(false);
      expect(th.get("aa:bb:cc:00:00:01")).toBeUndefined();
      h.close();
    } finally {
      obj.close();
      shared.close();
    }
  });
});
