// Random requests against the real daemon: whatever arrives, the daemon answers every request
// with a 2xx or a 4xx (never a 5xx: nothing here is a service failure), keeps running, and the
// cubes that existed before still forward packets. The generator is seeded: a failure
// reproduces; FUZZ_DEBUG=1 prints every exchange.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Daemon } from "../lib/daemon.ts";
import { okRequester } from "../lib/datapath.ts";
import { Topology, type Host } from "../lib/netns.ts";

const topo = new Topology("tfz");
const daemon = new Daemon();
const ok = okRequester(daemon);
let h1: Host;
let h2: Host;

/** mulberry32: small, seedable, good enough to pick requests. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.FUZZ_SEED ?? 20261124);
const COUNT = Number(process.env.FUZZ_COUNT ?? 600);
const services = ["simplebridge", "helloworld", "router", "bridge", "transparenthelloworld", "nosuch"];
/** Paths inside cubes, per service: real nodes mostly, so requests get past routing. */
const inside: Record<string, string[]> = {
  simplebridge: ["ports", "ports/p0", "ports/p0/peer", "fdb", "fdb/entry", "fdb/entry/02:00:00:00:00:01", "fdb/aging-time", "fdb/flush", "loglevel", "span"],
  helloworld: ["action", "ports", "ports/p1", "ports/p1/peer", "loglevel"],
  router: ["ports", "ports/p0", "ports/p0/ip", "ports/p0/secondaryip", "route", "arp-entry", "arp-entry/10.0.0.9"],
  bridge: ["ports", "ports/p0", "ports/p0/mode", "fdb", "fdb/entry", "stp", "mac"],
  transparenthelloworld: ["ingress-action", "egress-action", "loglevel", "parent"],
  nosuch: ["x"],
};
const words = ["ports", "p1", "p2", "fdb", "entry", "aging-time", "flush", "peer", "loglevel", "type", "action", "route",
  "arp-entry", "mac", "ip", "vlan", "stp", "x", "..", "%2F", "02:00:00:00:00:01", "10.0.0.0/24", "", "ingress-action"];
const values: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 40, "", "x", "TC", "XDP_SKB", "DROP", "forward", "debug",
  "02:00:00:00:00:01", "10.1.1.1/24", "p1", "fz0:p1", [], [1, "a"], {}, { name: "p9" }, "\u0000", "é".repeat(300)];

function pick<T>(r: () => number, xs: T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function body(r: () => number, depth = 0): unknown {
  if (depth > 2 || r() < 0.4) return pick(r, values);
  if (r() < 0.3) return Array.from({ length: Math.floor(r() * 3) }, () => body(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 4); i > 0; i--) o[pick(r, words)] = body(r, depth + 1);
  return o;
}

/** A body that could create a cube: base leaves, ports with peers, a few service leaves. */
function cubeBody(r: () => number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (r() < 0.5) o.type = pick(r, ["TC", "XDP_SKB", "xdp_skb", "XDP_DRV", "BAD"]);
  if (r() < 0.5) o.loglevel = pick(r, ["DEBUG", "info", "TRACE", "LOUD"]);
  if (r() < 0.7)
    o.ports = Array.from({ length: Math.floor(r() * 4) }, (_, i) => ({
      name: r() < 0.9 ? `p${i}` : pick(r, values),
      ...(r() < 0.5 ? { peer: pick(r, ["", "fz0:p0", "fz1:p1", "keep:p1", h1.outer, "nosuchdev", "lo"]) } : {}),
      ...(r() < 0.3 ? { ip: pick(r, ["10.0.0.1/24", "300.1.1.1/24", "x"]) } : {}),
    }));
  if (r() < 0.3) o.action = pick(r, ["FORWARD", "drop", "nope"]);
  if (r() < 0.3) o.fdb = { "aging-time": pick(r, [1, 300, -5, "x"]) };
  return o;
}

beforeAll(async () => {
  h1 = topo.host(1, "10.207.0.1/24");
  h2 = topo.host(2, "10.207.0.2/24");
  await daemon.start();
  await ok("POST", "/simplebridge/keep/", { ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }] });
});

afterAll(async () => {
  await daemon.stop();
  topo.cleanup();
  daemon.cleanup();
});

describe("random requests", () => {
  test(`${COUNT} requests (seed ${SEED}) get 2xx/3xx/4xx answers and break nothing`, async () => {
    const r = rng(SEED);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (let i = 0; i < COUNT; i++) {
      const method = pick(r, ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
      const cube = r() < 0.1 ? "keep" : `fz${Math.floor(r() * 8)}`;
      const service = cube === "keep" ? "simplebridge" : pick(r, services);
      // A third of the requests address a cube itself (creating, replacing, deleting it), the
      // rest go deeper into it: real nodes mostly, random words sometimes.
      const depth = r() < 0.33 ? 0 : 1;
      const below = depth === 0 ? [] : r() < 0.8 ? [pick(r, inside[service]!)] : Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(r, words));
      const path = [service, cube, ...below].join("/");
      const raw = r() < 0.1 ? "{\"unterminated\": [" : JSON.stringify(depth === 0 && r() < 0.5 ? cubeBody(r) : body(r));
      // Never delete or rewrite the cube the traffic check below relies on.
      if (cube === "keep" && method !== "GET" && method !== "OPTIONS") continue;
      const res = await fetch(`${daemon.url}/${path}/`, { method, body: method === "GET" ? undefined : raw, headers: { "content-type": "application/json" }, redirect: "manual" });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (process.env.FUZZ_DEBUG) console.log(res.status, method, path, raw.slice(0, 150), text.slice(0, 150));
      if (res.status >= 500) failures.push(`#${i} ${method} /${path}/ ${raw.slice(0, 80)} -> ${res.status} ${text.slice(0, 200)}`);
    }
    // The mix must reach past routing: cubes get created and requests succeed.
    expect(statuses.get(201) ?? 0).toBeGreaterThan(2);
    expect((statuses.get(200) ?? 0) + (statuses.get(204) ?? 0)).toBeGreaterThan(30);
    expect(failures).toEqual([]);
    // Nothing escaped a handler.
    expect(daemon.log()).not.toMatch(/\[polycubed\] \[error\] (uncaught|unhandled rejection)/);
    expect((await daemon.request("GET", "/version")).status).toBe(200);
    expect(await ok("GET", "/simplebridge/keep/ports/p1/status/")).toBe("UP");
    expect(topo.ping(h1, h2.ip, 2)).toBe(true);
  });
});
