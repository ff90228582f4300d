// The router's slow path against an in-memory CubeContext: what it sends for ARP, packets for
// the router, TTL expiry and unresolved next hops. The kernel datapath is covered by router.test.ts.
import { describe, expect, test } from "bun:test";
import type { PacketIn, PortInfo } from "../../lib/sdk/types.ts";
import { memoryContext } from "../../../test/lib/memory-context.ts";
import router, { REASON_ARP, REASON_ARP_LOOKUP_MISS, REASON_PKT_FOR_ROUTER, REASON_TTL_EXCEEDED } from "./index.ts";
import { ARP_REPLY, ARP_REQUEST, buildArp, buildArpRequest, buildEthernet, buildIpv4, ETH_P_IP, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_TIME_EXCEEDED, internetChecksum, IPPROTO_ICMP, parseArp, parseIcmp, parseIpv4Header } from "../../lib/sdk/frames.ts";
import { formatMac } from "../../lib/sdk/mac.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function fakeContext(ports: PortInfo[]) {
  return memoryContext({ name: "r0", service: "router", ports });
}

const H1 = "02:00:00:00:01:02";
const H2 = "02:00:00:00:02:02";
const P1 = "02:00:00:00:01:01";
const P2 = "02:00:00:00:02:01";
const config = {
  ports: [{ name: "p1", ip: "10.0.1.1/24", mac: P1 }, { name: "p2", ip: "10.0.2.1/24", mac: P2 }],
};

function ping(src: string, dst: string, dstMac: string, ttl = 64): Uint8Array {
  const icmp = new Uint8Array(16);
  icmp[0] = ICMP_ECHO_REQUEST;
  icmp[7] = 1;
  const c = internetChecksum(icmp);
  icmp[2] = c >> 8; icmp[3] = c & 255;
  return buildEthernet(dstMac, H1, ETH_P_IP, buildIpv4(src, dst, IPPROTO_ICMP, icmp, ttl));
}
const pin = (portId: number, reason: number, data: Uint8Array): PacketIn => ({ portId, reason, data, trafficClass: 0, metadata: [0, 0, 0] });

async function setup() {
  const f = fakeContext([{ id: 1, name: "p1", peer: "", status: "UP" }, { id: 2, name: "p2", peer: "", status: "UP" }]);
  const cube = await router.createCube(f.ctx, config);
  return { ...f, cube };
}

describe("router slow path", () => {
  test("answers ARP for its own address and learns the asker", async () => {
    const { cube, sent, maps } = await setup();
    await cube.packetIn!(pin(1, REASON_ARP, buildArp("ff:ff:ff:ff:ff:ff", { op: ARP_REQUEST, senderMac: H1, senderIp: "10.0.1.2", targetMac: "00:00:00:00:00:00", targetIp: "10.0.1.1" })));
    expect(sent.length).toBe(1);
    expect(sent[0]!.port).toBe(1);
    expect(parseArp(sent[0]!.frame)).toMatchObject({ op: ARP_REPLY, senderMac: P1, senderIp: "10.0.1.1", targetIp: "10.0.1.2", targetMac: H1 });
    expect(maps.get("arp_table")!.data.get("0a000102")).toBeDefined();
    expect((await cube.state!())["arp-table"]).toEqual([{ address: "10.0.1.2", mac: H1, interface: "p1" }]);
    // a request for somebody else's address gets no answer
    await cube.packetIn!(pin(1, REASON_ARP, buildArpRequest(H1, "10.0.1.2", "10.0.1.77")));
    expect(sent.length).toBe(1);
    await cube.destroy!();
  });

  test("echo requests to any router address are answered from that address", async () => {
    const { cube, sent } = await setup();
    await cube.packetIn!(pin(1, REASON_PKT_FOR_ROUTER, ping("10.0.1.2", "10.0.2.1", P1)));
    const reply = sent[0]!.frame;
    expect(sent[0]!.port).toBe(1);
    expect(formatMac(reply, 0)).toBe(H1);
    expect(formatMac(reply, 6)).toBe(P1);
    expect(parseIpv4Header(reply)).toMatchObject({ src: "10.0.2.1", dst: "10.0.1.2" });
    expect(parseIcmp(reply)!.type).toBe(ICMP_ECHO_REPLY);
    await cube.destroy!();
  });

  test("an expiring TTL gets a time-exceeded from the input port's address", async () => {
    const { cube, sent } = await setup();
    await cube.packetIn!(pin(1, REASON_TTL_EXCEEDED, ping("10.0.1.2", "10.0.2.2", P1, 1)));
    expect(parseIpv4Header(sent[0]!.frame)).toMatchObject({ src: "10.0.1.1", dst: "10.0.1.2" });
    expect(parseIcmp(sent[0]!.frame)!.type).toBe(ICMP_TIME_EXCEEDED);
    await cube.destroy!();
  });

  test("packets to an unresolved neighbour wait for its ARP reply, then re-enter on their input port", async () => {
    const { cube, sent, maps } = await setup();
    const first = ping("10.0.1.2", "10.0.2.2", P1);
    await cube.packetIn!(pin(1, REASON_ARP_LOOKUP_MISS, first));
    await cube.packetIn!(pin(1, REASON_ARP_LOOKUP_MISS, ping("10.0.1.2", "10.0.2.2", P1)));
    expect(sent.length).toBe(1); // one ARP request only
    expect(sent[0]!.port).toBe(2);
    expect(parseArp(sent[0]!.frame)).toMatchObject({ op: ARP_REQUEST, senderMac: P2, senderIp: "10.0.2.1", targetIp: "10.0.2.2" });
    await cube.packetIn!(pin(2, REASON_ARP, buildArp(P2, { op: ARP_REPLY, senderMac: H2, senderIp: "10.0.2.2", targetMac: P2, targetIp: "10.0.2.1" })));
    expect(maps.get("arp_table")!.data.get("0a000202")).toBeDefined();
    expect(sent.slice(1).map((s) => [s.port, s.recirculate])).toEqual([[1, true], [1, true]]);
    expect(hex(sent[1]!.frame)).toBe(hex(first));
    await cube.destroy!();
  });

  test("a packet that reached the slow path truncated triggers the ARP request but is not queued", async () => {
    const { cube, sent } = await setup();
    const cut = ping("10.0.1.2", "10.0.2.2", P1).slice(0, 40);
    await cube.packetIn!(pin(1, REASON_ARP_LOOKUP_MISS, cut));
    expect(sent.length).toBe(1);
    expect(parseArp(sent[0]!.frame)).toMatchObject({ op: ARP_REQUEST, targetIp: "10.0.2.2" });
    await cube.packetIn!(pin(2, REASON_ARP, buildArp(P2, { op: ARP_REPLY, senderMac: H2, senderIp: "10.0.2.2", targetMac: P2, targetIp: "10.0.2.1" })));
    expect(sent.length).toBe(1);
    await cube.destroy!();
  });

  test("the datapath gets ports, addresses, connected routes; bad routes are refused and change nothing", async () => {
    const { cube, maps } = await setup();
    expect(maps.get("router_port")!.data.size).toBe(2);
    expect(maps.get("router_ips")!.data.size).toBe(2);
    // key {prefixlen=24 (LE), 10.0.1.0} -> {nexthop 0, port 1}
    expect(hex(maps.get("routing_table")!.data.get("180000000a000100")!)).toBe("0000000001000000");
    await expect(Promise.resolve(cube.apply!([], { ...config, route: [{ network: "0.0.0.0/0", nexthop: "172.16.0.1" }] }))).rejects.toThrow(/not reachable/);
    expect(maps.get("routing_table")!.data.size).toBe(2);
    await cube.apply!([], { ...config, route: [{ network: "0.0.0.0/0", nexthop: "10.0.2.254", pathcost: 1 }] });
    expect(hex(maps.get("routing_table")!.data.get("0000000000000000")!)).toBe("0a0002fe02000000");
    const routes = (await cube.state!()).route as { nexthop: string }[];
    expect(routes.map((r) => r.nexthop)).toEqual(["local", "local", "10.0.2.254"]);
    await cube.destroy!();
  });
});

describe("a change the kernel refuses", () => {
  test("leaves the tables and the routes shown as they were", async () => {
    const { ctx, maps } = fakeContext([{ id: 0, name: "p1", peer: "", status: "UP" }, { id: 1, name: "p2", peer: "", status: "UP" }]);
    const control = await router.createCube(ctx, config);
    const routes = maps.get("routing_table")!;
    const before = new Map(routes.data);
    // The routing table is full: every further write fails, as the kernel's E2BIG would.
    const full = Object.assign(new Error("Argument list too long"), { errno: 7 });
    const set = routes.set;
    routes.set = async () => { throw full; };
    const next = { ...config, route: [{ network: "10.9.0.0/16", nexthop: "10.0.1.9" }] };
    await expect(control.apply!([], next)).rejects.toThrow(/routing tables: Argument list too long/);
    routes.set = set;
    expect(new Map(routes.data)).toEqual(before);
    const shown = JSON.stringify(await control.state!());
    expect(shown).not.toContain("10.9.0.0/16");
    // The next accepted change goes through, and the tables follow it.
    await control.apply!([], next);
    expect(routes.data.size).toBe(before.size + 1);
    expect(JSON.stringify(await control.state!())).toContain("10.9.0.0/16");
  });
});
