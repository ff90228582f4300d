// The lbdsr on the real datapath, in TC and XDP_SKB modes, in the original's topology: one L2
// segment (a Linux bridge in a namespace of its own) joining a client, three backends and both
// ports of the lbdsr. The backends hold the VIP on their loopback and neither answer nor announce
// it by ARP (arp_ignore=1, arp_announce=2), so the client's ARP request for the VIP is answered by
// the lbdsr's FRONTEND port; its requests go to the lbdsr, which sends each session on out of its
// BACKEND port to one backend (Ethernet addresses changed only); the backend answers the client
// directly over the bridge. Each backend runs an HTTP server (TCP 8080), a TCP echo (7007) and a
// UDP echo bound to the VIP (5353), each answering its own name; balance.ts predicts which backend
// every session reaches.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync, type Subprocess } from "bun";
import { join } from "node:path";
import { Daemon } from "../lib/daemon.ts";
import { daemonAround, hooksOn, okRequester } from "../lib/datapath.ts";
import { sh, Topology, type Host } from "../lib/netns.ts";
import { TcpPeer } from "../lib/tcp-peer.ts";
import { backendIndex, type Session } from "../../src/services/lbdsr/balance.ts";

const daemon = new Daemon();
const ok = okRequester(daemon);
const it = (name: string, fn: () => Promise<void> | void) => test(name, fn, 90000);
const bun = join(import.meta.dir, "../../node_modules/.bin/bun");
const servers: Subprocess[] = [];
const FE_MAC = "02:1d:5e:00:00:01";
const HTTP = 8080;
const ECHO = 7007;
const UDP = 5353;
const TCP = 6;
const UDP_PROTO = 17;

// Each describe builds and removes its own topology; the backends' servers go with the daemon.
daemonAround(daemon, { cleanup: () => servers.forEach((s) => s.kill()) }, () => {});

/** A backend's servers, in its namespace, each answering with `name`. */
async function serve(h: Host, vip: string, name: string): Promise<void> {
  const n = JSON.stringify(name);
  const code = `Bun.serve({ hostname: "0.0.0.0", port: ${HTTP}, fetch: () => new Response(${n}, { headers: { connection: "close" } }) });
    Bun.listen({ hostname: "0.0.0.0", port: ${ECHO}, socket: { data(s, buf) { s.write(${n} + " " + buf.toString()); } } });
    await Bun.udpSocket({ hostname: "${vip}", port: ${UDP}, socket: { data(s, _buf, p, addr) { s.send(${n}, p, addr); } } });
    console.log("ready");`;
  const srv = Bun.spawn(["ip", "netns", "exec", h.ns, bun, "-e", code], { stdout: "pipe", stderr: "ignore" });
  servers.push(srv);
  const reader = srv.stdout.getReader();
  const first = await Promise.race([reader.read(), Bun.sleep(10000).then(() => undefined)]);
  if (!first || first.done) throw new Error(`the servers of ${name} did not start`);
  reader.releaseLock();
}

/** `n` HTTP connections (one curl each) from a host to url: each answer and the connection's local port. */
function connections(from: Host, url: string, n: number): Array<{ body: string; port: number }> {
  const script = `for i in $(seq 1 ${n}); do curl -s --max-time 3 -w ' %{local_port}\\n' ${url}; done`;
  const out = spawnSync(["ip", "netns", "exec", from.ns, "bash", "-c", script], { stdout: "pipe" }).stdout.toString();
  return out.split("\n").filter((l) => l.trim()).map((l) => ({ body: l.split(" ")[0]!, port: Number(l.split(" ")[1]) }));
}

/** From each source port, `n` UDP datagrams to ip:port; the answers of each port ("name from:port"). */
function udpFlows(from: Host, ip: string, port: number, sports: number[], n: number): Record<number, string[]> {
  const code = `const out = {};
    for (const sport of ${JSON.stringify(sports)}) {
      const answers = [];
      let wake;
      const s = await Bun.udpSocket({ port: sport, socket: { data(_s, buf, p, addr) { answers.push(buf.toString() + " " + addr + ":" + p); wake?.(); } } });
      for (let i = 0; i < ${n}; i++) {
        const got = new Promise((r) => (wake = r));
        s.send("hi", ${port}, "${ip}");
        await Promise.race([got, Bun.sleep(1000)]);
      }
      s.close();
      out[sport] = answers;
    }
    console.log(JSON.stringify(out));`;
  const out = spawnSync(["ip", "netns", "exec", from.ns, bun, "-e", code], { stdout: "pipe" }).stdout.toString();
  return JSON.parse(out || "{}");
}

/** A counter of an interface (in the root namespace, or in a host's), e.g. "tx" "packets". */
function counter(dev: string, dir: "rx" | "tx", ns?: string): number {
  const j = JSON.parse(sh(`ip ${ns ? `-n ${ns} ` : ""}-j -s link show ${dev}`));
  return Number(j[0].stats64[dir].packets);
}

/**
 * The original's topology: a bridge in namespace `<prefix><id>sw` joining the client, the three
 * backends and the peers of the lbdsr's two ports (root-side `fe`, `be`, for the cube's ports).
 */
function topology(topo: Topology, net: string, vip: string, xdp: boolean) {
  const sw = `${topo.prefix}${topo.id}sw`;
  sh(`ip netns add ${sw} && ip -n ${sw} link add br0 type bridge stp_state 0 && ip -n ${sw} link set br0 up`);
  const onBridge = (dev: string) => sh(`ip link set ${dev} netns ${sw} && ip -n ${sw} link set ${dev} master br0 && ip -n ${sw} link set ${dev} up`);
  const client = topo.host("c", `${net}.1/24`);
  const backends = [1, 2, 3].map((i) => topo.host(`b${i}`, `${net}.1${i}/24`));
  for (const h of [client, ...backends]) onBridge(h.outer);
  for (const b of backends) {
    sh(`ip netns exec ${b.ns} sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2`);
    sh(`ip -n ${b.ns} addr add ${vip}/32 dev lo`);
  }
  const [fe, feSw] = topo.pair("fe", "FE");
  const [be, beSw] = topo.pair("be", "BE");
  onBridge(feSw);
  onBridge(beSw);
  // Generic XDP cannot forward GSO packets, and sees checksums left for offload: the client,
  // whose packets cross the cube, sends MTU-sized segments with their checksums.
  if (xdp) sh(`ip netns exec ${client.ns} ethtool -K eth0 tx off tso off gso off`);
  return { sw, client, backends, fe, be, cleanup: () => sh(`ip netns del ${sw}`, { allowFail: true }) };
}

for (const type of ["TC", "XDP_SKB"] as const) {
  const tag = type === "TC" ? "t" : "x";
  const net = `10.181.${type === "TC" ? 1 : 2}`;
  const VIP = `${net}.100`;
  describe(`lbdsr (${type})`, () => {
    const topo = new Topology(`ld${tag}`);
    const lb = `ld1${tag}`;
    let t: ReturnType<typeof topology>;
    let client: Host;
    let names: Map<string, string>; // backend MAC -> its name
    const pool: Array<{ id: number; mac: string; name: string }> = [];
    /** The backend a new session takes with the pool as it is now. */
    const predict = (s: Omit<Session, "dst">) => pool[backendIndex({ ...s, dst: VIP }, pool.length)]!.name;
    const cli = async (...args: string[]) => {
      const r = await daemon.cli(args);
      expect({ args, code: r.code, err: r.err }).toEqual({ args, code: 0, err: "" });
      return r.out;
    };

    beforeAll(async () => {
      t = topology(topo, net, VIP, type !== "TC");
      client = t.client;
      names = new Map(t.backends.map((b, i) => [b.mac, `b${i + 1}`]));
      for (const [i, b] of t.backends.entries()) await serve(b, VIP, `b${i + 1}`);
    });

    afterAll(async () => {
      await daemon.request("DELETE", `/lbdsr/${lb}/`).catch(() => undefined);
      topo.cleanup();
      t?.cleanup();
    });

    it("configured with the original's CLI: ARP for the VIP is answered by the FRONTEND port only", async () => {
      await cli("lbdsr", "add", lb, `type=${type}`);
      await cli("lbdsr", lb, "ports", "add", "fe", "type=FRONTEND");
      await cli("lbdsr", lb, "ports", "add", "be", "type=BACKEND");
      await cli("lbdsr", lb, "ports", "fe", "set", `peer=${t.fe}`);
      await cli("lbdsr", lb, "ports", "be", "set", `peer=${t.be}`);
      await cli(lb, "frontend", "set", `vip=${VIP}`, `mac=${FE_MAC}`);
      for (const [i, b] of t.backends.entries()) {
        await cli("lbdsr", lb, "backend", "pool", "add", String(i + 1), `mac=${b.mac}`);
        pool.push({ id: i + 1, mac: b.mac, name: `b${i + 1}` });
      }
      const got = await ok("GET", `/lbdsr/${lb}/`);
      expect(got).toMatchObject({ frontend: { vip: VIP, mac: FE_MAC }, backend: { pool: pool.map(({ id, mac }) => ({ id, mac })) } });
      expect(got.ports.map((p: any) => [p.name, p.type, p.status])).toEqual([["fe", "FRONTEND", "UP"], ["be", "BACKEND", "UP"]]);
      // The client's ARP request for the VIP: one answer, the frontend MAC.
      const arping = spawnSync(["ip", "netns", "exec", client.ns, "ping", "-c", "1", "-W", "2", VIP], { stdout: "pipe" });
      expect(arping.exitCode).toBe(0);
      const neigh = JSON.parse(sh(`ip -n ${client.ns} -j neigh show ${VIP}`));
      expect(neigh[0]?.lladdr).toBe(FE_MAC);
      // A backend's own address is answered by the backend, through the bridge.
      expect(topo.ping(client, t.backends[0]!.ip)).toBe(true);
    });

    it("TCP: connections spread over the three backends, each where the session hash puts it; answers do not cross the cube", async () => {
      const feTx = counter(t.fe, "tx");
      const backendTx = t.backends.map((b) => counter("eth0", "tx", b.ns));
      const got = connections(client, `http://${VIP}:${HTTP}/`, 30);
      expect(got.length).toBe(30);
      for (const c of got) expect({ port: c.port, body: c.body }).toEqual({ port: c.port, body: predict({ src: client.ip, sport: c.port, dport: HTTP, proto: TCP }) });
      expect(new Set(got.map((c) => c.body)).size).toBe(3);
      // The cube sent nothing to the client side but ARP answers: every answer came from the backends.
      expect(counter(t.fe, "tx") - feTx).toBeLessThanOrEqual(2);
      t.backends.forEach((b, i) => expect(counter("eth0", "tx", b.ns) - backendTx[i]!).toBeGreaterThan(5));
    });

    it("UDP: each flow keeps its backend; flows spread over the three; answers come from the VIP", async () => {
      const sports = Array.from({ length: 24 }, (_, i) => 41000 + i);
      const flows = udpFlows(client, VIP, UDP, sports, 3);
      const firsts: string[] = [];
      for (const sport of sports) {
        const want = `${predict({ src: client.ip, sport, dport: UDP, proto: UDP_PROTO })} ${VIP}:${UDP}`;
        expect({ sport, answers: flows[sport] }).toEqual({ sport, answers: [want, want, want] });
        firsts.push(want.split(" ")[0]!);
      }
      expect(new Set(firsts).size).toBe(3);
    });

    it("ICMP echo to the VIP is answered by a backend, from the VIP", async () => {
      const r = spawnSync(["ip", "netns", "exec", client.ns, "ping", "-n", "-c", "3", "-W", "2", "-i", "0.2", VIP], { stdout: "pipe" });
      expect(r.exitCode).toBe(0);
      expect(r.stdout.toString()).toContain(`from ${VIP}`);
    });

    it("sessions stay on their backend while the pool changes; those of a backend that leaves are balanced again", async () => {
      // A TCP connection, then a change of the pool after which a new session of the same
      // addresses and ports would go elsewhere: the connection keeps its backend.
      const peer = await TcpPeer.connect(client, VIP, ECHO);
      try {
        const port = await peer.localPort();
        const session = { src: client.ip, sport: port, dport: ECHO, proto: TCP };
        const mine = predict(session);
        peer.send("send one");
        await peer.waitFor(new RegExp(`^data ${mine} one$`));
        const fakes = [1, 2, 3, 4, 5, 6].map((k) => Array.from({ length: k }, (_, j) => ({ id: 10 + j, mac: `02:1d:5e:00:01:0${j}`, name: `fake${j}` })));
        const change = fakes.map((f) => [...pool, ...f]).find((p) => p[backendIndex({ ...session, dst: VIP }, p.length)]!.name !== mine);
        expect(change).toBeDefined();
        for (const f of change!.slice(pool.length)) await ok("POST", `/lbdsr/${lb}/backend/pool/${f.id}/`, { mac: f.mac });
        peer.send("send two");
        await peer.waitFor(new RegExp(`^data ${mine} two$`));
        for (const f of change!.slice(pool.length)) await ok("DELETE", `/lbdsr/${lb}/backend/pool/${f.id}/`);
      } finally {
        peer.stop();
      }
      // UDP flows on all three; the third backend leaves: its flows move where the hash over
      // two puts them, the others stay, including those the hash over two would move.
      const sports = Array.from({ length: 30 }, (_, i) => 42000 + i);
      const before = udpFlows(client, VIP, UDP, sports, 1);
      const was = (sport: number) => before[sport]![0]!.split(" ")[0]!;
      expect(sports.filter((s) => was(s) === "b3").length).toBeGreaterThan(2);
      const gone = pool.pop()!;
      await cli(lb, "backend", "pool", "del", String(gone.id));
      const movedByHash = sports.filter((s) => was(s) !== "b3" && predict({ src: client.ip, sport: s, dport: UDP, proto: UDP_PROTO }) !== was(s));
      expect(movedByHash.length).toBeGreaterThan(0);
      const after = udpFlows(client, VIP, UDP, sports, 1);
      for (const s of sports) {
        const want = was(s) === "b3" ? predict({ src: client.ip, sport: s, dport: UDP, proto: UDP_PROTO }) : was(s);
        expect({ s, got: after[s] }).toEqual({ s, got: [`${want} ${VIP}:${UDP}`] });
      }
      await cli(lb, "backend", "pool", "add", String(gone.id), `mac=${gone.mac}`);
      pool.push(gone);
    });

    it("bad input is refused with a 4xx naming what is wrong, and changes nothing", async () => {
      const before = await ok("GET", `/lbdsr/${lb}/`);
      const sports = [43000, 43001, 43002, 43003, 43004, 43005];
      const answers = udpFlows(client, VIP, UDP, sports, 1);
      const bad: Array<[string, string, unknown, string | undefined]> = [
        ["POST", `/lbdsr/${lb}/ports/p3/`, {}, undefined],
        ["POST", `/lbdsr/${lb}/ports/fe2/`, { type: "FRONTEND" }, "type"],
        ["POST", `/lbdsr/${lb}/ports/be2/`, { type: "BACKEND" }, "type"],
        ["PATCH", `/lbdsr/${lb}/ports/fe/`, { type: "BACKEND" }, "type"],
        ["PATCH", `/lbdsr/${lb}/frontend/`, { vip: `${net}.300` }, undefined],
        ["PATCH", `/lbdsr/${lb}/frontend/`, { vip: "224.0.0.9" }, "vip"],
        ["PATCH", `/lbdsr/${lb}/frontend/vip/`, "255.255.255.255", "vip"],
        ["PATCH", `/lbdsr/${lb}/frontend/`, { vip: "0.0.0.0" }, "vip"],
        ["PATCH", `/lbdsr/${lb}/frontend/`, { mac: "02:1d:5e:00:00" }, undefined],
        ["PATCH", `/lbdsr/${lb}/frontend/`, { mac: "01:00:5e:00:00:01" }, "mac"],
        ["PATCH", `/lbdsr/${lb}/frontend/mac/`, "00:00:00:00:00:00", "mac"],
        ["POST", `/lbdsr/${lb}/backend/pool/9/`, {}, undefined],
        ["POST", `/lbdsr/${lb}/backend/pool/9/`, { mac: "ff:ff:ff:ff:ff:ff" }, "mac"],
        ["POST", `/lbdsr/${lb}/backend/pool/9/`, { mac: "zz:00:00:00:00:01" }, undefined],
        ["POST", `/lbdsr/${lb}/backend/pool/x/`, { mac: "02:00:00:00:00:09" }, undefined],
        ["PATCH", `/lbdsr/${lb}/backend/pool/1/`, { mac: "33:33:00:00:00:01" }, "mac"],
        ["POST", `/lbdsr/${lb}bad/`, { type, ports: [{ name: "a", type: "FRONTEND" }, { name: "b", type: "FRONTEND" }] }, "type"],
        ["POST", `/lbdsr/${lb}bad/`, { type, frontend: { vip: "239.1.1.1" } }, "vip"],
      ];
      for (const [m, p, b, field] of bad) {
        const r = await daemon.request(m, p, b);
        let named = "";
        try {
          named = r.json()["ietf-restconf:errors"].error[0]["error-info"] ?? "";
        } catch {}
        const want = { m, p, refused: true, ...(field ? { field } : {}) };
        expect({ m, p, refused: r.status >= 400 && r.status < 500, ...(field ? { field: named } : {}) }).toEqual(want);
        expect(r.text.length).toBeGreaterThan(0);
      }
      expect(await ok("GET", `/lbdsr/${lb}/`)).toEqual(before);
      expect((await daemon.request("GET", `/lbdsr/${lb}bad/`)).status).toBe(404);
      expect(udpFlows(client, VIP, UDP, sports, 1)).toEqual(answers);
    });

    it("without its VIP the cube answers nothing; deleting it removes its hooks", async () => {
      expect(hooksOn([t.fe, t.be]).sort()).toEqual([t.be, t.fe].sort());
      await ok("DELETE", `/lbdsr/${lb}/frontend/vip/`);
      sh(`ip -n ${client.ns} neigh flush all`);
      expect(topo.ping(client, VIP, 1, 1)).toBe(false);
      await ok("DELETE", `/lbdsr/${lb}/`);
      expect(hooksOn([t.fe, t.be])).toEqual([]);
    });
  });
}
