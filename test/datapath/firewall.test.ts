// The firewall (docs: /work/fw-spec.md's interface, the original's pcn-firewall) through the real
// daemon with real packets between namespaces, in TC and XDP_SKB:
// - on a netdev (h1's root-side veth, whose address the root namespace answers): ICMP, TCP and
//   UDP allowed and dropped by rules, exact counters (2 pings = 196 bytes), LOG lines;
// - on a simplebridge port (h3 -- br -- h4): connection tracking seen through `session-table`
//   and through conntrack= rules: a TCP handshake and teardown held at each state, manual mode
//   with a bare ACK labelled INVALID, UDP NEW -> ESTABLISHED, ICMP echo, ICMP errors (port
//   unreachable, TTL exceeded) RELATED, the EGRESS chain;
// - TC on a netdev: EGRESS, mode switching, counters across edits, rule edit semantics and ids,
//   bad input that changes neither the rules nor the datapath, 10,000 rules in one batch,
//   session timeouts (a second daemon with POLYCUBE_FIREWALL_TIMEOUTS), and two of the original's
//   test scripts run verbatim through polycubectl (FORWARD written ACCEPT).
// Hosts and their root-side veths have static neighbours, so that no ARP reaches the counters.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type Subprocess } from "bun";
import { join } from "node:path";
import { Daemon, freePort, polycube } from "../lib/daemon.ts";
import { hooksOn, logSince, okRequester } from "../lib/datapath.ts";
import { Topology, sh, type Host } from "../lib/netns.ts";
import { TcpPeer } from "../lib/tcp-peer.ts";

const topo = new Topology("tfe");
const daemon = new Daemon();
const okFull = okRequester(daemon);
/** A request that must succeed; its error is cut short (a refused 10,000-rule batch lists every rule). */
const ok = (method: string, path: string, body?: unknown): Promise<any> =>
  okFull(method, path, body).catch((e: Error) => {
    throw new Error(e.message.slice(0, 600));
  });
const bun = join(import.meta.dir, "../../node_modules/.bin/bun");

/** h1: its root-side veth answers as ROOT1; H1B is h1's second address. */
let h1: Host;
const H1 = "10.212.1.1";
const H1B = "10.212.1.5";
const ROOT1 = "10.212.1.254";
/** h2: the same for the timeouts daemon. */
let h2: Host;
const H2 = "10.212.2.1";
const ROOT2 = "10.212.2.254";
/** h3 and h4 on a simplebridge; h4 routes to FAR's subnet (a veth inside h4), for TTL exceeded. */
let h3: Host;
let h4: Host;
const H3 = "10.212.3.3";
const H4 = "10.212.3.4";
const FAR = "10.212.9.5";

/** Servers in the root namespace and in h4: TCP greeting on PORT and PORT2, UDP echo on UPORT
 *  and UPORT2, a UDP sink (never answers) on USINK; CLOSED has nothing. EPORT: TCP echo (root). */
const PORT = freePort();
const PORT2 = freePort();
const UPORT = freePort();
const UPORT2 = freePort();
const USINK = freePort();
const CLOSED = freePort();
const EPORT = freePort();
const rootServers: Array<{ stop(closeActive?: boolean): void } | { close(): void }> = [];
const procs: Subprocess[] = [];
const peers: TcpPeer[] = [];
const cubes = new Set<string>();

function log(...a: unknown[]): void {
  if (process.env.FW_DEBUG) console.log(new Date().toISOString(), ...a);
}

// ---- traffic ----

function ping(from: Host, to: string, count: number, opts: { src?: string; ttl?: number } = {}): boolean {
  return pingOut(from, to, count, opts).code === 0;
}

function pingOut(from: Host, to: string, count: number, opts: { src?: string; ttl?: number } = {}): { code: number; out: string } {
  // From the root namespace, a deadline: ping tries again while a TC egress drop makes sendmsg fail.
  const deadline = from.ns ? [] : ["-w", String(count)];
  const args = ["ping", "-n", "-c", String(count), "-W", "1", "-i", "0.2", ...deadline, ...(opts.src ? ["-I", opts.src] : []), ...(opts.ttl ? ["-t", String(opts.ttl)] : []), to];
  const r = spawnSync(from.ns ? ["ip", "netns", "exec", from.ns, ...args] : args, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() };
}

/** The root namespace as a "host" for ping(). */
const ROOT: Host = { ns: "", inner: "", outer: "", ip: "", mac: "" };

/** A TCP connection from a host to to:port that gets the server's greeting. */
async function tcp(from: Host, to: string, port: number): Promise<boolean> {
  // head replaces bash, so that the timeout ends the whole thing.
  const p = spawn(["ip", "netns", "exec", from.ns, "timeout", "-s", "KILL", "1.5", "bash", "-c", `exec 3<>/dev/tcp/${to}/${port} && exec head -c 5 <&3`], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return out === "hello";
}

/** Datagrams m1..mN on one socket from a host to to:port; the echoes that came back. */
async function udp(from: Host, to: string, port: number, n = 1): Promise<string[]> {
  // head, not bash's read: read takes a byte at a time, and a datagram socket drops the rest.
  const script = `exec 3<>/dev/udp/${to}/${port} || exit 1; for i in $(seq 1 ${n}); do echo m$i >&3; timeout 1 head -n 1 <&3; done`;
  const p = spawn(["ip", "netns", "exec", from.ns, "timeout", "-s", "KILL", String(n + 1), "bash", "-c", script], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return out.split("\n").filter((l) => l);
}

/** One datagram "m1" from a host to to:port, not waiting for anything. */
function udpSend(from: Host, to: string, port: number): void {
  sh(`ip netns exec ${from.ns} bash -c 'echo m1 >/dev/udp/${to}/${port}'`);
}

/** A datagram to a closed port, then another: true if the second send saw the port unreachable. */
function udpRefused(from: Host, to: string, port: number): boolean {
  const script = `exec 3<>/dev/udp/${to}/${port}; printf a >&3; sleep 0.3; printf b >&3`;
  const r = spawnSync(["ip", "netns", "exec", from.ns, "bash", "-c", script], { stdout: "pipe", stderr: "pipe" });
  return r.stderr.toString().includes("Connection refused");
}

/** One crafted packet from a host (hping3 arguments). */
function hping(from: Host, args: string): void {
  sh(`ip netns exec ${from.ns} timeout -s KILL 3 hping3 -q -c 1 ${args}`, { allowFail: true });
}

// ---- control ----

async function cli(...words: string[]): Promise<string> {
  log(words.join(" "));
  const r = await daemon.cli(words);
  if (r.code !== 0) throw new Error(`polycubectl ${words.join(" ")}: ${r.out}${r.err}`);
  return r.out.trim();
}

/** A CLI call that must be refused by the daemon (exit 2: a 4xx/5xx) with `text` in the message. */
async function cliRefused(words: string[], text: string): Promise<void> {
  const r = await daemon.cli(words);
  expect({ words, code: r.code }).toEqual({ words, code: 2 });
  expect(r.out + r.err).toContain(text);
}

/** A REST call that must answer 4xx with `text` in the body. */
async function refused(method: string, path: string, body: unknown, text: string): Promise<void> {
  const r = await daemon.request(method, path, body);
  expect({ path, body, status: Math.floor(r.status / 100) }).toEqual({ path, body, status: 4 });
  expect(r.text.toLowerCase()).toContain(text.toLowerCase());
}

function rows(x: unknown): any[] {
  return ((x ?? []) as any[]).filter((e) => !Array.isArray(e));
}

interface Stat {
  id: number;
  pkts: number;
  bytes: number;
  action?: string;
  description?: string;
}

async function stats(fw: string, chain: string, d = daemon): Promise<Stat[]> {
  const r = await d.request("GET", `/firewall/${fw}/chain/${chain}/stats/`);
  if (r.status >= 300) throw new Error(`stats ${fw} ${chain}: ${r.status} ${r.text}`);
  return rows(r.json());
}

/** [pkts, bytes] of each id. */
async function counts(fw: string, chain: string): Promise<Array<[number, number]>> {
  return (await stats(fw, chain)).map((s) => [s.pkts, s.bytes]);
}

async function pkts(fw: string, chain: string, id: number, d = daemon): Promise<number> {
  const s = (await stats(fw, chain, d)).find((e) => e.id === id);
  if (!s) throw new Error(`${fw} ${chain}: no stats entry ${id}`);
  return s.pkts;
}

async function rules(fw: string, chain: string): Promise<any[]> {
  return rows(await ok("GET", `/firewall/${fw}/chain/${chain}/rule/`));
}

interface Session {
  src: string;
  dst: string;
  l4proto: string;
  sport: number;
  dport: number;
  state: string;
  eta: number;
}

async function sessions(fw: string, d = daemon): Promise<Session[]> {
  const r = await d.request("GET", `/firewall/${fw}/session-table/`);
  if (r.status >= 300) throw new Error(`session-table ${fw}: ${r.status} ${r.text}`);
  return rows(r.text ? r.json() : []);
}

/** Polls until `check` gives a value (up to ms); throws with what was last seen. */
async function until<T>(what: string, check: () => Promise<T | undefined | false>, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const v = await check().catch((e) => ((last = e), undefined));
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await Bun.sleep(50);
  }
}

/** The session matching `match` once it has `state` (polled), for the firewall fw. */
async function sessionIn(fw: string, match: (s: Session) => boolean, state: string, ms = 3000, d = daemon): Promise<Session> {
  let seen: Session[] = [];
  try {
    return await until(`session ${state}`, async () => {
      seen = (await sessions(fw, d)).filter(match);
      return seen.find((s) => s.state === state);
    }, ms);
  } catch {
    throw new Error(`no session in ${state} within ${ms} ms; matching sessions: ${JSON.stringify(seen)}`);
  }
}

async function createFw(name: string, type: string, attachTo: string, extra: string[] = []): Promise<void> {
  await cli("firewall", "add", name, `type=${type}`, ...extra);
  cubes.add(name);
  await cli("attach", name, attachTo);
}

/** Deletes a cube of any service (the daemon redirects /<cube>/ to its service's path). */
async function removeCube(name: string): Promise<void> {
  cubes.delete(name);
  const r = await daemon.request("DELETE", `/${name}/`);
  if (r.status >= 300 && r.status !== 404) throw new Error(`DELETE ${name}: ${r.status} ${r.text}`);
}

function neighbours(a: { ns?: string; dev: string; ip: string }, mac: string): void {
  sh(`ip ${a.ns ? `-n ${a.ns}` : ""} neigh replace ${a.ip} lladdr ${mac} dev ${a.dev} nud permanent`);
}

function macOf(dev: string): string {
  return JSON.parse(sh(`ip -j link show ${dev}`))[0].address;
}

/** TCP greeting on PORT/PORT2, UDP echo on UPORT/UPORT2 and a sink on USINK, in a namespace. */
async function serveIn(h: Host): Promise<void> {
  const code = `for (const port of [${PORT}, ${PORT2}]) Bun.listen({ hostname: "0.0.0.0", port, socket: { open(s) { s.write("hello"); s.end(); }, data() {} } });
    for (const port of [${UPORT}, ${UPORT2}]) await Bun.udpSocket({ port, socket: { data(s, buf, p, addr) { s.send(buf, p, addr); } } });
    await Bun.udpSocket({ port: ${USINK}, socket: { data() {} } });
    console.log("ready");`;
  const p = spawn(["ip", "netns", "exec", h.ns, bun, "-e", code], { stdout: "pipe", stderr: "ignore" });
  procs.push(p);
  const reader = p.stdout.getReader();
  const first = await Promise.race([reader.read(), Bun.sleep(10000).then(() => undefined)]);
  if (!first || first.done) throw new Error("the test server did not start");
  reader.releaseLock();
}

beforeAll(async () => {
  h1 = topo.host(1, `${H1}/24`);
  sh(`ip addr add ${ROOT1}/24 dev ${h1.outer}`);
  sh(`ip -n ${h1.ns} addr add ${H1B}/24 dev eth0`);
  h2 = topo.host(2, `${H2}/24`);
  sh(`ip addr add ${ROOT2}/24 dev ${h2.outer}`);
  h3 = topo.host(3, `${H3}/24`);
  h4 = topo.host(4, `${H4}/24`);
  for (const [h, rootIp] of [[h1, ROOT1], [h2, ROOT2]] as const) {
    neighbours({ ns: h.ns, dev: "eth0", ip: rootIp }, macOf(h.outer));
    neighbours({ dev: h.outer, ip: h.ip }, h.mac);
  }
  neighbours({ dev: h1.outer, ip: H1B }, h1.mac);
  neighbours({ ns: h3.ns, dev: "eth0", ip: H4 }, h4.mac);
  neighbours({ ns: h4.ns, dev: "eth0", ip: H3 }, h3.mac);
  // h4 routes FAR's subnet (TTL exceeded) and answers every closed port (no ICMP rate limit).
  sh(`ip netns exec ${h4.ns} sysctl -qw net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0`);
  sh(`ip -n ${h4.ns} link add d0 type veth peer name d1 && ip -n ${h4.ns} addr add 10.212.9.1/24 dev d0 && ip -n ${h4.ns} link set d0 up && ip -n ${h4.ns} link set d1 up`);
  sh(`ip -n ${h3.ns} route add 10.212.9.0/24 via ${H4}`);
  // XDP_SKB cannot redirect TSO/GSO super-packets between veths (docs/datapath.md).
  for (const h of [h1, h2, h3, h4]) sh(`ip netns exec ${h.ns} ethtool -K eth0 tx off tso off gso off`, { allowFail: true });
  for (const port of [PORT, PORT2]) rootServers.push(Bun.listen({ hostname: "0.0.0.0", port, socket: { open(s) { s.write("hello"); s.end(); }, data() {} } }));
  rootServers.push(Bun.listen({ hostname: "0.0.0.0", port: EPORT, allowHalfOpen: true, socket: { data(s, buf) { s.write(buf); } } }));
  for (const port of [UPORT, UPORT2]) rootServers.push(await Bun.udpSocket({ port, socket: { data(s, buf, p, addr) { s.send(buf, p, addr); } } }));
  rootServers.push(await Bun.udpSocket({ port: USINK, socket: { data() {} } }));
  await serveIn(h4);
  await daemon.start();
});

afterAll(async () => {
  try {
    for (const p of peers) p.stop();
    for (const c of [...cubes]) await removeCube(c).catch(() => undefined);
    await daemon.request("DELETE", "/fw/").catch(() => undefined);
    await daemon.stop();
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    for (const s of rootServers) ("stop" in s ? s.stop(true) : s.close());
    topo.cleanup();
    daemon.cleanup();
  }
});

for (const type of ["TC", "XDP_SKB"]) {
  const t = type === "TC" ? "t" : "x";

  describe(`${type} on a netdev`, () => {
    test("ICMP, TCP and UDP allowed and dropped by rules; exact counters; the default; LOG lines", async () => {
      const fw = `fwn${t}`;
      try {
        await cli("firewall", "add", fw, `type=${type}`);
        cubes.add(fw);
        const cube = await ok("GET", `/firewall/${fw}/`);
        expect([cube.type, cube.conntrack, cube["accept-established"]]).toEqual([type, "ON", "ON"]);
        expect(rows(cube.chain).map((c: any) => [c.name, c.default, rows(c.rule).length]).sort()).toEqual([["EGRESS", "ACCEPT", 0], ["INGRESS", "ACCEPT", 0]]);
        await cli("attach", fw, h1.outer);
        expect(hooksOn([h1.outer]).length).toBeGreaterThan(0);

        // The default ACCEPT lets everything through.
        expect(ping(h1, ROOT1, 1)).toBe(true);
        expect(await tcp(h1, ROOT1, PORT)).toBe(true);
        expect(await udp(h1, ROOT1, UPORT)).toEqual(["m1"]);

        // Rules drop ICMP from H1 (not from H1B), TCP to PORT (not PORT2), UDP to UPORT (not UPORT2).
        expect(await cli(fw, "chain", "INGRESS", "append", `src=${H1}`, "l4proto=ICMP", "action=DROP")).toBe("id: 0");
        expect(await cli(fw, "chain", "INGRESS", "append", "l4proto=tcp", `dport=${PORT}`, "action=DROP")).toBe("id: 1");
        expect(await cli(fw, "chain", "INGRESS", "append", `dst=${ROOT1}/32`, "l4proto=Udp", `dport=${UPORT}`, "action=DROP")).toBe("id: 2");
        await cli(fw, "chain", "INGRESS", "reset-counters");
        expect(ping(h1, ROOT1, 2)).toBe(false);
        expect(ping(h1, ROOT1, 1, { src: H1B })).toBe(true);
        expect(await tcp(h1, ROOT1, PORT)).toBe(false);
        expect(await tcp(h1, ROOT1, PORT2)).toBe(true);
        expect(await udp(h1, ROOT1, UPORT)).toEqual([]);
        expect(await udp(h1, ROOT1, UPORT2)).toEqual(["m1"]);
        const s = await stats(fw, "INGRESS");
        expect(s.map((e) => e.id)).toEqual([0, 1, 2, 3]);
        expect([s[0]!.pkts, s[0]!.bytes]).toEqual([2, 196]);
        expect(s[1]!.pkts).toBeGreaterThanOrEqual(1); // the SYN and its retransmissions
        expect([s[2]!.pkts, s[2]!.bytes]).toEqual([1, 14 + 20 + 8 + 3]); // "m1\n"
        expect([s[3]!.action, s[3]!.description]).toEqual(["ACCEPT", "Default Policy"]);
        expect(s[3]!.pkts).toBeGreaterThanOrEqual(2); // H1B's ping; PORT2's and UPORT2's flows (automatic mode counts their NEW packets)
        expect(await cli(fw, "chain", "INGRESS", "stats", "0", "show", "bytes")).toBe("196");

        // Default DROP: only what the rules accept passes; the rest is counted by the default.
        await cli(fw, "chain", "INGRESS", "set", "default=DROP");
        await cli(fw, "chain", "INGRESS", "rule", "add", "0", `src=${H1}`, "l4proto=ICMP", "action=ACCEPT");
        await cli(fw, "chain", "INGRESS", "rule", "add", "1", "l4proto=TCP", `dport=${PORT}`, "action=ACCEPT");
        await cli(fw, "chain", "INGRESS", "rule", "add", "2", "l4proto=UDP", `dport=${UPORT}`, "action=ACCEPT");
        expect(await cli(fw, "chain", "INGRESS", "reset-counters")).toBe("result: true");
        expect(await counts(fw, "INGRESS")).toEqual([[0, 0], [0, 0], [0, 0], [0, 0]]);
        expect(ping(h1, ROOT1, 2)).toBe(true);
        expect(ping(h1, ROOT1, 1, { src: H1B })).toBe(false);
        expect(await udp(h1, ROOT1, UPORT)).toEqual(["m1"]);
        expect(await udp(h1, ROOT1, UPORT2)).toEqual([]);
        expect(await counts(fw, "INGRESS")).toEqual([[2, 196], [0, 0], [1, 45], [2, 98 + 45]]);
        expect(await tcp(h1, ROOT1, PORT)).toBe(true);
        expect(await tcp(h1, ROOT1, PORT2)).toBe(false);
        expect((await stats(fw, "INGRESS"))[1]!.pkts).toBeGreaterThanOrEqual(1);
        expect((await stats(fw, "INGRESS"))[3]!.pkts).toBeGreaterThanOrEqual(3);

        // LOG: a line in the daemon's log, and the packet passes.
        let mark = daemon.log().length;
        await cli(fw, "chain", "INGRESS", "rule", "add", "0", `src=${H1}`, "l4proto=ICMP", "action=LOG");
        await cli(fw, "chain", "INGRESS", "rule", "add", "1", "l4proto=TCP", `dport=${PORT}`, "action=LOG");
        expect(ping(h1, ROOT1, 1)).toBe(true);
        expect(await tcp(h1, ROOT1, PORT)).toBe(true);
        let text = await logSince(daemon, mark);
        expect(text).toContain(`chain INGRESS rule 0 LOG: ICMP ${H1} -> ${ROOT1}`);
        expect(text).toMatch(new RegExp(`chain INGRESS rule 1 LOG: TCP ${H1.replaceAll(".", "\\.")}:\\d+ -> ${ROOT1.replaceAll(".", "\\.")}:${PORT}\\b`));
        mark = daemon.log().length;
        await cli(fw, "chain", "INGRESS", "set", "default=LOG");
        expect(await udp(h1, ROOT1, UPORT2)).toEqual(["m1"]);
        text = await logSince(daemon, mark);
        expect(text).toMatch(new RegExp(`chain INGRESS default LOG: UDP ${H1.replaceAll(".", "\\.")}:\\d+ -> ${ROOT1.replaceAll(".", "\\.")}:${UPORT2}\\b`));
        expect(text).not.toContain("rule 0 LOG");
      } finally {
        await removeCube(fw);
      }
      expect(hooksOn([h1.outer])).toEqual([]);
      expect(ping(h1, ROOT1, 1)).toBe(true);
    });
  });

  describe(`${type} on a simplebridge port`, () => {
    const br = `br${t}`;
    const fw = `fwb${t}`;
    beforeAll(async () => {
      await ok("POST", `/simplebridge/${br}/`, { type, ports: [{ name: "p1", peer: h3.outer }, { name: "p2", peer: h4.outer }] });
      cubes.add(br);
    });
    afterAll(async () => {
      await removeCube(br);
    });
    /** The firewall on br:p1 (h3's side): INGRESS = from h3, EGRESS = towards h3. */
    const create = async (...extra: string[]) => {
      await createFw(fw, type, `${br}:p1`, extra);
      expect(await ok("GET", `/simplebridge/${br}/ports/p1/tcubes/`)).toEqual([fw]);
    };

    test("TCP: the handshake and teardown held at every state; manual mode with NEW SYNs and ESTABLISHED only; a bare ACK is INVALID", async () => {
      const srv = await TcpPeer.listen(h4, EPORT);
      peers.push(srv);
      try {
        await create();
        expect(ping(h3, H4, 1)).toBe(true);
        await cli(fw, "set", "accept-established=OFF");
        // INGRESS (h3 -> h4): NEW SYNs to EPORT, ESTABLISHED; INVALID dropped; default DROP.
        await cli(fw, "chain", "INGRESS", "append", "l4proto=TCP", `dport=${EPORT}`, "conntrack=NEW", "tcpflags=SYN,!ACK", "action=ACCEPT");
        await cli(fw, "chain", "INGRESS", "append", "l4proto=TCP", "conntrack=ESTABLISHED", "action=ACCEPT");
        await cli(fw, "chain", "INGRESS", "append", "conntrack=INVALID", "action=DROP");
        await cli(fw, "chain", "INGRESS", "set", "default=DROP");
        await cli(fw, "chain", "EGRESS", "append", "l4proto=TCP", "conntrack=ESTABLISHED", "action=ACCEPT");
        await cli(fw, "chain", "EGRESS", "append", "conntrack=INVALID", "action=DROP");
        await cli(fw, "chain", "EGRESS", "set", "default=DROP");
        expect(ping(h3, H4, 1)).toBe(false);
        expect(await tcp(h3, H4, PORT)).toBe(false); // a SYN to another port: the default
        expect(await pkts(fw, "INGRESS", 3)).toBeGreaterThanOrEqual(1);
        const flow = (s: Session) => s.src === H3 && s.dst === H4 && s.l4proto === "TCP" && s.dport === EPORT;

        // SYN_SENT: the SYN+ACK is dropped.
        expect(await cli(fw, "chain", "EGRESS", "insert", "l4proto=TCP", "tcpflags=SYN ACK", "action=DROP")).toBe("id: 0");
        const c1 = await TcpPeer.connect(h3, H4, EPORT);
        peers.push(c1);
        const s1 = await sessionIn(fw, flow, "SYN_SENT");
        expect(s1.eta).toBeLessThanOrEqual(120);
        expect(s1.eta).toBeGreaterThan(100);
        await until("a dropped SYN+ACK", async () => (await pkts(fw, "EGRESS", 0)) >= 1);
        expect(c1.events.some((e) => e.startsWith("connected"))).toBe(false);
        c1.stop();
        await cli(fw, "chain", "EGRESS", "rule", "del", "0");

        // SYN_RECV: the client's ACK (and its data) are dropped; the connection exists on the client.
        expect(await cli(fw, "chain", "INGRESS", "insert", "id=0", "l4proto=TCP", `dport=${EPORT}`, "tcpflags=ACK !SYN", "action=DROP")).toBe("id: 0");
        const c2 = await TcpPeer.connect(h3, H4, EPORT);
        peers.push(c2);
        const sport = await c2.localPort();
        const flow2 = (s: Session) => flow(s) && s.sport === sport;
        await sessionIn(fw, flow2, "SYN_RECV");
        c2.send("send a");
        await until("the client's ACK and data dropped", async () => (await pkts(fw, "INGRESS", 0)) >= 2);
        await Bun.sleep(100);
        expect((await sessions(fw)).find(flow2)?.state).toBe("SYN_RECV");
        expect(srv.events.filter((e) => e.startsWith("data"))).toEqual([]);
        // ESTABLISHED once the ACK passes: the client retransmits its data.
        await cli(fw, "chain", "INGRESS", "rule", "del", "0");
        await srv.waitFor(/^data a$/, 3000);
        const est = await sessionIn(fw, flow2, "ESTABLISHED");
        expect(est.eta).toBeGreaterThan(431000);
        expect(est.eta).toBeLessThanOrEqual(432000);
        srv.send("send b");
        await c2.waitFor(/^data b$/);

        // FIN from the server: FIN_WAIT; the client's FIN with the server's last ACK dropped: LAST_ACK.
        srv.send("fin");
        await c2.waitFor(/^end$/);
        await sessionIn(fw, flow2, "FIN_WAIT");
        await cli(fw, "chain", "EGRESS", "insert", "id=0", "l4proto=TCP", "tcpflags=ACK,!FIN,!SYN,!PSH,!RST", "action=DROP");
        c2.send("fin");
        await sessionIn(fw, flow2, "LAST_ACK");
        await until("the last ACK dropped", async () => (await pkts(fw, "EGRESS", 0)) >= 1);
        // TIME_WAIT once it passes (the client retransmits its FIN).
        await cli(fw, "chain", "EGRESS", "rule", "del", "0");
        const tw = await sessionIn(fw, flow2, "TIME_WAIT");
        expect(tw.eta).toBeLessThanOrEqual(120);
        expect(await pkts(fw, "INGRESS", 2)).toBe(0); // nothing of the connection was INVALID
        expect(await pkts(fw, "EGRESS", 1)).toBe(0);

        // A bare ACK without a session is INVALID (dropped by the INVALID rule); so is one to a closed port.
        const newBefore = await pkts(fw, "INGRESS", 0);
        hping(h3, `-A -s 40001 -p ${EPORT} ${H4}`);
        await until("a bare ACK labelled INVALID", async () => (await pkts(fw, "INGRESS", 2)) === 1);
        hping(h3, `-A -s 40002 -p ${CLOSED} ${H4}`);
        await until("another INVALID", async () => (await pkts(fw, "INGRESS", 2)) === 2);
        expect((await sessions(fw)).filter((s) => s.sport === 40001 || s.sport === 40002)).toEqual([]);
        // A SYN on the TIME_WAIT session's ports starts a new session: NEW, not INVALID.
        hping(h3, `-S -s ${sport} -k -p ${EPORT} ${H4}`);
        await until("a SYN in TIME_WAIT labelled NEW", async () => (await pkts(fw, "INGRESS", 0)) === newBefore + 1);
        expect(await pkts(fw, "INGRESS", 2)).toBe(2);

        // A whole connection works in manual mode; an RST ends its session.
        const c3 = await TcpPeer.connect(h3, H4, EPORT);
        peers.push(c3);
        const sport3 = await c3.localPort();
        c3.send("send c");
        await srv.waitFor(/^data c$/);
        await sessionIn(fw, (s) => flow(s) && s.sport === sport3, "ESTABLISHED");
        srv.send("rst");
        await c3.waitFor(/^(closed|error)/);
        await until("the session ended by the RST", async () => !(await sessions(fw)).some((s) => flow(s) && s.sport === sport3));
      } finally {
        await removeCube(fw);
        srv.stop();
      }
    });

    test("UDP NEW then ESTABLISHED; automatic mode does not count the answers", async () => {
      try {
        await create("accept-established=OFF");
        // The creation's own value wins over the automatic default.
        expect(await cli(fw, "show", "accept-established")).toBe("OFF");
        await cli(fw, "chain", "INGRESS", "append", "l4proto=UDP", "conntrack=NEW", "action=ACCEPT");
        await cli(fw, "chain", "INGRESS", "append", "l4proto=UDP", "conntrack=ESTABLISHED", "action=ACCEPT");
        await cli(fw, "chain", "INGRESS", "set", "default=DROP");
        await cli(fw, "chain", "EGRESS", "append", "l4proto=UDP", "conntrack=ESTABLISHED", "action=ACCEPT");
        await cli(fw, "chain", "EGRESS", "set", "default=DROP");
        expect(await udp(h3, H4, UPORT, 3)).toEqual(["m1", "m2", "m3"]);
        expect(await counts(fw, "INGRESS")).toEqual([[1, 45], [2, 90], [0, 0]]);
        expect(await counts(fw, "EGRESS")).toEqual([[3, 135], [0, 0]]);
        const est = (await sessions(fw)).filter((s) => s.l4proto === "UDP" && s.dport === UPORT);
        expect(est.map((s) => [s.src, s.dst, s.state])).toEqual([[H3, H4, "ESTABLISHED"]]);
        expect(est[0]!.eta).toBeGreaterThan(170);
        expect(est[0]!.eta).toBeLessThanOrEqual(180);
        // Unanswered: NEW.
        expect(await udp(h3, H4, USINK)).toEqual([]);
        const sink = (await sessions(fw)).filter((s) => s.l4proto === "UDP" && s.dport === USINK);
        expect(sink.map((s) => [s.src, s.dst, s.state])).toEqual([[H3, H4, "NEW"]]);
        expect(sink[0]!.eta).toBeLessThanOrEqual(30);
        expect(sink[0]!.eta).toBeGreaterThan(20);
        // h4's own datagram to h3 is NEW on EGRESS: the default drops it.
        await udp(h4, H3, USINK);
        expect((await counts(fw, "EGRESS"))[1]).toEqual([1, 45]);

        // Automatic mode: the answers skip the rules and are counted nowhere.
        await cli(fw, "set", "accept-established=ON");
        await cli(fw, "chain", "EGRESS", "rule", "del", "0");
        await cli(fw, "chain", "INGRESS", "reset-counters");
        await cli(fw, "chain", "EGRESS", "reset-counters");
        expect(await udp(h3, H4, UPORT2, 2)).toEqual(["m1", "m2"]);
        expect(await counts(fw, "INGRESS")).toEqual([[1, 45], [0, 0], [0, 0]]);
        expect(await counts(fw, "EGRESS")).toEqual([[0, 0]]);
      } finally {
        await removeCube(fw);
      }
    });

    test("ICMP echo: requests NEW, replies ESTABLISHED, a reply without a request INVALID", async () => {
      try {
        await create();
        await cli(fw, "set", "accept-established=OFF");
        await cli(fw, "chain", "INGRESS", "append", "l4proto=ICMP", "conntrack=NEW", "action=ACCEPT");
        await cli(fw, "chain", "INGRESS", "set", "default=DROP");
        await cli(fw, "chain", "EGRESS", "append", "l4proto=ICMP", "conntrack=ESTABLISHED", "action=ACCEPT");
        await cli(fw, "chain", "EGRESS", "append", "conntrack=INVALID", "action=DROP");
        await cli(fw, "chain", "EGRESS", "set", "default=DROP");
        expect(ping(h3, H4, 2)).toBe(true);
        expect(await counts(fw, "INGRESS")).toEqual([[2, 196], [0, 0]]);
        expect(await counts(fw, "EGRESS")).toEqual([[2, 196], [0, 0], [0, 0]]);
        const icmp = (await sessions(fw)).filter((s) => s.l4proto === "ICMP");
        expect(icmp.map((s) => [s.src, s.dst, s.dport, s.state])).toEqual([[H3, H4, 0, "ESTABLISHED"]]);
        expect(icmp[0]!.eta).toBeLessThanOrEqual(30);
        // h4's pings are NEW on EGRESS: the default.
        expect(ping(h4, H3, 1)).toBe(false);
        expect((await counts(fw, "EGRESS"))[2]).toEqual([1, 98]);
        // An echo reply nobody asked for.
        hping(h4, `--icmp -C 0 ${H3}`);
        await until("an unsolicited echo reply labelled INVALID", async () => (await pkts(fw, "EGRESS", 1)) === 1);
        expect((await counts(fw, "EGRESS"))[0]).toEqual([2, 196]);
      } finally {
        await removeCube(fw);
      }
    });

    test("ICMP errors of live sessions are RELATED: port unreachable, TTL exceeded; others INVALID", async () => {
      // Frames: Ethernet, IP, ICMP, then the offending IP packet (all of it: it is short).
      const UNREACH = 14 + 20 + 8 + (20 + 8 + 1);
      const TTL_EXCEEDED = 14 + 20 + 8 + (20 + 8 + 56);
      try {
        await create();
        await cli(fw, "chain", "INGRESS", "append", "l4proto=UDP", "action=ACCEPT");
        await cli(fw, "chain", "INGRESS", "append", "l4proto=ICMP", "action=ACCEPT");
        await cli(fw, "chain", "EGRESS", "append", "l4proto=ICMP", "conntrack=RELATED", "action=ACCEPT");
        await cli(fw, "chain", "EGRESS", "append", "l4proto=ICMP", "conntrack=INVALID", "action=DROP");
        await cli(fw, "chain", "EGRESS", "append", "l4proto=ICMP", "action=DROP");
        expect(udpRefused(h3, H4, CLOSED)).toBe(true);
        expect((await counts(fw, "EGRESS"))[0]).toEqual([1, UNREACH]);
        const ttl = pingOut(h3, FAR, 1, { ttl: 1 });
        expect(ttl.out).toContain("Time to live exceeded");
        expect((await counts(fw, "EGRESS"))[0]).toEqual([2, UNREACH + TTL_EXCEEDED]);
        // An error about a flow the firewall never saw: INVALID.
        hping(h4, `--icmp -C 3 -K 3 ${H3}`);
        await until("an ICMP error without a session labelled INVALID", async () => (await pkts(fw, "EGRESS", 1)) === 1);
        // Without the RELATED rule, the errors meet the ICMP DROP.
        await cli(fw, "chain", "EGRESS", "rule", "del", "0");
        expect(udpRefused(h3, H4, CLOSED)).toBe(false);
        expect(pingOut(h3, FAR, 1, { ttl: 1 }).out).not.toContain("Time to live exceeded");
        // Two port unreachables this time (the second datagram went out) and the TTL exceeded.
        const c = await counts(fw, "EGRESS");
        expect(c[0]![0]).toBe(1);
        expect(c.slice(1)).toEqual([[3, 2 * UNREACH + TTL_EXCEEDED], [0, 0]]);
      } finally {
        await removeCube(fw);
      }
    });
  });
}

describe("TC on a netdev", () => {
  test("EGRESS chain; automatic mode's accepted replies are not counted; mode switching", async () => {
    const fw = "fwm";
    try {
      await createFw(fw, "TC", h1.outer);
      expect(await cli(fw, "chain", "EGRESS", "append", "l4proto=ICMP", `dst=${H1}`, "action=DROP")).toBe("id: 0");
      // The root namespace's pings to h1 leave through EGRESS: dropped. (ping sees the drop as
      // ENOBUFS from sendmsg and tries again: more than 2 requests may be counted.)
      expect(ping(ROOT, H1, 2)).toBe(false);
      const [[n, bytes], def] = await counts(fw, "EGRESS");
      expect([n! >= 2, bytes, def]).toEqual([true, n! * 98, [0, 0]]);
      // h1's pings: the requests pass INGRESS's default, the replies are ESTABLISHED: accepted, not counted.
      expect(ping(h1, ROOT1, 2)).toBe(true);
      expect(await counts(fw, "EGRESS")).toEqual([[n!, n! * 98], [0, 0]]);
      expect(await counts(fw, "INGRESS")).toEqual([[2, 196]]);

      // Manual mode: the replies meet the rules.
      await cli(fw, "set", "accept-established=OFF");
      expect([await cli(fw, "show", "conntrack"), await cli(fw, "show", "accept-established")]).toEqual(["ON", "OFF"]);
      expect(ping(h1, ROOT1, 1)).toBe(false);
      expect(await counts(fw, "EGRESS")).toEqual([[n! + 1, (n! + 1) * 98], [0, 0]]);
      expect(await cli(fw, "chain", "EGRESS", "insert", "id=0", "conntrack=ESTABLISHED", "action=ACCEPT")).toBe("id: 0");
      expect(ping(h1, ROOT1, 1)).toBe(true);
      expect(await counts(fw, "EGRESS")).toEqual([[1, 98], [n! + 1, (n! + 1) * 98], [0, 0]]);
      await cli(fw, "chain", "EGRESS", "rule", "del", "0");

      // conntrack OFF: accept-established reads OFF and cannot be set; no session is made.
      await cli(fw, "set", "conntrack=OFF");
      expect([await cli(fw, "show", "conntrack"), await cli(fw, "show", "accept-established")]).toEqual(["OFF", "OFF"]);
      await refused("PATCH", `/firewall/${fw}/`, { "accept-established": "ON" }, "enable conntrack first");
      await cliRefused([fw, "set", "accept-established=ON"], "enable conntrack first");
      expect(await cli(fw, "show", "accept-established")).toBe("OFF");
      expect(ping(h1, ROOT1, 1, { src: H1B })).toBe(true); // EGRESS's rule is for H1 only
      expect((await sessions(fw)).filter((s) => s.src === H1B || s.dst === H1B)).toEqual([]);
      expect(ping(h1, ROOT1, 1)).toBe(false);

      // conntrack ON after OFF: manual mode; sessions again.
      await cli(fw, "set", "conntrack=ON");
      expect([await cli(fw, "show", "conntrack"), await cli(fw, "show", "accept-established")]).toEqual(["ON", "OFF"]);
      expect(ping(h1, ROOT1, 1)).toBe(false);
      expect(ping(h1, ROOT1, 1, { src: H1B })).toBe(true);
      expect((await sessions(fw)).filter((s) => s.src === H1B).map((s) => [s.l4proto, s.dst, s.state])).toEqual([["ICMP", ROOT1, "ESTABLISHED"]]);
      // Automatic mode again.
      await cli(fw, "set", "accept-established=ON");
      expect(ping(h1, ROOT1, 1)).toBe(true);
      expect(ping(ROOT, H1, 1)).toBe(false);
    } finally {
      await removeCube(fw);
    }
  });

  test("counters follow their rules across insert, replace and delete; reset-counters; the default's", async () => {
    const fw = "fwc";
    try {
      await createFw(fw, "TC", h1.outer);
      const I = ["chain", "INGRESS"];
      expect(await cli(fw, ...I, "append", `src=${H1}`, "l4proto=ICMP", "action=ACCEPT")).toBe("id: 0");
      expect(await cli(fw, ...I, "append", `src=${H1B}`, "l4proto=ICMP", "action=DROP")).toBe("id: 1");
      expect(ping(h1, ROOT1, 2)).toBe(true);
      expect(ping(h1, ROOT1, 1, { src: H1B })).toBe(false);
      expect(await counts(fw, "INGRESS")).toEqual([[2, 196], [1, 98], [0, 0]]);
      // Insert in front: the counters move with their rules.
      expect(await cli(fw, ...I, "insert", "id=0", "l4proto=TCP", `dport=${PORT}`, "action=ACCEPT")).toBe("id: 0");
      expect(await counts(fw, "INGRESS")).toEqual([[0, 0], [2, 196], [1, 98], [0, 0]]);
      // Replace (rule add N < count): the fields change, the counters stay.
      await cli(fw, ...I, "rule", "add", "1", `src=${H1}/32`, "l4proto=ICMP", "action=LOG");
      const r1 = (await stats(fw, "INGRESS"))[1] as any;
      expect([r1.pkts, r1.bytes, r1.src, r1.action]).toEqual([2, 196, `${H1}/32`, "LOG"]);
      // rule add N == count appends; past it is refused.
      await cli(fw, ...I, "rule", "add", "3", "l4proto=UDP", "action=ACCEPT");
      expect((await rules(fw, "INGRESS")).map((r) => r.id)).toEqual([0, 1, 2, 3]);
      await cliRefused([fw, ...I, "rule", "add", "5", "l4proto=UDP"], "");
      // Delete by id and by fields: later rules keep their counters and shift down.
      await cli(fw, ...I, "rule", "del", "0");
      expect(await counts(fw, "INGRESS")).toEqual([[2, 196], [1, 98], [0, 0], [0, 0]]);
      await cli(fw, ...I, "delete", `src=${H1B}`, "l4proto=ICMP", "action=DROP");
      expect(await counts(fw, "INGRESS")).toEqual([[2, 196], [0, 0], [0, 0]]);
      // The default's counters: H1B's pings now fall to it.
      expect(ping(h1, ROOT1, 2, { src: H1B })).toBe(true);
      const s = await stats(fw, "INGRESS");
      expect(s.map((e) => [e.id, e.pkts, e.bytes, e.action, e.description])).toEqual([
        [0, 2, 196, "LOG", undefined], [1, 0, 0, "ACCEPT", undefined], [2, 2, 196, "ACCEPT", "Default Policy"],
      ]);
      expect(await cli(fw, ...I, "stats", "2", "show", "pkts")).toBe("2");
      expect(await cli(fw, ...I, "reset-counters")).toBe("result: true");
      expect(await counts(fw, "INGRESS")).toEqual([[0, 0], [0, 0], [0, 0]]);
      expect(ping(h1, ROOT1, 2)).toBe(true);
      expect(await counts(fw, "INGRESS")).toEqual([[2, 196], [0, 0], [0, 0]]);
    } finally {
      await removeCube(fw);
    }
  });

  test("rule edits: ids, insert, append, delete, batch (any case, from stdin), replace; the datapath follows", async () => {
    const fw = "fwe";
    try {
      await createFw(fw, "TC", h1.outer);
      const I = ["chain", "INGRESS"];
      const view = async () => (await rules(fw, "INGRESS")).map((r) => [r.id, r.src ?? r.dst ?? r.l4proto ?? r.conntrack, r.action ?? "ACCEPT", r.description]);
      expect(await cli(fw, ...I, "append", "src=10.0.0.1", "description=a")).toBe("id: 0");
      expect(await cli(fw, ...I, "append", "src=10.0.0.2", "action=DROP")).toBe("id: 1");
      expect(await cli(fw, ...I, "insert", "src=10.0.0.3")).toBe("id: 0"); // insert defaults to id 0
      expect(await cli(fw, ...I, "insert", "id=3", "src=10.0.0.4")).toBe("id: 3"); // == count: at the end
      expect(await cli(fw, ...I, "insert", "id=2", "src=10.0.0.5", "action=LOG")).toBe("id: 2");
      expect(await view()).toEqual([
        [0, "10.0.0.3", "ACCEPT", undefined], [1, "10.0.0.1", "ACCEPT", "a"], [2, "10.0.0.5", "LOG", undefined],
        [3, "10.0.0.2", "DROP", undefined], [4, "10.0.0.4", "ACCEPT", undefined],
      ]);
      // delete by fields removes the first equal rule only.
      await cli(fw, ...I, "append", "src=10.0.0.3");
      await cli(fw, ...I, "delete", "src=10.0.0.3");
      expect((await view()).map((r) => r[1])).toEqual(["10.0.0.1", "10.0.0.5", "10.0.0.2", "10.0.0.4", "10.0.0.3"]);
      await cli(fw, ...I, "rule", "del", "4");
      await cli(fw, ...I, "rule", "del", "1");
      expect((await view()).map((r) => r[1])).toEqual(["10.0.0.1", "10.0.0.2", "10.0.0.4"]);

      // The original's batch, from stdin in its YAML flow style, operations in any case.
      const batch = `{"rules":[{'operation': 'append', 'src': '10.1.0.0/31', 'action': 'accept'},{'operation': 'APPEND', 'l4proto': 'udp', 'dport': 53, 'action': 'drop'},{'operation': 'Insert', 'id': 0, 'dst': '10.2.0.0/16', 'description': 'first'},{'operation': 'delete', 'id': 2},{'operation': 'update', 'id': 2, 'src': '10.0.0.9', 'action': 'DROP'},]}`;
      const r = await daemon.cli([fw, ...I, "batch", "rules="], { stdin: batch });
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(await view()).toEqual([
        [0, "10.2.0.0/16", "ACCEPT", "first"], [1, "10.0.0.1", "ACCEPT", "a"], [2, "10.0.0.9", "DROP", undefined],
        [3, "10.1.0.0/31", "ACCEPT", undefined], [4, "UDP", "DROP", undefined],
      ]);
      expect((await rules(fw, "INGRESS"))[4]).toMatchObject({ l4proto: "UDP", dport: 53 });

      // The datapath follows every kind of edit.
      expect(ping(h1, ROOT1, 1)).toBe(true);
      await ok("POST", `/firewall/${fw}/chain/INGRESS/batch/`, { rules: [{ operation: "insert", id: 0, src: "10.212.1.0/30", l4proto: "ICMP", action: "DROP" }] });
      expect(ping(h1, ROOT1, 1)).toBe(false);
      await ok("POST", `/firewall/${fw}/chain/INGRESS/batch/`, { rules: [{ operation: "update", id: 0, src: "10.212.1.0/30", l4proto: "ICMP", action: "ACCEPT" }] });
      expect(ping(h1, ROOT1, 1)).toBe(true);
      await cli(fw, ...I, "rule", "add", "0", `src=${H1}`, "l4proto=ICMP", "action=DROP");
      expect(ping(h1, ROOT1, 1)).toBe(false);
      await cli(fw, ...I, "rule", "del", "0");
      expect(ping(h1, ROOT1, 1)).toBe(true);
      await cli(fw, ...I, "append", `src=${H1}`, "l4proto=ICMP", "action=DROP");
      expect(ping(h1, ROOT1, 1)).toBe(false);
      await cli(fw, ...I, "delete", `src=${H1}`, "l4proto=ICMP", "action=DROP");
      expect(ping(h1, ROOT1, 1)).toBe(true);
      // REST on the rule list: the next id appends, an existing one is replaced.
      const n = (await rules(fw, "INGRESS")).length;
      await ok("POST", `/firewall/${fw}/chain/INGRESS/rule/${n}/`, { src: "10.4.0.0/16", action: "ACCEPT" });
      await ok("PATCH", `/firewall/${fw}/chain/INGRESS/rule/0/`, { action: "DROP" });
      expect((await rules(fw, "INGRESS")).map((x) => [x.id, x.action ?? "ACCEPT"])).toEqual([[0, "DROP"], [1, "ACCEPT"], [2, "DROP"], [3, "ACCEPT"], [4, "DROP"], [5, "ACCEPT"]]);
      await ok("DELETE", `/firewall/${fw}/chain/INGRESS/rule/0/`);
      expect((await rules(fw, "INGRESS")).length).toBe(5);
    } finally {
      await removeCube(fw);
    }
  });

  test("bad input is refused naming the field; the rules and the datapath stay as they were", async () => {
    const fw = "fwv";
    try {
      await createFw(fw, "TC", h1.outer);
      await cli(fw, "chain", "INGRESS", "append", `src=${H1}`, "l4proto=ICMP", "action=DROP");
      await cli(fw, "chain", "INGRESS", "append", "l4proto=TCP", `dport=${PORT}`, "action=DROP");
      expect(ping(h1, ROOT1, 1)).toBe(false);
      const before = [await rules(fw, "INGRESS"), await rules(fw, "EGRESS")];
      const base = `/firewall/${fw}/chain/INGRESS`;
      const cases: Array<[string, Record<string, unknown>, string]> = [
        ["src", { src: "10.0.0.300" }, "src"],
        ["src", { src: "10.0.0" }, "src"],
        ["src", { src: "10.0.0.1/" }, "src"],
        ["dst", { dst: "10.0.0.0/33" }, "dst"],
        ["dst", { dst: "fe80::1" }, "dst"],
        ["l4proto", { l4proto: "SCTP" }, "l4proto"],
        ["dport with ICMP", { l4proto: "ICMP", dport: 80 }, "dport"],
        ["sport with ICMP", { l4proto: "icmp", sport: 80 }, "sport"],
        ["tcpflags word", { l4proto: "TCP", tcpflags: "SYN,FOO" }, "tcpflags"],
        ["tcpflags with UDP", { l4proto: "UDP", tcpflags: "SYN" }, "tcpflags"],
        ["tcpflags with ICMP", { l4proto: "ICMP", tcpflags: "!ACK" }, "tcpflags"],
        ["conntrack", { conntrack: "BOGUS" }, "conntrack"],
        ["action", { action: "FORWARD" }, "action"],
      ];
      for (const [what, body, field] of cases) {
        log("bad", what);
        await refused("POST", `${base}/append/`, body, field);
        await refused("POST", `${base}/insert/`, { id: 0, ...body }, field);
        await refused("POST", `${base}/rule/0/`, body, field);
        await refused("POST", `${base}/batch/`, { rules: [{ operation: "append", src: "10.9.9.9" }, { operation: "append", ...body }] }, field);
      }
      await cliRefused([fw, "chain", "INGRESS", "append", "src=10.0.0.300"], "src");
      await cliRefused([fw, "chain", "INGRESS", "append", "l4proto=TCP", "tcpflags=SYN !FOO"], "tcpflags");
      await cliRefused([fw, "chain", "INGRESS", "append", "action=FORWARD"], "action");
      // Positions past the end, and rules that are not there.
      await refused("POST", `${base}/insert/`, { id: 3, src: "10.9.9.9" }, "id");
      await cliRefused([fw, "chain", "INGRESS", "insert", "id=5", "action=ACCEPT"], "");
      await cliRefused([fw, "chain", "INGRESS", "rule", "add", "3", "src=10.9.9.9"], "");
      await refused("POST", `${base}/delete/`, { src: "9.9.9.9" }, "");
      // Rule 0's action is DROP; the input's is the default, ACCEPT: not the same rule.
      await refused("POST", `${base}/delete/`, { src: H1, l4proto: "ICMP" }, "");
      await cliRefused([fw, "chain", "INGRESS", "delete", "src=9.9.9.9"], "");
      // Batches with one bad entry apply nothing, in the rules and in the datapath.
      await refused("POST", `${base}/batch/`, { rules: [{ operation: "delete", id: 0 }, { operation: "delete", id: 0 }, { operation: "delete", id: 0 }] }, "");
      await refused("POST", `${base}/batch/`, { rules: [{ operation: "insert", id: 0, l4proto: "ICMP", action: "ACCEPT" }, { operation: "insert", id: 9, src: "10.9.9.9" }] }, "");
      await refused("POST", `${base}/batch/`, { rules: [{ operation: "delete", id: 0 }, { operation: "frobnicate", id: 0 }] }, "operation");
      await refused("POST", `${base}/batch/`, { rules: [{ operation: "update", id: 0, action: "ACCEPT" }, { operation: "update", id: 7, action: "ACCEPT" }] }, "");
      const r = await daemon.cli([fw, "chain", "INGRESS", "batch", "rules="], { stdin: `{"rules":[{'operation': 'delete', 'id': 0},{'operation': 'append', 'src': '10.0.0.300'},]}` });
      expect(r.code).toBe(2);
      expect([await rules(fw, "INGRESS"), await rules(fw, "EGRESS")]).toEqual(before);
      expect(ping(h1, ROOT1, 1)).toBe(false);
      expect(await tcp(h1, ROOT1, PORT)).toBe(false);
      expect(await tcp(h1, ROOT1, PORT2)).toBe(true);
      // Chain and mode values.
      await refused("PATCH", `${base}/`, { default: "FORWARD" }, "default");
      await refused("PATCH", `/firewall/${fw}/`, { conntrack: "MAYBE" }, "conntrack");
      expect(await cli(fw, "chain", "INGRESS", "show", "default")).toBe("ACCEPT");
    } finally {
      await removeCube(fw);
    }
  });

  test("10,000 rules load in one batch and classify: the matching rule last", async () => {
    const fw = "fwk";
    try {
      await createFw(fw, "TC", h1.outer);
      await cli(fw, "chain", "INGRESS", "set", "default=DROP");
      const N = 10000;
      const ops: Array<Record<string, unknown>> = Array.from({ length: N - 1 }, (_, i) => ({
        operation: "append", src: `10.${100 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) << 4}/28`, l4proto: i % 2 ? "TCP" : "UDP", dport: 1000 + (i % 50000), action: "ACCEPT",
      }));
      ops.push({ operation: "append", src: `${H1}/32`, l4proto: "ICMP", action: "ACCEPT" });
      const t0 = performance.now();
      await ok("POST", `/firewall/${fw}/chain/INGRESS/batch/`, { rules: ops });
      const loadMs = performance.now() - t0;
      console.log(`firewall: ${N} rules loaded in one batch in ${loadMs.toFixed(0)} ms`);
      expect(loadMs).toBeLessThan(30000);
      expect(ping(h1, ROOT1, 2)).toBe(true);
      expect(await tcp(h1, ROOT1, PORT)).toBe(false); // no rule for it: the default
      const t1 = performance.now();
      const s = await stats(fw, "INGRESS");
      console.log(`firewall: stats of ${N} rules read in ${(performance.now() - t1).toFixed(0)} ms`);
      expect(s.length).toBe(N + 1);
      expect([s[N - 1]!.pkts, s[N - 1]!.bytes]).toEqual([2, 196]);
      expect(s.slice(0, N - 1).every((e) => e.pkts === 0)).toBe(true);
      expect(s[N]!.pkts).toBeGreaterThanOrEqual(1);
      // One more rule in front drops it.
      await cli(fw, "chain", "INGRESS", "insert", "id=0", `src=${H1}`, "l4proto=icmp", "action=DROP");
      expect(ping(h1, ROOT1, 1)).toBe(false);
      expect(await pkts(fw, "INGRESS", 0)).toBe(1);
      expect(await pkts(fw, "INGRESS", N)).toBe(2);
    } finally {
      await removeCube(fw);
    }
  }, 60000);

  test("the original's test_counters_default.sh and test_disable_enable.sh, verbatim (FORWARD -> ACCEPT)", async () => {
    // Only the host setup differs: ns1/veth1/10.0.0.x are h1's; `sudo` is a no-op and `ping`
    // waits 1 s at most for the last reply (without -W, an unanswered ping waits 10 s).
    const prelude = `set -e
      polycubectl() { POLYCUBECTL_URL=${daemon.url}/ HOME=${daemon.dir} ${polycube().join(" ")} "$@"; }
      sudo() { "$@"; }
      ping() { command ping -n -W 1 "$@"; }
      ip() {
        if [ "$1 $2 $3 $4" = "netns exec ns1 ping" ]; then shift 4; command ip netns exec ${h1.ns} ping -n -W 1 "$@"
        elif [ "$1 $2 $3" = "netns exec ns1" ]; then shift 3; command ip netns exec ${h1.ns} "$@"
        else command ip "$@"; fi
      }
    `;
    const adapt = (s: string) => s.replaceAll("veth1", h1.outer).replaceAll("10.0.0.1", H1).replaceAll("10.0.0.2", ROOT1).replaceAll("FORWARD", "ACCEPT");
    const countersDefault = `
polycubectl firewall add fw loglevel=DEBUG
polycubectl attach fw veth1

set +e

#ping
sudo ip netns exec ns1 ping 10.0.0.2 -c 2 -i 0.5 -w 1

OUTPUT=$(polycubectl firewall fw chain INGRESS stats show -yaml)
if [[ $OUTPUT != *"pkts: 2"*  ]]; then
	echo "Failed.";
	exit 1;
fi

if [[ $OUTPUT != *"bytes: 196"*  ]]; then
	echo "Failed.";
	exit 1;
fi

echo "PASSED"
`;
    const disableEnable = `
polycubectl firewall add fw loglevel=DEBUG
polycubectl attach fw veth1

echo "Conntrack Test - Enable and Disable"

echo "Disabling conntrack"
polycubectl firewall fw set conntrack=OFF

polycubectl firewall fw chain INGRESS append l4proto=ICMP action=FORWARD
polycubectl firewall fw chain EGRESS append l4proto=ICMP action=FORWARD

echo "(1) Performing PING without conntrack"
sudo  ping -c 2 -i 0.5 10.0.0.1
if [[ $? != 0 ]]; then
  echo "Test failed (1)"
  exit 1
fi

echo "Enabling conntrack"
polycubectl firewall fw set conntrack=ON

echo "Enabling automatic mode"
polycubectl firewall fw set accept-established=ON

polycubectl firewall fw chain INGRESS rule add 0 l4proto=ICMP conntrack=NEW action=DROP
polycubectl firewall fw chain EGRESS rule add 0 l4proto=ICMP conntrack=NEW action=FORWARD

set +e
echo "(2) Sending NOT allowed NEW ICMP packet"
sudo ip netns exec ns1 ping -c 2 -i 0.5 10.0.0.2
if [[ $? == 0 ]]; then
  echo "Test failed (2)"
  exit 1
fi

echo "(3) Performing allowed PING"
sudo ping -c 2 -i 0.5 10.0.0.1
if [[ $? != 0 ]]; then
  echo "Test failed (3)"
  exit 1
fi

set -e
echo "Enabling manual mode"
polycubectl firewall fw set accept-established=OFF

polycubectl firewall fw chain INGRESS rule add 0 conntrack=NEW action=DROP
polycubectl firewall fw chain INGRESS rule add 1 conntrack=ESTABLISHED action=FORWARD

polycubectl firewall fw chain EGRESS rule add 0 conntrack=NEW action=FORWARD
polycubectl firewall fw chain EGRESS rule add 1 conntrack=ESTABLISHED action=FORWARD

set +e
echo "(4) Sending NOT allowed NEW ICMP packet"
sudo ip netns exec ns1 ping -c 2 -i 0.5 10.0.0.2
if [[ $? == 0 ]]; then
  echo "Test failed (4)"
  exit 1
fi

echo "(5) Performing allowed PING"
sudo ping -c 2 -i 0.5 10.0.0.1
if [[ $? != 0 ]]; then
  echo "Test failed (5)"
  exit 1
fi

echo "Test PASSED"
exit 0
`;
    for (const [name, script, passed] of [["test_counters_default.sh", countersDefault, "PASSED"], ["test_disable_enable.sh", disableEnable, "Test PASSED"]] as const) {
      try {
        const r = spawnSync(["bash", "-c", prelude + adapt(script)], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
        const out = r.stdout.toString();
        log(name, out, r.stderr.toString());
        expect({ name, code: r.exitCode, last: out.trim().split("\n").at(-1) }).toEqual({ name, code: 0, last: passed });
      } finally {
        await daemon.request("DELETE", "/firewall/fw/");
      }
    }
  });
});

describe("session timeouts (POLYCUBE_FIREWALL_TIMEOUTS)", () => {
  test("ICMP, UDP and TCP sessions expire in the datapath; a TCP segment after expiry is INVALID", async () => {
    const d2 = new Daemon({ env: { POLYCUBE_FIREWALL_TIMEOUTS: "icmp=1,udp-new=1,udp-established=2,tcp-established=2" } });
    const cli2 = async (...words: string[]) => {
      const r = await d2.cli(words);
      if (r.code !== 0) throw new Error(`polycubectl ${words.join(" ")}: ${r.out}${r.err}`);
      return r.out.trim();
    };
    let client: TcpPeer | undefined;
    try {
      await d2.start();
      await cli2("firewall", "add", "fwto");
      await cli2("attach", "fwto", h2.outer);
      await cli2("fwto", "chain", "INGRESS", "append", "conntrack=INVALID", "action=DROP");
      const s = () => sessions("fwto", d2);
      client = await TcpPeer.connect(h2, ROOT2, EPORT);
      await client.localPort();
      client.send("send x");
      await client.waitFor(/^data x$/);
      // Quickly, so that the 1 s sessions are all still there when listed.
      expect(await udp(h2, ROOT2, UPORT)).toEqual(["m1"]);
      udpSend(h2, ROOT2, USINK);
      expect(ping(h2, ROOT2, 1)).toBe(true);
      const t0 = Date.now();
      const live = await s();
      const key = (x: Session) => `${x.l4proto} ${x.dport} ${x.state}`;
      expect(live.map(key).sort()).toEqual([`ICMP 0 ESTABLISHED`, `TCP ${EPORT} ESTABLISHED`, `UDP ${UPORT} ESTABLISHED`, `UDP ${USINK} NEW`].sort());
      const eta = Object.fromEntries(live.map((x) => [`${x.l4proto}${x.dport}`, x.eta]));
      expect(eta[`ICMP0`]).toBeLessThanOrEqual(1);
      expect(eta[`UDP${USINK}`]).toBeLessThanOrEqual(1);
      expect(eta[`UDP${UPORT}`]).toBeLessThanOrEqual(2);
      expect(eta[`TCP${EPORT}`]).toBeLessThanOrEqual(2);
      expect(await pkts("fwto", "INGRESS", 0, d2)).toBe(0);
      // The 1 s sessions go first, then the 2 s ones.
      await until("ICMP and UDP NEW expired", async () => {
        const now = (await s()).map((x) => `${x.l4proto}${x.dport}`);
        return !now.includes("ICMP0") && !now.includes(`UDP${USINK}`) && now;
      }, 2500);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
      await until("everything expired", async () => (await s()).length === 0, 3000);
      // The connection is still open at both ends, but the firewall has forgotten it.
      client.send("send y");
      await until("the segment after expiry labelled INVALID", async () => (await pkts("fwto", "INGRESS", 0, d2)) >= 1);
      await Bun.sleep(300);
      expect(client.events).not.toContain("data y");
    } finally {
      client?.stop();
      await d2.request("DELETE", "/firewall/fwto/").catch(() => undefined);
      await d2.stop();
      d2.cleanup();
    }
  }, 20000);
});
