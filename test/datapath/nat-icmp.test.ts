// nat and ICMP errors, and sessions that expire, on the real datapath. A router cube between an
// inside host h1 (10.231.1.1) and an outside host h2 (10.231.2.1, no route to the inside), a nat
// cube on the router's outside port; h2 routes on to h3 (10.231.3.1), a hop beyond the NAT.
// In each NAT mode the sender sees the errors its own packets caused: a UDP datagram to a closed
// port gives ECONNREFUSED on a connected socket; a ping whose TTL runs out beyond the NAT (or, for
// DNAT, in the router behind it) gets a time-exceeded `ping -t` recognises (iputils checks the
// quoted destination). Every ICMP error the senders receive is captured and its checksums checked:
// outer IP, ICMP, quoted IP, and the quoted UDP/ICMP checksum when the whole datagram is quoted.
// The daemon runs with short timeouts (POLYCUBE_NAT_TIMEOUTS): sessions leave natting-table and the
// datapath, and the same flow then gets a fresh mapping under the rules of the moment; a closed
// TCP connection's session goes while an open one's stays.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type Subprocess } from "bun";
import { Daemon } from "../lib/daemon.ts";
import { sh, Topology, type Host } from "../lib/netns.ts";

const daemon = new Daemon({ env: { POLYCUBE_NAT_TIMEOUTS: "udp=2,icmp=2,tcp-new=2,tcp-closing=2,tcp-closed=2" } });
const topo = new Topology("nic");
const it = (name: string, fn: () => Promise<void> | void) => test(name, fn, 60000);
const ECHO = 5941; // UDP and TCP servers on h2 that answer with the peer's address:port
const CLOSED = 5949; // nothing listens there
const ROUTER_IN = "10.231.1.254", ROUTER_OUT = "10.231.2.254";
const SNAT_IP = "10.231.200.1", DNAT_IP = "10.231.100.1", PF_IP = "10.231.100.2";
let h1: Host, h2: Host, h3: Host;
const procs: Subprocess[] = [];

async function ok(method: string, path: string, body?: unknown): Promise<any> {
  const r = await daemon.request(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.text ? r.json() : undefined;
}

function run(h: Host, argv: string[], timeout = 5): string {
  const r = spawnSync(["ip", "netns", "exec", h.ns, "timeout", "-s", "KILL", String(timeout), ...argv], { stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString().trim();
}

const UDP_CLIENT = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
if len(sys.argv) > 3: s.bind(("0.0.0.0", int(sys.argv[3])))
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b"hi")
try: print(s.recv(100).decode())
except ConnectionRefusedError: print("refused")
except socket.timeout: print("timeout")
`;

/** A datagram from a connected UDP socket: "refused" (ECONNREFUSED), "timeout", or what came back. */
function udp(from: Host, to: string, port: number, sport?: number): string {
  return run(from, ["python3", "-c", UDP_CLIENT, to, String(port), ...(sport ? [String(sport)] : [])]);
}

/** `ping -t ttl`: its output (iputils prints "Time to live exceeded" for an error it matched to its probe). */
function pingTtl(from: Host, to: string, ttl: number): string {
  const r = spawnSync(["ip", "netns", "exec", from.ns, "ping", "-n", "-c", "1", "-W", "2", "-t", String(ttl), to], { stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString();
}

const SERVER = `
import socket, threading, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", ${ECHO}))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("0.0.0.0", ${ECHO})); t.listen(16)
def udp():
    while True:
        d, a = u.recvfrom(100); u.sendto(("%s:%d" % a).encode(), a)
def conn(c, a):
    c.sendall(("%s:%d\\n" % a).encode())
    while c.recv(100): pass
    c.close()
def tcp():
    while True:
        c, a = t.accept(); threading.Thread(target=conn, args=(c, a), daemon=True).start()
threading.Thread(target=udp, daemon=True).start()
threading.Thread(target=tcp, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
`;

async function serve(h: Host): Promise<void> {
  const p = spawn(["ip", "netns", "exec", h.ns, "python3", "-c", SERVER], { stdout: "pipe", stderr: "ignore" });
  procs.push(p);
  const reader = p.stdout.getReader();
  const first = await Promise.race([reader.read(), Bun.sleep(10000).then(() => undefined)]);
  if (!first || first.done) throw new Error("the test server did not start");
  reader.releaseLock();
}

/** A TCP connection from h1 to h2's server from a fixed port, held open for `hold` seconds (0: closed at once). */
function tcp(sport: number, hold: number): Subprocess {
  const code = `import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", ${sport})); s.settimeout(3)
s.connect(("${h2.ip}", ${ECHO})); print(s.recv(100).decode().strip(), flush=True); time.sleep(${hold}); s.close()`;
  const p = spawn(["ip", "netns", "exec", h1.ns, "python3", "-c", code], { stdout: "pipe", stderr: "pipe" });
  procs.push(p);
  return p;
}

// ---- checksums of captured ICMP errors ---------------------------------------------------

function sum16(b: Uint8Array, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (b.length & 1) s += b[b.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** What is wrong with the checksums of one captured frame holding an ICMP error (empty: nothing); `what` names it. */
export function checkIcmpError(f: Uint8Array): { what: string; bad: string[] } {
  const bad: string[] = [];
  const ip = f.subarray(14);
  const ihl = (ip[0]! & 15) * 4;
  if (sum16(ip.subarray(0, ihl)) !== 0xffff) bad.push("outer IP");
  const icmp = ip.subarray(ihl, (ip[2]! << 8) | ip[3]!);
  if (sum16(icmp) !== 0xffff) bad.push("ICMP");
  const q = icmp.subarray(8);
  const qihl = (q[0]! & 15) * 4;
  if (sum16(q.subarray(0, qihl)) !== 0xffff) bad.push("quoted IP");
  const qlen = (q[2]! << 8) | q[3]!;
  const proto = q[9]!;
  const l4 = q.subarray(qihl);
  const whole = q.length >= qlen;
  const dotted = (b: Uint8Array) => Array.from(b).join(".");
  const port = (o: number) => (proto === 6 || proto === 17 ? `:${(l4[o]! << 8) | l4[o + 1]!}` : "");
  const what = `type ${icmp[0]} quoting ${dotted(q.subarray(12, 16))}${port(0)} -> ${dotted(q.subarray(16, 20))}${port(2)} proto ${proto}${whole ? "" : " (truncated)"}`;
  if (whole && proto === 17 && ((l4[6]! << 8) | l4[7]!) !== 0) {
    const pseudo = new Uint8Array(12);
    pseudo.set(q.subarray(12, 20), 0);
    pseudo[9] = 17;
    pseudo[10] = l4.length >> 8;
    pseudo[11] = l4.length & 255;
    if (sum16(l4.subarray(0, qlen - qihl), sum16(pseudo)) !== 0xffff) bad.push("quoted UDP");
  }
  if (whole && proto === 1 && sum16(l4.subarray(0, qlen - qihl)) !== 0xffff) bad.push("quoted ICMP");
  return { what, bad };
}

// A raw ICMP socket sees every ICMP packet the host receives, before the kernel checks it.
const SNIFFER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(0.2)
print("ready", flush=True)
while True:
    try: p = s.recv(65535)
    except socket.timeout: continue
    ihl = (p[0] & 15) * 4
    if p[ihl] not in (0, 8): print(p.hex(), flush=True)
`;

/** The ICMP errors a host receives while fn runs, with what is wrong with their checksums. */
async function captured(h: Host, fn: () => Promise<void> | void): Promise<Array<{ what: string; bad: string[] }>> {
  const p = spawn(["ip", "netns", "exec", h.ns, "python3", "-c", SNIFFER], { stdout: "pipe", stderr: "ignore" });
  procs.push(p);
  const reader = p.stdout.getReader();
  const chunks: Uint8Array[] = [];
  const first = await Promise.race([reader.read(), Bun.sleep(5000).then(() => undefined)]);
  if (!first || first.done) throw new Error("the sniffer did not start");
  chunks.push(first.value);
  await fn();
  await Bun.sleep(500);
  p.kill();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  const lines = Buffer.concat(chunks).toString().split("\n").slice(1).filter(Boolean);
  // checkIcmpError takes an Ethernet frame.
  return lines.map((hex) => checkIcmpError(Uint8Array.from([...new Uint8Array(14), ...Buffer.from(hex, "hex")])));
}

async function table(nat: string): Promise<any[]> {
  const t = (await ok("GET", `/nat/${nat}/natting-table/`)) as any[];
  return t.filter((e) => !Array.isArray(e));
}

beforeAll(async () => {
  h1 = topo.host(1, "10.231.1.1/24", { gw: ROUTER_IN });
  h2 = topo.host(2, "10.231.2.1/24"); // no route to the inside: replies need the NAT
  h3 = topo.host(3, "10.231.3.1/24", { gw: "10.231.3.254" });
  // h3's link goes to h2, which routes between it and the router.
  sh(`ip link set ${h3.outer} netns ${h2.ns} && ip -n ${h2.ns} addr add 10.231.3.254/24 dev ${h3.outer} && ip -n ${h2.ns} link set ${h3.outer} up`);
  sh(`ip netns exec ${h2.ns} sysctl -qw net.ipv4.ip_forward=1`);
  for (const net of ["10.231.200.0/24", "10.231.100.0/24"]) sh(`ip -n ${h2.ns} route add ${net} via ${ROUTER_OUT}`);
  // Linux rate-limits ICMP errors (1/s per destination by default): the tests send several.
  for (const h of [h1, h2]) sh(`ip netns exec ${h.ns} sysctl -qw net.ipv4.icmp_ratelimit=0`);
  await serve(h2);
  await daemon.start();
});

afterAll(async () => {
  try {
    for (const c of ["nt", "nx"]) await daemon.request("DELETE", `/nat/${c}/`).catch(() => undefined);
    for (const c of ["rt", "rx"]) await daemon.request("DELETE", `/router/${c}/`).catch(() => undefined);
    await daemon.stop();
  } finally {
    for (const p of procs) p.kill();
    topo.cleanup();
    daemon.cleanup();
  }
});

for (const type of ["TC", "XDP_SKB"] as const) {
  const r = type === "TC" ? "rt" : "rx";
  const nat = type === "TC" ? "nt" : "nx";
  describe(type, () => {
    it("masquerade: port unreachable and time exceeded reach the inside sender, checksums right", async () => {
      for (const h of [h1, h2]) {
        sh(`ip -n ${h.ns} neigh flush all`);
        // Offloads off in both: a host quotes a datagram whose checksum its sender left to the
        // NIC (CHECKSUM_PARTIAL) unfinished, and the quoted UDP checksums are checked below.
        sh(`ip netns exec ${h.ns} ethtool -K eth0 tx off tso off gso off`, { allowFail: true });
      }
      await ok("POST", `/router/${r}/`, { type });
      await ok("POST", `/router/${r}/ports/in/`, { peer: h1.outer, ip: `${ROUTER_IN}/24` });
      await ok("POST", `/router/${r}/ports/out/`, { peer: h2.outer, ip: `${ROUTER_OUT}/24` });
      await ok("POST", `/router/${r}/route/${encodeURIComponent("10.231.3.0/24")}/${h2.ip}/`, {});
      expect((await daemon.cli(["nat", "add", nat, `type=${type}`])).code).toBe(0);
      expect((await daemon.cli(["attach", nat, `${r}:out`])).code).toBe(0);
      await ok("POST", `/nat/${nat}/rule/masquerade/enable/`, {});
      expect(udp(h1, h2.ip, ECHO)).toMatch(new RegExp(`^${ROUTER_OUT}:\\d+$`));
      const checks = await captured(h1, () => {
        expect(udp(h1, h2.ip, CLOSED)).toBe("refused");
        expect(pingTtl(h1, h3.ip, 2)).toContain(`From ${h2.ip} icmp_seq=1 Time to live exceeded`);
        expect(udp(h1, h3.ip, CLOSED)).toBe("refused"); // from beyond the NAT's next hop
      });
      expect(checks.map((c) => c.what)).toHaveLength(3);
      for (const c of checks) expect(c).toEqual({ what: c.what, bad: [] });
      // The quoted packets are h1's own, as it sent them.
      expect(checks.filter((c) => !c.what.includes(`quoting ${h1.ip}`))).toEqual([]);
    });

    it("SNAT: the same errors come back through the SNAT address", async () => {
      expect((await ok("POST", `/nat/${nat}/rule/snat/append/`, { "internal-net": "10.231.1.0/24", "external-ip": SNAT_IP })).id).toBe(0);
      await Bun.sleep(2500); // masquerade sessions of the same flows expire
      expect(udp(h1, h2.ip, ECHO)).toMatch(new RegExp(`^${SNAT_IP}:\\d+$`));
      const checks = await captured(h1, () => {
        expect(udp(h1, h2.ip, CLOSED)).toBe("refused");
        expect(pingTtl(h1, h3.ip, 2)).toContain("Time to live exceeded");
      });
      expect(checks.map((c) => c.what)).toHaveLength(2);
      for (const c of checks) expect(c).toEqual({ what: c.what, bad: [] });
      expect((await table(nat)).some((e) => e["originating-rule"] === "snat" && e["internal-dport"] === CLOSED && e.proto === "UDP")).toBe(true);
    });

    it("DNAT and port forwarding: errors from the inside host and the router reach the outside sender", async () => {
      await ok("POST", `/nat/${nat}/rule/dnat/append/`, { "external-ip": DNAT_IP, "internal-ip": h1.ip });
      await ok("POST", `/nat/${nat}/rule/port-forwarding/append/`, { "external-ip": PF_IP, "external-port": 8080, proto: "UDP", "internal-ip": h1.ip, "internal-port": CLOSED });
      const checks = await captured(h2, () => {
        expect(udp(h2, DNAT_IP, CLOSED)).toBe("refused");
        expect(udp(h2, PF_IP, 8080)).toBe("refused");
        // TTL 1 runs out in the router behind the NAT: its error quotes the translated probe.
        expect(pingTtl(h2, DNAT_IP, 1)).toContain(`From ${ROUTER_OUT} icmp_seq=1 Time to live exceeded`);
      });
      // The quoted packets are h2's own, as it sent them: to the external addresses and port.
      const quoted = checks.map((c) => c.what.replace(/^type \d+ quoting (.*) proto.*$/, "$1").replace(/:\d+ ->/, " ->"));
      expect(quoted.sort()).toEqual([`${h2.ip} -> ${DNAT_IP}`, `${h2.ip} -> ${DNAT_IP}:${CLOSED}`, `${h2.ip} -> ${PF_IP}:8080`].sort());
      for (const c of checks) expect(c).toEqual({ what: c.what, bad: [] });
    });

    it("sessions expire in the datapath: gone from natting-table, and the flow gets a fresh mapping", async () => {
      await ok("DELETE", `/nat/${nat}/rule/snat/entry/0/`);
      await ok("DELETE", `/nat/${nat}/rule/dnat/entry/0/`);
      await ok("DELETE", `/nat/${nat}/rule/port-forwarding/entry/0/`);
      const mine = (e: any) => e.proto === "UDP" && e["internal-sport"] === 40001;
      expect(udp(h1, h2.ip, ECHO, 40001)).toBe(`${ROUTER_OUT}:40001`);
      expect((await table(nat)).filter(mine).map((e) => e["external-ip"])).toEqual([ROUTER_OUT]);
      // An appended rule keeps the session: the flow still leaves by masquerade...
      await ok("POST", `/nat/${nat}/rule/snat/append/`, { "internal-net": "10.231.1.0/24", "external-ip": SNAT_IP });
      expect(udp(h1, h2.ip, ECHO, 40001)).toBe(`${ROUTER_OUT}:40001`);
      // ...until the session expires (udp=2 s, pushed on by each packet).
      await Bun.sleep(2600);
      expect((await table(nat)).filter(mine)).toEqual([]);
      expect(udp(h1, h2.ip, ECHO, 40001)).toBe(`${SNAT_IP}:40001`);
      expect((await table(nat)).filter(mine).map((e) => e["external-ip"])).toEqual([SNAT_IP]);
    });

    it("TCP sessions expire by state: a closed connection's goes, an open one's stays", async () => {
      const open = tcp(41001, 6);
      try {
        const reader = (open.stdout as ReadableStream<Uint8Array>).getReader();
        expect(new TextDecoder().decode((await reader.read()).value).trim()).toBe(`${SNAT_IP}:41001`);
        reader.releaseLock();
        const closed = tcp(41002, 0);
        expect((await new Response(closed.stdout as ReadableStream).text()).trim()).toBe(`${SNAT_IP}:41002`);
        const byPort = async () => new Set((await table(nat)).filter((e) => e.proto === "TCP").map((e) => e["internal-sport"]));
        expect(await byPort()).toEqual(new Set([41001, 41002]));
        await Bun.sleep(3000); // tcp-closing and tcp-closed are 2 s; established keeps the default
        expect(await byPort()).toEqual(new Set([41001]));
      } finally {
        open.kill();
        await open.exited;
        await daemon.cli(["detach", nat, `${r}:out`]);
        await daemon.request("DELETE", `/nat/${nat}/`);
        await daemon.request("DELETE", `/router/${r}/`);
      }
    });
  });
}
