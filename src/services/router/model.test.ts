import { describe, expect, test } from "bun:test";
import type { JsonObject } from "../../lib/sdk/types.ts";
import { ArpTable } from "./arp.ts";
import { addressFacing, buildModel, portOfAddress, pruneLearned } from "./model.ts";

const ids = new Map([["p1", 1], ["p2", 2]]);
const base: { ports: JsonObject[] } = {
  ports: [
    { name: "p1", ip: "10.0.1.1/24", secondaryip: [{ ip: "10.0.11.1/24" }] },
    { name: "p2", ip: "10.0.2.1/24", mac: "02:AA:00:00:00:02" },
  ],
};

describe("router model", () => {
  test("ports get addresses, connected routes and stable random MACs", () => {
    const macs = new Map<string, string>();
    const m = buildModel(base, ids, macs);
    expect(m.ports.get("p1")).toMatchObject({ id: 1, addresses: ["10.0.1.1/24", "10.0.11.1/24"] });
    expect(m.ports.get("p2")!.mac).toBe("02:aa:00:00:00:02");
    const mac1 = m.ports.get("p1")!.mac;
    expect(mac1).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(buildModel(base, ids, macs).ports.get("p1")!.mac).toBe(mac1);
    expect(m.routes.all().map((r) => `${r.network} ${r.nexthop} ${r.interface}`)).toEqual([
      "10.0.1.0/24 local p1", "10.0.11.0/24 local p1", "10.0.2.0/24 local p2",
    ]);
    expect(addressFacing(m.ports.get("p1")!, "10.0.11.7")).toBe("10.0.11.1");
    expect(portOfAddress(m, "10.0.2.1")!.name).toBe("p2");
  });
  test("deleting the address that reached a route's next hop keeps the route, unused; a new route must be reachable", () => {
    const withRoute = { ...base, route: [{ network: "10.5.0.0/16", nexthop: "10.0.11.5", pathcost: 1 }] };
    const before = buildModel(withRoute, ids, new Map());
    const ports = [{ name: "p1", ip: "10.0.1.1/24" }, base.ports[1]!];
    const after = buildModel({ ...withRoute, ports }, ids, new Map(), before);
    expect(after.routes.all().find((r) => r.network === "10.5.0.0/16")).toMatchObject({ nexthop: "10.0.11.5", interface: "p1", stale: true });
    expect(after.routes.lookup("10.5.1.1")).toBeUndefined();
    // A route the router did not have is refused, and one whose cost changed is a new route.
    expect(() => buildModel({ ports, route: [{ network: "10.6.0.0/16", nexthop: "10.0.11.5" }] }, ids, new Map(), before)).toThrow(/not reachable/);
    expect(() => buildModel({ ports, route: [{ network: "10.5.0.0/16", nexthop: "10.0.11.5", pathcost: 3 }] }, ids, new Map(), before)).toThrow(/not reachable/);
    // The address back: the route forwards again.
    const again = buildModel(withRoute, ids, new Map(), after);
    expect(again.routes.lookup("10.5.1.1")).toMatchObject({ nexthop: "10.0.11.5", interface: "p1" });
    expect(again.routes.all().find((r) => r.network === "10.5.0.0/16")!.stale).toBeUndefined();
  });
  test("static routes and ARP entries are checked against the ports", () => {
    const m = buildModel({ ...base, route: [{ network: "0.0.0.0/0", nexthop: "10.0.2.254", pathcost: 1 }], "arp-table": [{ address: "10.0.2.254", mac: "02:00:00:00:00:FE", interface: "p2" }] }, ids, new Map());
    expect(m.routes.lookup("8.8.8.8")).toMatchObject({ interface: "p2", nexthop: "10.0.2.254" });
    expect(m.staticArp.get("10.0.2.254")).toEqual({ mac: "02:00:00:00:00:fe", interface: "p2", address: "10.0.2.254" });
    expect(() => buildModel({ ...base, route: [{ network: "0.0.0.0/0", nexthop: "192.168.0.1" }] }, ids, new Map())).toThrow(/route 0.0.0.0\/0 via 192.168.0.1: nexthop 192.168.0.1 is not reachable/);
    expect(() => buildModel({ ...base, "arp-table": [{ address: "10.0.2.9", mac: "02:00:00:00:00:09", interface: "p7" }] }, ids, new Map())).toThrow(/interface 'p7'/);
  });
  test("a refused configuration keeps the random MACs of the ports", () => {
    const macs = new Map<string, string>();
    const mac2 = buildModel(base, ids, macs).ports.get("p1")!.mac;
    // removing p1 would strand this route: refused, and p1 keeps its MAC
    expect(() => buildModel({ ports: [base.ports[1]!], route: [{ network: "10.9.0.0/16", nexthop: "10.0.1.9" }] }, ids, macs)).toThrow(/not reachable/);
    expect(buildModel(base, ids, macs).ports.get("p1")!.mac).toBe(mac2);
  });
  test("bad addresses are refused", () => {
    expect(() => buildModel({ ...base, route: [{ network: "10.9.0.1/16", nexthop: "10.0.1.9" }] }, ids, new Map())).toThrow(/host bits/);
    expect(() => buildModel({ ...base, route: [{ network: "10.9.0.0/16", nexthop: "10.0.1.9", interface: "p5" }] }, ids, new Map())).toThrow(/interface 'p5'/);
    expect(() => buildModel({ ports: [{ name: "p1", ip: "10.0.1.0/24" }] }, ids, new Map())).toThrow(/network address/);
    expect(() => buildModel({ ports: [{ name: "p1", ip: "10.0.1.1/24" }, { name: "p2", ip: "10.0.1.1/16" }] }, ids, new Map())).toThrow(/already used by port p1/);
  });
  test("learned neighbours go when their port's network goes; static ones follow the configuration", () => {
    const arp = new ArpTable();
    arp.learn("10.0.1.5", "02:00:00:00:00:05", "p1");
    arp.learn("10.0.2.5", "02:00:00:00:00:06", "p2");
    pruneLearned(arp, buildModel({ ports: [base.ports[0]!], "arp-table": [{ address: "10.0.1.9", mac: "02:00:00:00:00:09", interface: "p1" }] }, ids, new Map()));
    expect(arp.all().map((e) => `${e.ip} ${e.static}`).sort()).toEqual(["10.0.1.5 false", "10.0.1.9 true"]);
  });
});
