// The datapath core through the real daemon: ports, peers, cube-to-cube links, both hook
// types, the slow path, and cleanup of every kernel object. Hosts live in namespaces the test
// creates; packets are real pings between them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { hooks, injectorDevice, stillLoaded } from "../lib/bpftool.ts";
import { Daemon } from "../lib/daemon.ts";
import { hooksOn, okRequester } from "../lib/datapath.ts";
import { Topology, sh, type Host } from "../lib/netns.ts";

const topo = new Topology("tdc");
const daemon = new Daemon();
let h1: Host;
let h2: Host;
let h3: Host;


const ok = okRequester(daemon);

beforeAll(async () => {
  h1 = topo.host(1, "10.203.0.1/24");
  h2 = topo.host(2, "10.203.0.2/24");
  h3 = topo.host(3, "10.203.0.3/24");
  await daemon.start();
});

afterAll(async () => {
  await daemon.stop();
  topo.cleanup();
  daemon.cleanup();
});

describe("one cube between two hosts", () => {
  for (const type of ["TC", "XDP_SKB"]) {
    test(`simplebridge in ${type} mode forwards, learns, and leaves nothing when deleted`, async () => {
      await ok("POST", "/simplebridge/sb1/", { type, ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }] });
      try {
        expect(topo.ping(h1, h2.ip, 3)).toBe(true);
        const fdb = await ok("GET", "/simplebridge/sb1/fdb/entry/");
        const learned = new Map((fdb as Array<{ address: string; port: string }>).map((e) => [e.address, e.port]));
        expect(learned.get(h1.mac)).toBe("p1");
        expect(learned.get(h2.mac)).toBe("p2");
        const ports = await ok("GET", "/simplebridge/sb1/ports/");
        expect(ports.map((p: { status: string }) => p.status)).toEqual(["UP", "UP"]);
        expect(hooksOn([h1.outer, h2.outer]).length).toBe(2);
      } finally {
        await ok("DELETE", "/simplebridge/sb1/");
      }
      expect(hooksOn([h1.outer, h2.outer])).toEqual([]);
      expect(topo.ping(h1, h2.ip, 1)).toBe(false);
    });
  }
});

describe("cube-to-cube links", () => {
  test("a port is UP only when both ends name each other; a chain of two cubes forwards", async () => {
    await ok("POST", "/simplebridge/ca/", { ports: [{ name: "p1", peer: h1.outer }, { name: "to_b", peer: "cb:to_a" }] });
    await ok("POST", "/simplebridge/cb/", { ports: [{ name: "p1", peer: h2.outer }, { name: "to_a" }] });
    try {
      expect(await ok("GET", "/simplebridge/ca/ports/to_b/status/")).toBe("DOWN");
      expect(topo.ping(h1, h2.ip, 1)).toBe(false);
      await ok("PATCH", "/simplebridge/cb/ports/to_a/peer/", "ca:to_b");
      expect(await ok("GET", "/simplebridge/ca/ports/to_b/status/")).toBe("UP");
      expect(await ok("GET", "/simplebridge/cb/ports/to_a/status/")).toBe("UP");
      expect(topo.ping(h1, h2.ip, 3)).toBe(true);
      // Cutting one side takes the link down for both.
      await ok("PATCH", "/simplebridge/cb/ports/to_a/peer/", "");
      expect(await ok("GET", "/simplebridge/ca/ports/to_b/status/")).toBe("DOWN");
      expect(topo.ping(h1, h2.ip, 1)).toBe(false);
    } finally {
      await ok("DELETE", "/simplebridge/ca/");
      await ok("DELETE", "/simplebridge/cb/");
    }
  });

  test("connect and disconnect link two cube ports, with the original's errors", async () => {
    await ok("POST", "/simplebridge/cx/", { ports: [{ name: "p1", peer: h1.outer }, { name: "up" }] });
    await ok("POST", "/simplebridge/cy/", { ports: [{ name: "p1", peer: h3.outer }, { name: "down" }] });
    try {
      await ok("POST", "/connect", { peer1: "cx:up", peer2: "cy:down" });
      expect(topo.ping(h1, h3.ip, 3)).toBe(true);
      const again = await daemon.request("POST", "/connect", { peer1: "cx:up", peer2: "cy:down" });
      expect(again.status).toBe(400);
      expect(again.text).toContain("cx:up already has a peer cy:down");
      const wrong = await daemon.request("POST", "/disconnect", { peer1: "cx:up", peer2: "cy:p1" });
      expect(wrong.status).toBe(400);
      expect(wrong.text).toContain("is not connected to");
      await ok("POST", "/disconnect", { peer1: "cx:up", peer2: "cy:down" });
      expect(await ok("GET", "/simplebridge/cx/ports/up/peer/")).toBe("");
      expect(topo.ping(h1, h3.ip, 1)).toBe(false);
    } finally {
      await ok("DELETE", "/simplebridge/cx/");
      await ok("DELETE", "/simplebridge/cy/");
    }
  });

  test("TC and XDP ports refuse to link", async () => {
    await ok("POST", "/simplebridge/tcb/", { ports: [{ name: "p1" }] });
    try {
      const r = await daemon.request("POST", "/simplebridge/xdpb/", { type: "XDP_SKB", ports: [{ name: "p1", peer: "tcb:p1" }] });
      expect(r.status).toBe(400);
      expect(r.text).toContain("It is not possible to connect TC and XDP ports");
      expect((await daemon.request("GET", "/simplebridge/xdpb/")).status).toBe(404);
    } finally {
      await ok("DELETE", "/simplebridge/tcb/");
    }
  });
});

describe("bad peers leave no partial state", () => {
  test("a missing netdev is refused and the cube is not created", async () => {
    const r = await daemon.request("POST", "/simplebridge/bad1/", { ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: "nosuchdev0" }] });
    expect(r.status).toBe(400);
    expect(r.text).toContain("Interface nosuchdev0 does not exist or is down");
    expect((await daemon.request("GET", "/simplebridge/bad1/")).status).toBe(404);
    expect(hooksOn([h1.outer])).toEqual([]);
  });

  test("one netdev for two ports is refused", async () => {
    const r = await daemon.request("POST", "/simplebridge/bad2/", { ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h1.outer }] });
    expect(r.status).toBe(400);
    expect(r.text).toContain("Iface already in use");
    await ok("POST", "/simplebridge/good/", { ports: [{ name: "p1", peer: h1.outer }] });
    try {
      const other = await daemon.request("POST", "/simplebridge/bad3/", { ports: [{ name: "p1", peer: h1.outer }] });
      expect(other.status).toBe(400);
      expect(other.text).toContain("Iface already in use");
      // A refused update keeps the previous configuration and datapath.
      const patch = await daemon.request("PATCH", "/simplebridge/good/", { ports: [{ name: "p2", peer: "nosuchdev1" }] });
      expect(patch.status).toBe(400);
      expect((await ok("GET", "/simplebridge/good/ports/")).map((p: { name: string }) => p.name)).toEqual(["p1"]);
    } finally {
      await ok("DELETE", "/simplebridge/good/");
    }
  });

  test("a netdev that disappears under a port clears its peer; the daemon stays up", async () => {
    const [a, b] = topo.pair("va", "vb");
    await ok("POST", "/simplebridge/gone/", { ports: [{ name: "p1", peer: a }, { name: "p2", peer: h2.outer }] });
    try {
      expect(await ok("GET", "/simplebridge/gone/ports/p1/status/")).toBe("UP");
      sh(`ip link del ${a}`);
      void b;
      let peer = "?";
      for (let i = 0; i < 40 && peer !== ""; i++) {
        await Bun.sleep(100);
        peer = await ok("GET", "/simplebridge/gone/ports/p1/peer/");
      }
      expect(peer).toBe("");
      expect(await ok("GET", "/simplebridge/gone/ports/p1/status/")).toBe("DOWN");
    } finally {
      await ok("DELETE", "/simplebridge/gone/");
    }
  });
});

describe("span without shadow", () => {
  test("is refused with the original's error, and nothing is created (shadow itself: test/e2e/shadow.test.ts)", async () => {
    const span = await daemon.request("POST", "/simplebridge/sp1/", { span: true });
    expect(span.status).toBe(400);
    expect(span.text).toContain("Span mode is not present in no-shadow services");
    expect((await daemon.request("GET", "/simplebridge/sp1/")).status).toBe(404);
  });
});

describe("shutdown", () => {
  test("SIGTERM removes every program, hook and device the daemon created", async () => {
    await ok("POST", "/simplebridge/last/", { type: "XDP_SKB", ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }] });
    await ok("POST", "/simplebridge/last2/", { ports: [{ name: "p1", peer: h3.outer }] });
    expect(topo.ping(h1, h2.ip, 2)).toBe(true);
    const injector = injectorDevice(readFileSync(daemon.pidfile, "utf8"));
    const attached = hooks([h1.outer, h2.outer, h3.outer, injector]).map((h) => h.id);
    expect(attached.length).toBe(5); // three netdev entries, the injector's TC and XDP programs
    expect(await daemon.stop()).toBe(0);
    expect(hooksOn([h1.outer, h2.outer, h3.outer])).toEqual([]);
    expect(sh("ip -o link show")).not.toContain(injector);
    expect(await stillLoaded(attached)).toEqual([]);
    await daemon.start();
  });
});
