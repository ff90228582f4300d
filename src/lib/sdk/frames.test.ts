import { describe, expect, test } from "bun:test";
import { ARP_REPLY, ARP_REQUEST, buildArpReply, buildArpRequest, buildEchoReply, buildEthernet, buildIcmpError, buildIpv4, ETH_P_IP, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_TIME_EXCEEDED, internetChecksum, ipv4ChecksumOk, IPPROTO_ICMP, parseArp, parseIcmp, parseIpv4Header, parseL4Ports } from "./frames.ts";
import { formatMac, macBytes, randomMac } from "./mac.ts";
import { ipv4PrefixOf as parsePrefix, ipv4ToNumber, numberToIpv4 } from "./ipv4.ts";

function echoRequest(): Uint8Array {
  const icmp = new Uint8Array(8 + 16);
  icmp[0] = ICMP_ECHO_REQUEST;
  icmp[4] = 0x12; icmp[5] = 0x34; icmp[7] = 7; // id 0x1234, seq 7
  for (let i = 0; i < 16; i++) icmp[8 + i] = i;
  const c = internetChecksum(icmp);
  icmp[2] = c >> 8; icmp[3] = c & 255;
  return buildEthernet("02:00:00:00:00:01", "02:00:00:00:00:02", ETH_P_IP, buildIpv4("10.0.0.2", "10.0.0.1", IPPROTO_ICMP, icmp));
}

describe("addresses", () => {
  test("MAC text and bytes round-trip, bad MACs are named", () => {
    expect(formatMac(macBytes("AA:bb:0c:01:02:03"))).toBe("aa:bb:0c:01:02:03");
    // Strict, as yang:mac-address: six pairs of hex digits and colons.
    for (const bad of ["aa:bb", "AA:bb:0c:1:2:3", "aa-bb-cc-dd-ee-ff"]) expect(() => macBytes(bad)).toThrow(`invalid MAC address '${bad}'`);
  });
  test("IPv4 text and numbers, prefixes", () => {
    expect(ipv4ToNumber("10.1.2.3")).toBe(0x0a010203);
    expect(numberToIpv4(0xc0a80001)).toBe("192.168.0.1");
    expect(() => ipv4ToNumber("10.1.2.300")).toThrow(/invalid IPv4 address/);
    expect(parsePrefix("10.1.2.3/24")).toEqual({ addr: 0x0a010203, len: 24, network: 0x0a010200 });
    expect(parsePrefix("0.0.0.0/0").network).toBe(0);
    expect(() => parsePrefix("10.0.0.1/33")).toThrow(/invalid IPv4 prefix/);
  });
  test("random MACs are unicast and locally administered", () => {
    for (let i = 0; i < 20; i++) {
      const b = macBytes(randomMac());
      expect(b[0]! & 1).toBe(0);
      expect(b[0]! & 2).toBe(2);
    }
  });
});

describe("ARP", () => {
  test("request and reply", () => {
    const req = buildArpRequest("02:00:00:00:00:01", "10.0.0.1", "10.0.0.2");
    expect(formatMac(req, 0)).toBe("ff:ff:ff:ff:ff:ff");
    const a = parseArp(req)!;
    expect(a).toEqual({ op: ARP_REQUEST, senderMac: "02:00:00:00:00:01", senderIp: "10.0.0.1", targetMac: "00:00:00:00:00:00", targetIp: "10.0.0.2" });
    const rep = buildArpReply(a, "02:00:00:00:00:09");
    expect(formatMac(rep, 0)).toBe("02:00:00:00:00:01");
    expect(formatMac(rep, 6)).toBe("02:00:00:00:00:09");
    expect(parseArp(rep)).toEqual({ op: ARP_REPLY, senderMac: "02:00:00:00:00:09", senderIp: "10.0.0.2", targetMac: "02:00:00:00:00:01", targetIp: "10.0.0.1" });
  });
  test("non-ARP frames are not parsed as ARP", () => {
    expect(parseArp(echoRequest())).toBeUndefined();
    expect(parseArp(new Uint8Array(10))).toBeUndefined();
  });
});

describe("IPv4 and ICMP", () => {
  test("checksum of a known header (RFC 1071 example shape)", () => {
    const h = Uint8Array.from([0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7]);
    expect(internetChecksum(h)).toBe(0xb861);
  });
  test("built packets have valid checksums", () => {
    const f = echoRequest();
    expect(ipv4ChecksumOk(f)).toBe(true);
    const ip = parseIpv4Header(f)!;
    expect(ip).toMatchObject({ src: "10.0.0.2", dst: "10.0.0.1", protocol: IPPROTO_ICMP, ttl: 64, ihl: 20 });
    expect(internetChecksum(f, ip.offset + 20)).toBe(0);
  });
  test("echo reply swaps addresses and keeps id, sequence and data", () => {
    const req = echoRequest();
    const rep = buildEchoReply(req, "02:00:00:00:00:01")!;
    expect(formatMac(rep, 0)).toBe("02:00:00:00:00:02");
    expect(parseIpv4Header(rep)).toMatchObject({ src: "10.0.0.1", dst: "10.0.0.2" });
    const icmp = parseIcmp(rep)!;
    expect(icmp.type).toBe(ICMP_ECHO_REPLY);
    expect([...rep.subarray(icmp.offset + 4)]).toEqual([...req.subarray(parseIcmp(req)!.offset + 4)]);
    expect(internetChecksum(rep, icmp.offset)).toBe(0);
    expect(ipv4ChecksumOk(rep)).toBe(true);
    expect(buildEchoReply(rep, "02:00:00:00:00:01")).toBeUndefined();
  });
  test("time exceeded quotes the offending header plus 8 bytes", () => {
    const req = echoRequest();
    const err = buildIcmpError(req, ICMP_TIME_EXCEEDED, 0, "10.0.0.254", "02:00:00:00:00:fe")!;
    expect(parseIpv4Header(err)).toMatchObject({ src: "10.0.0.254", dst: "10.0.0.2", totalLength: 20 + 8 + 28 });
    const icmp = parseIcmp(err)!;
    expect([icmp.type, icmp.code]).toEqual([ICMP_TIME_EXCEEDED, 0]);
    expect([...err.subarray(icmp.offset + 8)]).toEqual([...req.subarray(14, 14 + 28)]);
    expect(internetChecksum(err, icmp.offset)).toBe(0);
    // never an ICMP error about an ICMP error
    expect(buildIcmpError(err, ICMP_TIME_EXCEEDED, 0, "10.0.0.254", "02:00:00:00:00:fe")).toBeUndefined();
  });
});

describe("L4 ports", () => {
  const udp = (fragment = 0) => {
    const ip = buildIpv4("10.0.0.1", "10.0.0.2", 17, Uint8Array.of(0x9c, 0x40, 0x00, 0x35, 0, 8, 0, 0));
    new DataView(ip.buffer).setUint16(6, fragment);
    return buildEthernet("02:00:00:00:00:02", "02:00:00:00:00:01", ETH_P_IP, ip);
  };
  test("TCP/UDP first fragments have ports; later fragments and other protocols do not", () => {
    expect(parseL4Ports(udp())).toEqual({ sport: 40000, dport: 53 });
    expect(parseIpv4Header(udp(0x2000))?.fragmentOffset).toBe(0); // MF set, still the first
    expect(parseL4Ports(udp(0x2000))).toEqual({ sport: 40000, dport: 53 });
    expect(parseL4Ports(udp(185))).toBeUndefined();
    expect(parseL4Ports(echoRequest())).toBeUndefined();
  });
});
