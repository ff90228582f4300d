// Issue 16, a daemon that no input or environment can break, through the real daemon:
// - every operation is all or nothing: a netdev hook the kernel refuses (another program is
//   already there) is a 409 naming the netdev, and leaves no port behind that later requests
//   trip over; a port deletion the service refuses leaves the port as it was (same uuid, the
//   same hook program); a port that static FDB entries name is not deleted before them;
// - a netdev moved to another namespace takes none of the daemon's programs with it, and can be
//   used again when it comes back.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Daemon } from "../lib/daemon.ts";
import { daemonAround, okRequester, listRows } from "../lib/datapath.ts";
import { hooks } from "../lib/bpftool.ts";
import { sh, Topology, type Host } from "../lib/netns.ts";

const topo = new Topology("opr");
const daemon = new Daemon();
const ok = okRequester(daemon);
const foreignDir = mkdtempSync(join(tmpdir(), "opr-"));
const foreign = join(foreignDir, "foreign.o");
let h1: Host;
let h2: Host;
let h3: Host;

daemonAround(daemon, topo, () => {
  h1 = topo.host(1, "10.185.1.1/24");
  h2 = topo.host(2, "10.185.1.2/24");
  h3 = topo.host(3, "10.185.1.3/24");
  // Someone else's programs: an XDP one and a TC classifier, both letting everything through.
  const src = join(foreignDir, "foreign.c");
  writeFileSync(src, `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int xpass(struct xdp_md *c) { return XDP_PASS; }
SEC("tc") int tpass(struct __sk_buff *s) { return 0; }
char _license[] SEC("license") = "GPL";
`);
  sh(`clang-19 -O2 -target bpf -I /usr/include/${sh("uname -m").trim()}-linux-gnu -c ${src} -o ${foreign}`);
}, { cleanup: () => rmSync(foreignDir, { recursive: true, force: true }) });

/** Rows of a list reply (the last element is its links). */
const rows = <T>(path: string) => listRows<T>(ok, path);

/** The ids of the programs on a netdev's hooks. */
function programsOn(dev: string): number[] {
  return hooks([dev]).map((h) => h.id);
}

describe("a netdev hook the kernel refuses", () => {
  test("a netdev with another XDP program: 409 naming it, no port left, other requests unaffected", async () => {
    sh(`ip link set dev ${h2.outer} xdpgeneric obj ${foreign} sec xdp`);
    try {
      await ok("POST", "/simplebridge/opother/", { type: "XDP_SKB" });
      await ok("POST", "/simplebridge/opsb/", { type: "XDP_SKB", ports: [{ name: "p1", peer: h1.outer }] });
      const r = await daemon.request("POST", "/simplebridge/opsb/ports/p2/", { peer: h2.outer });
      expect(r.status).toBe(409);
      expect(r.text).toContain(h2.outer);
      expect(r.text).toContain("XDP");
      // Nothing of the refused port: not listed, not in the topology, its netdev still someone else's.
      expect((await rows<{ name: string }>("/simplebridge/opsb/ports/")).map((p) => p.name)).toEqual(["p1"]);
      expect((await ok("GET", "/cubes/")).simplebridge.find((c: { name: string }) => c.name === "opsb").ports).toEqual([{ name: "p1", peer: h1.outer }]);
      expect(hooks([h2.outer]).map((h) => h.devname)).toEqual([h2.outer]);
      // Unrelated requests answer as usual.
      expect((await daemon.request("DELETE", "/simplebridge/opother/")).status).toBe(200);
      await ok("POST", "/simplebridge/opsb/ports/p3/", { peer: h3.outer });
      // A whole cube asking for that netdev is refused and not created.
      const c = await daemon.request("POST", "/simplebridge/opsb2/", { type: "XDP_SKB", ports: [{ name: "q", peer: h2.outer }] });
      expect(c.status).toBe(409);
      expect((await daemon.request("GET", "/simplebridge/opsb2/")).status).not.toBe(200);
    } finally {
      sh(`ip link set dev ${h2.outer} xdpgeneric off`);
    }
    // Once the netdev is free, the same request works and traffic flows.
    await ok("POST", "/simplebridge/opsb/ports/p2/", { peer: h2.outer });
    expect(topo.ping(h1, h2.ip)).toBe(true);
    await ok("DELETE", "/simplebridge/opsb/");
    expect(hooks([h1.outer, h2.outer, h3.outer])).toEqual([]);
  }, 30000);

  test("a TC filter in our place (priority 1, handle 1): 409, the cube keeps its other ports", async () => {
    sh(`tc qdisc add dev ${h2.outer} clsact && tc filter add dev ${h2.outer} ingress pref 1 handle 1 bpf da obj ${foreign} sec tc`);
    try {
      await ok("POST", "/simplebridge/opsb/", { ports: [{ name: "p1", peer: h1.outer }, { name: "p3", peer: h3.outer }] });
      const before = await rows<{ name: string; uuid: string }>("/simplebridge/opsb/ports/");
      // One PATCH that removes p3 and adds p2: refused whole, p3 untouched.
      const r = await daemon.request("PATCH", "/simplebridge/opsb/", { ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }] });
      expect(r.status).toBe(409);
      expect(r.text).toContain(h2.outer);
      expect(await rows<{ name: string; uuid: string }>("/simplebridge/opsb/ports/")).toEqual(before);
      expect(topo.ping(h1, h3.ip)).toBe(true);
      // connect answers the same.
      await ok("POST", "/simplebridge/opsb/ports/p2/", {});
      const c = await daemon.request("POST", "/connect", { peer1: "opsb:p2", peer2: h2.outer });
      expect(c.status).toBe(409);
      expect((await ok("GET", "/simplebridge/opsb/ports/p2/")).peer).toBe("");
    } finally {
      sh(`tc qdisc del dev ${h2.outer} clsact`, { allowFail: true });
    }
    await ok("POST", "/connect", { peer1: "opsb:p2", peer2: h2.outer });
    expect(topo.ping(h1, h2.ip)).toBe(true);
    await ok("DELETE", "/simplebridge/opsb/");
  }, 30000);
});

describe("a change the service refuses leaves everything as it was", () => {
  test("deleting a router port a route names: 400, the same port (uuid), the same hook program, traffic flows", async () => {
    sh(`ip -n ${h1.ns} addr add 10.185.2.1/24 dev eth0 && ip -n ${h1.ns} route add 10.185.3.0/24 via 10.185.2.254`);
    sh(`ip -n ${h2.ns} addr add 10.185.3.1/24 dev eth0 && ip -n ${h2.ns} route add 10.185.2.0/24 via 10.185.3.254`);
    try {
      await ok("POST", "/router/oprt/", {
        ports: [
          { name: "a", ip: "10.185.2.254/24", peer: h1.outer },
          { name: "b", ip: "10.185.3.254/24", peer: h2.outer },
        ],
      });
      await ok("POST", "/router/oprt/route/10.185.9.0%2F24/10.185.3.9/", {});
      expect(topo.ping(h1, "10.185.3.1")).toBe(true);
      const before = await ok("GET", "/router/oprt/ports/b/");
      const hook = programsOn(h2.outer);
      expect(hook.length).toBe(1);
      const r = await daemon.request("DELETE", "/router/oprt/ports/b/");
      expect(r.status).toBe(400);
      expect(r.text).toContain("10.185.9.0/24");
      const after = await ok("GET", "/router/oprt/ports/b/");
      expect(after.uuid).toBe(before.uuid);
      expect(after.status).toBe("UP");
      expect(programsOn(h2.outer)).toEqual(hook);
      expect(topo.ping(h1, "10.185.3.1")).toBe(true);
      // Once the route is gone the port goes, hook and all.
      await ok("DELETE", "/router/oprt/route/10.185.9.0%2F24/10.185.3.9/");
      await ok("DELETE", "/router/oprt/ports/b/");
      expect(programsOn(h2.outer)).toEqual([]);
      await ok("DELETE", "/router/oprt/");
    } finally {
      sh(`ip -n ${h1.ns} addr del 10.185.2.1/24 dev eth0`, { allowFail: true });
      sh(`ip -n ${h2.ns} addr del 10.185.3.1/24 dev eth0`, { allowFail: true });
    }
  }, 30000);

  for (const service of ["simplebridge", "bridge"]) {
    test(`${service}: a port that static FDB entries name is not deleted before them`, async () => {
      const entry = service === "bridge" ? { vlan: 1, mac: "02:00:00:00:00:09", port: "p2" } : { address: "02:00:00:00:00:09", port: "p2" };
      const entryPath = service === "bridge" ? "1/02:00:00:00:00:09" : "02:00:00:00:00:09";
      await ok("POST", `/${service}/opfdb/`, { ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }], fdb: { entry: [entry] } });
      const uuid = (await ok("GET", `/${service}/opfdb/ports/p2/`)).uuid;
      const r = await daemon.request("DELETE", `/${service}/opfdb/ports/p2/`);
      expect(r.status).toBe(400);
      expect(r.text).toContain("02:00:00:00:00:09");
      expect((await ok("GET", `/${service}/opfdb/ports/p2/`)).uuid).toBe(uuid);
      // The entry is still both configured and in the datapath's table (listed from it).
      expect((await ok("GET", `/${service}/opfdb/fdb/entry/${entryPath}/`)).port).toBe("p2");
      expect(topo.ping(h1, h2.ip)).toBe(true);
      await ok("DELETE", `/${service}/opfdb/fdb/entry/${entryPath}/`);
      await ok("DELETE", `/${service}/opfdb/ports/p2/`);
      expect((await rows<{ port: string }>(`/${service}/opfdb/fdb/entry/`)).filter((e) => e.port === "p2")).toEqual([]);
      await ok("DELETE", `/${service}/opfdb/`);
    }, 30000);
  }
});

describe("a netdev that moves to another namespace", () => {
  /** Waits until the port's peer is cleared (the daemon checks netdevs every second). */
  async function peerCleared(cube: string, port: string): Promise<boolean> {
    for (let i = 0; i < 40; i++) {
      if ((await ok("GET", `/simplebridge/${cube}/ports/${port}/`)).peer === "") return true;
      await Bun.sleep(100);
    }
    return false;
  }

  for (const type of ["XDP_SKB", "TC"]) {
    test(`${type}: leaves without the daemon's program, and can be peered again when it comes back`, async () => {
      const away = `opmv${topo.id}`;
      sh(`ip netns add ${away}`);
      try {
        await ok("POST", "/simplebridge/opmv/", { type, ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }] });
        expect(topo.ping(h1, h2.ip)).toBe(true);
        sh(`ip link set ${h2.outer} netns ${away}`);
        expect(await peerCleared("opmv", "p2")).toBe(true);
        // Nothing of the daemon's went with it.
        const there = JSON.parse(sh(`ip netns exec ${away} bpftool -j net show`))[0] as { xdp: unknown[]; tc: unknown[] };
        expect([...there.xdp, ...there.tc]).toEqual([]);
        sh(`ip -n ${away} link set ${h2.outer} netns 1 && ip link set ${h2.outer} up`);
        await ok("PATCH", "/simplebridge/opmv/ports/p2/", { peer: h2.outer });
        expect(topo.ping(h1, h2.ip)).toBe(true);
        await ok("DELETE", "/simplebridge/opmv/");
        expect(hooks([h1.outer, h2.outer])).toEqual([]);
      } finally {
        await daemon.request("DELETE", "/simplebridge/opmv/");
        sh(`ip -n ${away} link set ${h2.outer} netns 1 && ip link set ${h2.outer} up`, { allowFail: true });
        sh(`ip netns del ${away}`, { allowFail: true });
      }
    }, 30000);
  }
});

describe("a hook removed behind the daemon's back", () => {
  async function hookBack(dev: string): Promise<boolean> {
    for (let i = 0; i < 40; i++) {
      if (hooks([dev]).length === 1) return true;
      await Bun.sleep(100);
    }
    return false;
  }

  const removals: Array<[string, string, (dev: string) => void]> = [
    ["XDP_SKB", "ip link set ... xdpgeneric off", (dev) => sh(`ip link set dev ${dev} xdpgeneric off`)],
    ["TC", "tc qdisc del ... clsact", (dev) => sh(`tc qdisc del dev ${dev} clsact`)],
    // Its qdisc goes with the move; back before the daemon noticed it was away.
    ["TC", "a move to another namespace and back", (dev) => sh(`ip netns add opbk${topo.id} && ip link set ${dev} netns opbk${topo.id} && ip -n opbk${topo.id} link set ${dev} netns 1 && ip link set ${dev} up && ip netns del opbk${topo.id}`)],
  ];
  for (const [type, how, remove] of removals) {
    test(`${type}, ${how}: put back within seconds, traffic flows, nothing left after`, async () => {
      try {
        await ok("POST", "/simplebridge/opbk/", { type, ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }] });
        expect(topo.ping(h1, h2.ip)).toBe(true);
        const mark = daemon.log().length;
        remove(h2.outer);
        expect(await hookBack(h2.outer)).toBe(true);
        expect(topo.ping(h1, h2.ip)).toBe(true);
        expect(daemon.log().slice(mark)).toContain(`${h2.outer}: a hook of the daemon was removed by someone else: put back`);
      } finally {
        await daemon.request("DELETE", "/simplebridge/opbk/");
      }
      expect(hooks([h1.outer, h2.outer])).toEqual([]);
      expect(sh(`tc qdisc show dev ${h2.outer}`)).not.toContain("clsact");
    }, 30000);
  }
});
