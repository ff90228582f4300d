// A restart that keeps forwarding (issue 16): with --cubes-dump-enable the datapath stays pinned
// in bpffs across SIGTERM and SIGKILL, and the next daemon adopts it: pings every 2 ms across a
// simplebridge and a router lose nothing, learned FDB and ARP entries are still listed, and the
// kernel holds exactly one daemon's objects afterwards. Without the option nothing is left.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Daemon } from "../lib/daemon.ts";
import { okRequester, pingThrough as pingThroughFrom } from "../lib/datapath.ts";
import { hooks } from "../lib/bpftool.ts";
import { sh, Topology, type Host } from "../lib/netns.ts";

const topo = new Topology("trst");
const daemon = new Daemon();
const dump = join(daemon.dir, "cubes.yaml");
const opts = ["--cubes-dump-enable", "--cubes-dump-file", dump];
const pinDir = `/sys/fs/bpf/polycube/${daemon.port}`;
const ok = okRequester(daemon);
let h1: Host;
let h2: Host;

beforeAll(async () => {
  h1 = topo.host(1, "10.241.1.1/24", { gw: "10.241.1.254" });
  h2 = topo.host(2, "10.241.2.1/24", { gw: "10.241.2.254" });
});

afterAll(async () => {
  await daemon.stop();
  topo.cleanup();
  daemon.cleanup();
  sh(`rm -rf ${pinDir}`, { allowFail: true });
});

/** h1 -> br -> r -> h2. The router's ports get random MACs: a restart must keep them. */
async function build(type = "TC"): Promise<void> {
  for (const h of [h1, h2]) sh(`ip -n ${h.ns} neigh flush all`); // a new router has new MACs
  await ok("POST", "/simplebridge/br/", { type, ports: [{ name: "h1", peer: h1.outer }, { name: "up", peer: "r:p1" }] });
  await ok("POST", "/router/r/", {
    type,
    ports: [
      { name: "p1", ip: "10.241.1.254/24", peer: "br:up" },
      { name: "p2", ip: "10.241.2.254/24", peer: h2.outer },
    ],
  });
  expect(topo.ping(h1, h2.ip, 3)).toBe(true);
}

/** pings every 2 ms from h1 to h2 while `during` runs. */
function pingThrough(during: () => Promise<void>): Promise<{ sent: number; received: number }> {
  return pingThroughFrom(h1.ns, h2.ip, during);
}

function mapId(path: string): number {
  return JSON.parse(sh(`bpftool -j map show pinned ${path}`)).id as number;
}

/** The programs that tail-call through this daemon's TC program array, and its occupied slots. */
function datapathObjects(flavour = "tc"): { programs: number; slots: number } {
  const id = mapId(`${pinDir}/pcn_nodes_${flavour}`);
  const progs = JSON.parse(sh("bpftool -j prog show")) as Array<{ map_ids?: number[] }>;
  const dumpOut = JSON.parse(sh(`bpftool -j map dump pinned ${pinDir}/pcn_nodes_${flavour}`)) as unknown[];
  return { programs: progs.filter((p) => p.map_ids?.includes(id)).length, slots: dumpOut.length };
}

async function learned(): Promise<{ fdb: string[]; arp: string[] }> {
  // (lists end with a "_links" entry)
  const fdb = ((await ok("GET", "/simplebridge/br/fdb/entry/")) ?? []).filter((e: { address?: string }) => e.address) as Array<{ address: string }>;
  const arp = ((await ok("GET", "/router/r/arp-table/")) ?? []).filter((e: { address?: string }) => e.address) as Array<{ address: string }>;
  return { fdb: fdb.map((e) => e.address.toLowerCase()).sort(), arp: arp.map((e) => e.address).sort() };
}

const losses: string[] = [];

/** Pings through a restart: none lost, learned entries still listed, the same kernel objects. */
async function restartKeepsForwarding(what: string, restart: () => Promise<void>, flavour = "tc"): Promise<void> {
  const before = await learned();
  const objects = datapathObjects(flavour);
  const r = await pingThrough(restart);
  losses.push(`${what}: ${r.sent - r.received} of ${r.sent}`);
  expect(r.sent).toBeGreaterThan(300);
  expect(r.sent - r.received).toBe(0);
  const after = await learned();
  expect(after.fdb).toEqual(expect.arrayContaining(before.fdb));
  expect(after.arp).toEqual(before.arp);
  // No duplicates left from the previous daemon: as many programs and slots as before, one per hook.
  expect(datapathObjects(flavour)).toEqual(objects);
  expect(hooks([h1.outer, h2.outer]).length).toBe(2);
}

describe("restart with --cubes-dump-enable", () => {
  test("SIGTERM then start: no ping lost, learned entries kept, one daemon's objects", async () => {
    await daemon.start(opts);
    await build();
    await Bun.sleep(200); // the dump is written
    const learnt = await learned();
    expect(learnt.fdb).toContain(h1.mac.toLowerCase());
    expect(learnt.arp).toEqual(["10.241.1.1", "10.241.2.1"]);
    await restartKeepsForwarding("SIGTERM", async () => {
      expect(await daemon.stop()).toBe(0);
      expect(existsSync(`${pinDir}/pcn_nodes_tc`)).toBe(true);
      await daemon.start(opts);
    });
    expect(daemon.log()).toContain("previous programs retired");
  }, 60000);

  test("SIGKILL then start: no ping lost, learned entries kept, one daemon's objects", async () => {
    await restartKeepsForwarding("SIGKILL", async () => {
      await daemon.kill();
      await daemon.start(opts);
    });
  }, 60000);

  test("XDP_SKB cubes: the XDP programs are replaced in place (SIGTERM, then SIGKILL)", async () => {
    await ok("DELETE", "/router/r/");
    await ok("DELETE", "/simplebridge/br/");
    // The clsact qdiscs the first daemon created go with the last filter, after two restarts too.
    for (const h of [h1, h2]) expect(sh(`tc qdisc show dev ${h.outer}`)).not.toContain("clsact");
    await build("XDP_SKB");
    await Bun.sleep(200);
    await restartKeepsForwarding("XDP SIGTERM", async () => {
      expect(await daemon.stop()).toBe(0);
      await daemon.start(opts);
    }, "xdp");
    await restartKeepsForwarding("XDP SIGKILL", async () => {
      await daemon.kill();
      await daemon.start(opts);
    }, "xdp");
    console.log(`restart losses: ${losses.join("; ")}`);
  }, 60000);
});

describe("a firewall across a restart", () => {
  test("its rules keep deciding through SIGTERM and SIGKILL, its sessions stay, and edits after the restart take effect", async () => {
    await ok("DELETE", "/router/r/");
    await ok("DELETE", "/simplebridge/br/");
    await build();
    await ok("POST", "/firewall/fwr/", {});
    await ok("POST", "/attach", { cube: "fwr", port: "r:p2" });
    // Pings from h1 pass; a rule drops those to h2 from a source h1 does not use.
    await ok("POST", "/firewall/fwr/chain/EGRESS/append/", { src: "10.241.1.99", l4proto: "ICMP", action: "DROP" });
    await ok("POST", "/firewall/fwr/chain/EGRESS/append/", { src: h1.ip, l4proto: "ICMP", action: "ACCEPT" });
    await ok("PATCH", "/firewall/fwr/chain/EGRESS/default/", "DROP");
    expect(topo.ping(h1, h2.ip, 2)).toBe(true);
    await Bun.sleep(200);
    for (const restart of [() => daemon.stop().then(() => undefined), () => daemon.kill()]) {
      const r = await pingThrough(async () => {
        await restart();
        await daemon.start(opts);
      });
      expect(r.sent - r.received).toBe(0);
      const sessions = ((await ok("GET", "/firewall/fwr/session-table/")) ?? []).filter((e: { src?: string }) => e.src);
      expect(sessions.map((e: { src: string; l4proto: string }) => `${e.src} ${e.l4proto}`)).toContain(`${h1.ip} ICMP`);
    }
    // Rules changed after the restart decide: with the ACCEPT rule gone, the default drops.
    const rules = ((await ok("GET", "/firewall/fwr/chain/EGRESS/rule/")) ?? []).filter((e: { id?: number }) => e.id !== undefined);
    expect(rules.map((e: { src: string }) => e.src)).toEqual(["10.241.1.99", h1.ip]);
    await ok("DELETE", "/firewall/fwr/chain/EGRESS/rule/1/");
    expect(topo.ping(h1, h2.ip, 1)).toBe(false);
    await ok("POST", "/firewall/fwr/chain/EGRESS/append/", { src: h1.ip, action: "ACCEPT" });
    expect(topo.ping(h1, h2.ip, 2)).toBe(true);
    await ok("DELETE", "/firewall/fwr/");
  }, 60000);
});

describe("without --cubes-dump-enable", () => {
  test("a killed daemon's orphans are removed by the next one; SIGTERM leaves nothing", async () => {
    await daemon.stop(); // with the option: everything stays pinned
    await daemon.start([]); // without: the previous datapath is removed first
    expect(hooks([h1.outer, h2.outer])).toEqual([]);
    expect(readdirSync(pinDir).flatMap((d) => (d === "cubes" || d === "hooks" ? readdirSync(join(pinDir, d)) : []))).toEqual([]);
    await build();
    await daemon.kill();
    await daemon.start([]);
    expect(hooks([h1.outer, h2.outer])).toEqual([]);
    expect(readdirSync(join(pinDir, "hooks"))).toEqual([]);
    expect(readdirSync(join(pinDir, "cubes"))).toEqual([]);
    expect(await daemon.stop()).toBe(0);
    expect(existsSync(pinDir)).toBe(false);
  }, 60000);
});
