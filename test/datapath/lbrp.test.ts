// The lbrp on the real datapath, in TC and XDP_SKB modes. Topology: a client host on the lbrp's
// FRONTEND port; the BACKEND port linked to a router cube whose other two ports lead to two
// backend hosts (each with a Bun HTTP server answering its own name). The client reaches the
// backends' networks through the router, and the services' vips through the lbrp, which sits in
// L2 in front of the router: ARP and traffic not for a vip cross it unchanged.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync, type Subprocess } from "bun";
import { join } from "node:path";
import { Daemon } from "../lib/daemon.ts";
import { sh, Topology, type Host } from "../lib/netns.ts";

const daemon = new Daemon();
const it = (name: string, fn: () => Promise<void> | void) => test(name, fn, 60000);
const bun = join(import.meta.dir, "../../node_modules/.bin/bun");
const servers: Subprocess[] = [];

beforeAll(async () => {
  await daemon.start();
});

afterAll(async () => {
  try {
    for (const s of servers) s.kill();
    await daemon.stop();
  } finally {
    daemon.cleanup();
  }
});

async function ok(method: string, path: string, body?: unknown): Promise<any> {
  const r = await daemon.request(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.text ? r.json() : undefined;
}

/** A Bun HTTP server in a host's namespace that answers every request with `name`. */
async function serve(h: Host, port: number, name: string): Promise<void> {
  const code = `Bun.serve({ hostname: "0.0.0.0", port: ${port}, fetch() { return new Response(${JSON.stringify(name)}, { headers: { connection: "close" } }); } }); console.log("ready");`;
  const srv = Bun.spawn(["ip", "netns", "exec", h.ns, bun, "-e", code], { stdout: "pipe", stderr: "ignore" });
  servers.push(srv);
  const reader = srv.stdout.getReader();
  const first = await Promise.race([reader.read(), Bun.sleep(10000).then(() => undefined)]);
  if (!first || first.done) throw new Error("the test server did not start");
  reader.releaseLock();
}

/** `n` new TCP connections from a host to url (one curl each); the bodies and remote addresses. */
function connections(from: Host, url: string, n: number): { bodies: string[]; remotes: Set<string> } {
  const script = `for i in $(seq 1 ${n}); do curl -s --max-time 3 -w ' %{remote_ip}\\n' ${url}; done`;
  const out = spawnSync(["ip", "netns", "exec", from.ns, "bash", "-c", script], { stdout: "pipe" }).stdout.toString();
  const lines = out.split("\n").filter((l) => l.trim());
  return { bodies: lines.map((l) => l.split(" ")[0]!), remotes: new Set(lines.map((l) => l.split(" ")[1]!)) };
}

function count(xs: string[], x: string): number {
  return xs.filter((y) => y === x).length;
}

const VIP = "10.99.0.100";

for (const type of ["TC", "XDP_SKB"] as const) {
  const tag = type === "TC" ? "t" : "x";
  describe(`lbrp (${type})`, () => {
    const topo = new Topology(`lb${tag}`);
    const lb = `lb1${tag}`;
    const rt = `lbr${tag}`;
    let client: Host, b1: Host, b2: Host;
    const svc = `/lbrp/${lb}/service/${VIP}/80/TCP`;

    beforeAll(async () => {
      client = topo.host(1, "10.71.0.1/24", { gw: "10.71.0.254" });
      b1 = topo.host(2, "10.71.1.11/24", { gw: "10.71.1.254" });
      b2 = topo.host(3, "10.71.2.12/24", { gw: "10.71.2.254" });
      // Generic XDP sees the checksums the sender left for offload, and cannot forward GSO
      // packets: in XDP_SKB mode the hosts compute their checksums and send MTU-sized segments.
      if (type !== "TC") for (const h of [client, b1, b2]) sh(`ip netns exec ${h.ns} ethtool -K eth0 tx off tso off gso off`);
      await serve(b1, 8080, "b1");
      await serve(b2, 8080, "b2");
    });

    afterAll(async () => {
      await daemon.request("DELETE", `/lbrp/${lb}/`).catch(() => undefined);
      await daemon.request("DELETE", `/router/${rt}/`).catch(() => undefined);
      topo.cleanup();
    });

    it("frames not for a vip cross unchanged: ARP, and pings through the router to the backends", async () => {
      await ok("POST", `/lbrp/${lb}/`, { type });
      await ok("POST", `/lbrp/${lb}/ports/fe/`, { type: "frontend", peer: client.outer });
      await ok("POST", `/lbrp/${lb}/ports/be/`, { type: "BACKEND" });
      await ok("POST", `/router/${rt}/`, { type });
      await ok("POST", `/router/${rt}/ports/p0/`, { ip: "10.71.0.254/24" });
      await ok("POST", `/router/${rt}/ports/p1/`, { peer: b1.outer, ip: "10.71.1.254/24" });
      await ok("POST", `/router/${rt}/ports/p2/`, { peer: b2.outer, ip: "10.71.2.254/24" });
      expect((await daemon.cli(["connect", `${lb}:be`, `${rt}:p0`])).code).toBe(0);
      expect(topo.ping(client, "10.71.0.254")).toBe(true);
      expect(topo.ping(client, b1.ip)).toBe(true);
      expect(topo.ping(client, b2.ip)).toBe(true);
      // Without a service the vip is not answered.
      expect(topo.ping(client, VIP, 1, 1)).toBe(false);
      expect(connections(client, `http://${b1.ip}:8080/`, 2).bodies).toEqual(["b1", "b1"]);
    });

    it("connections to the vip spread over both backends by weight; replies come from the vip", async () => {
      await ok("POST", svc, { name: "web", backend: [{ ip: b1.ip, port: 8080, weight: 1, name: "one" }, { ip: b2.ip, port: 8080, weight: 3 }] });
      const got = connections(client, `http://${VIP}/`, 80);
      expect(got.bodies.length).toBe(80);
      expect([...got.remotes]).toEqual([VIP]);
      const n1 = count(got.bodies, "b1");
      const n2 = count(got.bodies, "b2");
      expect(n1 + n2).toBe(80);
      // weight 1 against 3: about 20 and 60
      expect(n1).toBeGreaterThanOrEqual(6);
      expect(n2).toBeGreaterThan(n1);
      const back = await ok("GET", svc);
      expect(back).toMatchObject({ vip: VIP, vport: 80, proto: "TCP", name: "web" });
      expect(back.backend).toHaveLength(2);
    });

    it("the service's entries are addressed in any case", async () => {
      const r = await daemon.request("GET", `/lbrp/${lb}/service/${VIP}/80/tcp/backend/${b1.ip}/`);
      expect(r.status).toBe(200);
      expect(r.json()).toMatchObject({ ip: b1.ip, port: 8080, weight: 1, name: "one" });
    });

    it("ICMP to the vip is answered by a backend, from the vip", async () => {
      await ok("POST", `/lbrp/${lb}/service/${VIP}/0/icmp/`, { backend: [{ ip: b1.ip, port: 0 }, { ip: b2.ip, port: 0 }] });
      const r = spawnSync(["ip", "netns", "exec", client.ns, "ping", "-n", "-c", "2", "-W", "2", "-i", "0.2", VIP], { stdout: "pipe" });
      expect(r.exitCode).toBe(0);
      expect(r.stdout.toString()).toContain(`from ${VIP}`);
    });

    it("removing a backend moves the traffic to the other", async () => {
      const r = await daemon.request("DELETE", `${svc}/backend/${b2.ip}/`);
      expect(r.status).toBe(204);
      const got = connections(client, `http://${VIP}/`, 20);
      expect(got.bodies).toEqual(Array(20).fill("b1"));
      await ok("POST", `${svc}/backend/${b2.ip}/`, { port: 8080, weight: 1 });
      await ok("DELETE", `${svc}/backend/${b1.ip}/`);
      expect(connections(client, `http://${VIP}/`, 20).bodies).toEqual(Array(20).fill("b2"));
    });

    it("bad input is refused with a 4xx and changes nothing", async () => {
      const before = await ok("GET", `/lbrp/${lb}/`);
      const bad: Array<[string, string, unknown]> = [
        ["PATCH", `/lbrp/${lb}/`, { port_mode: "MULTI" }],
        ["POST", `/lbrp/${lb}/ports/fe2/`, { type: "FRONTEND" }],
        ["POST", `/lbrp/${lb}/ports/be2/`, { type: "BACKEND" }],
        ["POST", `/lbrp/${lb}/ports/nt/`, {}],
        ["POST", `/lbrp/${lb}/service/${VIP}/80/ICMP/`, {}],
        ["POST", `/lbrp/${lb}/service/${VIP}/81/SCTP/`, {}],
        ["POST", `/lbrp/${lb}/service/10.99.0.300/80/TCP/`, {}],
        ["POST", `${svc}/backend/10.71.1.11/`, { weight: 1 }],
        ["POST", `${svc}/backend/10.71.1.11/`, { port: 70000 }],
        ["PATCH", `/lbrp/${lb}/src-ip-rewrite/`, { "ip-range": "10.71.0.0/24" }],
        ["PATCH", `/lbrp/${lb}/src-ip-rewrite/`, { "ip-range": "10.71.0.0/24", new_ip_range: "10.72.0.0/16" }],
      ];
      for (const [m, p, b] of bad) {
        const r = await daemon.request(m, p, b);
        expect({ m, p, status: r.status >= 400 && r.status < 500 }).toEqual({ m, p, status: true });
      }
      expect(await ok("GET", `/lbrp/${lb}/`)).toEqual(before);
      expect(connections(client, `http://${VIP}/`, 3).bodies).toEqual(["b2", "b2", "b2"]);
    });

    it("deleting the service gives the vip back to the network (not answered)", async () => {
      const r = await daemon.request("DELETE", `${svc}/`);
      expect(r.status).toBe(204);
      expect(connections(client, `http://${VIP}/`, 1).bodies).toEqual([]);
      expect(topo.ping(client, b2.ip)).toBe(true);
    });
  });
}
