// The REST API of the real daemon with a real service (simplebridge): cube and nested-list
// CRUD, every class of bad input, the cube-name redirect, _links, and concurrent writers.
// Each refused write must leave the configuration and the datapath as they were.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Daemon } from "../lib/daemon.ts";
import { okRequester } from "../lib/datapath.ts";
import { Topology, type Host } from "../lib/netns.ts";

const topo = new Topology("trst");
const daemon = new Daemon();
let h1: Host;
let h2: Host;

async function raw(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const r = await fetch(`${daemon.url}${path}`, { method, body, headers: { "content-type": "application/json", ...headers }, redirect: "manual" });
  return { status: r.status, text: await r.text(), location: r.headers.get("location") };
}

const ok = okRequester(daemon);

/** The configuration part of a GET, for before/after comparisons. */
async function config(cube: string): Promise<unknown> {
  const c = await ok("GET", `/simplebridge/${cube}/`);
  return { ports: c.ports?.map((p: { name: string; peer: string }) => [p.name, p.peer]), fdb: c.fdb, loglevel: c.loglevel };
}

beforeAll(async () => {
  h1 = topo.host(1, "10.206.0.1/24");
  h2 = topo.host(2, "10.206.0.2/24");
  await daemon.start();
});

afterAll(async () => {
  await daemon.stop();
  topo.cleanup();
  daemon.cleanup();
});

describe("resources of a real service", () => {
  test("create, read, update and delete a cube and its nested lists", async () => {
    expect((await daemon.request("POST", "/simplebridge/rb/", { ports: [{ name: "p1", peer: h1.outer }] })).status).toBe(201);
    const cube = await ok("GET", "/simplebridge/rb/");
    expect(cube["service-name"]).toBe("simplebridge");
    expect(cube.type).toBe("TC");
    expect(cube.loglevel).toBe("INFO");
    expect(cube.fdb["aging-time"]).toBe(300);
    expect(cube.uuid).toMatch(/^[0-9a-f-]{36}$/);

    // A port by key, then a leaf of it.
    expect((await daemon.request("POST", "/simplebridge/rb/ports/p2/", { peer: h2.outer })).status).toBe(201);
    expect(await ok("GET", "/simplebridge/rb/ports/p2/peer/")).toBe(h2.outer);
    expect(topo.ping(h1, h2.ip, 2)).toBe(true);

    // Nested list entries: a static fdb entry, read back, changed, deleted.
    expect((await daemon.request("POST", "/simplebridge/rb/fdb/entry/02:00:00:00:00:0a/", { port: "p1" })).status).toBe(201);
    const entry = await ok("GET", "/simplebridge/rb/fdb/entry/02:00:00:00:00:0a/");
    expect(entry.port).toBe("p1");
    expect((await daemon.request("PATCH", "/simplebridge/rb/fdb/entry/02:00:00:00:00:0a/port/", "p2")).status).toBe(200);
    expect(await ok("GET", "/simplebridge/rb/fdb/entry/02:00:00:00:00:0a/port/")).toBe("p2");
    expect((await daemon.request("DELETE", "/simplebridge/rb/fdb/entry/02:00:00:00:00:0a/")).status).toBe(204);
    expect((await daemon.request("GET", "/simplebridge/rb/fdb/entry/02:00:00:00:00:0a/")).status).toBeGreaterThanOrEqual(400);

    // PATCH on the cube, and an action.
    expect((await daemon.request("PATCH", "/simplebridge/rb/", { loglevel: "debug", fdb: { "aging-time": 60 } })).status).toBe(200);
    expect(await ok("GET", "/simplebridge/rb/loglevel/")).toBe("DEBUG");
    expect(await ok("GET", "/simplebridge/rb/fdb/aging-time/")).toBe(60);
    const flushed = await daemon.request("POST", "/simplebridge/rb/fdb/flush/", {});
    expect(flushed.status).toBeLessThan(300);

    // Deleting a port takes its hook away; deleting the cube takes the cube away.
    expect((await daemon.request("DELETE", "/simplebridge/rb/ports/p2/")).status).toBe(204);
    expect(topo.ping(h1, h2.ip, 1)).toBe(false);
    expect((await daemon.request("DELETE", "/simplebridge/rb/")).status).toBeLessThan(300);
    expect((await daemon.request("GET", "/simplebridge/rb/")).status).toBe(404);
  });

  test("_links and the cube-name redirect", async () => {
    await ok("POST", "/simplebridge/lk/", {});
    try {
      const cube = await ok("GET", "/simplebridge/lk/");
      const rels = cube._links.map((l: { rel: string }) => l.rel);
      expect(rels[0]).toBe("self");
      expect(rels).toContain("ports");
      expect(rels).toContain("fdb");
      expect(cube._links[0].href).toBe(`//127.0.0.1:${daemon.port}/polycube/v1/simplebridge/lk/`);
      const r = await raw("GET", "/lk/fdb/aging-time/?x=1");
      expect(r.status).toBe(308);
      expect(r.location).toBe("/polycube/v1/simplebridge/lk/fdb/aging-time/?x=1");
      const notCube = await raw("GET", "/nosuchcube/");
      expect(notCube.status).toBe(404);
      expect(notCube.text).toContain("No cube found named nosuchcube");
    } finally {
      await ok("DELETE", "/simplebridge/lk/");
    }
  });
});

describe("bad input is refused, names the problem, and changes nothing", () => {
  beforeAll(async () => {
    await ok("POST", "/simplebridge/bi/", { ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }] });
  });
  afterAll(async () => {
    await ok("DELETE", "/simplebridge/bi/");
  });

  const cases: Array<[string, string, string, string | undefined, number, string]> = [
    ["malformed JSON", "PATCH", "/simplebridge/bi/", "{\"loglevel\": ", 400, "JSON"],
    ["unknown member", "PATCH", "/simplebridge/bi/", JSON.stringify({ colour: "red" }), 400, "colour"],
    ["wrong type", "PATCH", "/simplebridge/bi/fdb/", JSON.stringify({ "aging-time": "soon" }), 400, "aging-time"],
    ["out of range", "PATCH", "/simplebridge/bi/fdb/", JSON.stringify({ "aging-time": -1 }), 400, "aging-time"],
    ["bad enumeration", "PATCH", "/simplebridge/bi/", JSON.stringify({ loglevel: "LOUD" }), 400, "loglevel"],
    ["pattern", "POST", "/simplebridge/bi/fdb/entry/not-a-mac/", JSON.stringify({ port: "p1" }), 400, "address"],
    ["missing mandatory", "POST", "/simplebridge/bi/fdb/entry/02:00:00:00:00:0b/", JSON.stringify({}), 400, "port"],
    ["read-only member", "PATCH", "/simplebridge/bi/", JSON.stringify({ uuid: "x" }), 400, "uuid"],
    ["init-only member", "PATCH", "/simplebridge/bi/", JSON.stringify({ type: "XDP_SKB" }), 400, "type"],
    ["service refusal", "POST", "/simplebridge/bi/fdb/entry/02:00:00:00:00:0c/", JSON.stringify({ port: "nosuchport" }), 400, "nosuchport"],
    ["duplicate port", "POST", "/simplebridge/bi/ports/p1/", JSON.stringify({}), 409, "p1"],
    ["missing entry", "DELETE", "/simplebridge/bi/ports/p9/", undefined, 409, "p9"],
    ["unknown node", "GET", "/simplebridge/bi/nosuchnode/", undefined, 404, "nosuchnode"],
  ];
  for (const [what, method, path, body, status, mentions] of cases) {
    test(what, async () => {
      const before = await config("bi");
      const r = await raw(method, path, body);
      expect(r.status).toBe(status);
      expect(r.text).toContain(mentions);
      expect(await config("bi")).toEqual(before);
    });
  }

  test("unknown cube, unknown service, taken name", async () => {
    expect((await raw("GET", "/simplebridge/nope/")).status).toBe(404);
    expect((await raw("POST", "/nosuchservice/x/", "{}")).status).toBe(404);
    const dup = await raw("POST", "/simplebridge/bi/", "{}");
    expect(dup.status).toBe(409);
    const other = await raw("POST", "/router/bi/", "{}");
    expect(other.status).toBe(409);
  });

  test("the datapath still forwards after all the refusals", () => {
    expect(topo.ping(h1, h2.ip, 2)).toBe(true);
  });
});

describe("concurrent requests", () => {
  test("twenty cubes created at once all exist, with their ports", async () => {
    const names = Array.from({ length: 20 }, (_, i) => `cc${i}`);
    const replies = await Promise.all(names.map((n) => daemon.request("POST", `/simplebridge/${n}/`, { ports: [{ name: "a" }, { name: "b" }] })));
    expect(replies.map((r) => r.status)).toEqual(names.map(() => 201));
    const cubes = await ok("GET", "/cubes/");
    const listed = new Set((cubes.simplebridge as Array<{ name: string }>).map((c) => c.name));
    for (const n of names) expect(listed.has(n)).toBe(true);
    // Concurrent writers to one cube lose nothing.
    await Promise.all(names.map((n, i) => daemon.request("POST", `/simplebridge/cc0/fdb/entry/02:00:00:00:01:${i.toString(16).padStart(2, "0")}/`, { port: "a" })));
    const entries = (await ok("GET", "/simplebridge/cc0/fdb/entry/")) as unknown[];
    expect(entries.filter((e) => !Array.isArray(e)).length).toBe(20);
    const deleted = await Promise.all(names.map((n) => daemon.request("DELETE", `/simplebridge/${n}/`)));
    expect(deleted.every((r) => r.status < 300)).toBe(true);
    const after = await ok("GET", "/cubes/");
    expect(((after.simplebridge ?? []) as Array<{ name: string }>).filter((c) => names.includes(c.name))).toEqual([]);
  });
});
