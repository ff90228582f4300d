// The router on the real datapath, in TC and XDP_SKB modes: hosts in their own namespaces with
// default routes via the router's ports, real pings across it, the router's own addresses, ARP
// resolution that does not lose the first packet, a simplebridge in front of a router port,
// static routes through next-hop routers (a Linux namespace and a second router cube), TTL
// expiry, the learned tables as GET shows them, and the errors bad input gets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Daemon } from "../lib/daemon.ts";
import { sh, Topology, type Host } from "../lib/netns.ts";

const daemon = new Daemon();
/** Tests wait for ARP timeouts and TCP transfers: more than bun's default 5 s each. */
const it = (name: string, fn: () => Promise<void> | void) => test(name, fn, 30000);
/** Namespaces this file creates by hand (beyond what Topology tracks), removed in afterAll. */
const extraNamespaces: string[] = [];

beforeAll(async () => {
  await daemon.start();
});

afterAll(async () => {
  try {
    await daemon.stop();
  } finally {
    for (const ns of extraNamespaces) sh(`ip netns del ${ns}`, { allowFail: true });
    daemon.cleanup();
  }
});

async function ok(method: string, path: string, body?: unknown): Promise<any> {
  const r = await daemon.request(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.text ? r.json() : undefined;
}

/** The entries of a whole-list GET, without the original's trailing ["_links", [...]] element. */
async function list<T>(path: string): Promise<T[]> {
  const all = (await ok("GET", path)) as unknown[];
  return all.filter((e) => !Array.isArray(e)) as T[];
}

/** One ping with its output: `ping -c count` from a host. */
function ping(from: Host, to: string, opts: { count?: number; ttl?: number; wait?: number } = {}): { ok: boolean; out: string } {
  const args = ["ip", "netns", "exec", from.ns, "ping", "-n", "-c", String(opts.count ?? 1), "-W", String(opts.wait ?? 2), "-i", "0.2"];
  if (opts.ttl !== undefined) args.push("-t", String(opts.ttl));
  const r = spawnSync([...args, to], { stdout: "pipe", stderr: "pipe" });
  return { ok: r.exitCode === 0, out: r.stdout.toString() + r.stderr.toString() };
}

/**
 * An HTTP upload and download of `bytes` between two hosts (curl against a Bun server in the
 * server's namespace): TCP with full-size segments across the router. Returns what arrived each way.
 */
async function tcpTransfer(server: Host, client: Host, bytes: number): Promise<{ up: number; down: number }> {
  const bun = join(import.meta.dir, "../../node_modules/.bin/bun");
  const code = `Bun.serve({ hostname: "0.0.0.0", port: 5901, async fetch(req) {
    if (req.method === "POST") return new Response(String((await req.arrayBuffer()).byteLength));
    return new Response(new Uint8Array(${bytes}).fill(97));
  } }); console.log("ready");`;
  const srv = Bun.spawn(["ip", "netns", "exec", server.ns, bun, "-e", code], { stdout: "pipe", stderr: "ignore" });
  try {
    const reader = srv.stdout.getReader();
    const first = await Promise.race([reader.read(), Bun.sleep(10000).then(() => undefined)]);
    if (!first || first.done) throw new Error("the test server did not start");
    reader.releaseLock();
    const file = join(daemon.dir, "payload.bin");
    writeFileSync(file, new Uint8Array(bytes).fill(98));
    const curl = (args: string[]) => spawnSync(["ip", "netns", "exec", client.ns, "curl", "-s", "--max-time", "20", ...args], { stdout: "pipe", stderr: "pipe" }).stdout.toString();
    const up = Number(curl(["--data-binary", `@${file}`, `http://${server.ip}:5901/`]) || -1);
    const down = Number(curl(["-o", "/dev/null", "-w", "%{size_download}", `http://${server.ip}:5901/`]) || -1);
    return { up, down };
  } finally {
    srv.kill();
    await srv.exited;
  }
}

function neighFlush(h: Host): void {
  sh(`ip -n ${h.ns} neigh flush dev eth0`, { allowFail: true });
}

const enc = (s: string) => encodeURIComponent(s);

for (const type of ["TC", "XDP_SKB"] as const) {
  const tag = type === "TC" ? "t" : "x";
  describe(`router (${type})`, () => {
    const topo = new Topology(`rt${tag}`);
    const r1 = `r1${tag}`;
    const r2 = `r2${tag}`;
    const r3 = `r3${tag}`;
    const br = `br${tag}`;
    let h1: Host, h2: Host, h3: Host, h4: Host, h5: Host, h6: Host, nh: Host;
    let h7ns = "";

    beforeAll(() => {
      // r1: two subnets (p1 with a secondary address) and a link to a Linux next-hop router (p3)
      h1 = topo.host(1, "10.61.1.1/24", { gw: "10.61.1.254" });
      h2 = topo.host(2, "10.61.2.1/24", { gw: "10.61.2.254" });
      // a simplebridge in front of r2:p1 (h3, h4), h5 behind r2:p2
      h3 = topo.host(3, "10.62.1.1/24", { gw: "10.62.1.254" });
      h4 = topo.host(4, "10.62.1.2/24", { gw: "10.62.1.254" });
      h5 = topo.host(5, "10.62.2.1/24", { gw: "10.62.2.254" });
      // r3 behind r1 through a cube-to-cube link; h6 behind r3
      h6 = topo.host(6, "10.63.1.1/24", { gw: "10.63.1.254" });
      // nh: a Linux router on r1:p3's network, leading to h7 (10.64.1.0/24)
      nh = topo.host(9, "10.61.9.2/24");
      h7ns = `${topo.prefix}${topo.id}h7`;
      sh(`ip netns add ${h7ns}`);
      extraNamespaces.push(h7ns);
      sh(`ip -n ${nh.ns} link add eth1 type veth peer name eth0 netns ${h7ns}`);
      sh(`ip netns exec ${h7ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1`, { allowFail: true });
      sh(`ip -n ${nh.ns} addr add 10.64.1.254/24 dev eth1 && ip -n ${nh.ns} link set eth1 up`);
      sh(`ip -n ${h7ns} addr add 10.64.1.1/24 dev eth0 && ip -n ${h7ns} link set eth0 up && ip -n ${h7ns} link set lo up`);
      sh(`ip -n ${h7ns} route add default via 10.64.1.254`);
      sh(`ip netns exec ${nh.ns} sysctl -qw net.ipv4.ip_forward=1`);
      sh(`ip -n ${nh.ns} route add 10.0.0.0/8 via 10.61.9.254`);
    });

    afterAll(async () => {
      for (const c of [r1, r2, r3]) await daemon.request("DELETE", `/router/${c}/`).catch(() => undefined);
      await daemon.request("DELETE", `/simplebridge/${br}/`).catch(() => undefined);
      topo.cleanup();
      if (h7ns) sh(`ip netns del ${h7ns}`, { allowFail: true });
    });

    it("two subnets: the first ping across is not lost to ARP resolution", async () => {
      await ok("POST", `/router/${r1}/`, { type });
      await ok("POST", `/router/${r1}/ports/p1/`, { peer: h1.outer, ip: "10.61.1.254/24", secondaryip: [{ ip: "10.61.11.254/24" }] });
      await ok("POST", `/router/${r1}/ports/p2/`, { peer: h2.outer, ip: "10.61.2.254/24" });
      neighFlush(h1);
      neighFlush(h2);
      const r = ping(h1, h2.ip, { count: 1, wait: 3 });
      expect(r.out).toContain("1 received");
      expect(r.ok).toBe(true);
      expect(ping(h2, h1.ip, { count: 3 }).ok).toBe(true);
    });

    it("the router answers ping to its own addresses, primary and secondary, on either port", async () => {
      for (const ip of ["10.61.1.254", "10.61.11.254", "10.61.2.254"]) expect(ping(h1, ip, { count: 2 }).ok).toBe(true);
      expect(ping(h2, "10.61.1.254", { count: 2 }).ok).toBe(true);
    });

    it("hosts on a secondary address's network reach and are reached across the router", async () => {
      sh(`ip -n ${h1.ns} addr add 10.61.11.1/24 dev eth0`);
      expect(ping(h2, "10.61.11.1", { count: 1, wait: 3 }).out).toContain("1 received");
      const r = spawnSync(["ip", "netns", "exec", h1.ns, "ping", "-n", "-c", "2", "-W", "2", "-i", "0.2", "-I", "10.61.11.1", "10.61.11.254"], { stdout: "pipe" });
      expect(r.exitCode).toBe(0);
    });

    it("TCP with full-size segments crosses the router both ways", async () => {
      // Generic XDP cannot forward a GSO packet larger than the output MTU (the kernel's
      // xdp_ok_fwd_dev refuses it): in XDP_SKB mode the hosts must send MTU-sized segments.
      if (type !== "TC") for (const h of [h1, h2]) sh(`ip netns exec ${h.ns} ethtool -K eth0 tso off gso off`);
      const bytes = 4 << 20;
      expect(await tcpTransfer(h2, h1, bytes)).toEqual({ up: bytes, down: bytes });
    });

    it("TTL 1 across the router gets an ICMP time exceeded from the input port's address", async () => {
      const r = ping(h1, h2.ip, { count: 1, ttl: 1 });
      expect(r.ok).toBe(false);
      expect(r.out).toMatch(/From 10\.61\.1\.254 .*Time to live exceeded/);
      // TTL 2 is enough for one router hop
      expect(ping(h1, h2.ip, { count: 1, ttl: 2 }).ok).toBe(true);
    });

    it("GET shows the learned ARP entries and the connected routes", async () => {
      const arp = await list<{ address: string; mac: string; interface: string }>(`/router/${r1}/arp-table/`);
      const byIp = new Map(arp.map((e) => [e.address, e]));
      expect(byIp.get(h1.ip)).toEqual({ address: h1.ip, mac: h1.mac, interface: "p1" });
      expect(byIp.get("10.61.11.1")).toEqual({ address: "10.61.11.1", mac: h1.mac, interface: "p1" });
      expect(byIp.get(h2.ip)).toEqual({ address: h2.ip, mac: h2.mac, interface: "p2" });
      const routes = await list<{ network: string; nexthop: string; interface: string; pathcost: number }>(`/router/${r1}/route/`);
      const sorted = routes.map((r) => `${r.network} ${r.nexthop} ${r.interface} ${r.pathcost}`).sort();
      expect(sorted).toEqual(["10.61.1.0/24 local p1 0", "10.61.11.0/24 local p1 0", "10.61.2.0/24 local p2 0"]);
      const cli = await daemon.cli([r1, "show", "arp-table"]);
      expect(cli.code).toBe(0);
      expect(cli.out).toContain(h2.mac);
    });

    it("a neighbour that never answers ARP: host unreachable; a static ARP entry reaches it", async () => {
      // h2 takes a second address but answers no ARP request from now on
      sh(`ip -n ${h2.ns} addr add 10.61.2.77/24 dev eth0`);
      sh(`ip netns exec ${h2.ns} sysctl -qw net.ipv4.conf.eth0.arp_ignore=8 net.ipv4.conf.all.arp_ignore=8`);
      try {
        const r = ping(h1, "10.61.2.77", { count: 1, wait: 6 });
        expect(r.ok).toBe(false);
        expect(r.out).toMatch(/From 10\.61\.1\.254 .*Destination Host Unreachable/);
        const key = enc("10.61.2.77/32");
        await ok("POST", `/router/${r1}/arp-table/${key}/`, { mac: h2.mac, interface: "p2" });
        expect(ping(h1, "10.61.2.77", { count: 2 }).ok).toBe(true);
        expect(await ok("GET", `/router/${r1}/arp-table/${key}/`)).toMatchObject({ address: "10.61.2.77/32", mac: h2.mac, interface: "p2" });
        // deleting the static entry stops the traffic again
        expect((await daemon.request("DELETE", `/router/${r1}/arp-table/${key}/`)).status).toBeLessThan(300);
        const arp = await list<{ address: string }>(`/router/${r1}/arp-table/`);
        expect(arp.map((e) => e.address)).not.toContain("10.61.2.77/32");
        expect(arp.map((e) => e.address)).not.toContain("10.61.2.77");
        expect(ping(h1, "10.61.2.77", { count: 1, wait: 1 }).ok).toBe(false);
      } finally {
        sh(`ip netns exec ${h2.ns} sysctl -qw net.ipv4.conf.eth0.arp_ignore=0 net.ipv4.conf.all.arp_ignore=0`);
      }
    });

    it("a static route through a Linux next-hop router", async () => {
      await ok("POST", `/router/${r1}/ports/p3/`, { peer: nh.outer, ip: "10.61.9.254/24" });
      await ok("POST", `/router/${r1}/route/${enc("10.64.1.0/24")}/10.61.9.2/`, {});
      const h7: Host = { ns: h7ns, inner: "eth0", outer: "", ip: "10.64.1.1", mac: "" };
      const r = ping(h1, h7.ip, { count: 1, wait: 3 });
      expect(r.out).toContain("1 received");
      expect(ping(h7, h1.ip, { count: 2 }).ok).toBe(true);
      const route = await ok("GET", `/router/${r1}/route/${enc("10.64.1.0/24")}/10.61.9.2/`);
      expect(route).toMatchObject({ network: "10.64.1.0/24", nexthop: "10.61.9.2", interface: "p3", pathcost: 1 });
      // the next hop's port cannot go while a route needs it
      const del = await daemon.request("DELETE", `/router/${r1}/ports/p3/`);
      expect(del.status).toBe(400);
      expect(del.text).toContain("10.61.9.2");
      // without the route, the network is unreachable and the router says so
      expect((await daemon.request("DELETE", `/router/${r1}/route/${enc("10.64.1.0/24")}/10.61.9.2/`)).status).toBeLessThan(300);
      const r2 = ping(h1, h7.ip, { count: 1, wait: 2 });
      expect(r2.ok).toBe(false);
      expect(r2.out).toMatch(/From 10\.61\.1\.254 .*Destination Net Unreachable/);
      await ok("POST", `/router/${r1}/route/${enc("10.64.1.0/24")}/10.61.9.2/`, {});
      expect(ping(h1, h7.ip, { count: 1 }).ok).toBe(true);
    });

    it("a static route through a second router cube linked port to port", async () => {
      await ok("POST", `/router/${r3}/`, { type });
      await ok("POST", `/router/${r3}/ports/p1/`, { ip: "10.61.8.2/24" });
      await ok("POST", `/router/${r3}/ports/p2/`, { peer: h6.outer, ip: "10.63.1.254/24" });
      await ok("POST", `/router/${r1}/ports/p4/`, { ip: "10.61.8.1/24" });
      expect((await daemon.cli(["connect", `${r1}:p4`, `${r3}:p1`])).code).toBe(0);
      await ok("POST", `/router/${r1}/route/${enc("10.63.0.0/16")}/10.61.8.2/`, { pathcost: 5 });
      await ok("POST", `/router/${r3}/route/${enc("0.0.0.0/0")}/10.61.8.1/`, {});
      const r = ping(h1, h6.ip, { count: 1, wait: 3 });
      expect(r.out).toContain("1 received");
      expect(ping(h6, h1.ip, { count: 2 }).ok).toBe(true);
      expect(ping(h6, "10.64.1.1", { count: 2 }).ok).toBe(true);
      // two router hops: TTL 2 expires at the second router, which answers from its p1 address
      const t = ping(h1, h6.ip, { count: 1, ttl: 2 });
      expect(t.out).toMatch(/From 10\.61\.8\.2 .*Time to live exceeded/);
    });

    it("a simplebridge in front of a router port", async () => {
      await ok("POST", `/simplebridge/${br}/`, { type });
      await ok("POST", `/simplebridge/${br}/ports/p1/`, { peer: h3.outer });
      await ok("POST", `/simplebridge/${br}/ports/p2/`, { peer: h4.outer });
      await ok("POST", `/simplebridge/${br}/ports/p3/`, {});
      await ok("POST", `/router/${r2}/`, { type });
      await ok("POST", `/router/${r2}/ports/p1/`, { ip: "10.62.1.254/24" });
      await ok("POST", `/router/${r2}/ports/p2/`, { peer: h5.outer, ip: "10.62.2.254/24" });
      expect((await daemon.cli(["connect", `${br}:p3`, `${r2}:p1`])).code).toBe(0);
      for (const h of [h3, h4, h5]) neighFlush(h);
      expect(ping(h3, h5.ip, { count: 1, wait: 3 }).out).toContain("1 received");
      expect(ping(h4, h5.ip, { count: 2 }).ok).toBe(true);
      expect(ping(h5, h3.ip, { count: 2 }).ok).toBe(true);
      expect(ping(h3, h4.ip, { count: 2 }).ok).toBe(true);
      expect(ping(h4, "10.62.1.254", { count: 2 }).ok).toBe(true);
    });
  });
}

describe("router errors", () => {
  const topo = new Topology("rte");
  let h1: Host;

  beforeAll(async () => {
    h1 = topo.host(1, "10.69.1.1/24");
    await ok("POST", "/router/re1/", {});
    await ok("POST", "/router/re1/ports/p1/", { peer: h1.outer, ip: "10.69.1.254/24" });
    await ok("POST", "/router/re1/ports/p2/", { ip: "10.69.2.254/24" });
  });

  afterAll(async () => {
    await daemon.request("DELETE", "/router/re1/").catch(() => undefined);
    topo.cleanup();
  });

  const expect4xx = async (method: string, path: string, body: unknown, field?: RegExp) => {
    const r = await daemon.request(method, path, body);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    if (field) expect(r.text).toMatch(field);
    return r;
  };

  it("bad addresses and prefixes are refused naming the field", async () => {
    await expect4xx("POST", "/router/re1/ports/p3/", { ip: "10.69.3.300/24" }, /ip/);
    await expect4xx("POST", "/router/re1/ports/p3/", { ip: "10.69.3.1/33" }, /ip/);
    await expect4xx("POST", "/router/re1/ports/p3/", { ip: "10.69.3.1" }, /ip/);
    await expect4xx("PATCH", "/router/re1/ports/p1/ip/", "banana", /ip/);
    await expect4xx("POST", "/router/re1/ports/p3/", { ip: "10.69.3.1/24", mac: "zz:00:00:00:00:01" }, /mac/);
    await expect4xx("POST", `/router/re1/route/${enc("10.70.0.0/40")}/10.69.1.1/`, {}, /network/);
    await expect4xx("POST", `/router/re1/route/${enc("10.70.0.0/16")}/10.69.1.999/`, {}, /nexthop/);
    await expect4xx("POST", `/router/re1/arp-table/${enc("10.69.1.7/32")}/`, { mac: "nope", interface: "p1" }, /mac/);
    expect((await daemon.request("GET", "/router/re1/ports/p3/")).status).toBeGreaterThanOrEqual(400);
    await expect4xx("POST", `/router/re1/route/${enc("10.70.0.5/16")}/10.69.1.1/`, {}, /host bits/);
  });

  it("routes through unknown ports or unreachable next hops are refused", async () => {
    await expect4xx("POST", `/router/re1/route/${enc("10.70.0.0/16")}/10.69.1.1/`, { interface: "p9" }, /p9|interface/);
    await expect4xx("POST", `/router/re1/route/${enc("10.70.0.0/16")}/10.69.1.1/`, { interface: "p2" }, /p2|interface/);
    await expect4xx("POST", `/router/re1/route/${enc("10.70.0.0/16")}/172.16.0.1/`, {}, /172\.16\.0\.1/);
    await expect4xx("POST", `/router/re1/arp-table/${enc("10.69.1.7/32")}/`, { mac: "02:00:00:00:00:07", interface: "p9" }, /p9|interface/);
    const routes = await list<unknown>("/router/re1/route/");
    expect(routes.length).toBe(2);
  });

  it("duplicate entries are refused", async () => {
    await ok("POST", `/router/re1/route/${enc("10.70.0.0/16")}/10.69.1.1/`, {});
    await expect4xx("POST", `/router/re1/route/${enc("10.70.0.0/16")}/10.69.1.1/`, {}, /exists/);
    await ok("POST", `/router/re1/arp-table/${enc("10.69.1.7/32")}/`, { mac: "02:00:00:00:00:07", interface: "p1" });
    await expect4xx("POST", `/router/re1/arp-table/${enc("10.69.1.7/32")}/`, { mac: "02:00:00:00:00:08", interface: "p1" }, /exists/);
    await expect4xx("POST", "/router/re1/ports/p1/", { ip: "10.69.5.1/24" }, /exists/);
    // the same address on two ports
    await expect4xx("POST", "/router/re1/ports/p3/", { ip: "10.69.1.254/24" }, /10\.69\.1\.254/);
    await expect4xx("POST", "/router/re1/ports/p2/secondaryip/" + enc("10.69.1.254/24") + "/", {}, /10\.69\.1\.254/);
  });

  it("connected routes cannot be deleted; static ones can", async () => {
    const r = await daemon.request("DELETE", `/router/re1/route/${enc("10.69.1.0/24")}/local/`);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect((await daemon.request("DELETE", `/router/re1/route/${enc("10.70.0.0/16")}/10.69.1.1/`)).status).toBeLessThan(300);
    const routes = await list<{ nexthop: string }>("/router/re1/route/");
    expect(routes.map((x) => x.nexthop)).toEqual(["local", "local"]);
  });

  it("a secondary address that a route's next hop needs can be deleted, as in the original; the route stays", async () => {
    await ok("POST", `/router/re1/ports/p2/secondaryip/${enc("10.69.12.254/24")}/`, {});
    await ok("POST", `/router/re1/route/${enc("10.71.0.0/16")}/10.69.12.7/`, {});
    expect((await daemon.request("DELETE", `/router/re1/ports/p2/secondaryip/${enc("10.69.12.254/24")}/`)).status).toBeLessThan(300);
    expect(await ok("GET", `/router/re1/route/${enc("10.71.0.0/16")}/10.69.12.7/`)).toMatchObject({ interface: "p2", pathcost: 1 });
    // It no longer forwards: the network is unreachable for the router's hosts.
    sh(`ip -n ${h1.ns} route replace 10.71.0.0/16 via 10.69.1.254`);
    const r = ping(h1, "10.71.0.1", { count: 1, wait: 1 });
    expect(r.out).toMatch(/Destination Net Unreachable/);
    // A new route through that next hop is refused.
    const again = await daemon.request("POST", `/router/re1/route/${enc("10.72.0.0/16")}/10.69.12.7/`, {});
    expect(again.status).toBe(400);
    expect((await daemon.request("DELETE", `/router/re1/route/${enc("10.71.0.0/16")}/10.69.12.7/`)).status).toBeLessThan(300);
  });
});

describe("router daemon log", () => {
  it("the slow path logged no errors", () => {
    const lines = daemon.log().split("\n").filter((l) => /\[(Router|Simplebridge)\].*\[(error|critical)\]|slow path:/i.test(l));
    expect(lines).toEqual([]);
  });
});
