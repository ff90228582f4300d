// nat on the real datapath: a router cube between an inside host (10.73.1.1) and an outside
// host (10.73.2.1, no route back to the inside), a nat cube on the router's outside port.
// Masquerade (pings, TCP and UDP leave with the router port's address, which the nat follows
// when it changes), SNAT to another external address, DNAT and port forwarding from the outside
// to the inside host, the natting-table, and refused rules that change nothing. Servers in the
// hosts answer each TCP connection and UDP datagram with the address they saw it from. TC runs
// with the hosts' checksum and segmentation offloads on, XDP_SKB with them off; a third round
// runs nat as a remote service.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type Subprocess } from "bun";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Daemon, freePort } from "../lib/daemon.ts";
import { startRemoteService } from "../lib/remote-service.ts";
import { sh, Topology, type Host } from "../lib/netns.ts";

const daemon = new Daemon();
const topo = new Topology("nt");
const it = (name: string, fn: () => Promise<void> | void) => test(name, fn, 60000);
const PORT = 5931;
const BULK = 2_000_000;
const ROUTER_IN = "10.73.1.254", ROUTER_OUT = "10.73.2.254";
let h1: Host, h2: Host;
const servers: Subprocess[] = [];

async function ok(method: string, path: string, body?: unknown): Promise<any> {
  const r = await daemon.request(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.text ? r.json() : undefined;
}

async function cli(...words: string[]): Promise<string> {
  const r = await daemon.cli(words);
  if (r.code !== 0) throw new Error(`polycubectl ${words.join(" ")}: ${r.out}${r.err}`);
  return r.out.trim();
}

function ping(from: Host, to: string, count = 2): boolean {
  return spawnSync(["ip", "netns", "exec", from.ns, "ping", "-n", "-c", String(count), "-W", "1", "-i", "0.2", to], { stdout: "pipe", stderr: "pipe" }).exitCode === 0;
}

/** What the server at to:port says about this connection: the address it came from ("" when nothing came back). */
async function tcpSeen(from: Host, to: string, port = PORT): Promise<string> {
  const p = spawn(["ip", "netns", "exec", from.ns, "timeout", "-s", "KILL", "3", "bash", "-c", `exec 3<>/dev/tcp/${to}/${port} && exec head -c 40 <&3`], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return out.trim();
}

async function udpSeen(from: Host, to: string, port = PORT): Promise<string> {
  const p = spawn(["ip", "netns", "exec", from.ns, "timeout", "-s", "KILL", "2", "bash", "-c", `exec 3<>/dev/udp/${to}/${port} && echo hi >&3 && exec head -n 1 <&3`], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return out.trim();
}

/** A TCP and a UDP server on PORT in a host's namespace that answer with the peer's address. */
async function serve(h: Host): Promise<void> {
  const bun = join(import.meta.dir, "../../node_modules/.bin/bun");
  const code = `Bun.listen({ hostname: "0.0.0.0", port: ${PORT}, socket: { open(s) { s.write(s.remoteAddress + "\\n"); s.end(); }, data() {} } });
    await Bun.udpSocket({ port: ${PORT}, socket: { data(s, buf, port, addr) { s.send(addr + "\\n", port, addr); } } });
    Bun.serve({ hostname: "0.0.0.0", port: ${PORT + 1}, async fetch(req) {
      if (req.method === "POST") return new Response(String((await req.arrayBuffer()).byteLength));
      return new Response(new Uint8Array(${BULK}).fill(97));
    } });
    console.log("ready");`;
  const p = spawn(["ip", "netns", "exec", h.ns, bun, "-e", code], { stdout: "pipe", stderr: "ignore" });
  servers.push(p);
  const reader = p.stdout.getReader();
  const first = await Promise.race([reader.read(), Bun.sleep(10000).then(() => undefined)]);
  if (!first || first.done) throw new Error("the test server did not start");
  reader.releaseLock();
}

/** A download and an upload of BULK bytes over HTTP (full-size segments, and TSO in TC): what arrived each way. */
function bulk(from: Host, to: string): { down: number; up: number } {
  const file = join(daemon.dir, "bulk.bin");
  writeFileSync(file, new Uint8Array(BULK).fill(98));
  const curl = (args: string[]) => spawnSync(["ip", "netns", "exec", from.ns, "curl", "-s", "--max-time", "20", ...args], { stdout: "pipe", stderr: "pipe" }).stdout.toString();
  const down = Number(curl(["-o", "/dev/null", "-w", "%{size_download}", `http://${to}:${PORT + 1}/`]) || -1);
  const up = Number(curl(["--data-binary", `@${file}`, `http://${to}:${PORT + 1}/`]) || -1);
  return { down, up };
}

async function table(nat: string): Promise<any[]> {
  const t = (await ok("GET", `/nat/${nat}/natting-table/`)) as any[];
  return t.filter((e) => !Array.isArray(e));
}

beforeAll(async () => {
  h1 = topo.host(1, "10.73.1.1/24", { gw: ROUTER_IN });
  h2 = topo.host(2, "10.73.2.1/24"); // no route to the inside: replies need the NAT
  // The external addresses the rules below use are reached through the router's port.
  sh(`ip -n ${h2.ns} route add 10.73.200.0/24 via ${ROUTER_OUT}`);
  sh(`ip -n ${h2.ns} route add 10.73.100.0/24 via ${ROUTER_OUT}`);
  await serve(h1);
  await serve(h2);
  await daemon.start();
});

afterAll(async () => {
  try {
    for (const c of ["nt", "nx", "nr"]) await daemon.request("DELETE", `/nat/${c}/`).catch(() => undefined);
    for (const c of ["rt", "rx", "rr"]) await daemon.request("DELETE", `/router/${c}/`).catch(() => undefined);
    await daemon.stop();
  } finally {
    for (const s of servers) s.kill();
    topo.cleanup();
    daemon.cleanup();
  }
});

// The last variant runs nat as a remote service: the parent port's configuration crosses gRPC.
for (const [type, remote] of [["TC", false], ["XDP_SKB", false], ["TC", true]] as const) {
  const r = remote ? "rr" : type === "TC" ? "rt" : "rx";
  const nat = remote ? "nr" : type === "TC" ? "nt" : "nx";
  describe(remote ? `${type}, nat as a remote service` : type, () => {
    if (remote) {
      it("the daemon serves nat from another process", async () => {
        const port = freePort();
        servers.push(await startRemoteService("nat", `127.0.0.1:${port}`));
        await ok("DELETE", "/services/nat/");
        await ok("POST", "/services/", { name: "nat", type: "grpc", uri: `127.0.0.1:${port}` });
      });
    }
    it("masquerade: pings, TCP and UDP leave with the router port's address and follow its change", async () => {
      for (const h of [h1, h2]) {
        sh(`ip -n ${h.ns} neigh flush all`); // the previous router's MACs
        // TC sees the hosts' offloaded packets (CHECKSUM_PARTIAL, TSO); XDP_SKB needs them off (docs/datapath.md).
        const on = type === "TC" ? "on" : "off";
        sh(`ip netns exec ${h.ns} ethtool -K eth0 tx ${on} tso ${on} gso ${on}`, { allowFail: true });
      }
      await ok("POST", `/router/${r}/`, { type });
      await ok("POST", `/router/${r}/ports/in/`, { peer: h1.outer, ip: `${ROUTER_IN}/24` });
      await ok("POST", `/router/${r}/ports/out/`, { peer: h2.outer, ip: `${ROUTER_OUT}/24` });
      await cli("nat", "add", nat, `type=${type}`);
      await cli("attach", nat, `${r}:out`);
      expect(ping(h1, ROUTER_OUT)).toBe(true);
      expect(ping(h1, h2.ip, 1)).toBe(false); // no NAT rule yet: h2 cannot answer
      expect(await cli(nat, "rule", "masquerade", "enable")).toContain("true");
      expect(ping(h1, h2.ip)).toBe(true);
      expect(await tcpSeen(h1, h2.ip)).toBe(ROUTER_OUT);
      expect(await udpSeen(h1, h2.ip)).toBe(ROUTER_OUT);
      const rows = await table(nat);
      expect(rows.some((e) => e.proto === "ICMP" && e["internal-src"] === h1.ip && e["internal-dst"] === h2.ip && e["originating-rule"] === "masquerade" && e["external-ip"] === ROUTER_OUT)).toBe(true);
      expect(rows.some((e) => e.proto === "TCP" && e["internal-dport"] === PORT && e["external-ip"] === ROUTER_OUT)).toBe(true);
      expect(rows.some((e) => e.proto === "UDP" && e["internal-dport"] === PORT)).toBe(true);
      expect(bulk(h1, h2.ip)).toEqual({ down: BULK, up: BULK });
      expect((await ok("GET", `/nat/${nat}/rule/masquerade/`)).enabled).toBe(true);
      // The router port gets another address: masquerade follows it.
      await ok("PATCH", `/router/${r}/ports/out/ip/`, "10.73.2.253/24");
      expect(await tcpSeen(h1, h2.ip)).toBe("10.73.2.253");
      await ok("PATCH", `/router/${r}/ports/out/ip/`, `${ROUTER_OUT}/24`);
      expect(await tcpSeen(h1, h2.ip)).toBe(ROUTER_OUT);
      expect(await cli(nat, "rule", "masquerade", "disable")).toContain("true");
      expect(await tcpSeen(h1, h2.ip)).toBe("");
    });

    it("SNAT: the inside net leaves as another external address, which the outside routes back", async () => {
      expect(await cli(nat, "rule", "snat", "append", "internal-net=10.73.1.0/24", "external-ip=10.73.200.1")).toContain("id: 0");
      expect(await tcpSeen(h1, h2.ip)).toBe("10.73.200.1");
      expect(await udpSeen(h1, h2.ip)).toBe("10.73.200.1");
      expect(ping(h1, h2.ip)).toBe(true);
      const rows = await table(nat);
      expect(rows.some((e) => e.proto === "TCP" && e["originating-rule"] === "snat" && e["external-ip"] === "10.73.200.1")).toBe(true);
      expect((await ok("GET", `/nat/${nat}/rule/snat/entry/0/`))["external-ip"]).toBe("10.73.200.1");
    });

    it("DNAT and port forwarding: the outside reaches the inside host, replies go back translated", async () => {
      expect((await ok("POST", `/nat/${nat}/rule/dnat/append/`, { "external-ip": "10.73.100.1", "internal-ip": h1.ip })).id).toBe(0);
      expect(await tcpSeen(h2, "10.73.100.1")).toBe(h2.ip);
      expect(await udpSeen(h2, "10.73.100.1")).toBe(h2.ip);
      expect(ping(h2, "10.73.100.1")).toBe(true);
      expect(await tcpSeen(h2, "10.73.100.2", 8080)).toBe("");
      const pf = await ok("POST", `/nat/${nat}/rule/port-forwarding/append/`, { "external-ip": "10.73.100.2", "external-port": 8080, proto: "tcp", "internal-ip": h1.ip, "internal-port": PORT });
      expect(pf.id).toBe(0);
      expect(await tcpSeen(h2, "10.73.100.2", 8080)).toBe(h2.ip);
      expect(await udpSeen(h2, "10.73.100.2", 8080)).toBe(""); // TCP only
      expect(bulk(h2, "10.73.100.1")).toEqual({ down: BULK, up: BULK });
      const rows = await table(nat);
      expect(rows.some((e) => e["originating-rule"] === "dnat" && e["internal-src"] === h1.ip && e["internal-dst"] === h2.ip && e["external-ip"] === "10.73.100.1")).toBe(true);
      expect(rows.some((e) => e["originating-rule"] === "portforwarding" && e["internal-sport"] === PORT && e["external-ip"] === "10.73.100.2" && e["external-port"] === 8080)).toBe(true);
      const shown = await cli(nat, "natting-table", "show");
      expect(shown).toContain("portforwarding");
    });

    it("bad rules are refused with 4xx and change nothing", async () => {
      const before = await ok("GET", `/nat/${nat}/rule/`);
      const bad: Array<[string, unknown]> = [
        ["rule/snat/append/", { "internal-net": "10.73.1.0/33", "external-ip": "10.73.200.2" }],
        ["rule/snat/append/", { "internal-net": "10.73.1.0/24", "external-ip": "10.73.200.2" }], // same net as rule 0
        ["rule/dnat/append/", { "external-ip": "10.73.100.1", "internal-ip": "10.73.1.2" }], // same external address
        ["rule/dnat/append/", { "external-ip": "0.0.0.0", "internal-ip": "10.73.1.2" }],
        ["rule/port-forwarding/append/", { "external-ip": "10.73.100.2", "external-port": 8080, proto: "sctp", "internal-ip": h1.ip, "internal-port": 1 }],
        ["rule/port-forwarding/append/", { "external-ip": "10.73.100.2", "external-port": 8080, "internal-ip": h1.ip, "internal-port": 1 }], // TCP taken
        ["rule/port-forwarding/append/", { "external-ip": "10.73.100.2", "external-port": 0, "internal-ip": h1.ip, "internal-port": 1 }],
        ["rule/dnat/entry/5/", { "external-ip": "10.73.100.1", "internal-ip": "10.73.1.3" }],
      ];
      for (const [path, body] of bad) {
        const res = await daemon.request("POST", `/nat/${nat}/${path}`, body);
        expect(`${path} ${res.status}`).toMatch(/ 4\d\d$/);
      }
      const put = await daemon.request("POST", `/nat/${nat}/natting-table/1.1.1.1/2.2.2.2/1/2/TCP/`, {});
      expect(put.status).toBeGreaterThanOrEqual(400);
      expect(put.status).toBeLessThan(500);
      expect(await ok("GET", `/nat/${nat}/rule/`)).toEqual(before);
      expect(await tcpSeen(h2, "10.73.100.2", 8080)).toBe(h2.ip);
    });

    it("a natting-table entry can be deleted: its session goes", async () => {
      expect(await tcpSeen(h2, "10.73.100.1")).toBe(h2.ip);
      await cli(nat, "rule", "masquerade", "disable"); // an action: the stored configuration catches up with the sessions
      const row = (await table(nat)).find((e) => e["originating-rule"] === "dnat" && e.proto === "TCP");
      expect(row).toBeDefined();
      const key = [row["internal-src"], row["internal-dst"], row["internal-sport"], row["internal-dport"], row.proto].join("/");
      await ok("DELETE", `/nat/${nat}/natting-table/${key}/`);
      const same = (e: any) => [e["internal-src"], e["internal-dst"], e["internal-sport"], e["internal-dport"], e.proto].join("/") === key;
      expect((await table(nat)).some(same)).toBe(false);
    });

    it("deleting rules: their sessions go, new flows follow the remaining rules", async () => {
      await ok("DELETE", `/nat/${nat}/rule/port-forwarding/entry/0/`);
      expect(await tcpSeen(h2, "10.73.100.2", 8080)).toBe("");
      expect((await table(nat)).some((e) => e["originating-rule"] === "portforwarding")).toBe(false);
      await ok("DELETE", `/nat/${nat}/rule/snat/entry/0/`);
      await ok("DELETE", `/nat/${nat}/rule/dnat/entry/0/`);
      expect(await tcpSeen(h1, h2.ip)).toBe("");
      expect(await tcpSeen(h2, "10.73.100.1")).toBe("");
      await cli("detach", nat, `${r}:out`);
      await cli("del", nat);
      await cli("del", r);
    });
  });
}
