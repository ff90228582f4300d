// transparenthelloworld through the real daemon: transparent cubes on a netdev (the root side
// of a host's veth, whose address the root namespace answers on) and on a simplebridge port;
// DROP/PASS/SLOWPATH in each direction, stacking positions checked through the datapath log and
// GET /topology/<netdev>, the original's attach/detach errors, and no program left behind.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Daemon } from "../lib/daemon.ts";
import { hooksOn, logSince as logAfter, okRequester } from "../lib/datapath.ts";
import { Topology, sh, type Host } from "../lib/netns.ts";

const topo = new Topology("ttr");
const daemon = new Daemon();
const ok = okRequester(daemon);
const logSince = (mark: number) => logAfter(daemon, mark);
/** A host whose root-side veth has ROOT_IP: its pings are answered by the root namespace's stack. */
let h1: Host;
const ROOT_IP = "10.207.0.254";
/** Two hosts joined by a simplebridge. */
let h2: Host;
let h3: Host;
const cubes = new Set<string>();

async function create(service: string, name: string, body: Record<string, unknown> = {}): Promise<void> {
  await ok("POST", `/${service}/${name}/`, body);
  cubes.add(name);
}

async function remove(name: string): Promise<void> {
  cubes.delete(name);
  const r = await daemon.request("DELETE", `/${name}/`);
  if (r.status >= 300 && r.status !== 404) throw new Error(`DELETE ${name}: ${r.status} ${r.text}`);
}

/** Deletes what a test created, even when it failed half way. */
async function removeAll(): Promise<void> {
  for (const c of [...cubes]) await remove(c).catch(() => undefined);
}

async function attach(cube: string, port: string, extra: Record<string, string> = {}): Promise<void> {
  await ok("POST", "/attach", { cube, port, ...extra });
}

/** "cube DIR" for every transparenthelloworld "passing packet" line, in log order. */
function passes(log: string): string[] {
  const out: string[] = [];
  for (const m of log.matchAll(/\[Transparenthelloworld\] \[([^\]]+)\] \[debug\] \[(INGRESS|EGRESS)\] passing packet/g)) out.push(`${m[1]} ${m[2]}`);
  return out;
}

/** True if `seq` occurs in `list` as a contiguous run. */
function containsRun(list: string[], seq: string[]): boolean {
  for (let i = 0; i + seq.length <= list.length; i++) if (seq.every((s, j) => list[i + j] === s)) return true;
  return false;
}

beforeAll(async () => {
  h1 = topo.host(1, "10.207.0.1/24");
  sh(`ip addr add ${ROOT_IP}/24 dev ${h1.outer}`);
  h2 = topo.host(2, "10.208.0.2/24");
  h3 = topo.host(3, "10.208.0.3/24");
  await daemon.start();
});

afterAll(async () => {
  try {
    await removeAll();
    await daemon.stop();
  } finally {
    topo.cleanup();
    daemon.cleanup();
  }
});

describe("a transparent cube on a netdev", () => {
  test("TC: ingress DROP stops the replies, PASS restores them; the same for egress", async () => {
    try {
      expect(topo.ping(h1, ROOT_IP, 1)).toBe(true);
      await create("transparenthelloworld", "tn", {});
      expect(await ok("GET", "/transparenthelloworld/tn/ingress-action/")).toBe("PASS");
      expect(await ok("GET", "/transparenthelloworld/tn/egress-action/")).toBe("PASS");
      expect(await ok("GET", "/transparenthelloworld/tn/parent/")).toBe("");
      await attach("tn", h1.outer);
      expect(await ok("GET", "/transparenthelloworld/tn/parent/")).toBe(h1.outer);
      expect(hooksOn([h1.outer])).toEqual([h1.outer, h1.outer]);
      expect(topo.ping(h1, ROOT_IP, 2)).toBe(true);

      expect((await daemon.cli(["tn", "set", "ingress-action=drop"])).code).toBe(0);
      expect(topo.ping(h1, ROOT_IP, 1)).toBe(false);
      await ok("PATCH", "/transparenthelloworld/tn/ingress-action/", "PASS");
      expect(topo.ping(h1, ROOT_IP, 2)).toBe(true);

      await ok("PATCH", "/transparenthelloworld/tn/", { "egress-action": "DROP" });
      expect(topo.ping(h1, ROOT_IP, 1)).toBe(false);
      await ok("PATCH", "/transparenthelloworld/tn/", { "egress-action": "PASS" });
      expect(topo.ping(h1, ROOT_IP, 2)).toBe(true);

      await ok("POST", "/detach", { cube: "tn", port: h1.outer });
      expect(await ok("GET", "/transparenthelloworld/tn/parent/")).toBe("");
      expect(hooksOn([h1.outer])).toEqual([]);
      // Detached, its DROP no longer matters.
      await ok("PATCH", "/transparenthelloworld/tn/ingress-action/", "DROP");
      expect(topo.ping(h1, ROOT_IP, 1)).toBe(true);
    } finally {
      await removeAll();
    }
    expect(hooksOn([h1.outer])).toEqual([]);
  });

  test("XDP_SKB: ingress DROP stops the replies, PASS restores them", async () => {
    try {
      await create("transparenthelloworld", "tx", { type: "XDP_SKB", "ingress-action": "DROP" });
      await attach("tx", h1.outer);
      expect(topo.ping(h1, ROOT_IP, 1)).toBe(false);
      await ok("PATCH", "/transparenthelloworld/tx/ingress-action/", "PASS");
      expect(topo.ping(h1, ROOT_IP, 2)).toBe(true);
    } finally {
      await removeAll();
    }
    expect(hooksOn([h1.outer])).toEqual([]);
  });

  test("XDP_SKB on a netdev sees EGRESS too (a TC copy of its egress program, as the original): DROP, SLOWPATH, two cubes in order", async () => {
    try {
      await create("transparenthelloworld", "txe", { type: "XDP_SKB", loglevel: "DEBUG", "egress-action": "DROP" });
      await attach("txe", h1.outer);
      // The host's replies leave through the egress chain: dropped there.
      expect(topo.ping(h1, ROOT_IP, 1)).toBe(false);
      await ok("PATCH", "/transparenthelloworld/txe/egress-action/", "SLOWPATH");
      let mark = daemon.log().length;
      expect(topo.ping(h1, ROOT_IP, 1)).toBe(true);
      expect(await logSince(mark)).toMatch(/\[txe\] \[info\] packet in event from egress program/);
      await ok("PATCH", "/transparenthelloworld/txe/egress-action/", "PASS");
      await create("transparenthelloworld", "txe2", { type: "XDP_SKB", loglevel: "DEBUG" });
      await attach("txe2", h1.outer);
      mark = daemon.log().length;
      expect(topo.ping(h1, ROOT_IP, 1)).toBe(true);
      // Egress runs from the cube farthest from the wire to the nearest, as ingress the other way.
      const order = passes(await logSince(mark)).filter((x) => x.endsWith("EGRESS"));
      expect(order.slice(0, 2)).toEqual(["txe2 EGRESS", "txe EGRESS"]);
      expect(hooksOn([h1.outer]).length).toBe(2); // the XDP program and the TC egress filter
    } finally {
      await removeAll();
    }
    expect(hooksOn([h1.outer])).toEqual([]);
  });

  test("SLOWPATH in both directions: the control plane logs each packet and sends it on", async () => {
    try {
      await create("transparenthelloworld", "ts", { "ingress-action": "SLOWPATH", "egress-action": "SLOWPATH" });
      await attach("ts", h1.outer);
      const mark = daemon.log().length;
      expect(topo.ping(h1, ROOT_IP, 2)).toBe(true);
      const log = await logSince(mark);
      expect(log).toMatch(/\[Transparenthelloworld\] \[ts\] \[info\] packet in event from ingress program/);
      expect(log).toMatch(/\[Transparenthelloworld\] \[ts\] \[info\] packet in event from egress program/);
    } finally {
      await removeAll();
    }
  });

  test("XDP_SKB: a packet-out into the netdev's stack is refused with a clear error in the log", async () => {
    // Generic XDP would run the chain again on a frame redirected into the netdev.
    try {
      await create("transparenthelloworld", "tsx", { type: "XDP_SKB", "ingress-action": "SLOWPATH" });
      await attach("tsx", h1.outer);
      const mark = daemon.log().length;
      expect(topo.ping(h1, ROOT_IP, 1)).toBe(false);
      expect(await logSince(mark)).toContain(`[tsx] [error] slow path: packet-out into the stack of ${h1.outer} is not supported for XDP cubes`);
    } finally {
      await removeAll();
    }
    expect(hooksOn([h1.outer])).toEqual([]);
  });

  test("deleting an attached cube detaches it", async () => {
    try {
      await create("transparenthelloworld", "tdel", { "ingress-action": "DROP" });
      await attach("tdel", h1.outer);
      expect(topo.ping(h1, ROOT_IP, 1)).toBe(false);
      await remove("tdel");
      expect(hooksOn([h1.outer])).toEqual([]);
      expect(await ok("GET", `/topology/${h1.outer}/`)).toEqual({ name: h1.outer });
      expect(topo.ping(h1, ROOT_IP, 1)).toBe(true);
    } finally {
      await removeAll();
    }
  });
});

describe("a transparent cube on a simplebridge port", () => {
  test("DROP in either direction stops the pings, PASS and SLOWPATH let them through", async () => {
    try {
      await create("simplebridge", "sb", { ports: [{ name: "p1", peer: h2.outer }, { name: "p2", peer: h3.outer }] });
      expect(topo.ping(h2, h3.ip, 2)).toBe(true);
      await create("transparenthelloworld", "tp", {});
      expect((await daemon.cli(["attach", "tp", "sb:p1"])).code).toBe(0);
      expect(await ok("GET", "/transparenthelloworld/tp/parent/")).toBe("sb:p1");
      expect(await ok("GET", "/simplebridge/sb/ports/p1/tcubes/")).toEqual(["tp"]);
      expect(topo.ping(h2, h3.ip, 2)).toBe(true);

      for (const leaf of ["ingress-action", "egress-action"]) {
        await ok("PATCH", `/transparenthelloworld/tp/${leaf}/`, "DROP");
        expect(topo.ping(h2, h3.ip, 1)).toBe(false);
        await ok("PATCH", `/transparenthelloworld/tp/${leaf}/`, "PASS");
        expect(topo.ping(h2, h3.ip, 2)).toBe(true);
      }

      await ok("PATCH", "/transparenthelloworld/tp/", { "ingress-action": "SLOWPATH", "egress-action": "SLOWPATH" });
      const mark = daemon.log().length;
      expect(topo.ping(h2, h3.ip, 2)).toBe(true);
      const log = await logSince(mark);
      expect(log).toContain("[tp] [info] packet in event from ingress program");
      expect(log).toContain("[tp] [info] packet in event from egress program");

      // Deleting the port that carries it is allowed and detaches it.
      await ok("DELETE", "/simplebridge/sb/ports/p1/");
      expect(await ok("GET", "/transparenthelloworld/tp/parent/")).toBe("");
    } finally {
      await removeAll();
    }
    expect(hooksOn([h2.outer, h3.outer])).toEqual([]);
  });

  test("stacked on a port, ingress runs from the outermost cube to the innermost", async () => {
    try {
      await create("simplebridge", "sbo", { ports: [{ name: "p1", peer: h2.outer }, { name: "p2", peer: h3.outer }] });
      // Index 0 is nearest the cube: ingress into the cube meets pc, pb, pa; egress pa, pb, pc.
      for (const t of ["pa", "pb", "pc"]) await create("transparenthelloworld", t, { loglevel: "DEBUG" });
      await attach("pa", "sbo:p1");
      await attach("pc", "sbo:p1", { position: "last" });
      await attach("pb", "sbo:p1", { after: "pa" });
      expect(await ok("GET", "/simplebridge/sbo/ports/p1/tcubes/")).toEqual(["pa", "pb", "pc"]);
      const mark = daemon.log().length;
      expect(topo.ping(h2, h3.ip, 1)).toBe(true);
      const seen = passes(await logSince(mark));
      expect(containsRun(seen, ["pc INGRESS", "pb INGRESS", "pa INGRESS"])).toBe(true);
      expect(containsRun(seen, ["pa EGRESS", "pb EGRESS", "pc EGRESS"])).toBe(true);
    } finally {
      await removeAll();
    }
  });
});

describe("several transparent cubes on one netdev", () => {
  test("position first/last/before/after keep their order, in the datapath log and in the topology", async () => {
    const names = ["th1", "th2", "th3", "th4", "th5"];
    try {
      for (const t of names) await create("transparenthelloworld", t, { loglevel: "DEBUG" });
      const steps: string[][] = [
        ["attach", "th3", h1.outer],
        ["attach", "th5", h1.outer, "position=last"],
        ["attach", "th1", h1.outer, "position=first"],
        ["attach", "th2", h1.outer, "before=th3"],
        ["attach", "th4", h1.outer, "after=th3"],
      ];
      for (const s of steps) {
        const r = await daemon.cli(s);
        expect(r.err).toBe("");
        expect(r.code).toBe(0);
      }
      const topology = await ok("GET", `/topology/${h1.outer}/`);
      expect(topology["ingress service chain"]).toBe("th1 ---> th2 ---> th3 ---> th4 ---> th5 ---> stack");
      expect(topology["egress service chain"]).toBe("th5 ---> th4 ---> th3 ---> th2 ---> th1 ---> stack");
      const shown = await daemon.cli(["topology", "show", h1.outer]);
      expect(shown.code).toBe(0);
      expect(shown.out).toContain("ingress service chain: th1 ---> th2 ---> th3 ---> th4 ---> th5 ---> stack");

      const mark = daemon.log().length;
      expect(topo.ping(h1, ROOT_IP, 1)).toBe(true);
      const log = await logSince(mark);
      // The original's format: fields 4 and 6 are the cube and the direction.
      expect(log).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] \[Transparenthelloworld\] \[th1\] \[debug\] \[INGRESS\] passing packet$/m);
      const seen = passes(log);
      expect(containsRun(seen, names.map((n) => `${n} INGRESS`))).toBe(true);
      expect(containsRun(seen, [...names].reverse().map((n) => `${n} EGRESS`))).toBe(true);

      // Detaching one from the middle closes the gap.
      await ok("POST", "/detach", { cube: "th3", port: h1.outer });
      expect((await ok("GET", `/topology/${h1.outer}/`))["ingress service chain"]).toBe("th1 ---> th2 ---> th4 ---> th5 ---> stack");
      const mark2 = daemon.log().length;
      expect(topo.ping(h1, ROOT_IP, 1)).toBe(true);
      const seen2 = passes(await logSince(mark2));
      expect(containsRun(seen2, ["th1 INGRESS", "th2 INGRESS", "th4 INGRESS", "th5 INGRESS"])).toBe(true);
      expect(seen2.some((s) => s.startsWith("th3 "))).toBe(false);
    } finally {
      await removeAll();
    }
    expect(hooksOn([h1.outer])).toEqual([]);
  });
});

describe("attach and detach errors", () => {
  test("the original's refusals are 4xx with its messages, and CLI errors", async () => {
    try {
      await create("simplebridge", "sbe", { ports: [{ name: "p1", peer: h2.outer }] });
      await create("helloworld", "hwe", { ports: [{ name: "p1" }] });
      await create("transparenthelloworld", "te", {});
      await create("transparenthelloworld", "tex", { type: "XDP_SKB" });

      const expectError = async (body: Record<string, string>, message: string, verb = "attach") => {
        const r = await daemon.request("POST", `/${verb}`, body);
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(r.text).toContain(message);
      };
      await expectError({ cube: "nosuch", port: "sbe:p1" }, "Cube nosuch does not exist");
      await expectError({ cube: "hwe", port: "sbe:p1" }, "Cube hwe is not transparent");
      await expectError({ cube: "te", port: "tex:p1" }, "Cube tex is transparent");
      await expectError({ cube: "tex", port: "sbe:p1" }, "tex and sbe have incompatible types");
      await expectError({ cube: "te", port: "sbe:p1" }, "Cube doesn't exist", "detach");
      await expectError({ cube: "te", port: "ttrnosuch0" }, "netdev ttrnosuch0 not found", "detach");

      await attach("te", "sbe:p1");
      await expectError({ cube: "te", port: "sbe:p1" }, "Cube te is already attached");
      await expectError({ cube: "te", port: h1.outer }, "Cube te is already attached");
      // An XDP cube on the netdev of a TC port.
      await expectError({ cube: "tex", port: h2.outer }, "have incompatible types");

      // The CLI exits non-zero on each of them, as upstream scripts expect.
      for (const words of [["attach", "hwe", "sbe:p1"], ["attach", "te", "sbe:p1"], ["detach", "tex", "sbe:p1"], ["attach", "tex", "sbe:p1"]]) {
        const r = await daemon.cli(words);
        expect(r.code).not.toBe(0);
        expect(r.err).not.toBe("");
      }
      expect(await ok("GET", "/simplebridge/sbe/ports/p1/tcubes/")).toEqual(["te"]);
      await ok("POST", "/detach", { cube: "te", port: "sbe:p1" });
      await expectError({ cube: "te", port: "sbe:p1" }, "Cube doesn't exist", "detach");
    } finally {
      await removeAll();
    }
  });
});

describe("cleanup", () => {
  test("after everything is deleted, bpftool net shows nothing of ours on the test's interfaces", async () => {
    expect(cubes.size).toBe(0);
    expect((await ok("GET", "/cubes/")) ?? {}).toEqual({});
    const devs = [h1.outer, h2.outer, h3.outer];
    expect(hooksOn(devs)).toEqual([]);
    const text = sh("bpftool net show");
    for (const d of devs) expect(text).not.toContain(d);
  });
});
