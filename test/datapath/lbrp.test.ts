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
  const code = `const srv = Bun.serve({ hostname: "0.0.0.0", port: ${port}, fetch(req) {
      const body = new URL(req.url).pathname === "/ip" ? srv.requestIP(req).address : ${JSON.stringify(name)};
      return new Response(body, { headers: { connection: "close" } });
    } });
    await Bun.udpSocket({ port: ${port}, socket: { data(s, _buf, p, addr) { s.send(${JSON.stringify(name)}, p, addr); } } });
    console.log("ready");`;
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

/** One UDP datagram from a host to ip:port; the answer and the address it came from ("" if none). */
function udp(from: Host, ip: string, port: number): string {
  const code = `const s = await Bun.udpSocket({ socket: { data(_s, buf, p, addr) { console.log(buf.toString() + " " + addr + ":" + p); process.exit(0); } } });
    s.send("hi", ${port}, "${ip}"); setTimeout(() => process.exit(1), 2000);`;
  return spawnSync(["ip", "netns", "exec", from.ns, bun, "-e", code], { stdout: "pipe" }).stdout.toString().trim();
}

/** `flows` UDP flows (one source port each) of `n` datagrams; the answers of each, as udp() gives them. */
function udpFlows(from: Host, ip: string, port: number, flows: number, n: number): string[][] {
  const code = `const out = [];
    for (let f = 0; f < ${flows}; f++) {
      const answers = [];
      let wake;
      const s = await Bun.udpSocket({ socket: { data(_s, buf, p, addr) { answers.push(buf.toString() + " " + addr + ":" + p); wake?.(); } } });
      for (let i = 0; i < ${n}; i++) {
        const got = new Promise((r) => (wake = r));
        s.send("hi", ${port}, "${ip}");
        await Promise.race([got, Bun.sleep(1000)]);
      }
      s.close();
      out.push(answers);
    }
    console.log(JSON.stringify(out));`;
  const out = spawnSync(["ip", "netns", "exec", from.ns, bun, "-e", code], { stdout: "pipe" }).stdout.toString();
  return JSON.parse(out || "[]");
}

function count(xs: string[], x: string): number {
  return xs.filter((y) => y === x).length;
}

const VIP = "10.99.0.100";

/**
 * The two backend hosts of a topology, 10.`net`.1.11 and 10.`net`.2.12 (/24, the router at .254),
 * each with its server ("b1", "b2" on 8080).
 */
async function backendHosts(topo: Topology, net: number, type: string, clients: Host[]): Promise<[Host, Host]> {
  const b1 = topo.host("b1", `10.${net}.1.11/24`, { gw: `10.${net}.1.254` });
  const b2 = topo.host("b2", `10.${net}.2.12/24`, { gw: `10.${net}.2.254` });
  // Generic XDP sees the checksums the sender left for offload, and cannot forward GSO
  // packets: in XDP_SKB mode the hosts compute their checksums and send MTU-sized segments.
  if (type !== "TC") for (const h of [...clients, b1, b2]) sh(`ip netns exec ${h.ns} ethtool -K eth0 tx off tso off gso off`);
  await serve(b1, 8080, "b1");
  await serve(b2, 8080, "b2");
  return [b1, b2];
}

async function teardown(topo: Topology, lb: string, rt: string): Promise<void> {
  await daemon.request("DELETE", `/lbrp/${lb}/`).catch(() => undefined);
  await daemon.request("DELETE", `/router/${rt}/`).catch(() => undefined);
  topo.cleanup();
}

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
      [b1, b2] = await backendHosts(topo, 71, type, [client]);
    });

    afterAll(() => teardown(topo, lb, rt));

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

    it("a UDP flow keeps its backend; flows from many source ports reach both", async () => {
      const usvc = `/lbrp/${lb}/service/${VIP}/53/UDP/`;
      await ok("POST", usvc, { backend: [{ ip: b1.ip, port: 8080 }, { ip: b2.ip, port: 8080 }] });
      const flows = udpFlows(client, VIP, 53, 40, 3);
      expect(flows.length).toBe(40);
      for (const answers of flows) {
        expect(answers.length).toBe(3);
        expect(new Set(answers).size).toBe(1);
        expect(answers[0]!.endsWith(` ${VIP}:53`)).toBe(true);
      }
      const firsts = flows.map((f) => f[0]!.split(" ")[0]!);
      expect(count(firsts, "b1")).toBeGreaterThan(0);
      expect(count(firsts, "b2")).toBeGreaterThan(0);
      await ok("DELETE", usvc);
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
        ["PATCH", `/lbrp/${lb}/ports/fe/`, { ip: "10.71.0.1" }],
        ["PATCH", `/lbrp/${lb}/ports/be/`, { ip: "10.71.0.1" }],
        ["PATCH", `/lbrp/${lb}/ports/fe/`, { type: "BACKEND" }],
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

    it("proto ALL makes TCP, UDP and ICMP entries, addressed in any case (the original's CLI session)", async () => {
      const cli = async (...args: string[]) => {
        const r = await daemon.cli(args);
        expect({ args, code: r.code, err: r.err }).toEqual({ args, code: 0, err: "" });
        return r.out;
      };
      const vip = "10.99.0.200";
      await cli(lb, "service", "add", vip, "80", "ALL", "name=my-service");
      await cli(lb, "service", vip, "80", "tcp", "backend", "add", b1.ip, "port=8080", "weight=20", "name=backend-tcp");
      await cli(lb, "service", vip, "80", "udp", "backend", "add", b2.ip, "port=8080", "weight=20", "name=backend-udp");
      await cli(lb, "service", vip, "0", "icmp", "backend", "add", b1.ip, "port=0", "weight=20", "name=backend-icmp");
      const all = ((await ok("GET", `/lbrp/${lb}/service/`)) as any[]).filter((e) => e.vip === vip);
      expect(all.map((e) => `${e.vport} ${e.proto} ${e.name} ${e.backend[0].name}`).sort()).toEqual(["0 ICMP my-service backend-icmp", "80 TCP my-service backend-tcp", "80 UDP my-service backend-udp"]);
      expect(connections(client, `http://${vip}/`, 2)).toEqual({ bodies: ["b1", "b1"], remotes: new Set([vip]) });
      expect(udp(client, vip, 80)).toBe(`b2 ${vip}:80`);
      expect(topo.ping(client, vip)).toBe(true);
      await cli(lb, "service", "del", vip, "80", "TCP");
      const left = ((await ok("GET", `/lbrp/${lb}/service/`)) as any[]).filter((e) => e.vip === vip);
      expect(left.map((e) => e.proto).sort()).toEqual(["ICMP", "UDP"]);
      expect(connections(client, `http://${vip}/`, 1).bodies).toEqual([]);
      expect(udp(client, vip, 80)).toBe(`b2 ${vip}:80`);
      // ALL over an existing entry is refused, and changes nothing
      const r = await daemon.request("POST", `/lbrp/${lb}/service/${vip}/80/ALL/`, {});
      expect(r.status).toBe(409);
      expect(((await ok("GET", `/lbrp/${lb}/service/`)) as any[]).filter((e) => e.vip === vip)).toEqual(left);
      for (const p of ["UDP", "ICMP"]) await ok("DELETE", `/lbrp/${lb}/service/${vip}/${p === "UDP" ? 80 : 0}/${p}/`);
    });

    it("a cube created with a service of proto ALL keeps its three entries", async () => {
      const c = `lb2${tag}`;
      await ok("POST", `/lbrp/${c}/`, { type, service: [{ vip: "10.9.9.9", vport: 80, proto: "all", name: "x" }] });
      try {
        await ok("POST", `/lbrp/${c}/service/10.9.9.9/0/icmp/backend/10.1.2.3/`, { port: 0 });
        const all = (await ok("GET", `/lbrp/${c}/service/`)) as any[];
        expect(all.filter((e) => !Array.isArray(e)).map((e) => `${e.vport} ${e.proto} ${e.name} ${e.backend?.length ?? 0}`)).toEqual(["80 TCP x 0", "80 UDP x 0", "0 ICMP x 1"]);
        expect((await daemon.request("GET", `/lbrp/${c}/service/10.9.9.9/80/ALL/`)).status).toBe(409);
      } finally {
        await daemon.request("DELETE", `/lbrp/${c}/`);
      }
    });

    it("src-ip-rewrite: backends see the client from the new range, the client sees the vip", async () => {
      await ok("PATCH", `/lbrp/${lb}/src-ip-rewrite/`, { "ip-range": "10.71.0.0/24", new_ip_range: "10.72.0.0/24" });
      // the backends' replies to 10.72.0.0/24 go back through the router towards the client side
      await ok("POST", `/router/${rt}/route/${encodeURIComponent("10.72.0.0/24")}/10.71.0.1/`, {});
      expect(connections(client, `http://${VIP}/ip`, 2)).toEqual({ bodies: ["10.72.0.1", "10.72.0.1"], remotes: new Set([VIP]) });
      await ok("DELETE", `/lbrp/${lb}/src-ip-rewrite/`);
      expect(connections(client, `http://${VIP}/ip`, 1).bodies).toEqual(["10.71.0.1"]);
    });

    it("deleting the service gives the vip back to the network (not answered)", async () => {
      const r = await daemon.request("DELETE", `${svc}/`);
      expect(r.status).toBe(204);
      expect(connections(client, `http://${VIP}/`, 1).bodies).toEqual([]);
      expect(topo.ping(client, b2.ip)).toBe(true);
    });
  });
}

/** The received packets counter of a host's eth0. */
function rxPackets(h: Host): number {
  const j = JSON.parse(spawnSync(["ip", "-n", h.ns, "-j", "-s", "link", "show", "eth0"], { stdout: "pipe" }).stdout.toString());
  return Number(j[0].stats64.rx.packets);
}

/** A refused request: its status and the field its error names. */
async function refusal(method: string, path: string, body?: unknown): Promise<{ status: number; field: string }> {
  const r = await daemon.request(method, path, body);
  let field = "";
  try {
    field = r.json()["ietf-restconf:errors"].error[0]["error-info"] ?? "";
  } catch {}
  return { status: r.status, field };
}

// MULTI port mode: two client hosts, each on its own FRONTEND port with its own ip; the BACKEND
// port on a router cube leading to the two backend hosts, as above.
for (const type of ["TC", "XDP_SKB"] as const) {
  const tag = type === "TC" ? "t" : "x";
  describe(`lbrp MULTI (${type})`, () => {
    const topo = new Topology(`lm${tag}`);
    const lb = `lbm${tag}`;
    const rt = `lbmr${tag}`;
    const vip = "10.99.1.100";
    let c1: Host, c2: Host, b1: Host, b2: Host;

    beforeAll(async () => {
      c1 = topo.host(1, "10.231.0.1/24", { gw: "10.231.0.254" });
      c2 = topo.host(2, "10.231.0.2/24", { gw: "10.231.0.254" });
      [b1, b2] = await backendHosts(topo, 231, type, [c1, c2]);
    });

    afterAll(() => teardown(topo, lb, rt));

    it("each client reaches the router and the backends through its own FRONTEND port (ARP by target address)", async () => {
      await ok("POST", `/lbrp/${lb}/`, { type, port_mode: "MULTI" });
      await ok("POST", `/lbrp/${lb}/ports/fe1/`, { type: "FRONTEND", ip: c1.ip, peer: c1.outer });
      await ok("POST", `/lbrp/${lb}/ports/be/`, { type: "BACKEND" });
      await ok("POST", `/lbrp/${lb}/ports/fe2/`, { type: "FRONTEND", ip: c2.ip, peer: c2.outer });
      await ok("POST", `/router/${rt}/`, { type });
      await ok("POST", `/router/${rt}/ports/p0/`, { ip: "10.231.0.254/24" });
      await ok("POST", `/router/${rt}/ports/p1/`, { peer: b1.outer, ip: "10.231.1.254/24" });
      await ok("POST", `/router/${rt}/ports/p2/`, { peer: b2.outer, ip: "10.231.2.254/24" });
      expect((await daemon.cli(["connect", `${lb}:be`, `${rt}:p0`])).code).toBe(0);
      expect((await ok("GET", `/lbrp/${lb}/port_mode/`))).toBe("MULTI");
      for (const c of [c1, c2]) {
        expect(topo.ping(c, "10.231.0.254")).toBe(true);
        expect(topo.ping(c, b1.ip)).toBe(true);
        expect(connections(c, `http://${b2.ip}:8080/ip`, 1).bodies).toEqual([c.ip]);
      }
    });

    it("both clients' connections to the vip spread over the backends; answers come from the vip", async () => {
      await ok("POST", `/lbrp/${lb}/service/${vip}/80/TCP/`, { backend: [{ ip: b1.ip, port: 8080 }, { ip: b2.ip, port: 8080 }] });
      for (const c of [c1, c2]) {
        const got = connections(c, `http://${vip}/`, 30);
        expect(got.bodies.length).toBe(30);
        expect([...got.remotes]).toEqual([vip]);
        expect(count(got.bodies, "b1")).toBeGreaterThan(0);
        expect(count(got.bodies, "b2")).toBeGreaterThan(0);
        // the backends see the client's own address
        expect(connections(c, `http://${vip}/ip`, 1)).toEqual({ bodies: [c.ip], remotes: new Set([vip]) });
      }
    });

    it("answers leave through the client's own port only", async () => {
      const quiet = rxPackets(c2);
      expect(connections(c1, `http://${vip}/`, 20).bodies.length).toBe(20);
      expect(rxPackets(c2) - quiet).toBeLessThan(3);
      const quiet1 = rxPackets(c1);
      expect(connections(c2, `http://${vip}/`, 20).bodies.length).toBe(20);
      expect(rxPackets(c1) - quiet1).toBeLessThan(3);
    });

    it("UDP and ICMP services answer each client from the vip", async () => {
      await ok("POST", `/lbrp/${lb}/service/${vip}/53/UDP/`, { backend: [{ ip: b1.ip, port: 8080 }] });
      await ok("POST", `/lbrp/${lb}/service/${vip}/0/ICMP/`, { backend: [{ ip: b2.ip, port: 0 }] });
      for (const c of [c1, c2]) {
        expect(udp(c, vip, 53)).toBe(`b1 ${vip}:53`);
        const r = spawnSync(["ip", "netns", "exec", c.ns, "ping", "-n", "-c", "2", "-W", "2", "-i", "0.2", vip], { stdout: "pipe" });
        expect(r.exitCode).toBe(0);
        expect(r.stdout.toString()).toContain(`from ${vip}`);
      }
    });

    it("bad input is refused with a 4xx naming the field, and leaves nothing behind", async () => {
      const before = await ok("GET", `/lbrp/${lb}/`);
      const bad: Array<[string, string, unknown, string]> = [
        ["POST", `/lbrp/${lb}/ports/fe3/`, { type: "FRONTEND" }, "ip"],
        ["POST", `/lbrp/${lb}/ports/fe3/`, { type: "FRONTEND", ip: c1.ip }, "ip"],
        ["POST", `/lbrp/${lb}/ports/be2/`, { type: "BACKEND" }, "type"],
        ["PATCH", `/lbrp/${lb}/ports/fe2/`, { ip: c1.ip }, "ip"],
        ["PATCH", `/lbrp/${lb}/ports/fe2/`, { type: "BACKEND" }, "type"],
        ["PATCH", `/lbrp/${lb}/`, { port_mode: "SINGLE" }, "port_mode"],
        ["PATCH", `/lbrp/${lb}/port_mode/`, "SINGLE", "port_mode"],
        ["POST", `/lbrp/${lb}m2/`, { type, port_mode: "MULTI", ports: [{ name: "a", type: "FRONTEND", ip: "10.231.9.1" }, { name: "b", type: "FRONTEND", ip: "10.231.9.1" }] }, "ip"],
        ["POST", `/lbrp/${lb}m2/`, { type, port_mode: "MULTI", ports: [{ name: "b", type: "BACKEND", ip: "10.231.9.1" }] }, "ip"],
        ["POST", `/lbrp/${lb}m2/`, { type, ports: [{ name: "a", type: "FRONTEND", ip: "10.231.9.1" }] }, "ip"],
      ];
      for (const [m, p, b, field] of bad) {
        const r = await refusal(m, p, b);
        expect({ m, p, ok: r.status >= 400 && r.status < 500, field: r.field }).toEqual({ m, p, ok: true, field });
      }
      expect(await ok("GET", `/lbrp/${lb}/`)).toEqual(before);
      expect((await daemon.request("GET", `/lbrp/${lb}m2/`)).status).toBe(404);
      // the refused port with c1's address took nothing from fe1
      for (const c of [c1, c2]) expect(connections(c, `http://${vip}/ip`, 1)).toEqual({ bodies: [c.ip], remotes: new Set([vip]) });
    });

    it("a FRONTEND port's ip can move; a deleted FRONTEND port takes its client's answers with it", async () => {
      await ok("PATCH", `/lbrp/${lb}/ports/fe2/`, { ip: "10.231.0.9" });
      expect(connections(c2, `http://${vip}/`, 1).bodies).toEqual([]);
      expect(connections(c1, `http://${vip}/ip`, 1).bodies).toEqual([c1.ip]);
      await ok("PATCH", `/lbrp/${lb}/ports/fe2/`, { ip: c2.ip });
      expect(connections(c2, `http://${vip}/ip`, 1).bodies).toEqual([c2.ip]);
      await ok("DELETE", `/lbrp/${lb}/ports/fe2/`);
      expect(connections(c1, `http://${vip}/ip`, 1).bodies).toEqual([c1.ip]);
      await ok("POST", `/lbrp/${lb}/ports/fe2/`, { type: "FRONTEND", ip: c2.ip, peer: c2.outer });
      expect(connections(c2, `http://${vip}/ip`, 1).bodies).toEqual([c2.ip]);
    });

    it("from a host on the BACKEND port: ARP and IPv4 reach the port of their address only, other frames every frontend", async () => {
      const c = `lbmf${tag}`;
      const f1 = topo.host("f1", "10.231.5.1/24");
      const f2 = topo.host("f2", "10.231.5.2/24");
      const fb = topo.host("fb", "10.231.5.3/24");
      if (type !== "TC") for (const h of [f1, f2, fb]) sh(`ip netns exec ${h.ns} ethtool -K eth0 tx off tso off gso off`);
      await ok("POST", `/lbrp/${c}/`, {
        type,
        port_mode: "MULTI",
        ports: [{ name: "f1", type: "FRONTEND", ip: f1.ip, peer: f1.outer }, { name: "f2", type: "FRONTEND", ip: f2.ip, peer: f2.outer }, { name: "b", type: "BACKEND", peer: fb.outer }],
      });
      try {
        let quiet = rxPackets(f2);
        expect(topo.ping(fb, f1.ip)).toBe(true);
        expect(rxPackets(f2) - quiet).toBe(0);
        quiet = rxPackets(f1);
        expect(topo.ping(fb, f2.ip)).toBe(true);
        expect(rxPackets(f1) - quiet).toBe(0);
        // an IPv4 packet for an address no port has is dropped
        expect(topo.ping(fb, "10.231.5.9", 1, 1)).toBe(false);
        // a frame of another ethertype (0x88b5, local experimental) is flooded
        const [n1, n2] = [rxPackets(f1), rxPackets(f2)];
        const send = `import socket; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(("eth0", 0)); s.send(b"\\xff" * 6 + bytes.fromhex("${fb.mac.replaceAll(":", "")}") + b"\\x88\\xb5" + b"x" * 46)`;
        expect(spawnSync(["ip", "netns", "exec", fb.ns, "python3", "-c", send]).exitCode).toBe(0);
        await Bun.sleep(300);
        expect([rxPackets(f1) - n1, rxPackets(f2) - n2]).toEqual([1, 1]);
      } finally {
        await daemon.request("DELETE", `/lbrp/${c}/`);
      }
    });
  });
}
