// Shadow and span mode through the real daemon with real packets: a shadow router's namespace
// pcn-<cube> (Linux answers there for the router, pings out of it, adds routes the router
// follows), span mode seen by tcpdump there, the bad inputs, and cleanup on delete and SIGTERM.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "bun";
import { Daemon } from "../lib/daemon.ts";
import { Topology, sh, suffix, type Host } from "../lib/netns.ts";

const topo = new Topology("tsh");
const daemon = new Daemon();
const id = suffix();
let h1: Host;
let h2: Host;

const nsExists = (name: string) => sh("ip netns list").split("\n").some((l) => l.split(" ")[0] === name);
const linkExists = (name: string) => sh(`ip link show ${name}`, { allowFail: true }).includes(name);
const nsPing = (ns: string, to: string) => sh(`ip netns exec ${ns} ping -c 2 -W 1 -i 0.2 ${to}`, { allowFail: true }).includes("bytes from");

async function until(cond: () => boolean | Promise<boolean>, ms = 6000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await Bun.sleep(200);
  }
  return cond();
}

beforeAll(async () => {
  h1 = topo.host(1, "10.231.0.1/24", { gw: "10.231.0.254" });
  h2 = topo.host(2, "10.232.0.2/24", { gw: "10.232.0.254" });
  sh(`ip -n ${h2.ns} addr add 10.233.0.1/32 dev lo`);
  await daemon.start();
});

afterAll(async () => {
  await daemon.stop();
  for (const n of [`pcn-srt${id}`, `pcn-srx${id}`, `pcn-sb${id}`, `pcn-sx${id}`, `pcn-sy${id}`]) sh(`ip netns del ${n}`, { allowFail: true });
  topo.cleanup();
  daemon.cleanup();
});

for (const type of ["TC", "XDP_SKB"]) describe(`shadow router (${type})`, () => {
  const r = `sr${type === "TC" ? "t" : "x"}${id}`;
  const ns = `pcn-${r}`;

  test("creating it makes pcn-<cube> with one interface per port: the port's name, MAC and address", async () => {
    // The previous router's random MACs must not linger in the hosts' neighbour tables.
    for (const h of [h1, h2]) sh(`ip -n ${h.ns} neigh flush all`);
    const res = await daemon.request("POST", `/router/${r}/`, {
      shadow: true,
      type,
      ports: [
        { name: "p1", peer: h1.outer, ip: "10.231.0.254/24" },
        { name: "p2", peer: h2.outer, ip: "10.232.0.254/24", mac: "02:00:00:23:20:fe" },
      ],
    });
    expect(res.text).toBe("");
    expect(res.status).toBe(201);
    expect(nsExists(ns)).toBe(true);
    const links = JSON.parse(sh(`ip -n ${ns} -j addr show`)) as Array<{ ifname: string; address: string; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>;
    const byName = new Map(links.map((l) => [l.ifname, l]));
    expect(byName.get("p2")?.address).toBe("02:00:00:23:20:fe");
    const p1mac = (await daemon.request("GET", `/router/${r}/ports/p1/mac/`)).json();
    expect(byName.get("p1")?.address).toBe(p1mac);
    const v4 = (n: string) => byName.get(n)?.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`);
    expect(v4("p1")).toEqual(["10.231.0.254/24"]);
    expect(v4("p2")).toEqual(["10.232.0.254/24"]);
    expect(linkExists(`${r}-p1`)).toBe(true);
    const show = await daemon.cli([r, "show", "shadow"]);
    expect(show.out.trim()).toBe("true");
    // The hidden twins are the framework's: the cube shows only its own ports.
    const ports = (await daemon.request("GET", `/router/${r}/ports/`)).json().map((p: { name: string }) => p.name);
    expect(ports).toEqual(["p1", "p2"]);
  });

  test("Linux in the namespace answers for the router, pings hosts behind its ports, and the router still forwards", async () => {
    expect(topo.ping(h1, "10.231.0.254")).toBe(true);
    expect(nsPing(ns, h1.ip)).toBe(true);
    expect(nsPing(ns, h2.ip)).toBe(true);
    expect(topo.ping(h1, h2.ip)).toBe(true);
  });

  test("a route added by Linux in the namespace joins the router's table and carries traffic; removing it takes it out", async () => {
    expect(topo.ping(h1, "10.233.0.1", 1)).toBe(false);
    sh(`ip -n ${ns} route add 10.233.0.0/24 via 10.232.0.2`);
    const listed = async () =>
      ((await daemon.request("GET", `/router/${r}/route/`)).json() as Array<{ network: string; nexthop: string; interface: string; pathcost: number }>).find(
        (x) => x.network === "10.233.0.0/24",
      );
    expect(await until(async () => (await listed()) !== undefined)).toBe(true);
    expect(await listed()).toEqual({ network: "10.233.0.0/24", nexthop: "10.232.0.2", interface: "p2", pathcost: 1 });
    expect(topo.ping(h1, "10.233.0.1")).toBe(true);
    sh(`ip -n ${ns} route del 10.233.0.0/24 via 10.232.0.2`);
    expect(await until(async () => (await listed()) === undefined)).toBe(true);
    expect(topo.ping(h1, "10.233.0.1", 1)).toBe(false);
  });

  test("a port's address set through the API follows into the namespace", async () => {
    const res = await daemon.request("PATCH", `/router/${r}/ports/p1/`, { secondaryip: [{ ip: "10.231.1.254/24" }] });
    expect(res.status).toBeLessThan(300);
    const v4 = () => JSON.parse(sh(`ip -n ${ns} -4 -j addr show dev p1`))[0].addr_info.map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`).sort();
    expect(v4()).toEqual(["10.231.0.254/24", "10.231.1.254/24"]);
  });

  test("span mode: tcpdump in the namespace sees the traffic the router forwards", async () => {
    const off = await daemon.cli([r, "set", "span=true"]);
    expect(off.err).toBe("");
    expect((await daemon.cli([r, "show", "span"])).out.trim()).toBe("true");
    const dump = spawn(["ip", "netns", "exec", ns, "timeout", "8", "tcpdump", "-l", "-n", "-i", "p2", "-c", "2", "icmp and host 10.231.0.1"], { stdout: "pipe", stderr: "ignore" });
    await Bun.sleep(1000);
    expect(topo.ping(h1, h2.ip, 3)).toBe(true);
    const out = await new Response(dump.stdout).text();
    await dump.exited;
    expect(out).toContain("10.231.0.1 > 10.232.0.2: ICMP echo request");
    // Span on, the namespace still answers for the router (from its copy).
    expect(topo.ping(h1, "10.231.0.254")).toBe(true);
    expect((await daemon.cli([r, "set", "span=false"])).code).toBe(0);
    expect(topo.ping(h1, h2.ip)).toBe(true);
  });

  test("an address Linux gives a port's interface becomes the port's address, as in the original", async () => {
    sh(`ip -n ${ns} addr add 10.231.7.254/24 dev p1`);
    const ip = async () => (await daemon.request("GET", `/router/${r}/ports/p1/ip/`)).json();
    expect(await until(async () => (await ip()) === "10.231.7.254/24")).toBe(true);
    const routes = (await daemon.request("GET", `/router/${r}/route/`)).json() as Array<{ network: string; nexthop: string }>;
    expect(routes.some((x) => x.network === "10.231.7.0/24" && x.nexthop === "local")).toBe(true);
    expect(routes.some((x) => x.network === "10.231.0.0/24")).toBe(false);
    // The port's old primary address left the interface.
    expect(sh(`ip -n ${ns} -4 -br addr show dev p1`)).not.toContain("10.231.0.254");
  });

  test("an interface deleted in the namespace takes its port with it", async () => {
    sh(`ip -n ${ns} link del p2`);
    const ports = async () => (await daemon.request("GET", `/router/${r}/ports/`)).json().map((p: { name: string }) => p.name);
    expect(await until(async () => !(await ports()).includes("p2"))).toBe(true);
    expect(await ports()).toEqual(["p1"]);
    expect(linkExists(`${r}-p2`)).toBe(false);
  });

  test("deleting the cube removes the namespace and its interfaces", async () => {
    expect((await daemon.cli(["del", r])).code).toBe(0);
    expect(nsExists(ns)).toBe(false);
    expect(linkExists(`${r}-p1`)).toBe(false);
    expect(linkExists(`${r}-p2`)).toBe(false);
  });
});

describe("bad input", () => {
  test("span without shadow, and span on a cube that is not shadow: 400 naming span, nothing created", async () => {
    const res = await daemon.request("POST", `/router/sx${id}/`, { span: true, ports: [{ name: "p1" }] });
    expect(res.status).toBe(400);
    expect(res.text).toContain("span");
    expect(res.text).toContain("Span mode is not present in no-shadow services");
    expect((await daemon.request("GET", `/router/sx${id}/`)).status).toBe(404);
    expect(nsExists(`pcn-sx${id}`)).toBe(false);
    expect((await daemon.request("POST", `/router/sx${id}/`, {})).status).toBe(201);
    const set = await daemon.request("PATCH", `/router/sx${id}/`, { span: true });
    expect(set.status).toBe(400);
    expect(set.text).toContain("span");
  });

  test("shadow cannot be toggled after creation", async () => {
    const set = await daemon.request("PATCH", `/router/sx${id}/`, { shadow: true });
    expect(set.status).toBe(400);
    expect(set.text).toContain("shadow");
    expect(nsExists(`pcn-sx${id}`)).toBe(false);
    expect((await daemon.request("DELETE", `/router/sx${id}/`)).status).toBeLessThan(300);
  });

  test("a namespace pcn-<name> that already exists: 409 naming shadow, no cube, no interface, the namespace untouched", async () => {
    const name = `sy${id}`;
    sh(`ip netns add pcn-${name}`);
    try {
      const res = await daemon.request("POST", `/router/${name}/`, { shadow: true, ports: [{ name: "p1", peer: h1.outer, ip: "10.231.0.254/24" }] });
      expect(res.status).toBe(409);
      expect(res.text).toContain("shadow");
      expect((await daemon.request("GET", `/router/${name}/`)).status).toBe(404);
      expect(linkExists(`${name}-p1`)).toBe(false);
      expect(nsExists(`pcn-${name}`)).toBe(true);
      expect(sh(`ip -n pcn-${name} link show`)).not.toContain("p1");
      // The port is free for others.
      expect((await daemon.request("GET", `/router/`)).text).not.toContain(name);
    } finally {
      sh(`ip netns del pcn-${name}`, { allowFail: true });
    }
  });

  test("port names a shadow cube cannot take: 400 naming the name, nothing left behind", async () => {
    const name = `sy${id}`;
    for (const port of ["ns_port_a", "averyverylongport"]) {
      const res = await daemon.request("POST", `/router/${name}/`, { shadow: true, ports: [{ name: port }] });
      expect(res.status).toBe(400);
      expect(res.text).toContain("name");
      expect(nsExists(`pcn-${name}`)).toBe(false);
    }
    expect((await daemon.request("POST", `/router/${name}/`, { shadow: true })).status).toBe(201);
    const add = await daemon.request("POST", `/router/${name}/ports/ns_port_x/`, {});
    expect(add.status).toBe(400);
    expect(add.text).toContain("ns_port_");
    expect(sh(`ip -n pcn-${name} link show`)).not.toContain("ns_port_x");
    expect((await daemon.request("DELETE", `/router/${name}/`)).status).toBeLessThan(300);
    expect(nsExists(`pcn-${name}`)).toBe(false);
  });

  test("transparent cubes cannot be shadow", async () => {
    const res = await daemon.request("POST", `/firewall/sf${id}/`, { shadow: true });
    expect(res.status).toBe(400);
    expect(res.text).toContain("shadow");
    expect(nsExists(`pcn-sf${id}`)).toBe(false);
  });
});

describe("other standard cubes", () => {
  test("a shadow simplebridge gets its namespace and interfaces; SIGTERM removes them", async () => {
    const name = `sb${id}`;
    const res = await daemon.request("POST", `/simplebridge/${name}/`, { shadow: true, ports: [{ name: "p1", peer: h1.outer }, { name: "p2" }] });
    expect(res.status).toBe(201);
    expect(nsExists(`pcn-${name}`)).toBe(true);
    expect(sh(`ip -n pcn-${name} -br link show`)).toContain("p2");
    expect(linkExists(`${name}-p1`)).toBe(true);
    expect(await daemon.stop()).toBe(0);
    expect(nsExists(`pcn-${name}`)).toBe(false);
    expect(linkExists(`${name}-p1`)).toBe(false);
    expect(linkExists(`${name}-p2`)).toBe(false);
  });
});
