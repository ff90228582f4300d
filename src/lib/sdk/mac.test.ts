import { describe, expect, test } from "bun:test";
import { formatMac, normalizeMac, notUnicastMac, parseMac } from "./mac.ts";

describe("mac", () => {
  test("six pairs of hex digits, either case; nothing else", () => {
    expect([...parseMac("02:0a:FF:00:10:9b")!]).toEqual([2, 10, 255, 0, 16, 155]);
    for (const bad of ["2:0a:ff:00:10:9b", "02:0a:ff:00:10", "02:0a:ff:00:10:9b:00", "02-0a-ff-00-10-9b", "020aff00109b", "02:0a:fg:00:10:9b", " 02:0a:ff:00:10:9b", "02:0a:ff:00:10:9b ", ""])
      expect(parseMac(bad)).toBeUndefined();
    expect(formatMac(Uint8Array.of(0, 2, 0xab, 0xcd, 0xef, 1, 9), 1)).toBe("02:ab:cd:ef:01:09");
    expect(normalizeMac("AA:BB:CC:00:11:22")).toBe("aa:bb:cc:00:11:22");
    expect(() => normalizeMac("aa:bb")).toThrow("invalid MAC address 'aa:bb'");
  });

  test("unicast: what one station's address cannot be, and why", () => {
    expect(notUnicastMac(parseMac("02:00:00:00:00:01")!)).toBeUndefined();
    expect(notUnicastMac(parseMac("fe:ff:ff:ff:ff:ff")!)).toBeUndefined();
    expect(notUnicastMac(parseMac("00:00:00:00:00:00")!)).toBe("is the all-zero address");
    expect(notUnicastMac(parseMac("ff:ff:ff:ff:ff:ff")!)).toBe("is the broadcast address");
    expect(notUnicastMac(parseMac("01:00:5e:00:00:01")!)).toBe("is a multicast address");
    expect(notUnicastMac(parseMac("33:33:00:00:00:01")!)).toBe("is a multicast address");
  });
});
