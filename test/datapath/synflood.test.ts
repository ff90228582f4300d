// synflood through the real daemon, in TC and XDP_SKB: a cube attached to a host's link lets
// traffic through both ways, and its stats are the host's counters (/proc/net/snmp of the
// daemon's namespace, the root one here), read afresh on every request: connections refused by
// the root namespace raise tcpoutrsts, connections it makes that are refused raise
// tcpattemptfails, and lastupdate is the time of the read.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { Daemon } from "../lib/daemon.ts";
import { daemonAround, hooksOn, okRequester } from "../lib/datapath.ts";
import { Topology, sh, type Host } from "../lib/netns.ts";
import { readSnmp } from "../../src/services/synflood/stats.ts";

const topo = new Topology("tsy");
const daemon = new Daemon();
const ok = okRequester(daemon);
const ROOT = "10.248.0.254";
let h1: Host;

async function cli(words: string[]): Promise<string> {
  const r = await daemon.cli(words);
  if (r.code !== 0) throw new Error(`polycubectl ${words.join(" ")}: ${r.err}`);
  return r.out;
}

/** A TCP connection attempt from a host to a closed port: the other side answers with a RST. */
function refusedFrom(h: Host, to: string): void {
  spawnSync(["ip", "netns", "exec", h.ns, "/usr/bin/python3", "-c",
    `import socket\ntry: socket.create_connection(("${to}",1),timeout=1)\nexcept Exception: pass`]);
}

async function refusedFromRoot(to: string): Promise<void> {
  await Bun.connect({ hostname: to, port: 1, socket: { data() {} } }).then((s) => s.end(), () => {});
}

daemonAround(daemon, topo, () => {
  h1 = topo.host(1, "10.248.0.1/24");
  sh(`ip addr add ${ROOT}/24 dev ${h1.outer}`);
});

for (const type of ["TC", "XDP_SKB"]) {
  describe(`synflood in ${type}`, () => {
    const sf = type === "TC" ? "syt" : "syx";

    test("transparent on a link; stats are the host's counters, refreshed on every read", async () => {
      await cli(["synflood", "add", sf, `type=${type}`]);
      try {
        await cli(["attach", sf, h1.outer]);
        expect(hooksOn([h1.outer]).length).toBeGreaterThan(0);
        expect(topo.ping(h1, ROOT, 2)).toBe(true);

        const t0 = Date.now();
        const before = readSnmp();
        const s1 = await ok("GET", `/synflood/${sf}/stats/`);
        const after = readSnmp();
        const t1 = Date.now();
        expect(Object.keys(s1).filter((k) => k !== "_links").sort()).toEqual(["deliverratio", "lastupdate", "responseratio", "tcpattemptfails", "tcpoutrsts"]);
        for (const [leaf, counter] of [["tcpoutrsts", "Tcp.OutRsts"], ["tcpattemptfails", "Tcp.AttemptFails"]] as const) {
          expect(typeof s1[leaf]).toBe("string");
          expect(Number(s1[leaf])).toBeGreaterThanOrEqual(before.get(counter)!);
          expect(Number(s1[leaf])).toBeLessThanOrEqual(after.get(counter)!);
        }
        const ratio = (n: number, d: number) => Math.trunc((n / (d + 1)) * 1000);
        expect(Number(s1.deliverratio)).toBeGreaterThanOrEqual(ratio(before.get("Ip.InDelivers")!, after.get("Ip.InReceives")!) - 1);
        expect(Number(s1.deliverratio)).toBeLessThanOrEqual(ratio(after.get("Ip.InDelivers")!, before.get("Ip.InReceives")!) + 1);
        expect(Number(s1.responseratio)).toBeGreaterThan(0);
        expect(s1.lastupdate).toBeGreaterThanOrEqual(t0);
        expect(s1.lastupdate).toBeLessThanOrEqual(t1);

        // RSTs through the cube: the root namespace refuses h1, and h1 refuses the root.
        for (let i = 0; i < 3; i++) refusedFrom(h1, ROOT);
        for (let i = 0; i < 3; i++) await refusedFromRoot(h1.ip);
        await Bun.sleep(50);
        const s2 = await ok("GET", `/synflood/${sf}/stats/`);
        expect(Number(s2.tcpoutrsts)).toBeGreaterThanOrEqual(Number(s1.tcpoutrsts) + 3);
        expect(Number(s2.tcpattemptfails)).toBeGreaterThanOrEqual(Number(s1.tcpattemptfails) + 3);
        expect(s2.lastupdate).toBeGreaterThan(s1.lastupdate);

        // One leaf, and the CLI's view.
        const one = await ok("GET", `/synflood/${sf}/stats/tcpoutrsts/`);
        expect(Number(one)).toBeGreaterThanOrEqual(Number(s2.tcpoutrsts));
        const shown = await cli([sf, "stats", "show"]);
        expect(shown).toContain("tcpattemptfails");
        expect(shown).toContain("lastupdate");
        // Read-only: writes are refused.
        const w = await daemon.request("PATCH", `/synflood/${sf}/stats/`, { tcpoutrsts: "0" });
        expect(w.status).toBeGreaterThanOrEqual(400);
        expect(w.status).toBeLessThan(500);

        await cli(["detach", sf, h1.outer]);
        expect(topo.ping(h1, ROOT, 1)).toBe(true);
      } finally {
        await cli(["synflood", "del", sf]);
      }
      expect(hooksOn([h1.outer])).toEqual([]);
    });
  });
}
