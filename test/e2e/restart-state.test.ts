// Learned state across restarts (issue 16), beside restart.test.ts (simplebridge FDB, router ARP,
// firewall sessions): with --cubes-dump-enable, the 802.1Q bridge's learned FDB, the router's
// ARP table and the sessions of a nat masquerading on a router port carry over SIGTERM and
// SIGKILL restarts, pings every 2 ms through all three lose nothing (the replies reach h1 only
// through the nat's sessions: h2 has no route back), and bpffs and the hooks hold exactly the
// objects REST describes.
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Daemon } from "../lib/daemon.ts";
import { daemonAround, okRequester, pingThrough, listRows } from "../lib/datapath.ts";
import { hooks } from "../lib/bpftool.ts";
import { Topology, type Host } from "../lib/netns.ts";

const topo = new Topology("ops");
const daemon = new Daemon();
const opts = ["--cubes-dump-enable", "--cubes-dump-file", join(daemon.dir, "cubes.yaml")];
const pinDir = `/sys/fs/bpf/polycube/${daemon.port}`;
const ok = okRequester(daemon);
let h1: Host;
let h2: Host;

daemonAround(daemon, topo, () => {
  h1 = topo.host(1, "10.185.11.1/24", { gw: "10.185.11.254" });
  h2 = topo.host(2, "10.185.12.1/24"); // no route back to h1's network: only the nat's address answers
}, { args: opts });

/** Rows of a list reply (the last element is its links). */
const rows = <T>(path: string) => listRows<T>(ok, path);

type NatRow = { "internal-src": string; "internal-dst": string; proto: string; "external-ip": string; "external-port": number };

/** What each cube learned, as REST lists it. */
async function learned(): Promise<{ fdb: string[]; arp: string[]; nat: string[] }> {
  const fdb = await rows<{ mac: string; port: string; type: string }>("/bridge/opsbr/fdb/entry/");
  const arp = await rows<{ address: string; mac: string }>("/router/opsrt/arp-table/");
  const nat = await rows<NatRow>("/nat/opsnat/natting-table/");
  return {
    fdb: fdb.filter((e) => e.type === "dynamic").map((e) => `${e.mac} ${e.port}`).sort(),
    arp: arp.map((e) => `${e.address} ${e.mac}`).sort(),
    nat: nat.map((e) => `${e.proto} ${e["internal-src"]}>${e["internal-dst"]} as ${e["external-ip"]}:${e["external-port"]}`).sort(),
  };
}

/** The cubes whose maps are pinned, and the programs on the hosts' netdevs. */
function kernelObjects(): { pinned: string[]; hooks: string[] } {
  return { pinned: readdirSync(join(pinDir, "cubes")).sort(), hooks: hooks([h1.outer, h2.outer]).map((h) => h.devname).sort() };
}

test("bridge FDB, router ARP and nat sessions carry over SIGTERM and SIGKILL restarts, with no ping lost", async () => {
  await ok("POST", "/bridge/opsbr/", { ports: [{ name: "h1", peer: h1.outer }, { name: "up", peer: "opsrt:p1" }] });
  await ok("POST", "/router/opsrt/", {
    ports: [
      { name: "p1", ip: "10.185.11.254/24", peer: "opsbr:up" },
      { name: "p2", ip: "10.185.12.254/24", peer: h2.outer },
    ],
  });
  await ok("POST", "/nat/opsnat/", {});
  await ok("POST", "/attach", { cube: "opsnat", port: "opsrt:p2" });
  await ok("POST", "/nat/opsnat/rule/masquerade/enable/", {});
  expect(topo.ping(h1, h2.ip, 3)).toBe(true);
  await Bun.sleep(300); // the dump is written

  const before = await learned();
  expect(before.fdb.some((e) => e.startsWith(h1.mac.toLowerCase()))).toBe(true);
  expect(before.arp.map((e) => e.split(" ")[0])).toEqual(["10.185.11.1", "10.185.12.1"]);
  expect(before.nat.some((e) => e.startsWith(`ICMP ${h1.ip}>${h2.ip} as 10.185.12.254:`))).toBe(true);
  // bpffs holds the maps of exactly the cubes REST lists; one hook per host netdev.
  const cubes = Object.values((await ok("GET", "/cubes/")) as Record<string, Array<{ name: string }>>).flat().map((c) => c.name).sort();
  expect(cubes).toEqual(["opsbr", "opsnat", "opsrt"]);
  const objects = kernelObjects();
  expect(objects).toEqual({ pinned: cubes, hooks: [h1.outer, h2.outer] });

  const restarts: Array<[string, () => Promise<unknown>]> = [["SIGTERM", () => daemon.stop()], ["SIGKILL", () => daemon.kill()]];
  for (const [how, stop] of restarts) {
    let during = before;
    const r = await pingThrough(h1.ns, h2.ip, async () => {
      during = await learned(); // with the sessions of these pings
      await stop();
      await daemon.start(opts);
    });
    expect({ how, sent: r.sent > 300, lost: r.sent - r.received }).toEqual({ how, sent: true, lost: 0 });
    const after = await learned();
    expect(after.fdb).toEqual(expect.arrayContaining(during.fdb));
    expect(after.arp).toEqual(before.arp);
    // Every session is still there, with the same translation.
    expect(after.nat).toEqual(expect.arrayContaining(during.nat));
    expect(kernelObjects()).toEqual(objects);
  }
  // And the restored cubes take changes: masquerade off, h2 no longer answers.
  await ok("POST", "/nat/opsnat/rule/masquerade/disable/", {});
  await ok("DELETE", "/nat/opsnat/natting-table/");
  expect(topo.ping(h1, h2.ip, 1)).toBe(false);
  for (const c of ["opsnat", "opsrt", "opsbr"]) await ok("DELETE", `/${c === "opsnat" ? "nat" : c === "opsrt" ? "router" : "bridge"}/${c}/`);
  expect(hooks([h1.outer, h2.outer])).toEqual([]);
}, 90000);
