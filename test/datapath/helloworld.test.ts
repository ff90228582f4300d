// helloworld through the real daemon: two hosts in their own namespaces, one cube between them.
// FORWARD pings, DROP does not, SLOWPATH reaches the control plane (which logs it only), in TC and XDP_SKB;
// a third port is refused; deleting the cube leaves no program on the hosts' interfaces.
import { describe, expect, test } from "bun:test";
import { Daemon } from "../lib/daemon.ts";
import { daemonAround, hooksOn, logSince as logAfter, okRequester } from "../lib/datapath.ts";
import { Topology, type Host } from "../lib/netns.ts";

const topo = new Topology("thw");
const daemon = new Daemon();
const ok = okRequester(daemon);
const logSince = (mark: number) => logAfter(daemon, mark);
let h1: Host;
let h2: Host;

daemonAround(daemon, topo, () => {
  h1 = topo.host(1, "10.206.0.1/24");
  h2 = topo.host(2, "10.206.0.2/24");
});

describe("helloworld between two hosts", () => {
  for (const type of ["TC", "XDP_SKB"]) {
    test(`${type}: FORWARD pings, DROP does not, SLOWPATH logs in the control plane`, async () => {
      const cube = `hw${type === "TC" ? "tc" : "xdp"}`;
      await ok("POST", `/helloworld/${cube}/`, { type, action: "FORWARD", loglevel: "DEBUG", ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }] });
      try {
        expect(await ok("GET", `/helloworld/${cube}/type/`)).toBe(type);
        let mark = daemon.log().length;
        expect(topo.ping(h1, h2.ip, 2)).toBe(true);
        let log = await logSince(mark);
        // The datapath's own lines, in the original's format.
        expect(log).toMatch(new RegExp(`\\[Helloworld\\] \\[${cube}\\] \\[debug\\] \\[INGRESS\\] Receiving packet from port 0`));
        expect(log).toMatch(new RegExp(`\\[Helloworld\\] \\[${cube}\\] \\[debug\\] Forwarding packet`));
        // The egress program sees the packet leave, after the ingress program forwarded it.
        const egress = log.indexOf(`[${cube}] [debug] [EGRESS] Packet ongoing on port 1`);
        expect(egress).toBeGreaterThan(log.indexOf(`[${cube}] [debug] [INGRESS] Receiving packet from port 0`));

        expect((await daemon.cli([cube, "set", "action=drop"])).code).toBe(0);
        expect(await ok("GET", `/helloworld/${cube}/action/`)).toBe("DROP");
        mark = daemon.log().length;
        expect(topo.ping(h1, h2.ip, 1)).toBe(false);
        expect(await logSince(mark)).toContain(`[${cube}] [debug] Dropping packet`);

        await ok("PATCH", `/helloworld/${cube}/action/`, "SLOWPATH");
        mark = daemon.log().length;
        // As the original's, the slow path logs the packet and sends it nowhere.
        expect(topo.ping(h1, h2.ip, 2)).toBe(false);
        log = await logSince(mark);
        expect(log).toContain(`[${cube}] [debug] Sending packet to slow path`);
        expect(log).toContain(`[Helloworld] [${cube}] [info] packet arrived to the slowpath from port p1`);

        await ok("PATCH", `/helloworld/${cube}/`, { action: "FORWARD" });
        expect(topo.ping(h1, h2.ip, 2)).toBe(true);
        // TC: each netdev's ingress hook, and its egress hook where helloworld's egress program runs.
        const perNetdev = type === "TC" ? 2 : 1;
        expect(hooksOn([h1.outer, h2.outer]).sort()).toEqual([h1.outer, h2.outer].flatMap((n) => Array(perNetdev).fill(n)).sort());
      } finally {
        await ok("DELETE", `/helloworld/${cube}/`);
      }
      expect(hooksOn([h1.outer, h2.outer])).toEqual([]);
      expect(topo.ping(h1, h2.ip, 1)).toBe(false);
    });
  }

  test("the default action is DROP", async () => {
    await ok("POST", "/helloworld/hwdef/", { ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }] });
    try {
      expect(await ok("GET", "/helloworld/hwdef/action/")).toBe("DROP");
      expect(topo.ping(h1, h2.ip, 1)).toBe(false);
    } finally {
      await ok("DELETE", "/helloworld/hwdef/");
    }
  });

  test("a port that is not linked drops what FORWARD sends to it; linking it restores the path", async () => {
    await ok("POST", "/helloworld/hwhalf/", { action: "FORWARD", ports: [{ name: "p1", peer: h1.outer }, { name: "p2" }] });
    try {
      expect(await ok("GET", "/helloworld/hwhalf/ports/p2/status/")).toBe("DOWN");
      expect(topo.ping(h1, h2.ip, 1)).toBe(false);
      await ok("PATCH", "/helloworld/hwhalf/ports/p2/peer/", h2.outer);
      expect(await ok("GET", "/helloworld/hwhalf/ports/p2/status/")).toBe("UP");
      expect(topo.ping(h1, h2.ip, 2)).toBe(true);
    } finally {
      await ok("DELETE", "/helloworld/hwhalf/");
    }
  });
});

describe("at most two ports", () => {
  test("a third port is refused with a 4xx naming the limit, and nothing changes", async () => {
    await ok("POST", "/helloworld/hw2/", { action: "FORWARD", ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }] });
    try {
      const r = await daemon.request("POST", "/helloworld/hw2/ports/p3/", {});
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.text).toContain("at most 2 ports");
      const cli = await daemon.cli(["hw2", "ports", "add", "p3"]);
      expect(cli.code).not.toBe(0);
      expect(cli.err).toContain("at most 2 ports");
      expect((await ok("GET", "/helloworld/hw2/ports/")).map((p: { name: string }) => p.name)).toEqual(["p1", "p2"]);
      expect((await daemon.request("GET", "/helloworld/hw2/ports/p3/")).status).toBeGreaterThanOrEqual(400);
      // The refused request did not disturb the datapath.
      expect(topo.ping(h1, h2.ip, 2)).toBe(true);
      // Replacing a port is fine: the limit is on the number of ports.
      await ok("DELETE", "/helloworld/hw2/ports/p2/");
      await ok("POST", "/helloworld/hw2/ports/p3/", { peer: h2.outer });
      expect(topo.ping(h1, h2.ip, 2)).toBe(true);
    } finally {
      await ok("DELETE", "/helloworld/hw2/");
    }
  });

  test("a cube created with three ports is refused and not created", async () => {
    const r = await daemon.request("POST", "/helloworld/hw3/", { ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }, { name: "p3" }] });
    expect(r.status).toBe(400);
    expect(r.text).toContain("at most 2 ports");
    expect((await daemon.request("GET", "/helloworld/hw3/")).status).toBe(404);
    expect(hooksOn([h1.outer, h2.outer])).toEqual([]);
  });
});
