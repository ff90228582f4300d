// The REST layer served by a real Bun HTTP server on a random localhost port, in front of the
// in-memory test double of the daemon core (memory-core.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { createRestApp } from "../../src/lib/rest/index.ts";
import { linkHostPort } from "../../src/lib/rest/links.ts";
import { MemoryCore } from "./memory-core.ts";

const MODEL = readFileSync(join(import.meta.dir, "..", "yang", "models", "tyr-rest.yang"), "utf8");
const TRANSPARENT = `module tyrtrans {
  yang-version 1.1;
  namespace "http://polycube.network/tyrtrans";
  prefix "tyrtrans";
  import polycube-base { prefix "polycube-base"; }
  import polycube-transparent-base { prefix "polycube-transparent-base"; }
  description "Transparent test service";
  polycube-base:service-description "Transparent test service";
  polycube-base:service-version "1.0";
  uses "polycube-transparent-base:transparent-base-yang-module";
  leaf ingress-action { type enumeration { enum DROP; enum PASS; } default PASS; }
}`;

let server: ReturnType<typeof Bun.serve>;
let core: MemoryCore;
let base: string;
let hostPort: string;

beforeAll(() => {
  core = new MemoryCore();
  core.addModel("tyrrest", MODEL);
  core.addModel("tyrtrans", TRANSPARENT, "transparent");
  let app: ReturnType<typeof createRestApp> | undefined;
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (r) => app!.fetch(r) });
  app = createRestApp(core, { host: "127.0.0.1", port: server.port! });
  hostPort = `127.0.0.1:${server.port}`;
  base = `http://${hostPort}/polycube/v1`;
});
afterAll(() => server.stop(true));

interface Reply {
  status: number;
  text: string;
  json: any;
  headers: Headers;
}

/** A body sent as written, not JSON-encoded (for malformed JSON). */
class Raw {
  constructor(readonly text: string) {}
}

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, redirect: RequestRedirect = "follow"): Promise<Reply> {
  const init: RequestInit = { method, headers, redirect };
  if (body !== undefined) init.body = body instanceof Raw ? body.text : JSON.stringify(body);
  const r = await fetch(`${base}${path}`, init);
  const text = await r.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, text, json, headers: r.headers };
}

/** fetch() refuses a body on GET; the original answers such a request 405. */
function getWithBody(path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, path: `/polycube/v1${path}`, method: "GET", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function restconf(r: Reply): Array<{ tag: string; info?: string }> {
  return (r.json?.["ietf-restconf:errors"]?.error ?? []).map((e: any) => ({ tag: e["error-tag"], info: e["error-info"] }));
}

describe("cubes", () => {
  test("hrefs name the bound address as the original does: localhost is 127.0.0.1", () => {
    expect(linkHostPort("localhost", 9000)).toBe("127.0.0.1:9000");
    expect(linkHostPort("10.1.2.3", 9000)).toBe("10.1.2.3:9000");
    expect(linkHostPort("::1", 9000)).toBe("[::1]:9000");
  });

  test("create with defaults, read back with _links in the original's order", async () => {
    expect((await call("POST", "/tyrrest/c1/", { action: "forward" })).status).toBe(201);
    const r = await call("GET", "/tyrrest/c1/");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("application/yang.data+json");
    expect(r.json).toMatchObject({
      name: "c1", "service-name": "tyrrest", type: "TC", loglevel: "INFO", shadow: false, span: false,
      action: "FORWARD", fdb: { "aging-time": 300 }, counter: 7,
    });
    expect(r.json.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.json._links.map((l: any) => l.rel)).toEqual([
      "self", "uuid", "type", "service-name", "loglevel", "ports", "shadow", "span", "action", "counter", "fdb", "chain", "udp-port", "tcp-port",
    ]);
    expect(r.json._links[0].href).toBe(`//${hostPort}/polycube/v1/tyrrest/c1/`);
    expect(r.json._links[1].href).toBe(`//${hostPort}/polycube/v1/tyrrest/c1/uuid/`);
  });

  test("a taken name is data-exists, in any service", async () => {
    const r = await call("POST", "/tyrrest/c1/", {});
    expect(r.status).toBe(409);
    expect(restconf(r)).toEqual([{ tag: "data-exists", info: "c1" }]);
    expect((await call("POST", "/tyrtrans/c1/", {})).status).toBe(409);
  });

  test("PUT on a cube creates, as in the original", async () => {
    expect((await call("PUT", "/tyrtrans/t1/", { "ingress-action": "drop" })).status).toBe(201);
    const r = await call("GET", "/tyrtrans/t1/");
    expect(r.json).toMatchObject({ name: "t1", "ingress-action": "DROP", parent: "" });
  });

  test("bad bodies are refused naming the field, and nothing is created", async () => {
    const cases: Array<[unknown, string, string]> = [
      [{ bogus: 1 }, "invalid-value", "bogus"],
      [{ uuid: "6f1c2a9e-0b7d-4c1e-9a3b-2d4e5f6a7b8c" }, "invalid-value", "uuid"],
      [{ action: 3 }, "bad-attribute", "action"],
      [{ action: "JUMP" }, "bad-attribute", "action"],
      [{ fdb: { "aging-time": 0 } }, "bad-attribute", "fdb.aging-time"],
      [{ fdb: { "aging-time": -5 } }, "bad-attribute", "fdb.aging-time"],
      [{ ports: [{ name: "p1", ip: "10.0.0.1" }] }, "bad-attribute", "ports[p1].ip"],
      [{ ports: [{ ip: "10.0.0.1/24" }] }, "missing-attribute", "ports[0].name"],
      [{ "service-name": "other" }, "invalid-value", "service-name"],
      [{ name: "other" }, "invalid-value", "name"],
      [{ "udp-port": 1, "tcp-port": 2 }, "invalid-value", "transport"],
    ];
    for (const [body, tag, info] of cases) {
      const r = await call("POST", "/tyrrest/bad/", body);
      expect({ body, status: r.status, errors: restconf(r) }).toEqual({ body, status: 400, errors: [{ tag, info }] });
    }
    expect(core.cubeService("bad")).toBeUndefined();
  });

  test("malformed JSON is a 400 naming the problem", async () => {
    const r = await call("POST", "/tyrrest/bad/", new Raw("{ not json"));
    expect(r.status).toBe(400);
    expect(r.text).toContain("Malformed JSON");
    const s = await call("PATCH", "/tyrrest/c1/ports/p1/peer", new Raw("'veth"));
    expect(s.status).toBe(400);
  });

  test("PATCH merges; init-only and read-only members are refused", async () => {
    expect((await call("PATCH", "/tyrrest/c1/", { loglevel: "debug", span: true })).status).toBe(200);
    const r = await call("GET", "/tyrrest/c1/");
    expect(r.json).toMatchObject({ loglevel: "DEBUG", span: true, action: "FORWARD" });
    const t = await call("PATCH", "/tyrrest/c1/", { type: "XDP_SKB" });
    expect([t.status, restconf(t)]).toEqual([400, [{ tag: "invalid-value", info: "type" }]]);
    const s = await call("PATCH", "/tyrrest/c1/", { shadow: true });
    expect(restconf(s)).toEqual([{ tag: "invalid-value", info: "shadow" }]);
    const l = await call("PATCH", "/tyrrest/c1/type", "XDP_DRV");
    expect(restconf(l)).toEqual([{ tag: "invalid-value", info: "type" }]);
    expect((await call("GET", "/tyrrest/c1/type")).json).toBe("TC");
  });

  test("service collection: list, create and update by body name", async () => {
    expect((await call("POST", "/tyrrest/", { name: "c2", loglevel: "WARN" })).status).toBe(201);
    expect((await call("PATCH", "/tyrrest/", { name: "c2", loglevel: "ERR" })).status).toBe(200);
    const m = await call("POST", "/tyrrest/", { loglevel: "WARN" });
    expect([m.status, restconf(m)]).toEqual([400, [{ tag: "missing-attribute", info: "name" }]]);
    const r = await call("GET", "/tyrrest/");
    expect(r.status).toBe(200);
    const cubes = r.json.filter((x: any) => !Array.isArray(x));
    expect(cubes.map((c: any) => [c.name, c.loglevel])).toEqual([["c1", "DEBUG"], ["c2", "ERR"]]);
    expect(r.json.at(-1)[0]).toBe("_links");
    expect(await getWithBody("/tyrrest/", "{}")).toBe(405);
  });

  test("delete: 200, then data-missing", async () => {
    expect((await call("DELETE", "/tyrrest/c2/")).status).toBe(200);
    const r = await call("DELETE", "/tyrrest/c2/");
    expect([r.status, restconf(r)]).toEqual([409, [{ tag: "data-missing", info: "c2" }]]);
    expect((await call("GET", "/tyrrest/c2/")).status).toBe(404);
    expect((await call("PATCH", "/tyrrest/c2/", { loglevel: "INFO" })).status).toBe(409);
  });
});

describe("sub-resources", () => {
  test("list entries: create, read, duplicate, bad value, no partial state", async () => {
    expect((await call("POST", "/tyrrest/c1/ports/p1/", { ip: "10.0.0.1/24" })).status).toBe(201);
    const r = await call("GET", "/tyrrest/c1/ports/p1/");
    expect(r.json).toMatchObject({ name: "p1", ip: "10.0.0.1/24", status: "DOWN" });
    expect(r.json._links.map((l: any) => l.rel)).toEqual(["self", "uuid", "status", "peer", "tcubes", "ip", "secondaryip"]);
    const d = await call("POST", "/tyrrest/c1/ports/p1/", {});
    expect([d.status, restconf(d)]).toEqual([409, [{ tag: "data-exists", info: "ports[p1]" }]]);
    const b = await call("POST", "/tyrrest/c1/ports/p2/", { ip: "300.0.0.1/24" });
    expect([b.status, restconf(b)]).toEqual([400, [{ tag: "bad-attribute", info: "ports[p2].ip" }]]);
    const k = await call("POST", "/tyrrest/c1/ports/p2/", { name: "p3" });
    expect(restconf(k)).toEqual([{ tag: "invalid-value", info: "ports[p2].name" }]);
    expect(core.cubeConfig("c1")!.ports).toEqual([{ name: "p1", ip: "10.0.0.1/24" }]);
  });

  test("leaf PATCH with a bare JSON scalar, leaf GET", async () => {
    expect((await call("PATCH", "/tyrrest/c1/ports/p1/peer/", "tyrveth0")).status).toBe(200);
    expect((await call("GET", "/tyrrest/c1/ports/p1/peer/")).json).toBe("tyrveth0");
    expect((await call("GET", "/tyrrest/c1/ports/p1/status/")).json).toBe("UP");
    expect((await call("PATCH", "/tyrrest/c1/action", "drop")).status).toBe(200);
    expect((await call("GET", "/tyrrest/c1/action")).json).toBe("DROP");
    const ro = await call("PATCH", "/tyrrest/c1/counter", 5);
    expect([ro.status, restconf(ro)[0]?.tag]).toEqual([405, "operation-not-supported"]);
    const key = await call("PATCH", "/tyrrest/c1/ports/p1/name", "p9");
    expect(restconf(key)).toEqual([{ tag: "invalid-value", info: "ports[p1].name" }]);
    const ty = await call("PATCH", "/tyrrest/c1/fdb/aging-time", "ten");
    expect(restconf(ty)).toEqual([{ tag: "bad-attribute", info: "fdb.aging-time" }]);
  });

  test("a change the service refuses leaves the stored config as it was", async () => {
    const before = core.cubeConfig("c1");
    const r = await call("PATCH", "/tyrrest/c1/ports/p1/peer/", "refuse");
    expect(r.status).toBe(400);
    expect(r.text).toContain("refuses");
    expect(core.cubeConfig("c1")).toEqual(before);
  });

  test("nested list with URL-decoded keys, whole-list GET with the _links element", async () => {
    expect((await call("POST", "/tyrrest/c1/ports/p1/secondaryip/10.1.1.10%2F24/")).status).toBe(201);
    const r = await call("GET", "/tyrrest/c1/ports/p1/secondaryip/");
    expect(r.json[0]).toEqual({ ip: "10.1.1.10/24" });
    expect(r.json.at(-1)).toEqual(["_links", [{ rel: "10.1.1.10/24", href: `//${hostPort}/polycube/v1/tyrrest/c1/ports/p1/secondaryip/10.1.1.10%2F24/` }]]);
    expect((await call("DELETE", "/tyrrest/c1/ports/p1/secondaryip/10.1.1.10%2F24/")).status).toBe(204);
    expect((await call("GET", "/tyrrest/c1/ports/p1/secondaryip/")).json).toEqual([["_links", []]]);
  });

  test("multi-key list: create with defaults, mandatory, range, partial keys, delete", async () => {
    expect((await call("POST", "/tyrrest/c1/fdb/entry/10/aa:bb:cc:dd:ee:ff/", { port: "p1" })).status).toBe(201);
    const e = await call("GET", "/tyrrest/c1/fdb/entry/10/aa:bb:cc:dd:ee:ff/");
    expect(e.json).toMatchObject({ vlan: 10, address: "aa:bb:cc:dd:ee:ff", port: "p1", type: "STATIC" });
    const m = await call("POST", "/tyrrest/c1/fdb/entry/11/aa:bb:cc:dd:ee:ff/", {});
    expect([m.status, restconf(m)]).toEqual([400, [{ tag: "missing-attribute", info: "fdb.entry[11,aa:bb:cc:dd:ee:ff].port" }]]);
    const range = await call("POST", "/tyrrest/c1/fdb/entry/5000/aa:bb:cc:dd:ee:ff/", { port: "p1" });
    expect([range.status, restconf(range)[0]?.tag]).toEqual([400, "bad-attribute"]);
    const pat = await call("POST", "/tyrrest/c1/fdb/entry/12/not-a-mac/", { port: "p1" });
    expect([pat.status, restconf(pat)[0]?.tag]).toEqual([400, "bad-attribute"]);
    const partial = await call("GET", "/tyrrest/c1/fdb/entry/10/");
    expect(partial.json.map((x: any) => x.address)).toEqual(["aa:bb:cc:dd:ee:ff"]);
    const io = await call("PATCH", "/tyrrest/c1/fdb/entry/10/aa:bb:cc:dd:ee:ff/", { type: "DYNAMIC" });
    expect(restconf(io)).toEqual([{ tag: "invalid-value", info: "fdb.entry[10,aa:bb:cc:dd:ee:ff].type" }]);
    expect((await call("PATCH", "/tyrrest/c1/fdb/entry/10/aa:bb:cc:dd:ee:ff/", { port: "p2" })).status).toBe(201);
    expect((await call("DELETE", "/tyrrest/c1/fdb/entry/10/aa:bb:cc:dd:ee:ff/")).status).toBe(204);
    const gone = await call("DELETE", "/tyrrest/c1/fdb/entry/10/aa:bb:cc:dd:ee:ff/");
    expect([gone.status, restconf(gone)[0]?.tag]).toEqual([409, "data-missing"]);
  });

  test("whole-list verbs: POST many, PATCH merge, PUT replace, DELETE all", async () => {
    expect((await call("POST", "/tyrrest/c1/chain/", [{ name: "ingress" }])).status).toBe(201);
    const dup = await call("POST", "/tyrrest/c1/chain/", [{ name: "INGRESS" }]);
    expect(dup.status).toBe(409);
    expect((await call("PATCH", "/tyrrest/c1/chain/", [{ name: "INGRESS", default: "forward" }, { name: "EGRESS" }])).status).toBe(201);
    let cfg = core.cubeConfig("c1")!.chain;
    expect(cfg).toEqual([{ name: "INGRESS", default: "FORWARD" }, { name: "EGRESS", default: "DROP" }]);
    const nokey = await call("POST", "/tyrrest/c1/chain/", [{ default: "DROP" }]);
    expect([nokey.status, restconf(nokey)[0]?.tag]).toEqual([400, "missing-attribute"]);
    expect((await call("PUT", "/tyrrest/c1/chain/", [{ name: "EGRESS" }])).status).toBe(201);
    cfg = core.cubeConfig("c1")!.chain;
    expect(cfg).toEqual([{ name: "EGRESS", default: "DROP" }]);
    expect((await call("DELETE", "/tyrrest/c1/chain/")).status).toBe(204);
    expect(core.cubeConfig("c1")!.chain).toBeUndefined();
  });

  test("actions: input validated, output returned", async () => {
    expect((await call("POST", "/tyrrest/c1/chain/INGRESS/")).status).toBe(201);
    const a = await call("POST", "/tyrrest/c1/chain/ingress/append/", { src: "10.0.0.0/8", action: "drop" });
    expect([a.status, a.json]).toEqual([201, { id: 0 }]);
    expect((await call("GET", "/tyrrest/c1/chain/INGRESS/rule/0/")).json).toMatchObject({ id: 0, src: "10.0.0.0/8", action: "DROP" });
    const bad = await call("POST", "/tyrrest/c1/chain/INGRESS/append/", { src: "nowhere" });
    expect([bad.status, restconf(bad)[0]?.tag]).toEqual([400, "bad-attribute"]);
    const unknown = await call("POST", "/tyrrest/c1/chain/INGRESS/append/", { dst: "1.1.1.1/32" });
    expect(restconf(unknown)[0]).toEqual({ tag: "invalid-value", info: "chain[INGRESS].append.dst" });
    expect((await call("GET", "/tyrrest/c1/chain/INGRESS/append/")).status).toBe(405);
    await call("POST", "/tyrrest/c1/fdb/entry/1/aa:aa:aa:aa:aa:aa/", { port: "p1" });
    const f = await call("POST", "/tyrrest/c1/fdb/flush/");
    expect([f.status, f.json]).toEqual([201, { flushed: 1 }]);
  });

  test("choice: writing one case removes the other", async () => {
    expect((await call("PATCH", "/tyrrest/c1/", { "udp-port": 53 })).status).toBe(200);
    expect((await call("PATCH", "/tyrrest/c1/tcp-port", 80)).status).toBe(200);
    const cfg = core.cubeConfig("c1")!;
    expect([cfg["udp-port"] ?? null, cfg["tcp-port"]]).toEqual([null, 80]);
  });

  test("containers: PUT replaces, DELETE restores defaults", async () => {
    await call("POST", "/tyrrest/c1/fdb/entry/2/aa:aa:aa:aa:aa:aa/", { port: "p1" });
    expect((await call("PUT", "/tyrrest/c1/fdb/", { "aging-time": 10 })).status).toBe(201);
    expect(core.cubeConfig("c1")!.fdb).toEqual({ "aging-time": 10 });
    const g = await call("GET", "/tyrrest/c1/fdb/");
    expect(g.json._links.map((l: any) => l.rel)).toEqual(["self", "aging-time", "entry", "flush"]);
    expect((await call("DELETE", "/tyrrest/c1/fdb/")).status).toBe(204);
    expect(core.cubeConfig("c1")!.fdb).toEqual({ "aging-time": 300 });
  });

  test("unknown nodes and cubes", async () => {
    expect((await call("GET", "/tyrrest/c1/nothing/")).status).toBe(404);
    expect((await call("GET", "/tyrrest/zz/ports/")).status).toBe(404);
    expect((await call("GET", "/tyrrest/c1/ports/p7/")).status).toBe(409);
  });

  test("the core receives leaf-level changes", async () => {
    core.changes = [];
    await call("PATCH", "/tyrrest/c1/ports/p1/ip", "10.0.0.2/24");
    expect(core.changes).toEqual([
      { cube: "c1", changes: [{ op: "modify", path: [{ node: "ports", keys: { name: "p1" } }, { node: "ip" }], where: "/ports[name=p1]/ip", before: "10.0.0.1/24", after: "10.0.0.2/24" }] },
    ]);
  });
});

describe("redirect by cube name", () => {
  test("308 to the service path, keeping the query", async () => {
    const r = await call("GET", "/c1/ports?x=1", undefined, {}, "manual");
    expect(r.status).toBe(308);
    expect(r.headers.get("location")).toBe("/polycube/v1/tyrrest/c1/ports?x=1");
  });
  test("followed, with method and body kept", async () => {
    expect((await call("PATCH", "/c1/loglevel/", "TRACE")).status).toBe(200);
    expect(core.cubeConfig("c1")!.loglevel).toBe("TRACE");
  });
  test("unknown cube, and the Referer rule", async () => {
    const r = await call("GET", "/nope/ports", undefined, {}, "manual");
    expect([r.status, r.text]).toEqual([404, "No cube found named nope"]);
    const s = await call("GET", "/c1/ports", undefined, { referer: "x" }, "manual");
    expect([s.status, s.text]).toEqual([404, "Cannot find a matching route."]);
  });
});

describe("help and completion", () => {
  test("root", async () => {
    expect((await call("OPTIONS", "/")).status).toBe(200);
    const h = await call("OPTIONS", "/?help=NONE");
    expect(h.json.params.tyrrest).toMatchObject({ name: "tyrrest", simpletype: "service", type: "leaf" });
    const c = await call("OPTIONS", "/?help=NONE&completion");
    expect(c.json).toEqual(["connect", "disconnect", "attach", "detach", "services", "cubes", "topology", "netdevs", "tyrrest", "tyrtrans", "c1", "t1"]);
    expect((await call("OPTIONS", "/?help=SET")).status).toBe(400);
  });
  test("service collection", async () => {
    const n = await call("OPTIONS", "/tyrrest?help=NONE");
    expect(n.json.commands).toEqual(["add", "del", "show"]);
    expect(n.json.params.name.type).toBe("key");
    expect(n.json.elements).toEqual([{ name: "c1" }]);
    const a = await call("OPTIONS", "/tyrrest?help=ADD");
    expect(Object.keys(a.json["optional-params"])).toEqual(["type", "service-name", "loglevel", "shadow", "span", "action", "udp-port", "tcp-port"]);
    expect(a.json["optional-params"].type).toMatchObject({ type: "leaf", simpletype: "string", example: "TC", enum: ["TC", "XDP_SKB", "XDP_DRV"], "init-only": true });
    expect((await call("OPTIONS", "/tyrrest?help=DEL&completion")).json).toEqual(["c1"]);
    expect((await call("OPTIONS", "/tyrrest?help=NONE&completion")).json).toEqual(["add", "del", "show", "c1"]);
  });
  test("cube and container", async () => {
    const n = await call("OPTIONS", "/tyrrest/c1?help=NONE");
    expect(n.json.commands).toEqual(["set", "show"]);
    expect(Object.keys(n.json.params)).toEqual(["ports", "fdb", "chain"]);
    expect(n.json.params.fdb.type).toBe("complex");
    const s = await call("OPTIONS", "/tyrrest/c1?help=SET&completion");
    expect(s.json).toEqual(["loglevel=", "span=", "action=", "udp-port=", "tcp-port="]);
    const show = await call("OPTIONS", "/tyrrest/c1/fdb?help=SHOW");
    expect(Object.keys(show.json.params)).toEqual(["aging-time", "entry"]);
    const none = await call("OPTIONS", "/tyrrest/c1/fdb?help=NONE&completion");
    expect(none.json).toEqual(["set", "show", "entry", "flush"]);
  });
  test("lists, partial keys, leaves, actions", async () => {
    await call("POST", "/tyrrest/c1/fdb/entry/3/aa:aa:aa:aa:aa:03/", { port: "p1" });
    await call("POST", "/tyrrest/c1/fdb/entry/4/aa:aa:aa:aa:aa:04/", { port: "p1" });
    const l = await call("OPTIONS", "/tyrrest/c1/fdb/entry?help=NONE");
    expect(Object.keys(l.json.params)).toEqual(["vlan", "address"]);
    expect(l.json.elements).toEqual([{ vlan: "3", address: "aa:aa:aa:aa:aa:03" }, { vlan: "4", address: "aa:aa:aa:aa:aa:04" }]);
    const p = await call("OPTIONS", "/tyrrest/c1/fdb/entry/4?help=NONE");
    expect(Object.keys(p.json.params)).toEqual(["address"]);
    expect(p.json.elements).toEqual([{ vlan: "4", address: "aa:aa:aa:aa:aa:04" }]);
    const add = await call("OPTIONS", "/tyrrest/c1/ports?help=ADD&completion");
    expect(add.json).toEqual(["<name>", "peer=", "tcubes=", "ip="]);
    const del = await call("OPTIONS", "/tyrrest/c1/ports?help=DEL&completion");
    expect(del.json).toEqual(["p1"]);
    expect((await call("OPTIONS", "/tyrrest/c1/action?help=NONE&completion")).json).toEqual(["DROP", "SLOWPATH", "FORWARD"]);
    const act = await call("OPTIONS", "/tyrrest/c1/chain/INGRESS/append?help=NONE");
    expect(Object.values(act.json.params).map((x: any) => [x.name, x.type])).toEqual([["src", "key"], ["action", "key"]]);
    expect((await call("OPTIONS", "/tyrrest/c1?help=BOGUS")).status).toBe(400);
  });
  test("cubes, netdevs, topology, connect", async () => {
    expect((await call("OPTIONS", "/cubes?help=NONE")).json).toMatchObject({ elements: [{ cube: "c1" }, { cube: "t1" }], commands: ["show"] });
    expect((await call("OPTIONS", "/netdevs?help=NONE&completion")).json).toEqual(["tyrveth0"]);
    expect((await call("OPTIONS", "/topology?help=NONE")).json).toEqual({ commands: ["show"] });
    expect((await call("OPTIONS", "/connect?help=NONE&completion")).json).toEqual(["c1:p1"]);
  });
});

describe("top-level endpoints", () => {
  test("root links, version, cubes, topology, netdevs", async () => {
    const r = await call("GET", "/");
    expect(r.json._links.map((l: any) => l.rel)).toEqual(["self", "services", "cubes", "netdevs", "version", "connect", "disconnect", "attach", "detach", "topology", "tyrrest", "tyrtrans", "c1", "t1"]);
    expect((await call("GET", "/version")).json.polycubed.version).toBeString();
    const cubes = await call("GET", "/cubes");
    expect(Object.keys(cubes.json)).toEqual(["tyrrest", "tyrtrans"]);
    expect(cubes.json.tyrtrans[0]).toMatchObject({ name: "t1", parent: "" });
    expect((await call("GET", "/cubes/c1")).json.name).toBe("c1");
    expect([(await call("GET", "/cubes/zz")).status, (await call("GET", "/cubes/zz")).text]).toEqual([400, "Cube does not exist"]);
    expect((await call("GET", "/topology")).json.length).toBe(2);
    expect((await call("GET", "/netdevs/tyrveth0")).json).toEqual([{ name: "tyrveth0", addresses: ["10.9.9.1/24"] }]);
    expect((await call("GET", "/netdevs/none")).text).toBe("netdev nonedoes not exist");
  });

  test("services: list, read, add at run time, delete (routes follow)", async () => {
    expect((await call("GET", "/services")).json.map((s: any) => s.name)).toEqual(["tyrrest", "tyrtrans"]);
    expect((await call("GET", "/services/tyrrest")).json[0].datamodel).toContain("module tyr-rest");
    expect((await call("GET", "/services/none")).status).toBe(400);
    const missing = await call("POST", "/services", { name: "x", type: "lib" });
    expect(restconf(missing)).toEqual([{ tag: "missing-attribute", info: "uri" }]);
    const badType = await call("POST", "/services", { name: "x", type: "so", uri: "/x" });
    expect(restconf(badType)).toEqual([{ tag: "bad-attribute", info: "type" }]);
    const grpc = await call("POST", "/services", { name: "x", type: "grpc", uri: "h:1" });
    expect([grpc.status, grpc.text]).toEqual([400, "GRPC support has not been compiled"]);
    expect((await call("POST", "/services", { name: "tyrrest", type: "lib", uri: "/x" })).text).toBe("Service Controller already exists");
    core.loadable.set("/lib/tyrlate.so", { yang: TRANSPARENT.replaceAll("tyrtrans", "tyrlate"), kind: "transparent" });
    expect((await call("POST", "/services", { name: "tyrlate", type: "lib", uri: "/lib/tyrlate.so" })).status).toBe(200);
    expect((await call("POST", "/tyrlate/late1/", {})).status).toBe(201);
    expect((await call("GET", "/tyrlate/late1/ingress-action")).json).toBe("PASS");
    expect((await call("DELETE", "/services/tyrlate")).status).toBe(204);
    const gone = await call("GET", "/tyrlate/late1/", undefined, {}, "manual");
    expect([gone.status, gone.text]).toEqual([404, "No cube found named tyrlate"]);
    expect((await call("DELETE", "/services/tyrlate")).text).toBe("Service Controller does not exist");
  });

  test("POST /cubes creates a batch, then links peers; a bad cube creates nothing", async () => {
    const batch = [
      { name: "b1", "service-name": "tyrrest", ports: [{ name: "p1", peer: "b2:p1" }] },
      { name: "b2", "service-name": "tyrrest", ports: [{ name: "p1", peer: "b1:p1" }] },
    ];
    expect((await call("POST", "/cubes", batch)).status).toBe(200);
    expect((await call("GET", "/tyrrest/b1/ports/p1/status")).json).toBe("UP");
    const bad = [
      { name: "b3", "service-name": "tyrrest" },
      { name: "b4", "service-name": "tyrrest", action: "JUMP" },
    ];
    const r = await call("POST", "/cubes", bad);
    expect(r.status).toBe(400);
    expect(core.cubeService("b3")).toBeUndefined();
    expect((await call("POST", "/cubes", new Raw("["))).status).toBe(400);
  });

  test("connect, disconnect, attach, detach go to the core; errors are plain text 400", async () => {
    await call("POST", "/tyrrest/c1/ports/p5/");
    expect((await call("POST", "/connect", { peer1: "c1:p5", peer2: "tyrveth0" })).status).toBe(200);
    const again = await call("POST", "/connect", { peer1: "c1:p5", peer2: "x" });
    expect([again.status, again.text]).toEqual([400, "c1:p5 already has a peer tyrveth0"]);
    expect((await call("POST", "/disconnect", { peer1: "c1:p5", peer2: "tyrveth0" })).status).toBe(200);
    const m = await call("POST", "/connect", { peer1: "c1:p5" });
    expect(restconf(m)).toEqual([{ tag: "missing-attribute", info: "peer2" }]);
    expect((await call("POST", "/attach", { cube: "t1", port: "c1:p1", position: "first" })).status).toBe(200);
    expect((await call("GET", "/tyrtrans/t1/parent")).json).toBe("c1:p1");
    const twice = await call("POST", "/attach", { cube: "t1", port: "c1:p5" });
    expect([twice.status, twice.text]).toEqual([400, "Cube t1 is already attached"]);
    const both = await call("POST", "/attach", { cube: "t1", port: "c1:p5", position: "first", after: "x" });
    expect(both.status).toBe(400);
    expect((await call("POST", "/detach", { cube: "t1", port: "c1:p1" })).status).toBe(200);
    expect((await call("POST", "/detach", { cube: "t1", port: "c1:p1" })).text).toBe("Cube doesn't exist");
  });

  test("metrics in OpenMetrics text with %f values", async () => {
    await call("POST", "/tyrrest/c1/fdb/entry/7/aa:aa:aa:aa:aa:07/", { port: "p1" });
    const r = await call("GET", "/metrics");
    expect(r.status).toBe(200);
    expect(r.text).toContain("# TYPE tyrrest_counter_packets counter");
    expect(r.text).toMatch(/^tyrrest_counter_packets\{cubeName="c1"\} \d+\.000000$/m);
    const entries = (core.cubeConfig("c1")!.fdb as any).entry.length;
    expect(r.text).toContain(`tyrrest_fdb_entries{cubeName="c1"} ${entries}.000000`);
    expect(r.text).toContain(`tyrrest_fdb_entries{cubeName="b1"} 0.000000`);
  });
});

describe("writes to large lists (edited in place, undone when refused)", () => {
  const mac = (i: number) => `02:00:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;
  const entry = (i: number) => `/tyrrest/big/fdb/entry/7/${mac(i)}/`;

  test("refused creates and replaces leave the list as it was: entries, order, lookups", async () => {
    expect((await call("POST", "/tyrrest/big/", {})).status).toBe(201);
    const all = Array.from({ length: 300 }, (_, i) => ({ vlan: 7, address: mac(i), port: `p${i % 3}` }));
    expect((await call("POST", "/tyrrest/big/fdb/entry/", all)).status).toBe(201);
    const before = core.cubeConfig("big");
    // A new entry, a replaced one, a changed leaf of one: each refused by the service.
    expect((await call("POST", entry(300), { port: "refuse" })).status).toBe(400);
    expect((await call("PUT", entry(150), { port: "refuse" })).status).toBe(400);
    expect((await call("PATCH", `${entry(151)}port/`, "refuse")).status).toBe(400);
    // A refused delete: the entry is not there.
    const gone = await call("DELETE", entry(999));
    expect([gone.status, restconf(gone)[0]?.tag]).toEqual([409, "data-missing"]);
    expect(core.cubeConfig("big")).toEqual(before);
    expect((await call("GET", entry(150))).json).toMatchObject({ address: mac(150), port: "p0" });
    const absent = await call("GET", entry(300));
    expect([absent.status, restconf(absent)[0]?.tag]).toEqual([409, "data-missing"]);
    // Accepted writes after the refused ones find their entries (the list's index is right).
    expect((await call("PATCH", `${entry(150)}port/`, "p9")).status).toBe(200);
    expect((await call("DELETE", entry(10))).status).toBe(204);
    expect((await call("POST", entry(300), { port: "p1" })).status).toBe(201);
    const list = (core.cubeConfig("big")!.fdb as any).entry as Array<{ address: string; port: string }>;
    expect(list.length).toBe(300);
    expect(list.map((e) => e.address)).toEqual([...all.map((e) => e.address).filter((a) => a !== mac(10)), mac(300)]);
    expect(list.find((e) => e.address === mac(150))!.port).toBe("p9");
  });

  test("a read waits for a write to the same cube and sees only what was accepted", async () => {
    core.delayMs = 20;
    try {
      const w = call("POST", entry(301), { port: "refuse" });
      await Bun.sleep(5); // the write is in the core now, its entry already in the list
      const r = await call("GET", entry(301));
      expect([r.status, restconf(r)[0]?.tag]).toEqual([409, "data-missing"]);
      expect((await w).status).toBe(400);
    } finally {
      core.delayMs = 0;
    }
  });
});

describe("concurrency", () => {
  test("parallel writes to one cube all land", async () => {
    core.delayMs = 3;
    try {
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => call("POST", `/tyrrest/b2/ports/q${i}/`, { ip: `10.1.${i}.1/24` })));
      expect(rs.map((r) => r.status)).toEqual(Array(20).fill(201));
      const names = (core.cubeConfig("b2")!.ports as any[]).map((p) => p.name);
      for (let i = 0; i < 20; i++) expect(names).toContain(`q${i}`);
    } finally {
      core.delayMs = 0;
    }
  });
  test("parallel creates of one name: exactly one wins", async () => {
    core.delayMs = 3;
    try {
      const rs = await Promise.all(Array.from({ length: 10 }, () => call("POST", "/tyrrest/race/", {})));
      expect(rs.filter((r) => r.status === 201).length).toBe(1);
      expect(rs.filter((r) => r.status === 409).length).toBe(9);
    } finally {
      core.delayMs = 0;
    }
  });
});
