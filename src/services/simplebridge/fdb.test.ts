import { describe, expect, test } from "bun:test";
import { ageOf, bootSeconds, ENTRY_STATIC, encodeKey, fdbKey, fdbValue, isExpired } from "./fdb.ts";

describe("simplebridge fdb", () => {
  test("key and value layout match the datapath's structs", () => {
    expect([...encodeKey("AA:bb:cc:00:01:02")]).toEqual([0xaa, 0xbb, 0xcc, 0, 1, 2, 0, 0]);
    expect(fdbKey.decode(encodeKey("aa:bb:cc:00:01:02")).addr).toBe("aa:bb:cc:00:01:02");
    const v = fdbValue.encode({ timestamp: 0x0102n, port: 3, flags: ENTRY_STATIC });
    expect([...v]).toEqual([2, 1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0]);
    expect(fdbValue.decode(v)).toEqual({ timestamp: 0x0102n, port: 3, flags: ENTRY_STATIC });
  });
  test("aging: learned entries expire after the aging time, static ones never", () => {
    const learned = { timestamp: 1000n, port: 1, flags: 0 };
    expect(ageOf(learned, 1010n)).toBe(10);
    expect(isExpired(learned, 1300n, 300)).toBe(false);
    expect(isExpired(learned, 1301n, 300)).toBe(true);
    const fixed = { timestamp: 0n, port: 1, flags: ENTRY_STATIC };
    expect(ageOf(fixed, 99999n)).toBe(0);
    expect(isExpired(fixed, 99999n, 1)).toBe(false);
  });
  test("the clock is seconds since boot", () => {
    const s = bootSeconds();
    expect(s > 0n).toBe(true);
    expect(bootSeconds() >= s).toBe(true);
  });
});
