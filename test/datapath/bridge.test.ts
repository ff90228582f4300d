// The bridge service through the real daemon, with real packets between namespaced hosts:
// learning, VLAN isolation, trunks between two bridges, and spanning tree on a loop of three.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Daemon } from "../lib/daemon.ts";
import { Topology, sh, type Host } from "../lib/netns.ts";

const topo = new Topology("tbr");
const daemon = new Daemon();
const hosts: Host[] = [];
/** Devices a test makes outside the Topology helper (a Linux bridge), removed in afterAll too. */
const extraLinks: string[] = [];

async function ok(method: string, path: string, body?: unknown): Promise<any> {
  const r = await daemon.request(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.text ? r.json() : undefined;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(200);
  }
}

interface Entry {
  vlan: number;
  mac: string;
  port: string;
  type: string;
  age: number;
}

/** The filtering database of a bridge (list replies end with a links element, left out). */
async function rows<T>(path: string): Promise<T[]> {
  return ((await ok("GET", path)) as unknown[]).filter((e): e is T => !Array.isArray(e));
}

async function entries(cube: string): Promise<Entry[]> {
  return rows<Entry>(`/bridge/${cube}/fdb/entry/`);
}

/** Pings with 1500-byte IP packets that must not be fragmented. */
function bigPing(from: Host, to: string): boolean {
  const r = Bun.spawnSync(["ip", "netns", "exec", from.ns, "ping", "-c", "2", "-W", "1", "-i", "0.2", "-s", "1472", "-M", "do", to], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0;
}

/** Hosts forget the addresses they resolved: each test starts from what its bridges do. */
function flushNeighbours(): void {
  for (const h of hosts) sh(`ip -n ${h.ns} neigh flush all`, { allowFail: true });
}

function rxPackets(h: Host): number {
  return Number(sh(`ip netns exec ${h.ns} cat /sys/class/net/eth0/statistics/rx_packets`).trim());
}

/** Deletes cubes even when a test failed half-way. */
async function deleteCubes(names: string[]): Promise<void> {
  for (const n of names) await daemon.request("DELETE", `/bridge/${n}/`);
}

beforeAll(async () => {
  for (let i = 1; i <= 6; i++) hosts.push(topo.host(i, `10.204.0.${i}/24`));
  await daemon.start();
});

beforeEach(() => flushNeighbours());

afterAll(async () => {
  await daemon.stop();
  for (const l of extraLinks) sh(`ip link del ${l}`, { allowFail: true });
  topo.cleanup();
  daemon.cleanup();
});

describe("learning", () => {
  for (const type of ["TC", "XDP_SKB"]) {
    test(`${type}: hosts ping through one bridge; entries are learned per VLAN, static entries and flush`, async () => {
      const [h1, h2, h3] = hosts as [Host, Host, Host];
      await ok("POST", "/bridge/br0/", { type, ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }, { name: "p3", peer: h3.outer }] });
      try {
        expect(topo.ping(h1, h2.ip, 3)).toBe(true);
        expect(topo.ping(h3, h1.ip, 2)).toBe(true);
        const fdb = await entries("br0");
        const learned = new Map(fdb.map((e) => [e.mac, e]));
        expect(learned.get(h1.mac)).toMatchObject({ vlan: 1, port: "p1", type: "dynamic" });
        expect(learned.get(h2.mac)).toMatchObject({ vlan: 1, port: "p2", type: "dynamic" });
        expect(learned.get(h3.mac)?.port).toBe("p3");
        // A static entry is configuration: it shows as static and survives a flush.
        await ok("POST", "/bridge/br0/fdb/entry/1/02:00:00:00:00:99/", { port: "p3" });
        await ok("POST", "/bridge/br0/fdb/flush/");
        const after = await entries("br0");
        expect(after).toEqual([expect.objectContaining({ mac: "02:00:00:00:00:99", type: "static", port: "p3", vlan: 1 })]);
        expect(topo.ping(h2, h1.ip, 2)).toBe(true);
        // Static entries steer traffic: h2's address pinned to the wrong port cuts h2 off...
        await ok("POST", `/bridge/br0/fdb/entry/1/${h2.mac}/`, { port: "p3" });
        expect(topo.ping(h1, h2.ip, 1)).toBe(false);
        // ...and to the right one (in another VLAN it would not matter) brings it back.
        await ok("PATCH", `/bridge/br0/fdb/entry/1/${h2.mac}/port/`, "p2");
        expect(topo.ping(h1, h2.ip, 2)).toBe(true);
        expect((await entries("br0")).find((e) => e.mac === h2.mac)).toMatchObject({ type: "static", port: "p2" });
        // A static entry towards a port that does not exist is refused.
        const bad = await daemon.request("POST", "/bridge/br0/fdb/entry/1/02:00:00:00:00:98/", { port: "nope" });
        expect(bad.status).toBe(400);
        // The bridge and port MACs are chosen when not configured.
        const cube = await ok("GET", "/bridge/br0/");
        expect(cube.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
        expect(cube.ports[0].mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
        expect(cube.ports[0].stp).toEqual([{ vlan: 1, state: "forwarding", "path-cost": 4, "port-priority": 128 }]);
        expect(await ok("GET", "/bridge/br0/fdb/aging-time/")).toBe(300);
      } finally {
        await deleteCubes(["br0"]);
      }
      expect(topo.ping(h1, h2.ip, 1)).toBe(false);
    }, 30000);
  }

  test("learned entries age out", async () => {
    const [h1, h2] = hosts as [Host, Host];
    await ok("POST", "/bridge/bra/", { fdb: { "aging-time": 1 }, ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }] });
    try {
      expect(topo.ping(h1, h2.ip, 1)).toBe(true);
      expect((await entries("bra")).length).toBeGreaterThan(0);
      await until("entries to age out", async () => (await entries("bra")).length === 0, 8000);
    } finally {
      await deleteCubes(["bra"]);
    }
  }, 20000);
});

describe("VLANs", () => {
  for (const type of ["TC", "XDP_SKB"]) {
    test(`${type}: two access VLANs on one bridge do not talk`, async () => {
      const [h1, h2, h3, h4] = hosts as [Host, Host, Host, Host];
      await ok("POST", "/bridge/brv/", {
        type,
        ports: [
          { name: "p1", peer: h1.outer, access: { vlanid: 10 } },
          { name: "p2", peer: h2.outer, access: { vlanid: 10 } },
          { name: "p3", peer: h3.outer, access: { vlanid: 20 } },
          { name: "p4", peer: h4.outer, access: { vlanid: 20 } },
        ],
      });
      try {
        expect(topo.ping(h1, h2.ip, 2)).toBe(true);
        expect(topo.ping(h3, h4.ip, 2)).toBe(true);
        expect(topo.ping(h1, h3.ip, 1)).toBe(false);
        expect(topo.ping(h2, h4.ip, 1)).toBe(false);
        const fdb = await entries("brv");
        expect(fdb.find((e) => e.mac === h1.mac)?.vlan).toBe(10);
        expect(fdb.find((e) => e.mac === h3.mac)?.vlan).toBe(20);
        // Moving a port to the other VLAN moves its host. (The failed pings above left neighbour
        // entries half-resolved in the hosts; they would drop the first replies.)
        await ok("PATCH", "/bridge/brv/ports/p3/access/vlanid/", 10);
        flushNeighbours();
        expect(topo.ping(h3, h1.ip, 2)).toBe(true);
        expect(topo.ping(h3, h4.ip, 1)).toBe(false);
      } finally {
        await deleteCubes(["brv"]);
      }
    }, 30000);

    for (const link of ["cube to cube", "veth pair"]) {
      test(`${type}: a trunk (${link}) between two bridges carries VLANs 10 and 20, each to its own, and the native VLAN untagged`, async () => {
        const [h1, h2, h3, h4, h5, h6] = hosts as [Host, Host, Host, Host, Host, Host];
        const [ta, tb] = link === "cube to cube" ? ["btb:trunk", "bta:trunk"] : topo.pair(`${type[0]}ta`, `${type[0]}tb`);
        await ok("POST", "/bridge/bta/", {
          type,
          ports: [
            { name: "p10", peer: h1.outer, access: { vlanid: 10 } },
            { name: "p20", peer: h2.outer, access: { vlanid: 20 } },
            { name: "p1", peer: h5.outer },
            { name: "trunk", peer: ta, mode: "trunk", trunk: { allowed: [{ vlanid: 10 }, { vlanid: 20 }] } },
          ],
        });
        await ok("POST", "/bridge/btb/", {
          type,
          ports: [
            { name: "p10", peer: h3.outer, access: { vlanid: 10 } },
            { name: "p20", peer: h4.outer, access: { vlanid: 20 } },
            { name: "p1", peer: h6.outer },
            { name: "trunk", peer: tb, mode: "trunk", trunk: { allowed: [{ vlanid: 10 }, { vlanid: 20 }] } },
          ],
        });
        try {
          expect(topo.ping(h1, h3.ip, 3)).toBe(true);
          expect(topo.ping(h2, h4.ip, 3)).toBe(true);
          expect(topo.ping(h1, h4.ip, 1)).toBe(false);
          expect(topo.ping(h2, h3.ip, 1)).toBe(false);
          expect(topo.ping(h1, h2.ip, 1)).toBe(false);
          // Full-size frames fit through the trunk with their tag.
        expect(bigPing(h1, h3.ip)).toBe(true);
        // VLAN 1, the trunks' native VLAN, crosses untagged.
          expect(topo.ping(h5, h6.ip, 2)).toBe(true);
          expect(topo.ping(h5, h3.ip, 1)).toBe(false);
          const fdb = await entries("btb");
          expect(fdb.find((e) => e.mac === h1.mac)).toMatchObject({ vlan: 10, port: "trunk" });
          expect(fdb.find((e) => e.mac === h2.mac)).toMatchObject({ vlan: 20, port: "trunk" });
          // A VLAN the trunk does not allow stops at the trunk.
          await ok("DELETE", "/bridge/bta/ports/trunk/trunk/allowed/20/");
          await ok("POST", "/bridge/bta/fdb/flush/");
          await ok("POST", "/bridge/btb/fdb/flush/");
          expect(topo.ping(h2, h4.ip, 1)).toBe(false);
          expect(topo.ping(h1, h3.ip, 2)).toBe(true);
        } finally {
          await deleteCubes(["bta", "btb"]);
        }
      }, 30000);
    }
  }

  for (const type of ["TC", "XDP_SKB"]) {
    test(`${type}: a host that talks tagged on a trunk port reaches an access port of its VLAN`, async () => {
      const [h1, , , , h5] = hosts as [Host, Host, Host, Host, Host];
      // No 8021q module here: h5 tags and untags with two small TC programs on its eth0.
      vlanHost(h5, 10);
      await ok("POST", "/bridge/brt/", {
        type,
        ports: [
          { name: "p1", peer: h1.outer, access: { vlanid: 10 } },
          { name: "t", peer: h5.outer, mode: "trunk", trunk: { allowed: [{ vlanid: 10 }, { vlanid: 30 }] } },
        ],
      });
      try {
        expect(topo.ping(h5, h1.ip, 3)).toBe(true);
        expect(topo.ping(h1, h5.ip, 2)).toBe(true);
        const fdb = await entries("brt");
        expect(fdb.find((e) => e.mac === h5.mac)).toMatchObject({ vlan: 10, port: "t" });
        expect(fdb.find((e) => e.mac === h1.mac)).toMatchObject({ vlan: 10, port: "p1" });
        // VLAN 10 no longer allowed on the trunk: h5's tagged frames stop there.
        await ok("DELETE", "/bridge/brt/ports/t/trunk/allowed/10/");
        await ok("POST", "/bridge/brt/fdb/flush/");
        expect(topo.ping(h5, h1.ip, 1)).toBe(false);
        // The port's native VLAN is 10 now: h1's replies leave untagged, which h5 drops.
        await ok("PATCH", "/bridge/brt/ports/t/trunk/", { "native-vlan": 10 });
        expect(topo.ping(h5, h1.ip, 1)).toBe(false);
      } finally {
        await deleteCubes(["brt"]);
        sh(`ip netns exec ${h5.ns} tc qdisc del dev eth0 clsact; ip netns exec ${h5.ns} ethtool -K eth0 txvlan on`, { allowFail: true });
      }
    }, 30000);
  }
});

/** Two TC programs on a host's eth0: tag everything it sends with vid, accept only frames tagged vid. */
function vlanHost(h: Host, vid: number): void {
  const dir = mkdtempSync(join(tmpdir(), "tbrvlan-"));
  try {
    const src = join(dir, "vlan.c");
    writeFileSync(src, `#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#ifdef PUSH
SEC("tc") int push(struct __sk_buff *s) { bpf_skb_vlan_push(s, bpf_htons(0x8100), ${vid}); return TC_ACT_OK; }
#else
SEC("tc") int pop(struct __sk_buff *s) {
  if (!s->vlan_present || (s->vlan_tci & 0xfff) != ${vid}) return TC_ACT_SHOT;
  bpf_skb_vlan_pop(s);
  return TC_ACT_OK;
}
#endif
char _license[] SEC("license") = "GPL";
`);
    const inc = `/usr/include/${sh("uname -m").trim()}-linux-gnu`;
    sh(`clang-19 -O2 -target bpf -DPUSH -I ${inc} -c ${src} -o ${dir}/push.o && clang-19 -O2 -target bpf -I ${inc} -c ${src} -o ${dir}/pop.o`);
    // Generic XDP sees only what is in the frame: the tag must not travel beside it (the
    // kernel's VLAN offload), as it would from a real NIC with offload off.
    sh(`ip netns exec ${h.ns} ethtool -K eth0 txvlan off`);
    sh(`ip netns exec ${h.ns} tc qdisc add dev eth0 clsact`);
    sh(`ip netns exec ${h.ns} tc filter add dev eth0 egress bpf da obj ${dir}/push.o sec tc`);
    sh(`ip netns exec ${h.ns} tc filter add dev eth0 ingress bpf da obj ${dir}/pop.o sec tc`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("spanning tree", () => {
  for (const type of ["TC", "XDP_SKB"]) {
    test(`${type}: a loop of three bridges converges with one port blocked, no storm, and survives a link going down`, async () => {
      const [h1, h2, h3] = hosts as [Host, Host, Host];
      const timers = { "hello-time": 1, "forward-delay": 2, "max-message-age": 4 };
      const bridge = (name: string, priority: number, host: Host, a: string, b: string) =>
        ok("POST", `/bridge/${name}/`, {
          type,
          "stp-enabled": true,
          stp: [{ vlan: 1, priority, ...timers }],
          ports: [{ name: "host", peer: host.outer }, { name: `to_${a}` }, { name: `to_${b}` }],
        });
      const names = ["s1", "s2", "s3"];
      try {
        await bridge("s1", 4096, h1, "s2", "s3");
        await bridge("s2", 8192, h2, "s1", "s3");
        await bridge("s3", 32768, h3, "s1", "s2");
        await ok("POST", "/connect", { peer1: "s1:to_s2", peer2: "s2:to_s1" });
        await ok("POST", "/connect", { peer1: "s2:to_s3", peer2: "s3:to_s2" });
        await ok("POST", "/connect", { peer1: "s3:to_s1", peer2: "s1:to_s3" });

        const states = async () => {
          const out: Record<string, string> = {};
          for (const n of names) for (const p of await rows<{ name: string; stp: Array<{ state: string }> }>(`/bridge/${n}/ports/`)) out[`${n}:${p.name}`] = p.stp[0].state;
          return out;
        };
        const settled = await until("spanning tree to converge", async () => {
          const s = await states();
          return Object.values(s).every((v) => v === "forwarding" || v === "blocking") ? s : undefined;
        }, 20000);
        expect(Object.entries(settled).filter(([, v]) => v === "blocking").map(([k]) => k)).toEqual(["s3:to_s2"]);
        expect(await ok("GET", "/bridge/s3/ports/to_s2/stp/1/state/")).toBe("blocking");

        expect(topo.ping(h1, h2.ip, 3)).toBe(true);
        expect(topo.ping(h2, h3.ip, 3)).toBe(true);
        expect(topo.ping(h3, h1.ip, 3)).toBe(true);
        // A broadcast (an ARP request each) reaches each host a handful of times, not forever.
        for (const h of [h1, h2, h3]) sh(`ip -n ${h.ns} neigh flush dev eth0`);
        const before = [h1, h2, h3].map(rxPackets);
        expect(topo.ping(h1, h3.ip, 2)).toBe(true);
        await Bun.sleep(2000);
        const delta = [h1, h2, h3].map((h, i) => rxPackets(h) - before[i]!);
        for (const d of delta) expect(d).toBeLessThan(30);

        // The link from s1 to s2 goes: the blocked port takes over.
        await ok("PATCH", "/bridge/s1/ports/to_s2/peer/", "");
        await until("h1 to reach h2 again", () => topo.ping(h1, h2.ip, 1, 1), 30000);
        expect(await ok("GET", "/bridge/s3/ports/to_s2/stp/1/state/")).toBe("forwarding");
        expect(await ok("GET", "/bridge/s1/ports/to_s2/stp/1/state/")).toBe("disabled");
        expect(topo.ping(h2, h3.ip, 2)).toBe(true);
        expect(topo.ping(h3, h1.ip, 2)).toBe(true);
      } finally {
        await deleteCubes(names);
      }
    }, 90000);
  }

  for (const type of ["TC", "XDP_SKB"]) {
    test(`${type}: one tree per VLAN: two trunks between two bridges, each VLAN blocks a different one`, async () => {
      const [h1, h2, h3, h4] = hosts as [Host, Host, Host, Host];
      const timers = { "hello-time": 1, "forward-delay": 2, "max-message-age": 4 };
      // VLAN 10's root is va, VLAN 20's is vb; t1 is expensive in VLAN 20, t2 in VLAN 10.
      const trunk = (name: string, peer: string, expensiveIn: number) => ({
        name, peer, mode: "trunk", trunk: { allowed: [{ vlanid: 10 }, { vlanid: 20 }], "native-vlan-enabled": false },
        stp: [{ vlan: expensiveIn, "path-cost": 100 }],
      });
      const cube = (name: string, other: string, p10: Host, p20: Host, root10: boolean) => ({
        type,
        "stp-enabled": true,
        stp: [{ vlan: 10, priority: root10 ? 4096 : 32768, ...timers }, { vlan: 20, priority: root10 ? 32768 : 4096, ...timers }],
        ports: [
          { name: "p10", peer: p10.outer, access: { vlanid: 10 } },
          { name: "p20", peer: p20.outer, access: { vlanid: 20 } },
          trunk("t1", `${other}:t1`, 20),
          trunk("t2", `${other}:t2`, 10),
        ],
      });
      try {
        await ok("POST", "/bridge/va/", cube("va", "vb", h1, h2, true));
        await ok("POST", "/bridge/vb/", cube("vb", "va", h3, h4, false));
        const state = async (c: string, port: string, vlan: number) => String(await ok("GET", `/bridge/${c}/ports/${port}/stp/${vlan}/state/`));
        await until("both trees to converge", async () => {
          const all = await Promise.all(["t1", "t2"].flatMap((p) => ["va", "vb"].flatMap((c) => [10, 20].map((v) => state(c, p, v)))));
          return all.every((s) => s === "forwarding" || s === "blocking");
        }, 20000);
        // VLAN 10: root va; vb's t2 costs 100 in VLAN 10, so vb's root port is t1 and t2 blocks.
        expect(await state("vb", "t2", 10)).toBe("blocking");
        expect(await state("vb", "t1", 10)).toBe("forwarding");
        // VLAN 20: root vb; va's t1 costs 100 in VLAN 20, so va's t1 blocks.
        expect(await state("va", "t1", 20)).toBe("blocking");
        expect(await state("va", "t2", 20)).toBe("forwarding");
        expect(topo.ping(h1, h3.ip, 3)).toBe(true);
        expect(topo.ping(h2, h4.ip, 3)).toBe(true);
        expect(topo.ping(h1, h4.ip, 1)).toBe(false);
        // Each VLAN's traffic took its own trunk.
        expect((await entries("vb")).find((e) => e.mac === h1.mac)).toMatchObject({ vlan: 10, port: "t1" });
        expect((await entries("va")).find((e) => e.mac === h4.mac)).toMatchObject({ vlan: 20, port: "t2" });
      } finally {
        await deleteCubes(["va", "vb"]);
      }
    }, 60000);
  }
});

describe("spanning tree with a Linux bridge", () => {
  for (const type of ["TC", "XDP_SKB"]) {
    test(`${type}: two bridge cubes and a Linux bridge (kernel 802.1D) agree on one tree`, async () => {
      const [h1, h2, h3] = hosts as [Host, Host, Host];
      const [l13a, l13b] = topo.pair(`${type[0]}13a`, `${type[0]}13b`);
      const [l23a, l23b] = topo.pair(`${type[0]}23a`, `${type[0]}23b`);
      const lb = `tbr${topo.id}lb${type === "TC" ? "t" : "x"}`;
      extraLinks.push(lb);
      const brport = (dev: string) => ["disabled", "listening", "learning", "forwarding", "blocking"][Number(sh(`cat /sys/class/net/${dev}/brport/state`).trim())];
      const timers = { "hello-time": 1, "forward-delay": 2, "max-message-age": 6 };
      try {
        sh(`ip link add ${lb} type bridge stp_state 1 forward_delay 200 hello_time 100 max_age 600 && ip link set ${lb} up`);
        for (const d of [l13b, l23b, h3.outer]) sh(`ip link set ${d} master ${lb}`);
        // The Linux bridge finds its direct link to the root expensive: it goes through lp2.
        sh(`bridge link set dev ${l13b} cost 100`);
        await ok("POST", "/bridge/lp1/", { type, "stp-enabled": true, stp: [{ vlan: 1, priority: 24576, ...timers }], ports: [{ name: "host", peer: h1.outer }, { name: "to2", peer: "lp2:to1" }, { name: "to3", peer: l13a }] });
        await ok("POST", "/bridge/lp2/", { type, "stp-enabled": true, stp: [{ vlan: 1, priority: 28672, ...timers }], ports: [{ name: "host", peer: h2.outer }, { name: "to1", peer: "lp1:to2" }, { name: "to3", peer: l23a }] });
        const cubeStates = async () => {
          const out: string[] = [];
          for (const c of ["lp1", "lp2"]) for (const p of ["host", "to2", "to1", "to3"]) {
            const r = await daemon.request("GET", `/bridge/${c}/ports/${p}/stp/1/state/`);
            if (r.status === 200) out.push(`${c}:${p}=${r.json()}`);
          }
          return out;
        };
        const settled = (states: string[]) => states.every((s) => /=(forwarding|blocking)$/.test(s));
        // The Linux bridge took the cubes' BPDUs: its expensive port blocks, everything else forwards.
        await until("the Linux bridge to block its port to lp1", async () => brport(l13b) === "blocking" && brport(l23b) === "forwarding" && settled(await cubeStates()), 25000);
        expect((await cubeStates()).filter((s) => !s.endsWith("=forwarding"))).toEqual([]);
        expect(topo.ping(h1, h3.ip, 2)).toBe(true);
        expect(topo.ping(h2, h3.ip, 2)).toBe(true);
        expect(topo.ping(h1, h2.ip, 2)).toBe(true);
        // Made cheap again, the Linux bridge offers a better path on the lp2 link: the cube's port blocks.
        sh(`bridge link set dev ${l13b} cost 2`);
        await until("lp2's port to the Linux bridge to block", async () => {
          const s = await cubeStates();
          return brport(l13b) === "forwarding" && settled(s) && s.filter((x) => x.endsWith("=blocking")).join() === "lp2:to3=blocking";
        }, 25000);
        expect(topo.ping(h2, h3.ip, 2)).toBe(true);
        expect(topo.ping(h1, h3.ip, 2)).toBe(true);
      } finally {
        await deleteCubes(["lp1", "lp2"]);
        sh(`ip link del ${lb}`, { allowFail: true });
      }
    }, 90000);
  }
});

describe("polycubectl", () => {
  test("the original's commands: active spanning-tree instances are set without being added", async () => {
    const [h1] = hosts as [Host];
    const cli = async (...words: string[]) => {
      const r = await daemon.cli(words);
      if (r.code !== 0) throw new Error(`polycubectl ${words.join(" ")}: ${r.out}${r.err}`);
      return r.out.trim();
    };
    try {
      await cli("bridge", "add", "brc", "stp-enabled=true");
      await cli("brc", "ports", "add", "p1", `peer=${h1.outer}`);
      await cli("brc", "ports", "add", "p2", "mode=trunk");
      await cli("brc", "ports", "p2", "trunk", "allowed", "add", "10");
      // VLAN 1 is active on every access port by default, VLAN 10 on the trunk.
      await cli("brc", "stp", "1", "set", "priority=28672");
      await cli("brc", "stp", "10", "set", "priority=1");
      await cli("brc", "ports", "p1", "stp", "1", "set", "port-priority=64");
      expect(await cli("brc", "stp", "1", "show", "priority")).toBe("28672");
      expect(await cli("brc", "ports", "p1", "stp", "1", "show", "port-priority")).toBe("64");
      expect(["listening", "learning", "forwarding"]).toContain(await cli("brc", "ports", "p1", "stp", "1", "show", "state"));
      expect(await cli("brc", "ports", "p2", "stp", "10", "show", "state")).toBe("disabled");
      const instances = (await rows<{ vlan: number; priority: number }>("/bridge/brc/stp/")).map((s) => [s.vlan, s.priority]);
      expect(instances).toEqual([[1, 28672], [10, 1]]);
      // An instance no port uses is not there to set.
      expect((await daemon.cli(["brc", "stp", "30", "set", "priority=1"])).code).not.toBe(0);
    } finally {
      await deleteCubes(["brc"]);
    }
  }, 30000);
});
