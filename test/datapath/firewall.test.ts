// firewall through the real daemon, in TC and XDP_SKB, on the root-side veth of h1 and h2
// (whose addresses the root namespace answers): ICMP denied from one of h1's addresses and allowed from the other,
// exact counters (2 pings = 196 bytes), TCP by destination port with a listener in the root
// namespace, insert/delete/batch through the CLI (a batch body from stdin), bad rules refused
// with nothing changed, and 1000 rules that load and classify with the matching rule last.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "bun";
import { Daemon, freePort } from "../lib/daemon.ts";
import { hooksOn, okRequester } from "../lib/datapath.ts";
import { Topology, sh, type Host } from "../lib/netns.ts";

const topo = new Topology("tfw");
const daemon = new Daemon();
const ok = okRequester(daemon);
let h1: Host;
let h2: Host;
const ROOT1 = "10.217.1.254";
const ROOT2 = "10.217.2.254";
const H1B = "10.217.1.5";
const PORT = freePort();
const PORT2 = freePort();
const servers: Array<{ stop(closeActive?: boolean): void }> = [];

function ping(from: Host, to: string, count: number, src?: string): boolean {
  const args = ["ip", "netns", "exec", from.ns, "ping", "-c", String(count), "-W", "1", "-i", "0.2", ...(src ? ["-I", src] : []), to];
  return spawnSync(args, { stdout: "pipe", stderr: "pipe" }).exitCode === 0;
}

/** A TCP connection from a host to ROOT:port that gets the server's greeting. */
async function tcp(from: Host, to: string, port: number): Promise<boolean> {
  // head replaces bash, so that the timeout ends the whole thing.
  const p = spawn(["ip", "netns", "exec", from.ns, "timeout", "-s", "KILL", "2", "bash", "-c", `exec 3<>/dev/tcp/${to}/${port} && exec head -c 5 <&3`], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return out === "hello";
}

async function cli(...words: string[]): Promise<string> {
  if (process.env.FW_DEBUG) console.log(new Date().toISOString(), words.join(" "));
  const r = await daemon.cli(words);
  if (r.code !== 0) throw new Error(`polycubectl ${words.join(" ")}: ${r.out}${r.err}`);
  return r.out.trim();
}

async function stats(fw: string, chain = "INGRESS"): Promise<Array<{ id: number; pkts: number; bytes: number }>> {
  return ((await ok("GET", `/firewall/${fw}/chain/${chain}/stats/`)) as any[]).filter((e) => !Array.isArray(e));
}

async function rules(fw: string, chain = "INGRESS"): Promise<any[]> {
  return ((await ok("GET", `/firewall/${fw}/chain/${chain}/rule/`)) as any[]).filter((e) => !Array.isArray(e));
}

beforeAll(async () => {
  h1 = topo.host(1, "10.217.1.1/24");
  h2 = topo.host(2, "10.217.2.1/24");
  sh(`ip addr add ${ROOT1}/24 dev ${h1.outer}`);
  sh(`ip addr add ${ROOT2}/24 dev ${h2.outer}`);
  sh(`ip -n ${h1.ns} addr add ${H1B}/24 dev eth0`);
  for (const port of [PORT, PORT2]) servers.push(Bun.listen({ hostname: "0.0.0.0", port, socket: { open(s) { s.write("hello"); s.end(); }, data() {} } }));
  await daemon.start();
});

afterAll(async () => {
  try {
    for (const c of ["fwt", "fwx", "fwb", "fwk", "fwc"]) await daemon.request("DELETE", `/firewall/${c}/`).catch(() => undefined);
    await daemon.stop();
  } finally {
    for (const s of servers) s.stop(true);
    topo.cleanup();
    daemon.cleanup();
  }
});

for (const type of ["TC", "XDP_SKB"]) {
  const fw = type === "TC" ? "fwt" : "fwx";
  describe(`${type}`, () => {
    test("ICMP denied from one source, allowed from another; exact counters; TCP by destination port", async () => {
      try {
        await cli("firewall", "add", fw, `type=${type}`);
        await cli("attach", fw, h1.outer);
        expect(hooksOn([h1.outer]).length).toBeGreaterThan(0);
        // Default DROP on both chains: nothing IPv4 passes.
        expect(ping(h1, ROOT1, 1)).toBe(false);
        await cli(fw, "chain", "EGRESS", "set", "default=FORWARD");
        expect(await cli(fw, "chain", "INGRESS", "append", `src=${H1B}`, "l4proto=icmp", "action=FORWARD")).toBe("id: 0");
        await cli(fw, "chain", "INGRESS", "append", `src=${h1.ip}`, "l4proto=ICMP", "action=DROP");
        await cli(fw, "chain", "INGRESS", "reset-counters");
        expect(ping(h1, ROOT1, 2, H1B)).toBe(true);
        expect(ping(h1, ROOT1, 3)).toBe(false);
        const s = await stats(fw);
        // The rules' counters are exact. The default's (id 2) is not checked: late segments of the
        // previous mode's TCP connections from h1 may still arrive and fall to it.
        expect(s.filter((e) => e.id !== 2).map((e) => [e.id, e.pkts, e.bytes])).toEqual([[0, 2, 196], [1, 3, 294]]);
        expect(s.map((e) => e.id)).toEqual([0, 1, 2]);
        expect(await cli(fw, "chain", "INGRESS", "stats", "0", "show", "bytes")).toBe("196");
        expect(await cli(fw, "chain", "INGRESS", "stats", "show", "-yaml")).toContain("bytes: 196");

        // TCP: only port PORT; PORT2 hits the default.
        expect(await tcp(h1, ROOT1, PORT)).toBe(false);
        await cli(fw, "chain", "INGRESS", "insert", "id=0", `src=${h1.ip}/24`, "l4proto=tcp", `dport=${PORT}`, "action=FORWARD");
        expect(await tcp(h1, ROOT1, PORT)).toBe(true);
        expect(await tcp(h1, ROOT1, PORT2)).toBe(false);
        // Counters follow their rules across the insert.
        expect((await stats(fw)).map((e) => e.pkts).slice(1, 3)).toEqual([2, 3]);
        // Only SYNs without ACK to PORT2: the handshake's first packet passes, the rest does not.
        await cli(fw, "chain", "INGRESS", "append", "l4proto=TCP", `dport=${PORT2}`, "tcpflags=SYN !ACK", "action=FORWARD");
        expect(await tcp(h1, ROOT1, PORT2)).toBe(false);
        expect((await stats(fw)).find((e) => e.id === 3)!.pkts).toBeGreaterThan(0);

        // Deleting by fields and by id.
        await cli(fw, "chain", "INGRESS", "delete", `src=${h1.ip}/24`, "l4proto=TCP", `dport=${PORT}`, "action=FORWARD");
        expect(await tcp(h1, ROOT1, PORT)).toBe(false);
        await cli(fw, "chain", "INGRESS", "del", "rule", "1");
        expect(ping(h1, ROOT1, 1)).toBe(false); // now the default
        await cli(fw, "chain", "INGRESS", "set", "default=FORWARD");
        expect(ping(h1, ROOT1, 1)).toBe(true);
        expect(await tcp(h1, ROOT1, PORT)).toBe(true);
      } finally {
        await daemon.request("DELETE", `/firewall/${fw}/`);
      }
      expect(hooksOn([h1.outer])).toEqual([]);
      expect(ping(h1, ROOT1, 1)).toBe(true);
    });
  });
}

describe("rule edits", () => {
  test("batch from stdin (the original's YAML flow body), insert out of range refused, bad rules change nothing", async () => {
    try {
      await cli("firewall", "add", "fwb");
      await cli("fwb", "chain", "INGRESS", "append", "src=10.0.0.1", "action=FORWARD");
      const batch = `{"rules":[{'operation': 'append', 'src': '10.1.0.0/31', 'action': 'forward'},{'operation': 'append', 'l4proto': 'udp', 'dport': 53},{'operation': 'insert', 'id': 0, 'dst': '10.2.0.0/16', 'description': 'first'},]}`;
      const r = await daemon.cli(["fwb", "chain", "INGRESS", "batch", "rules="], { stdin: batch });
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect((await rules("fwb")).map((x) => [x.id, x.src ?? x.dst ?? x.l4proto, x.action])).toEqual([
        [0, "10.2.0.0/16", "DROP"], [1, "10.0.0.1", "FORWARD"], [2, "10.1.0.0/31", "FORWARD"], [3, "UDP", "DROP"],
      ]);
      const before = await ok("GET", "/firewall/fwb/");
      const refused = async (words: string[], text: string) => {
        const x = await daemon.cli(words);
        expect(x.code).not.toBe(0);
        expect(x.out + x.err).toContain(text);
      };
      await refused(["fwb", "chain", "INGRESS", "insert", "id=5", "action=FORWARD"], "beyond the end");
      await refused(["fwb", "chain", "INGRESS", "append", "src=10.0.0.300"], "src");
      await refused(["fwb", "chain", "INGRESS", "append", "l4proto=SCTP"], "l4proto");
      await refused(["fwb", "chain", "INGRESS", "append", "l4proto=ICMP", "dport=80"], "dport");
      await refused(["fwb", "chain", "INGRESS", "append", "tcpflags=SYN !FOO"], "tcpflags");
      await refused(["fwb", "chain", "INGRESS", "append", "action=ACCEPT"], "action");
      await refused(["fwb", "chain", "INGRESS", "delete", "src=9.9.9.9"], "no rule");
      const bad = `{"rules":[{'operation': 'append', 'src': '10.3.0.0/16'},{'operation': 'delete', 'id': 42},]}`;
      const b = await daemon.cli(["fwb", "chain", "INGRESS", "batch", "rules="], { stdin: bad });
      expect(b.code).not.toBe(0);
      expect((await daemon.request("PUT", "/firewall/fwb/chain/INGRESS/rule/9/", { action: "FORWARD" })).status).toBe(400);
      expect(await ok("GET", "/firewall/fwb/")).toEqual(before);
      // REST writes are positional edits: the next id appends, an existing one is replaced.
      await ok("POST", "/firewall/fwb/chain/INGRESS/rule/4/", { src: "10.4.0.0/16", action: "FORWARD" });
      await ok("PATCH", "/firewall/fwb/chain/INGRESS/rule/0/", { action: "FORWARD" });
      expect((await rules("fwb")).map((x) => [x.id, x.action])).toEqual([[0, "FORWARD"], [1, "FORWARD"], [2, "FORWARD"], [3, "DROP"], [4, "FORWARD"]]);
      await ok("DELETE", "/firewall/fwb/chain/INGRESS/rule/0/");
      expect((await rules("fwb")).length).toBe(4);
    } finally {
      await daemon.request("DELETE", "/firewall/fwb/");
    }
  });

  test("1000 rules load in one batch and classify: the matching rule last", async () => {
    try {
      await cli("firewall", "add", "fwk");
      await cli("fwk", "chain", "EGRESS", "set", "default=FORWARD");
      const ops = Array.from({ length: 999 }, (_, i) => ({ operation: "append", src: `10.${100 + (i >> 8)}.${i & 255}.0/24`, l4proto: "TCP", dport: 1000 + i, action: "FORWARD" }));
      ops.push({ operation: "append", src: `${h1.ip}/32`, l4proto: "ICMP", action: "FORWARD" } as any);
      const t0 = Date.now();
      await ok("POST", "/firewall/fwk/chain/INGRESS/batch/", { rules: ops });
      const loadMs = Date.now() - t0;
      expect(loadMs).toBeLessThan(20000);
      await cli("attach", "fwk", h1.outer);
      expect(ping(h1, ROOT1, 2)).toBe(true);
      expect(ping(h2, ROOT2, 1)).toBe(true); // not attached there
      const s = await stats("fwk");
      expect(s.length).toBe(1001);
      expect([s[999]!.pkts, s[999]!.bytes]).toEqual([2, 196]);
      expect(s.slice(0, 999).every((e) => e.pkts === 0)).toBe(true);
      // One more rule in front drops it; everything else still classifies.
      await cli("fwk", "chain", "INGRESS", "insert", "id=0", `src=${h1.ip}`, "l4proto=icmp", "action=DROP");
      expect(ping(h1, ROOT1, 1)).toBe(false);
      expect((await stats("fwk"))[0]!.pkts).toBe(1);
    } finally {
      await daemon.request("DELETE", "/firewall/fwk/");
    }
  }, 60000);
});

describe("conntrack", () => {
  test("accept-established lets replies of allowed flows through; sessions are listed", async () => {
    try {
      await cli("firewall", "add", "fwc", "conntrack=ON", "accept-established=ON");
      await cli("attach", "fwc", h1.outer);
      // Only h1 -> root pings are allowed (INGRESS); EGRESS drops everything but established flows.
      await cli("fwc", "chain", "INGRESS", "append", `src=${h1.ip}`, "l4proto=ICMP", "action=FORWARD");
      expect(ping(h1, ROOT1, 2)).toBe(true);
      const sessions = ((await ok("GET", "/firewall/fwc/session-table/")) as any[]).filter((e) => !Array.isArray(e));
      expect(sessions.some((x) => x.src === h1.ip && x.dst === ROOT1 && x.l4proto === "ICMP" && x.state === "ESTABLISHED")).toBe(true);
      // The root namespace's own pings to h1 are new flows on EGRESS: dropped.
      expect(spawnSync(["ping", "-c", "1", "-W", "1", h1.ip], { stdout: "pipe" }).exitCode).not.toBe(0);
      await cli("fwc", "set", "accept-established=OFF");
      expect(ping(h1, ROOT1, 1)).toBe(false); // the replies now meet EGRESS's DROP
      await cli("fwc", "chain", "EGRESS", "append", "conntrack=ESTABLISHED", "action=FORWARD");
      expect(ping(h1, ROOT1, 1)).toBe(true);
    } finally {
      await daemon.request("DELETE", "/firewall/fwc/");
    }
  });
});
