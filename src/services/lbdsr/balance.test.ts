// The backend choice in TypeScript: the kernel's jhash (lookup3), the session's bytes, the place
// in the pool. datapath.test.ts checks lbdsr.bpf.c against it on real test runs.
import { describe, expect, test } from "bun:test";
import { backendIndex, jhash, sessionBytes } from "./balance.ts";

describe("lbdsr balance", () => {
  test("jhash is lookup3's hashlittle (its published values) with the kernel's JHASH_INITVAL", () => {
    const text = new TextEncoder().encode("Four score and seven years ago");
    expect(jhash(text, 0)).toBe(0x17770551);
    expect(jhash(text, 1)).toBe(0xcd628161);
    expect(jhash(new Uint8Array(0), 0)).toBe(0xdeadbeef);
  });

  test("a session is the datapath's 16-byte key: wire-order addresses and ports, the protocol, zero padding", () => {
    expect([...sessionBytes({ src: "10.0.0.1", dst: "10.0.0.100", sport: 0x1234, dport: 80, proto: 6 })]).toEqual([10, 0, 0, 1, 10, 0, 0, 100, 0x12, 0x34, 0, 80, 6, 0, 0, 0]);
  });

  test("sessions spread over the pool; the same session always gets the same place", () => {
    const counts = [0, 0, 0];
    for (let p = 1024; p < 1024 + 3000; p++) counts[backendIndex({ src: "10.0.0.1", dst: "10.0.0.100", sport: p, dport: 80, proto: 17 }, 3)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
    const s = { src: "192.168.1.7", dst: "10.0.0.100", sport: 40000, dport: 443, proto: 6 };
    expect(backendIndex(s, 5)).toBe(backendIndex({ ...s }, 5));
    expect(() => backendIndex(s, 0)).toThrow("an empty pool has no backend");
  });
});
