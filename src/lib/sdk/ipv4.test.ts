import { describe, expect, test } from "bun:test";
import {
  formatPrefix, hasHostBits, inPrefix, ipv4PrefixOf, ipv4ToBytes, ipv4ToNumber, isIpv4, notUnicastIpv4, numberToIpv4, parseIpv4, parseIpv4Prefix, prefixMask,
} from "./ipv4.ts";

describe("ipv4", () => {
  test("addresses: strict dotted quads, to and from numbers and bytes", () => {
    expect(parseIpv4("10.1.2.3")).toBe(0x0a010203);
    expect(parseIpv4("255.255.255.255")).toBe(0xffffffff);
    expect(parseIpv4("0.0.0.0")).toBe(0);
    for (const bad of ["10.1.2", "10.1.2.3.4", "300.1.1.1", "010.1.1.1", "1.2.3.04", "a.b.c.d", "1.2.3.4 ", " 1.2.3.4", "", "1..2.3", "-1.2.3.4", "1.2.3.4/32"])
      expect(parseIpv4(bad)).toBeUndefined();
    expect(isIpv4("192.168.0.1")).toBe(true);
    expect(isIpv4("192.168.0.256")).toBe(false);
    expect(ipv4ToNumber("192.168.0.1")).toBe(0xc0a80001);
    expect(() => ipv4ToNumber("10.1.2.300")).toThrow("invalid IPv4 address '10.1.2.300'");
    expect(numberToIpv4(0xc0a80001)).toBe("192.168.0.1");
    expect(numberToIpv4(0xffffffff)).toBe("255.255.255.255");
    expect([...ipv4ToBytes("10.0.0.254")]).toEqual([10, 0, 0, 254]);
  });

  test("prefixes: length, network, host bits, membership", () => {
    expect(parseIpv4Prefix("10.1.2.3/24")).toEqual({ addr: 0x0a010203, len: 24, network: 0x0a010200 });
    expect(parseIpv4Prefix("0.0.0.0/0")).toEqual({ addr: 0, len: 0, network: 0 });
    expect(parseIpv4Prefix("10.1.2.3")).toBeUndefined();
    expect(parseIpv4Prefix("10.1.2.3", { bare: true })).toEqual({ addr: 0x0a010203, len: 32, network: 0x0a010203 });
    for (const bad of ["10.0.0.1/33", "10.0.0.1/", "10.0.0.1/08", "10.0.0.1/-1", "10.0.0/8", "10.0.0.1/8/8", "/8"])
      expect(parseIpv4Prefix(bad, { bare: true })).toBeUndefined();
    expect(() => ipv4PrefixOf("10.0.0.1/33")).toThrow("invalid IPv4 prefix '10.0.0.1/33'");
    expect(hasHostBits(ipv4PrefixOf("10.0.0.1/24"))).toBe(true);
    expect(hasHostBits(ipv4PrefixOf("10.0.0.0/24"))).toBe(false);
    expect(formatPrefix(ipv4PrefixOf("10.0.0.1/24"))).toBe("10.0.0.0/24");
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(24)).toBe(0xffffff00);
    expect(prefixMask(32)).toBe(0xffffffff);
    expect(inPrefix(0x0a000005, ipv4PrefixOf("10.0.0.0/24"))).toBe(true);
    expect(inPrefix(0x0a000105, ipv4PrefixOf("10.0.0.0/24"))).toBe(false);
    expect(inPrefix(0x01020304, ipv4PrefixOf("0.0.0.0/0"))).toBe(true);
  });

  test("unicast: what a host's own address cannot be, and why", () => {
    for (const ok of ["10.0.0.1", "1.0.0.0", "126.255.255.255", "128.0.0.1", "223.255.255.255", "192.168.1.255"]) expect(notUnicastIpv4(ipv4ToNumber(ok))).toBeUndefined();
    expect(notUnicastIpv4(ipv4ToNumber("0.0.0.0"))).toBe("is in 0.0.0.0/8 (this network)");
    expect(notUnicastIpv4(ipv4ToNumber("0.1.2.3"))).toBe("is in 0.0.0.0/8 (this network)");
    expect(notUnicastIpv4(ipv4ToNumber("127.0.0.1"))).toBe("is a loopback address");
    expect(notUnicastIpv4(ipv4ToNumber("224.0.0.5"))).toBe("is a multicast address");
    expect(notUnicastIpv4(ipv4ToNumber("239.255.255.255"))).toBe("is a multicast address");
    expect(notUnicastIpv4(ipv4ToNumber("240.0.0.1"))).toBe("is a reserved address (240.0.0.0/4)");
    expect(notUnicastIpv4(ipv4ToNumber("255.255.255.255"))).toBe("is the broadcast address");
  });
});
