// ddosmitigator through the real daemon, in TC and XDP_SKB: on a host's root-side veth (whose
// address the root namespace answers) and on a port between two simplebridges. A blacklisted
// source or destination stops exactly its own pings while other addresses still pass; the
// per-address and total drop counters count exactly the pings sent; removing the entry
// restores traffic; only INGRESS is filtered, as in the original; bad addresses are refused
// with a 4xx and change nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "bun";
import { Daemon } from "../lib/daemon.ts";
import { hooksOn, okRequester } from "../lib/datapath.ts";
import { Topology, sh, type Host } from "../lib/netns.ts";

const topo = new Topology("tdd");
const daemon = new Daemon();
const ok = okRequester(daemon);
const cubes = new Set<string>();

/** h1 has two addresses; the root side of its veth has ROOT_IP. */
let h1: Host;
const H1_OTHER = "10.215.0.5";
const ROOT_IP = "10.215.0.254";
/** h2 and h3 on bridge sa, h4 on bridge sb; sa:up <-> sb:down. */
let h2: Host;
let h3: Host;
let h4: Host;

/** Pings `count` times from a host (from one of its addresses if given); true if all were answered. */
function ping(from: Host, to: string, count: number, src?: string): boolean {
  const args = ["ip", "netns", "exec", from.ns, "ping", "-c", String(count), "-W", "1", "-i", "0.2", ...(src ? ["-I", src] : []), to];
  return spawnSync(args, { stdout: "pipe", stderr: "pipe" }).exitCode === 0;
}

async function create(service: string, name: string, body: Record<string, unknown> = {}): Promise<void> {
  await ok("POST", `/${service}/${name}/`, body);
  cubes.add(name);
}

async function removeAll(): Promise<void> {
  // Transparent cubes first: deleting them detaches them.
  const order = [...cubes].sort((a, b) => Number(b.startsWith("d")) - Number(a.startsWith("d")));
  for (const c of order) {
    cubes.delete(c);
    await daemon.request("DELETE", `/${c}/`).catch(() => undefined);
  }
}

/** A list's entries, without the trailing ["_links", ...] element the original appends. */
async function entries(path: string): Promise<unknown[]> {
  return ((await ok("GET", path)) as unknown[]).filter((e) => !Array.isArray(e));
}

async function dropPkts(cube: string, list: string, ip: string): Promise<number> {
  return ok("GET", `/ddosmitigator/${cube}/${list}/${ip}/drop-pkts/`);
}

async function stats(cube: string): Promise<{ pps: number; pkts: number }> {
  return ok("GET", `/ddosmitigator/${cube}/stats/`);
}

beforeAll(async () => {
  h1 = topo.host(1, "10.215.0.1/24");
  sh(`ip -n ${h1.ns} addr add ${H1_OTHER}/24 dev eth0`);
  sh(`ip addr add ${ROOT_IP}/24 dev ${h1.outer}`);
  h2 = topo.host(2, "10.216.0.2/24");
  h3 = topo.host(3, "10.216.0.3/24");
  h4 = topo.host(4, "10.216.0.4/24");
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

for (const type of ["TC", "XDP_SKB"]) {
  describe(`${type}: on a netdev`, () => {
    test("a blacklisted source loses exactly its pings, counted exactly; removing it restores them", async () => {
      const d = `dn${type === "TC" ? "t" : "x"}`;
      try {
        expect(ping(h1, ROOT_IP, 1)).toBe(true);
        await create("ddosmitigator", d, { type });
        expect(await ok("GET", `/ddosmitigator/${d}/`)).toMatchObject({ type, stats: { pps: 0, pkts: 0 } });
        expect((await daemon.cli(["attach", d, h1.outer])).code).toBe(0);
        expect(hooksOn([h1.outer]).length).toBeGreaterThan(0);
        expect(ping(h1, ROOT_IP, 2)).toBe(true);

        // The original's CLI form.
        const added = await daemon.cli([d, "blacklist-src", "add", h1.ip]);
        expect(added.err).toBe("");
        expect(added.code).toBe(0);
        expect(ping(h1, ROOT_IP, 5)).toBe(false);
        expect(ping(h1, ROOT_IP, 2, H1_OTHER)).toBe(true);
        expect(await dropPkts(d, "blacklist-src", h1.ip)).toBe(5);
        expect((await stats(d)).pkts).toBe(5);
        const shown = await daemon.cli([d, "blacklist-src", h1.ip, "show", "drop-pkts"]);
        expect(shown.out.trim()).toBe("5");
        expect(await entries(`/ddosmitigator/${d}/blacklist-src/`)).toEqual([{ ip: h1.ip, "drop-pkts": 5 }]);

        expect((await daemon.cli([d, "blacklist-src", "del", h1.ip])).code).toBe(0);
        expect(ping(h1, ROOT_IP, 2)).toBe(true);
        expect(await entries(`/ddosmitigator/${d}/blacklist-src/`)).toEqual([]);

        // A destination: every source loses its pings to it.
        await ok("POST", `/ddosmitigator/${d}/blacklist-dst/${ROOT_IP}/`, {});
        expect(ping(h1, ROOT_IP, 3)).toBe(false);
        expect(ping(h1, ROOT_IP, 2, H1_OTHER)).toBe(false);
        expect(await dropPkts(d, "blacklist-dst", ROOT_IP)).toBe(5);
        expect((await stats(d)).pkts).toBe(10);
        await ok("DELETE", `/ddosmitigator/${d}/blacklist-dst/${ROOT_IP}/`);
        expect(ping(h1, ROOT_IP, 2)).toBe(true);

        // Added again, an address counts from 0; the total keeps going.
        await ok("PATCH", `/ddosmitigator/${d}/`, { "blacklist-src": [{ ip: h1.ip }] });
        expect(await dropPkts(d, "blacklist-src", h1.ip)).toBe(0);
        expect(ping(h1, ROOT_IP, 1)).toBe(false);
        expect(await dropPkts(d, "blacklist-src", h1.ip)).toBe(1);
        expect((await stats(d)).pkts).toBe(11);
      } finally {
        await removeAll();
      }
      expect(hooksOn([h1.outer])).toEqual([]);
      expect(ping(h1, ROOT_IP, 1)).toBe(true);
    });
  });

  describe(`${type}: on a cube port`, () => {
    test("on the port between two bridges: a blacklisted source stops, another passes; INGRESS only", async () => {
      const [sa, sb, d] = type === "TC" ? ["sat", "sbt", "dpt"] : ["sax", "sbx", "dpx"];
      try {
        await create("simplebridge", sa, { type, ports: [{ name: "p2", peer: h2.outer }, { name: "p3", peer: h3.outer }, { name: "up", peer: `${sb}:down` }] });
        await create("simplebridge", sb, { type, ports: [{ name: "down", peer: `${sa}:up` }, { name: "p4", peer: h4.outer }] });
        expect(ping(h2, h4.ip, 2)).toBe(true);
        expect(ping(h3, h4.ip, 2)).toBe(true);

        // INGRESS of sb:down is what enters sb from sa: h2's and h3's packets towards h4.
        await create("ddosmitigator", d, { type, "blacklist-src": [{ ip: h2.ip }] });
        await ok("POST", "/attach", { cube: d, port: `${sb}:down` });
        expect(await ok("GET", `/ddosmitigator/${d}/parent/`)).toBe(`${sb}:down`);
        expect(ping(h2, h4.ip, 4)).toBe(false);
        expect(ping(h3, h4.ip, 2)).toBe(true);
        expect(await dropPkts(d, "blacklist-src", h2.ip)).toBe(4);
        expect((await stats(d)).pkts).toBe(4);

        await ok("DELETE", `/ddosmitigator/${d}/blacklist-src/${h2.ip}/`);
        expect(ping(h2, h4.ip, 2)).toBe(true);

        // h4's replies to h2 leave sb by that port (EGRESS): not filtered, as in the original.
        await ok("POST", `/ddosmitigator/${d}/blacklist-dst/${h2.ip}/`, {});
        expect(ping(h2, h4.ip, 2)).toBe(true);
        expect(await dropPkts(d, "blacklist-dst", h2.ip)).toBe(0);
        // h2's and h3's requests to h4 enter sb by it (INGRESS).
        await ok("POST", `/ddosmitigator/${d}/blacklist-dst/${h4.ip}/`, {});
        expect(ping(h2, h4.ip, 2)).toBe(false);
        expect(ping(h3, h4.ip, 3)).toBe(false);
        expect(await dropPkts(d, "blacklist-dst", h4.ip)).toBe(5);
        expect((await stats(d)).pkts).toBe(9);
        await ok("DELETE", `/ddosmitigator/${d}/blacklist-dst/`);
        expect(ping(h2, h4.ip, 2)).toBe(true);
        expect(ping(h3, h4.ip, 2)).toBe(true);

        await ok("POST", "/detach", { cube: d, port: `${sb}:down` });
        expect(await ok("GET", `/simplebridge/${sb}/ports/down/tcubes/`)).toEqual([]);
      } finally {
        await removeAll();
      }
      expect(hooksOn([h2.outer, h3.outer, h4.outer])).toEqual([]);
    });
  });
}

describe("stats", () => {
  test("pps follows a flood of blacklisted packets, pkts counts all of them; metrics", async () => {
    try {
      await create("ddosmitigator", "dps", { "blacklist-src": [{ ip: h1.ip }, { ip: "10.9.9.9" }], "blacklist-dst": [] });
      await ok("POST", "/attach", { cube: "dps", port: h1.outer });
      const flood = spawn(["ip", "netns", "exec", h1.ns, "ping", "-q", "-c", "300", "-i", "0.005", "-W", "1", ROOT_IP], { stdout: "ignore", stderr: "ignore" });
      await Bun.sleep(1300);
      const during = await stats("dps");
      await flood.exited;
      expect(during.pps).toBeGreaterThan(20);
      expect(await dropPkts("dps", "blacklist-src", h1.ip)).toBe(300);
      expect(await dropPkts("dps", "blacklist-src", "10.9.9.9")).toBe(0);
      expect((await stats("dps")).pkts).toBe(300);
      await Bun.sleep(2200);
      expect((await stats("dps")).pps).toBe(0);

      const metrics = (await daemon.request("GET", "/metrics")).text;
      expect(metrics).toContain("# TYPE ddos_stats_pkts_packets counter");
      expect(metrics).toContain('ddos_stats_pkts_packets{cubeName="dps"} 300.000000');
      expect(metrics).toContain('ddos_blacklist_src_addresses{cubeName="dps"} 2.000000');
      expect(metrics).toContain('ddos_blacklist_dst_addresses{cubeName="dps"} 0.000000');
    } finally {
      await removeAll();
    }
  });
});

describe("stacking", () => {
  test("auto puts it nearest the wire, ahead of cubes attached before it", async () => {
    try {
      await create("transparenthelloworld", "thx", {});
      await create("ddosmitigator", "dauto", { "blacklist-src": [{ ip: h1.ip }] });
      await ok("POST", "/attach", { cube: "thx", port: h1.outer });
      await ok("POST", "/attach", { cube: "dauto", port: h1.outer });
      const topology = await ok("GET", `/topology/${h1.outer}/`);
      expect(topology["ingress service chain"]).toBe("dauto ---> thx ---> stack");
      expect(ping(h1, ROOT_IP, 2)).toBe(false);
      expect(ping(h1, ROOT_IP, 1, H1_OTHER)).toBe(true);
      expect(await dropPkts("dauto", "blacklist-src", h1.ip)).toBe(2);
    } finally {
      await removeAll();
    }
    expect(hooksOn([h1.outer])).toEqual([]);
  });
});

describe("bad addresses", () => {
  test("are refused with a 4xx naming the list, and change neither the configuration nor the datapath", async () => {
    try {
      await create("ddosmitigator", "dbad", { "blacklist-src": [{ ip: h1.ip }] });
      await ok("POST", "/attach", { cube: "dbad", port: h1.outer });
      const before = await ok("GET", "/ddosmitigator/dbad/");
      const refused = async (method: string, path: string, body: unknown, list = "blacklist-src") => {
        const r = await daemon.request(method, path, body);
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        expect(r.text).toContain(list);
      };
      await refused("POST", "/ddosmitigator/dbad/blacklist-src/300.1.1.1/", {});
      await refused("POST", "/ddosmitigator/dbad/blacklist-dst/10.1.1/", {}, "blacklist-dst");
      await refused("POST", "/ddosmitigator/dbad/blacklist-src/", [{ ip: "10.0.0.0/24" }]);
      await refused("POST", "/ddosmitigator/dbad/blacklist-src/", [{ ip: "10.0.0.7" }, { ip: "hello" }]);
      await refused("PATCH", "/ddosmitigator/dbad/", { "blacklist-src": [{ ip: "10.0.0.8" }, { ip: "010.0.0.1" }] });
      await refused("PUT", "/ddosmitigator/dbad/blacklist-src/", [{ ip: "1.2.3.4.5" }]);
      const cli = await daemon.cli(["dbad", "blacklist-src", "add", "1.2.3"]);
      expect(cli.code).not.toBe(0);
      expect(cli.err).toContain("not an IPv4 address");

      expect(await ok("GET", "/ddosmitigator/dbad/")).toEqual(before);
      // The datapath still drops the address that was there, and only it.
      expect(ping(h1, ROOT_IP, 2)).toBe(false);
      expect(ping(h1, ROOT_IP, 1, H1_OTHER)).toBe(true);
      expect(await dropPkts("dbad", "blacklist-src", h1.ip)).toBe(2);

      // A cube created with a bad address does not exist afterwards.
      const r = await daemon.request("POST", "/ddosmitigator/dbad2/", { "blacklist-dst": [{ ip: "1.2.3.256" }] });
      expect(r.status).toBe(400);
      expect(r.text).toContain("blacklist-dst");
      expect((await daemon.request("GET", "/ddosmitigator/dbad2/")).status).toBe(404);
    } finally {
      await removeAll();
    }
    expect(hooksOn([h1.outer])).toEqual([]);
  });
});
