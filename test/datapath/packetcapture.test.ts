// packetcapture through the real daemon, in TC and XDP_SKB, on a host's root-side veth (whose
// address the root namespace answers): pings go on while captured; the pcap file holds exactly
// the echo requests and replies of the directions captured (parsed here, and read back by
// tcpdump -r when it is installed); a filter keeps only ICMP from one source address; OFF
// captures nothing; the last packet is reported as state; unsupported options are refused.
// A packet of 3042 bytes is recorded with its first 2048 (all the datapath hands up) and its
// real length. On a simplebridge port, both directions are captured in both modes. Last, the
// netdev test again with packetcapture as a remote service.
// XDP has no egress hook on a netdev, so an XDP cube there sees only INGRESS (docs/datapath.md).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync, type Subprocess } from "bun";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Daemon, freePort } from "../lib/daemon.ts";
import { hooksOn, okRequester } from "../lib/datapath.ts";
import { Topology, sh, type Host } from "../lib/netns.ts";
import { startRemoteService } from "../lib/remote-service.ts";

const topo = new Topology("tpc");
const daemon = new Daemon();
const ok = okRequester(daemon);
const dir = mkdtempSync(join(tmpdir(), "pcn-pcap-"));
const servers: Subprocess[] = [];

let h1: Host;
/** h2 and h3 on a simplebridge, for a capture on a cube port. */
let h2: Host;
let h3: Host;
const H1_OTHER = "10.217.0.5";
const ROOT_IP = "10.217.0.254";

function ping(from: Host, to: string, count: number, src?: string, size?: number): boolean {
  const args = ["ip", "netns", "exec", from.ns, "ping", "-c", String(count), "-W", "1", "-i", "0.2", ...(src ? ["-I", src] : []), ...(size ? ["-s", String(size)] : []), to];
  return spawnSync(args, { stdout: "pipe", stderr: "pipe" }).exitCode === 0;
}

interface Rec {
  caplen: number;
  len: number;
  data: Uint8Array;
}

/** The pcap file: its global header and records. */
function readPcap(path: string): { magic: number; snaplen: number; linktype: number; records: Rec[] } {
  const b = readFileSync(path);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const records: Rec[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const caplen = v.getUint32(o + 8, true);
    records.push({ caplen, len: v.getUint32(o + 12, true), data: b.subarray(o + 16, o + 16 + caplen) });
    o += 16 + caplen;
  }
  return { magic: v.getUint32(0, true), snaplen: v.getUint32(16, true), linktype: v.getUint32(20, true), records };
}

const ip = (d: Uint8Array, at: number) => Array.from(d.subarray(at, at + 4)).join(".");

/** ICMP echo packets of a capture as "src>dst:type" (8 request, 0 reply). */
function echoes(recs: Rec[]): string[] {
  return recs
    .filter((r) => r.data[12] === 0x08 && r.data[13] === 0x00 && r.data[23] === 1)
    .map((r) => `${ip(r.data, 26)}>${ip(r.data, 30)}:${r.data[14 + (r.data[14]! & 0xf) * 4]}`);
}

/** Waits until the file holds at least `n` echo packets (copies reach the slow path asynchronously), or 2 s. */
async function settle(path: string, n: number): Promise<string[]> {
  const end = Date.now() + 2000;
  for (;;) {
    const e = echoes(readPcap(path).records);
    if (e.length >= n || Date.now() > end) {
      await Bun.sleep(200);
      return echoes(readPcap(path).records);
    }
    await Bun.sleep(50);
  }
}

const count = (list: string[], what: string) => list.filter((e) => e === what).length;

beforeAll(async () => {
  h1 = topo.host(1, "10.217.0.1/24");
  sh(`ip -n ${h1.ns} addr add ${H1_OTHER}/24 dev eth0`);
  sh(`ip addr add ${ROOT_IP}/24 dev ${h1.outer}`);
  // Room for a packet larger than the 2048 bytes the datapath hands the slow path.
  sh(`ip link set ${h1.outer} mtu 4000 && ip -n ${h1.ns} link set eth0 mtu 4000`);
  h2 = topo.host(2, "10.218.0.2/24");
  h3 = topo.host(3, "10.218.0.3/24");
  await daemon.start();
});

afterAll(async () => {
  try {
    for (const c of ["pct", "pcx", "pcr", "ppt", "ppx", "brt", "brx"]) await daemon.request("DELETE", `/packetcapture/${c}/`).catch(() => undefined);
    await daemon.stop();
    for (const p of servers) p.kill();
  } finally {
    topo.cleanup();
    daemon.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

// The last variant runs packetcapture as a remote service (libpcap in the service's process).
for (const [type, remote] of [["TC", false], ["XDP_SKB", false], ["TC", true]] as const) {
  describe(remote ? `${type}: on a netdev, packetcapture as a remote service` : `${type}: on a netdev`, () => {
    const c = remote ? "pcr" : type === "TC" ? "pct" : "pcx";
    if (remote) {
      test("the daemon serves packetcapture from another process", async () => {
        const port = freePort();
        servers.push(await startRemoteService("packetcapture", `127.0.0.1:${port}`));
        await ok("DELETE", "/services/packetcapture/");
        await ok("POST", "/services/", { name: "packetcapture", type: "grpc", uri: `127.0.0.1:${port}` });
      });
    }

    test("BIDIRECTIONAL while pinging: pings work, the file has them; filter; OFF; state; refusals", async () => {
      const path = join(dir, `${c}.pcap`);
      const req = `${h1.ip}>${ROOT_IP}:8`;
      const rep = `${ROOT_IP}>${h1.ip}:0`;
      try {
        await ok("POST", `/packetcapture/${c}/`, { type, capture: "BIDIRECTIONAL", dump: path });
        expect(existsSync(path)).toBe(true);
        expect((await daemon.cli(["attach", c, h1.outer])).code).toBe(0);
        expect(hooksOn([h1.outer]).length).toBeGreaterThan(0);

        // The original's way to find the file.
        const shown = await daemon.cli([c, "show", "dump"]);
        expect(spawnSync(["bash", "-c", "cut -d ' ' -f 4-"], { stdin: Buffer.from(shown.out), stdout: "pipe" }).stdout.toString().trim()).toBe(path);

        expect(ping(h1, ROOT_IP, 3)).toBe(true);
        let e = await settle(path, 6);
        expect(count(e, req)).toBe(3);
        expect(count(e, rep)).toBe(3);
        const file = readPcap(path);
        expect(file).toMatchObject({ magic: 0xa1b2c3d4, snaplen: 262144, linktype: 1 });
        for (const r of file.records) expect(r.caplen).toBe(r.len); // small packets: whole
        const echo = file.records.find((r) => r.data[23] === 1)!;
        expect(echo.len).toBe(98); // 56 data bytes + 8 ICMP + 20 IP + 14 Ethernet

        const state = await ok("GET", `/packetcapture/${c}/`);
        expect(state).toMatchObject({ capture: "BIDIRECTIONAL", dump: path, snaplen: 262144, anonimize: false, networkmode: false });
        expect(state.globalheader).toEqual({ magic: 0xa1b2c3d4, version_major: 2, version_minor: 4, thiszone: 0, sigfigs: 0, snaplen: 262144, linktype: 1 });
        expect(state.packet.capturelen).toBeGreaterThan(0);
        expect(state.packet.rawdata).toMatch(/^[0-9a-f]+$/);
        expect(state.packet.rawdata.length).toBe(state.packet.capturelen * 2);
        expect(Math.abs(state.packet["timestamp-seconds"] - Date.now() / 1000)).toBeLessThan(30);

        if (Bun.which("tcpdump")) {
          const out = spawnSync(["tcpdump", "-n", "-r", path, "icmp"], { stdout: "pipe", stderr: "pipe" });
          expect(out.exitCode).toBe(0);
          const lines = out.stdout.toString().trim().split("\n");
          expect(lines.filter((l) => l.includes(`IP ${h1.ip} > ${ROOT_IP}: ICMP echo request`)).length).toBe(3);
          expect(lines.filter((l) => l.includes(`IP ${ROOT_IP} > ${h1.ip}: ICMP echo reply`)).length).toBe(3);
        }

        // A filter: only ICMP from one source address; snaplen cuts the records.
        const cli = await daemon.cli([c, "set", `filter=icmp and src host ${H1_OTHER}`]);
        expect(cli.err).toBe("");
        expect(cli.code).toBe(0);
        await ok("PATCH", `/packetcapture/${c}/`, { snaplen: 60 });
        const before = readPcap(path).records.length;
        expect(ping(h1, ROOT_IP, 2)).toBe(true);
        expect(ping(h1, ROOT_IP, 2, H1_OTHER)).toBe(true);
        await settle(path, 6 + 2);
        const after = readPcap(path);
        expect(after.snaplen).toBe(60);
        const added = after.records.slice(before);
        expect(echoes(added)).toEqual([`${H1_OTHER}>${ROOT_IP}:8`, `${H1_OTHER}>${ROOT_IP}:8`]);
        for (const r of added) expect([r.caplen, r.len]).toEqual([60, 98]);
        expect(await ok("GET", `/packetcapture/${c}/packet/`)).toMatchObject({ capturelen: 60, packetlen: 98 });

        // INGRESS only, every packet again.
        await ok("PATCH", `/packetcapture/${c}/`, { capture: "INGRESS", filter: "all", snaplen: 262144 });
        const n1 = readPcap(path).records.length;
        expect(ping(h1, ROOT_IP, 2)).toBe(true);
        await Bun.sleep(300);
        e = echoes(readPcap(path).records.slice(n1));
        expect(count(e, req)).toBe(2);
        expect(count(e, rep)).toBe(0);

        // A packet larger than 2048 bytes: the datapath hands up 2048 of them, the record says so.
        const n3 = readPcap(path).records.length;
        expect(ping(h1, ROOT_IP, 1, undefined, 3000)).toBe(true);
        await Bun.sleep(300);
        const big = readPcap(path).records.slice(n3).filter((r) => r.data[23] === 1);
        expect(big.map((r) => [r.caplen, r.len])).toEqual([[2048, 3042]]);
        expect(await ok("GET", `/packetcapture/${c}/packet/`)).toMatchObject({ capturelen: 2048, packetlen: 3042 });

        // OFF: nothing more, and pings still pass.
        expect((await daemon.cli([c, "set", "capture=OFF"])).code).toBe(0);
        const n2 = readPcap(path).records.length;
        expect(ping(h1, ROOT_IP, 3)).toBe(true);
        await Bun.sleep(300);
        expect(readPcap(path).records.length).toBe(n2);

        // Refusals change nothing.
        for (const body of [{ anonimize: true }, { networkmode: true }, { filter: "icmp and hots 1" }, { packet: { capturelen: 1 } }, { globalheader: { magic: 1 } }]) {
          const r = await daemon.request("PATCH", `/packetcapture/${c}/`, body);
          expect(r.status).toBe(400);
        }
        expect(await ok("GET", `/packetcapture/${c}/`)).toMatchObject({ capture: "OFF", anonimize: false, networkmode: false, filter: "all" });
        expect((await daemon.request("POST", `/packetcapture/${c}x/`, { networkmode: true })).status).toBe(400);
      } finally {
        await daemon.request("DELETE", `/packetcapture/${c}/`).catch(() => undefined);
      }
      expect(hooksOn([h1.outer])).toEqual([]);
      expect(ping(h1, ROOT_IP, 1)).toBe(true);
    });
  });

  if (!remote) describe(`${type}: on a cube port`, () => {
    test("BIDIRECTIONAL on a simplebridge port: both directions, pings pass", async () => {
      const [br, c] = type === "TC" ? ["brt", "ppt"] : ["brx", "ppx"];
      const path = join(dir, `${c}.pcap`);
      try {
        await ok("POST", `/simplebridge/${br}/`, { type, ports: [{ name: "p2", peer: h2.outer }, { name: "p3", peer: h3.outer }] });
        await ok("POST", `/packetcapture/${c}/`, { type, capture: "BIDIRECTIONAL", dump: path, filter: "icmp" });
        expect((await daemon.cli(["attach", c, `${br}:p2`])).code).toBe(0);
        expect(ping(h2, h3.ip, 3)).toBe(true);
        const e = await settle(path, 6);
        expect(count(e, `${h2.ip}>${h3.ip}:8`)).toBe(3);
        expect(count(e, `${h3.ip}>${h2.ip}:0`)).toBe(3);
        expect(e.length).toBe(6);
      } finally {
        await daemon.request("DELETE", `/packetcapture/${c}/`).catch(() => undefined);
        await daemon.request("DELETE", `/simplebridge/${br}/`).catch(() => undefined);
      }
    });
  });
}
