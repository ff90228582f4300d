// --cubes-dump-enable: the topology (cubes, peers, cube-to-cube links) written after every
// change and replayed at the next start, so traffic flows again without the user doing anything.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Daemon } from "../lib/daemon.ts";
import { okRequester } from "../lib/datapath.ts";
import { Topology, type Host } from "../lib/netns.ts";

const topo = new Topology("tper");
const daemon = new Daemon();
const dump = join(daemon.dir, "cubes.yaml");
const opts = ["--cubes-dump-enable", "--cubes-dump-file", dump];
let h1: Host;
let h2: Host;

const ok = okRequester(daemon);

beforeAll(async () => {
  h1 = topo.host(1, "10.204.0.1/24");
  h2 = topo.host(2, "10.204.0.2/24");
  await daemon.start(opts);
});

afterAll(async () => {
  await daemon.stop();
  topo.cleanup();
  daemon.cleanup();
});

describe("cubes dump", () => {
  test("a restarted daemon restores cubes, settings and links, and forwards again", async () => {
    await ok("POST", "/simplebridge/pa/", { loglevel: "DEBUG", ports: [{ name: "h", peer: h1.outer }, { name: "x", peer: "pb:x" }] });
    await ok("POST", "/simplebridge/pb/", { ports: [{ name: "h", peer: h2.outer }, { name: "x", peer: "pa:x" }], fdb: { "aging-time": 77 } });
    expect(topo.ping(h1, h2.ip, 2)).toBe(true);
    await Bun.sleep(200); // writes are coalesced
    expect(existsSync(dump)).toBe(true);
    const saved = JSON.parse(readFileSync(dump, "utf8")) as Array<{ name: string; "service-name": string }>;
    expect(saved.map((c) => [c.name, c["service-name"]]).sort()).toEqual([["pa", "simplebridge"], ["pb", "simplebridge"]]);

    // With the topology kept, the datapath stays pinned and forwarding while no daemon runs
    // (test/e2e/restart.test.ts).
    expect(await daemon.stop()).toBe(0);
    expect(topo.ping(h1, h2.ip, 1)).toBe(true);
    await daemon.start(opts);

    expect(await ok("GET", "/simplebridge/pa/loglevel/")).toBe("DEBUG");
    expect(await ok("GET", "/simplebridge/pb/fdb/aging-time/")).toBe(77);
    expect(await ok("GET", "/simplebridge/pa/ports/x/status/")).toBe("UP");
    expect(topo.ping(h1, h2.ip, 3)).toBe(true);
  });

  test("deleting a cube removes it from the dump", async () => {
    await ok("DELETE", "/simplebridge/pa/");
    await Bun.sleep(200);
    const saved = JSON.parse(readFileSync(dump, "utf8")) as Array<{ name: string; ports: Array<{ name: string; peer?: string }> }>;
    expect(saved.map((c) => c.name)).toEqual(["pb"]);
    // pb:x still names pa:x (the original keeps a peer that points at a deleted cube).
    expect(saved[0]!.ports.find((p) => p.name === "x")?.peer).toBe("pa:x");
  });
});
