import { describe, expect, test } from "bun:test";
import { RouteError, RouteTable } from "./routes.ts";
import { ArpTable, MAX_PENDING_PER_HOP } from "./arp.ts";

describe("route table", () => {
  const table = () => {
    const t = new RouteTable();
    t.addConnected("10.0.1.1/24", "p1");
    t.addConnected("10.0.2.1/24", "p2");
    return t;
  };
  test("connected routes are canonical and local", () => {
    expect(table().all()).toEqual([
      { network: "10.0.1.0/24", nexthop: "local", interface: "p1", pathcost: 0, connected: true },
      { network: "10.0.2.0/24", nexthop: "local", interface: "p2", pathcost: 0, connected: true },
    ]);
  });
  test("longest prefix wins, then the lowest path cost", () => {
    const t = table();
    t.addStatic("0.0.0.0/0", "10.0.1.254");
    t.addStatic("192.168.0.0/16", "10.0.1.2", 10);
    t.addStatic("192.168.0.0/16", "10.0.2.2", 5);
    t.addStatic("192.168.7.0/24", "10.0.1.3", 50);
    expect(t.lookup("10.0.2.9")).toMatchObject({ nexthop: "local", interface: "p2" });
    expect(t.lookup("8.8.8.8")).toMatchObject({ nexthop: "10.0.1.254", interface: "p1" });
    expect(t.lookup("192.168.1.1")).toMatchObject({ nexthop: "10.0.2.2", interface: "p2" });
    expect(t.lookup("192.168.7.1")).toMatchObject({ nexthop: "10.0.1.3" });
    t.setPathcost("192.168.0.0/16", "10.0.1.2", 1);
    expect(t.lookup("192.168.1.1")).toMatchObject({ nexthop: "10.0.1.2" });
    expect(t.bestRoutes().find((r) => r.network === "192.168.0.0/16")).toMatchObject({ nexthop: "10.0.1.2" });
  });
  test("no route", () => {
    expect(table().lookup("8.8.8.8")).toBeUndefined();
  });
  test("the interface follows the next hop; wrong ones are refused", () => {
    const t = table();
    expect(t.addStatic("1.0.0.0/8", "10.0.2.7").interface).toBe("p2");
    expect(() => t.addStatic("1.0.0.0/8", "10.0.2.7", 1, "p1")).toThrow(/reachable through port p2, not p1/);
    expect(() => t.addStatic("1.0.0.0/8", "172.16.0.1")).toThrow(RouteError);
  });
  test("connected routes cannot be deleted by the user", () => {
    const t = table();
    expect(() => t.removeStatic("10.0.1.0/24", "local")).toThrow(/connected route/);
    t.addStatic("1.0.0.0/8", "10.0.1.7");
    expect(t.removeStatic("1.0.0.0/8", "10.0.1.7")).toBe(true);
    expect(t.removeStatic("1.0.0.0/8", "10.0.1.7")).toBe(false);
  });
  test("a stale static route is listed but neither looked up nor installed", () => {
    const t = table();
    t.keepStale("1.0.0.0/8", "10.9.9.9", 1, "p1");
    expect(t.all().map((r) => r.network)).toContain("1.0.0.0/8");
    expect(t.lookup("1.2.3.4")).toBeUndefined();
    expect(t.bestRoutes().map((r) => r.network)).not.toContain("1.0.0.0/8");
  });
});

describe("ARP table", () => {
  test("static entries are not overwritten by learning", () => {
    const a = new ArpTable();
    a.setStatic("10.0.0.2", "02:00:00:00:00:02", "p1");
    expect(a.learn("10.0.0.2", "02:00:00:00:00:99", "p1")).toBeUndefined();
    expect(a.get("10.0.0.2")!.mac).toBe("02:00:00:00:00:02");
    expect(a.learn("10.0.0.3", "02:00:00:00:00:03", "p1")).toMatchObject({ static: false });
    expect(a.learn("10.0.0.3", "02:00:00:00:00:03", "p1")).toBeUndefined();
    expect(a.removeStatic("10.0.0.3")).toBe(false);
    expect(a.forgetPort("p1").map((e) => e.ip)).toEqual(["10.0.0.3"]);
    expect(a.all().length).toBe(1);
  });
  test("packets wait for resolution; only the first asks for an ARP request", () => {
    const a = new ArpTable();
    const pkt = (n: number) => ({ frame: Uint8Array.of(n), inPort: 0 });
    expect(a.enqueue("10.0.0.9", "p1", pkt(1), 0)).toBe(true);
    expect(a.enqueue("10.0.0.9", "p1", pkt(2), 0)).toBe(false);
    expect(a.takePending("10.0.0.9").map((p) => p.frame[0])).toEqual([1, 2]);
    expect(a.takePending("10.0.0.9")).toEqual([]);
  });
  test("queues are bounded and expire", () => {
    const a = new ArpTable();
    for (let i = 0; i < MAX_PENDING_PER_HOP + 5; i++) a.enqueue("10.0.0.9", "p1", { frame: Uint8Array.of(i), inPort: 0 }, 100);
    expect(a.pendingCount("10.0.0.9")).toBe(MAX_PENDING_PER_HOP);
    expect(a.expirePending(1000, 500).size).toBe(0);
    expect(a.expirePending(1000, 1100).get("10.0.0.9")!.length).toBe(MAX_PENDING_PER_HOP);
    expect(a.pendingCount("10.0.0.9")).toBe(0);
  });
});
