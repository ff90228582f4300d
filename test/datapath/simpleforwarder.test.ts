// simpleforwarder through the real daemon, in TC and XDP_SKB: three hosts on three ports, an
// action per input port. FORWARD carries pings to the named port, DROP and ports without an
// action stop them, SLOWPATH hands them to the control plane (which logs them, as the
// original); the original's CLI sequence (an entry switched to FORWARD before its outport is
// set); bad entries refused with nothing changed; a deleted port's entries not blocking others.
import { describe, expect, test } from "bun:test";
import { Daemon } from "../lib/daemon.ts";
import { daemonAround, hooksOn, logSince, okRequester } from "../lib/datapath.ts";
import { Topology, sh, type Host } from "../lib/netns.ts";

const topo = new Topology("tsf");
const daemon = new Daemon();
const ok = okRequester(daemon);
let h1: Host;
let h2: Host;
let h3: Host;

/** The actions list, without the trailing ["_links", ...] element the original appends. */
async function actions(sf: string): Promise<unknown[]> {
  return ((await ok("GET", `/simpleforwarder/${sf}/actions/`)) as unknown[]).filter((e) => !Array.isArray(e));
}

/**
 * Pings from a fresh start: a host whose address resolution just failed keeps its neighbour
 * entry INCOMPLETE, then FAILED, for seconds without sending a new ARP request, whatever the
 * forwarder does meanwhile.
 */
function ping(from: Host, to: string, count: number): boolean {
  for (const h of [h1, h2, h3]) sh(`ip -n ${h.ns} neigh flush all`);
  return topo.ping(from, to, count);
}

async function cli(words: string[]): Promise<void> {
  const r = await daemon.cli(words);
  if (r.code !== 0) throw new Error(`polycubectl ${words.join(" ")}: ${r.err}`);
}

daemonAround(daemon, topo, () => {
  h1 = topo.host(1, "10.217.0.1/24");
  h2 = topo.host(2, "10.217.0.2/24");
  h3 = topo.host(3, "10.217.0.3/24");
});

for (const type of ["TC", "XDP_SKB"]) {
  describe(`simpleforwarder in ${type}`, () => {
    const sf = type === "TC" ? "sft" : "sfx";

    test("FORWARD, DROP, SLOWPATH and no action, proved by pings", async () => {
      await ok("POST", `/simpleforwarder/${sf}/`, { type, loglevel: "DEBUG", ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }, { name: "p3", peer: h3.outer }] });
      try {
        expect(hooksOn([h1.outer, h2.outer, h3.outer]).length).toBe(3);
        // No action on any port: everything drops.
        expect(ping(h1, h2.ip, 1)).toBe(false);

        // Upstream's test3, word for word but for the names.
        await cli([sf, "actions", "add", "p1", "action=DROP"]);
        await cli([sf, "actions", "add", "p2", "action=DROP"]);
        await cli([sf, "actions", "p1", "set", "action=FORWARD"]);
        expect(ping(h1, h2.ip, 1)).toBe(false);
        await cli([sf, "actions", "p1", "set", "outport=p2"]);
        await cli([sf, "actions", "p2", "set", "action=FORWARD", "outport=p1"]);
        expect(ping(h1, h2.ip, 3)).toBe(true);
        expect(await actions(sf)).toEqual([
          { inport: "p1", action: "FORWARD", outport: "p2" },
          { inport: "p2", action: "FORWARD", outport: "p1" },
        ]);
        // p3 has no action: h3 reaches nobody.
        expect(ping(h3, h1.ip, 1)).toBe(false);

        // DROP on p2 stops h2's replies.
        await ok("PATCH", `/simpleforwarder/${sf}/actions/p2/action/`, "DROP");
        expect(ping(h1, h2.ip, 2)).toBe(false);

        // SLOWPATH on p2: the control plane gets h2's replies, logs them and sends nothing on.
        await ok("PATCH", `/simpleforwarder/${sf}/actions/p2/`, { action: "SLOWPATH" });
        const mark = daemon.log().length;
        expect(ping(h1, h2.ip, 2)).toBe(false);
        const log = await logSince(daemon, mark);
        expect(log).toMatch(new RegExp(`\\[Simpleforwarder\\] \\[${sf}\\] \\[info\\] Packet received from port p2$`, "m"));
        expect(log).toContain(`[${sf}] [debug] Sending packet to slowpath.`);

        await ok("PATCH", `/simpleforwarder/${sf}/actions/p2/action/`, "FORWARD");
        expect(ping(h1, h2.ip, 2)).toBe(true);

        // FORWARD to another port: h1 now reaches h3, and no longer h2.
        await ok("PATCH", `/simpleforwarder/${sf}/actions/p1/outport/`, "p3");
        await ok("POST", `/simpleforwarder/${sf}/actions/p3/`, { action: "FORWARD", outport: "p1" });
        expect(ping(h1, h3.ip, 3)).toBe(true);
        expect(ping(h1, h2.ip, 1)).toBe(false);

        // Deleting an action drops that port's packets again.
        await ok("DELETE", `/simpleforwarder/${sf}/actions/p1/`);
        expect(ping(h1, h3.ip, 1)).toBe(false);
      } finally {
        await ok("DELETE", `/simpleforwarder/${sf}/`);
      }
      expect(hooksOn([h1.outer, h2.outer, h3.outer])).toEqual([]);
      expect(ping(h1, h2.ip, 1)).toBe(false);
    });

    test("bad entries are refused with nothing changed; a deleted port's entries do not block others", async () => {
      await ok("POST", `/simpleforwarder/${sf}/`, {
        type,
        ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }, { name: "p3" }],
        actions: [{ inport: "p1", action: "FORWARD", outport: "p2" }, { inport: "p2", action: "FORWARD", outport: "p1" }],
      });
      try {
        expect(ping(h1, h2.ip, 2)).toBe(true);
        const before = await actions(sf);
        const refused = async (method: string, path: string, body: unknown, field: string) => {
          const r = await daemon.request(method, `/simpleforwarder/${sf}/${path}`, body);
          expect(r.status).toBeGreaterThanOrEqual(400);
          expect(r.status).toBeLessThan(500);
          expect(r.text).toContain(field);
        };
        await refused("POST", "actions/p3/", { action: "FORWARD" }, "needs an outport");
        await refused("POST", "actions/p3/", { action: "FORWARD", outport: "nosuch" }, "outport 'nosuch'");
        await refused("POST", "actions/nosuch/", { action: "DROP" }, "inport 'nosuch'");
        await refused("PATCH", "actions/p1/", { outport: "nosuch" }, "outport 'nosuch'");
        await refused("PATCH", "actions/p1/action/", "EXPLODE", "action");
        const r = await daemon.cli([sf, "actions", "add", "p3", "action=FORWARD"]);
        expect(r.code).not.toBe(0);
        expect(r.err).toContain("needs an outport");
        expect(await actions(sf)).toEqual(before);
        expect(ping(h1, h2.ip, 2)).toBe(true);

        // p3 carries an action and is the outport of another; deleting it is allowed...
        await ok("POST", `/simpleforwarder/${sf}/actions/p3/`, { action: "DROP" });
        await ok("PATCH", `/simpleforwarder/${sf}/actions/p2/outport/`, "p3");
        await ok("DELETE", `/simpleforwarder/${sf}/ports/p3/`);
        // ...its entries stay but have no effect, and other entries can still change.
        await ok("PATCH", `/simpleforwarder/${sf}/actions/p1/action/`, "DROP");
        await ok("PATCH", `/simpleforwarder/${sf}/actions/p1/action/`, "FORWARD");
        expect(ping(h1, h2.ip, 1)).toBe(false);
        await ok("PATCH", `/simpleforwarder/${sf}/actions/p2/outport/`, "p1");
        expect(ping(h1, h2.ip, 2)).toBe(true);
      } finally {
        await ok("DELETE", `/simpleforwarder/${sf}/`);
      }
      expect(hooksOn([h1.outer, h2.outer])).toEqual([]);
    });
  });
}
