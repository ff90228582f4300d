// The compiled polycubectl against the real daemon and real services: every grammar form,
// every output form, stdin bodies from a here-string, and the error exits. (test/cli/ covers
// the same grammar in more depth against the REST layer over an in-memory core.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Daemon, polycube } from "../lib/daemon.ts";
import { okRequester } from "../lib/datapath.ts";
import { Topology, type Host } from "../lib/netns.ts";

const topo = new Topology("tcl");
const daemon = new Daemon();
const rest = okRequester(daemon);
let h1: Host;
let h2: Host;
let h3: Host;

/** Success: exit 0 and nothing on stderr; returns stdout. */
async function ok(...words: string[]): Promise<string> {
  const r = await daemon.cli(words);
  expect({ words, code: r.code, err: r.err }).toEqual({ words, code: 0, err: "" });
  return r.out;
}

/** A refusal: non-zero exit, the reason on stderr, nothing on stdout. */
async function refused(words: string[], reason: string | RegExp): Promise<void> {
  const r = await daemon.cli(words);
  expect({ words, code: r.code === 0 ? 0 : "non-zero", out: r.out }).toEqual({ words, code: "non-zero", out: "" });
  expect(r.err).toMatch(reason);
}

/** A shell script with polycubectl on its PATH, pointed at this daemon (here-strings need bash). */
async function sh(script: string): Promise<{ code: number; out: string; err: string }> {
  const bin = polycube()[0]!.endsWith("polycube") ? join(polycube()[0]!, "..") : "";
  const p = Bun.spawn(["bash", "-c", script], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, POLYCUBECTL_URL: `${daemon.url}/`, HOME: daemon.dir },
    stdout: "pipe", stderr: "pipe", stdin: "ignore",
  });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, out, err };
}

beforeAll(async () => {
  h1 = topo.host(1, "10.208.0.1/24");
  h2 = topo.host(2, "10.208.0.2/24");
  h3 = topo.host(3, "10.208.0.3/24");
  await daemon.start();
});

afterAll(async () => {
  await daemon.stop();
  topo.cleanup();
  daemon.cleanup();
});

describe("grammar", () => {
  test("<service> add <cube> k=v, enumerations in any case, then ports through the bare cube name", async () => {
    expect(await ok("simplebridge", "add", "cb1", "type=xdp_skb", "loglevel=debug")).toBe("");
    expect(await ok("cb1", "ports", "add", "p1", `peer=${h1.outer}`)).toBe("");
    expect(await ok("cb1", "ports", "add", "p2", `peer=${h2.outer}`)).toBe("");
    expect((await ok("cb1", "show", "type")).trim()).toBe("XDP_SKB");
    expect((await ok("cb1", "show", "loglevel")).trim()).toBe("DEBUG");
    expect(topo.ping(h1, h2.ip, 2)).toBe(true);
  });

  test("the verb anywhere before the key=value arguments", async () => {
    expect(await ok("cb1", "set", "loglevel=INFO")).toBe("");
    expect(await ok("set", "cb1", "loglevel=TRACE")).toBe("");
    expect((await ok("show", "cb1", "loglevel")).trim()).toBe("TRACE");
    expect(await ok("cb1", "fdb", "entry", "add", "02:00:00:00:00:0a", "port=p1")).toBe("");
    expect(await ok("cb1", "del", "fdb", "entry", "02:00:00:00:00:0a")).toBe("");
    expect(await ok("simplebridge", "cb1", "fdb", "set", "aging-time=30")).toBe("");
    expect((await ok("simplebridge", "cb1", "fdb", "show", "aging-time")).trim()).toBe("30");
  });

  test("no verb is a POST: a YANG action, its output printed", async () => {
    expect((await ok("cb1", "fdb", "flush")).trim()).toBe("flushed: true");
  });

  test('peer="" clears a peer; a quoted value sets one (as a shell script writes them)', async () => {
    expect(await sh(`polycubectl cb1 ports p2 set peer=""`)).toEqual({ code: 0, out: "", err: "" });
    expect((await ok("cb1", "ports", "p2", "show", "peer")).trim()).toBe("");
    expect((await ok("cb1", "ports", "p2", "show", "status")).trim()).toBe("DOWN");
    expect(await sh(`polycubectl cb1 ports p2 set peer="${h2.outer}"`)).toEqual({ code: 0, out: "", err: "" });
    expect((await ok("cb1", "ports", "p2", "show", "status")).trim()).toBe("UP");
  });

  test("connect, disconnect, attach with positions, detach, topology show", async () => {
    expect(await ok("simplebridge", "add", "cb2", "type=XDP_SKB")).toBe("");
    expect(await ok("cb2", "ports", "add", "up")).toBe("");
    expect(await ok("cb2", "ports", "add", "p3", `peer=${h3.outer}`)).toBe("");
    expect(await ok("cb1", "ports", "add", "down")).toBe("");
    expect(await ok("connect", "cb1:down", "cb2:up")).toBe("");
    expect(topo.ping(h1, h3.ip, 2)).toBe(true);
    expect(await ok("disconnect", "cb1:down", "cb2:up")).toBe("");
    expect(topo.ping(h1, h3.ip, 1)).toBe(false);

    for (const t of ["ta", "tb", "tc"]) expect(await ok("transparenthelloworld", "add", t, "type=XDP_SKB")).toBe("");
    expect(await ok("attach", "ta", h3.outer)).toBe("");
    expect(await ok("attach", "tb", h3.outer, "position=first")).toBe("");
    expect(await ok("attach", "tc", h3.outer, "after=tb")).toBe("");
    const topology = await ok("topology", "show", h3.outer);
    expect(topology).toContain("ingress service chain: tb ---> tc ---> ta ---> cb2:p3");
    for (const t of ["ta", "tb", "tc"]) expect(await ok("detach", t, h3.outer)).toBe("");
    expect(await ok("topology", "show", h3.outer)).toContain("ingress service chain: cb2:p3");
  });

  test("services, cubes, netdevs, topology, version", async () => {
    expect(await ok("services")).toContain("simplebridge");
    expect(await ok("services", "show", "router")).toContain("router");
    const cubes = await ok("cubes");
    expect(cubes).toContain("cb1");
    expect(cubes).toContain("transparenthelloworld");
    expect(await ok("netdevs")).toContain(h1.outer);
    expect(await ok("topology")).toContain("cb2");
    expect(await ok("version")).toContain("0.1.0");
  });

  test("`?` prints help learnt from the daemon", async () => {
    const root = await ok("?");
    expect(root).toContain("simplebridge");
    const cube = await ok("cb1", "?");
    expect(cube).toContain("fdb");
    expect(cube).toContain("ports");
    const add = await ok("helloworld", "add", "?");
    expect(add).toMatch(/action/);
  });
});

describe("output forms", () => {
  test("tables, -brief, -verbose, -json, -yaml, and the bare value of a leaf", async () => {
    const table = await ok("cb1", "ports", "show");
    expect(table).toMatch(/name\s+.*status|status\s+.*name/);
    expect(await ok("cb1", "show", "-brief")).toMatch(/^ports: \[3 items\]$/m);
    expect(await ok("cb1", "show", "-verbose")).toMatch(/^ports:$/m);
    const json = JSON.parse(await ok("cb1", "show", "-json"));
    expect(json.name).toBe("cb1");
    expect(json.ports.map((p: { name: string }) => p.name)).toEqual(["p1", "p2", "down"]);
    expect(await ok("cb1", "show", "-yaml")).toMatch(/^name: cb1$/m);
    expect((await ok("cb1", "ports", "p1", "show", "peer")).trim()).toBe(h1.outer);
  });
});

describe("stdin bodies", () => {
  test("a here-string of flow YAML with single quotes and trailing commas creates a cube", async () => {
    const body = `{'ports': [{'name': 'p1', 'peer': '${h3.outer}',}, {'name': 'p2',},], 'fdb': {'aging-time': 45,},}`;
    await ok("del", "cb2");
    const r = await sh(`polycubectl simplebridge add cb3 <<<"${body}"`);
    expect(r).toEqual({ code: 0, out: "", err: "" });
    expect(await rest("GET", "/simplebridge/cb3/fdb/aging-time/")).toBe(45);
    expect(await rest("GET", "/simplebridge/cb3/ports/p1/status/")).toBe("UP");
  });
});

describe("errors exit non-zero with a message", () => {
  test("the daemon's refusals", async () => {
    await refused(["cb1", "set", "loglevel=LOUD"], /loglevel/);
    await refused(["nosuchcube", "show"], /nosuchcube/);
    await refused(["cb1", "ports", "add", "p9", "peer=nosuchdev0"], /Interface nosuchdev0 does not exist or is down/);
    await refused(["del", "nosuchcube"], /nosuchcube/);
    await refused(["cb1", "ports", "del", "nosuchport"], /nosuchport/);
    await refused(["attach", "cb1", h1.outer], /Cube cb1 is not transparent/);
    await refused(["detach", "ta", h1.outer], /Cube doesn't exist/);
    expect(await ok("transparenthelloworld", "add", "ttc")).toBe("");
    await refused(["attach", "ttc", "cb1:p1"], /incompatible types/);
  });

  test("command-line mistakes", async () => {
    const r = await daemon.cli(["cb1", "show", "-nosuchflag"]);
    expect(r.code).not.toBe(0);
    expect(r.err).not.toBe("");
  });

  test("no daemon: `?` exits non-zero", async () => {
    const p = Bun.spawn([...polycube(), "?"], {
      env: { ...process.env, POLYCUBECTL_URL: "http://127.0.0.1:9/polycube/v1/", HOME: daemon.dir },
      stdout: "pipe", stderr: "pipe", stdin: "ignore",
    });
    expect(await p.exited).not.toBe(0);
    expect(await new Response(p.stderr).text()).not.toBe("");
  });
});
