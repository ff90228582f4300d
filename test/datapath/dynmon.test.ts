// dynmon through the real daemon, in TC and XDP_SKB, on the root-side veth of a host whose
// pings the root namespace answers (INGRESS: the requests, EGRESS: the replies):
// - the original's packet counter example loads unchanged and counts; its metric reads as JSON,
//   as OpenMetrics, on the daemon's /metrics and through polycubectl, as the original's test;
// - code in BCC's dialect with a struct-keyed hash, a per-CPU array and a queue: exact counts,
//   values decoded through the object's BTF, the queue taken out as it is read;
// - empty-on-read; swap-on-read with empty-on-read under a ping flood loses no count (the sum of
//   the reads is the total a plain counter of the same code saw), and without it the two copies
//   alternate as the original's do;
// - replacing the code while pings flow loses no ping, and the new code counts from zero;
// - a map shared by both paths; code that does not compile (clang's diagnostics), code the
//   verifier refuses (its log), a metric naming no map: 4xx, the previous code still counting;
// - a daemon whose compiler is missing says so (500, the host's fault) and keeps the cube as it was;
// - deleting the cubes leaves no program on the interface.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "bun";
import { Daemon } from "../lib/daemon.ts";
import { hooksOn, okRequester } from "../lib/datapath.ts";
import { Topology, type Host } from "../lib/netns.ts";
import { ICMP_MONITOR, ORIGINAL_PACKET_COUNTER } from "../../src/services/dynmon/fixtures.ts";

const topo = new Topology("dm");
const daemon = new Daemon();
const ok = okRequester(daemon);
/** One host per cube type: a netdev serves cubes of one type at a time. */
const hosts: Record<string, Host> = {};
const ROOT_IP: Record<string, string> = { TC: "10.182.0.254", XDP_SKB: "10.182.1.254" };
const HOST_IP: Record<string, string> = { TC: "10.182.0.1", XDP_SKB: "10.182.1.1" };
const CUBES: Record<string, string> = { TC: "dmt", XDP_SKB: "dmx" };

const RX = "static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md)";

/** Counts ICMP echo messages of `type` (8 requests, 0 replies) into MAP[0] (and TOTAL[0] when asked). */
function echoCounter(type: number, map: string, total?: string): string {
  return `#include <uapi/linux/ip.h>
#include <uapi/linux/icmp.h>
BPF_ARRAY(${map}, u64, 1);
${total ? `BPF_ARRAY(${total}, u64, 1);` : ""}
${RX} {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return RX_OK;
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end || ip->protocol != 1 || ip->ihl != 5) return RX_OK;
  struct icmphdr *icmp = (void *)(ip + 1);
  if ((void *)(icmp + 1) > end || icmp->type != ${type}) return RX_OK;
  ${map}.increment(0);
  ${total ? `${total}.increment(0);` : ""}
  return RX_OK;
}`;
}

/** `count` pings from the host of cube type `type` to the root namespace; true if all came back. */
function ping(type: string, count: number, interval = 0.2): boolean {
  const r = Bun.spawnSync(["ip", "netns", "exec", hosts[type]!.ns, "ping", "-c", String(count), "-W", "1", "-i", String(interval), ROOT_IP[type]!], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 && new RegExp(`${count} received`).test(r.stdout.toString());
}

/** A ping running in the background; resolves with the number of replies. */
function pingInBackground(type: string, count: number, interval: number): Promise<{ sent: number; received: number }> {
  const p = spawn(["ip", "netns", "exec", hosts[type]!.ns, "ping", "-q", "-c", String(count), "-i", String(interval), "-W", "1", ROOT_IP[type]!], { stdout: "pipe", stderr: "pipe" });
  return new Response(p.stdout).text().then((out) => {
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    if (!m) throw new Error(`ping: ${out}`);
    return { sent: Number(m[1]), received: Number(m[2]) };
  });
}

const metric = (cube: string, path: "ingress" | "egress", name: string) => ok("GET", `/dynmon/${cube}/metrics/${path}-metrics/${name}/value/`);
const sum = (v: number[] | null) => (v ?? []).reduce((a, b) => a + b, 0);

function metricConfig(name: string, map: string, opts: { empty?: boolean; swap?: boolean; help?: string } = {}) {
  return {
    name,
    "map-name": map,
    "extraction-options": { "empty-on-read": !!opts.empty, "swap-on-read": !!opts.swap },
    ...(opts.help ? { "open-metrics-metadata": { help: opts.help, type: "Counter", labels: [{ name: "path", value: "in" }] } } : {}),
  };
}

beforeAll(async () => {
  for (const [i, type] of ["TC", "XDP_SKB"].entries()) {
    hosts[type] = topo.host(i + 1, `${HOST_IP[type]}/24`);
    Bun.spawnSync(["ip", "addr", "add", `${ROOT_IP[type]}/24`, "dev", hosts[type]!.outer]);
  }
  await daemon.start();
});

afterAll(async () => {
  try {
    for (const c of ["dmt", "dmx"]) await daemon.request("DELETE", `/dynmon/${c}/`).catch(() => undefined);
    await daemon.stop();
  } finally {
    topo.cleanup();
    daemon.cleanup();
  }
});

for (const type of ["TC", "XDP_SKB"]) {
  const cube = CUBES[type]!;
  describe(`dynmon ${type}`, () => {
    test("the original's packet counter example loads as it is and counts; JSON, OpenMetrics, /metrics and the CLI read it", async () => {
      await ok("POST", `/dynmon/${cube}/`, { type });
      await ok("POST", "/attach", { cube, port: hosts[type]!.outer });
      expect(ping(type, 2)).toBe(true); // the default code passes everything
      await ok("PUT", `/dynmon/${cube}/dataplane-config/`, ORIGINAL_PACKET_COUNTER);
      expect(ping(type, 3)).toBe(true);
      const [n] = (await metric(cube, "ingress", "packets_total")) as number[];
      expect(n).toBeGreaterThanOrEqual(3);
      const metrics = await ok("GET", `/dynmon/${cube}/metrics/`);
      const [m] = metrics["ingress-metrics"];
      expect(Math.abs(m.timestamp / 1000 - Date.now())).toBeLessThan(60_000);
      expect(m.name).toBe("packets_total");
      expect(m.value.length).toBe(1);
      expect(m.value[0]).toBeGreaterThanOrEqual(n!);
      expect(metrics["egress-metrics"]).toEqual([]);
      const text: string = await ok("GET", `/dynmon/${cube}/open-metrics/`);
      expect(text).toMatch(/^#HELP packets_total This metric represents the number of packets that has traveled trough this probe\.\n#TYPE packets_total counter\npackets_total\{\} \d+$/);
      const scrape = await (await fetch(`${daemon.url}/metrics`)).text();
      expect(scrape).toContain("# TYPE packets_total counter\n");
      expect(scrape).toMatch(new RegExp(`^packets_total\\{cubeName="${cube}"\\} \\d+$`, "m"));
      const cli = await daemon.cli([cube, "metrics", "ingress-metrics", "packets_total", "value", "show"]);
      expect(cli.out.trim()).toMatch(/^\[\d+\]$/);
      expect(Number(cli.out.trim().slice(1, -1))).toBeGreaterThanOrEqual(n!);
      // the egress path runs the default code, shown under its default name
      expect((await ok("GET", `/dynmon/${cube}/dataplane-config/egress-path/name/`))).toBe("Default path config");
    });

    test("BCC code: a struct-keyed hash, a per-CPU array, a queue, decoded through the object's BTF; the egress path counts the replies", async () => {
      await ok("PUT", `/dynmon/${cube}/dataplane-config/`, {
        "ingress-path": {
          name: "icmp",
          code: ICMP_MONITOR,
          "metric-configs": [metricConfig("echo", "ECHO_BY_SOURCE"), metricConfig("ipv4", "IPV4_PACKETS", { help: "IPv4 packets" }), metricConfig("last", "LAST_PACKETS")],
        },
        "egress-path": { name: "replies", code: echoCounter(0, "REPLIES"), "metric-configs": [metricConfig("replies", "REPLIES", { empty: true })] },
      });
      expect(ping(type, 4)).toBe(true);
      const echo = await metric(cube, "ingress", "echo");
      // saddr is read as the little-endian u32 of the address's bytes, as the original decoded it
      const saddr = new DataView(new Uint8Array(HOST_IP[type]!.split(".").map(Number)).buffer).getUint32(0, true);
      expect(echo).toEqual([{ key: { saddr, type: 8, pad: [0, 0, 0] }, value: 4 }]);
      const ipv4 = (await metric(cube, "ingress", "ipv4")) as Array<{ key: number; value: number[] }>;
      expect(ipv4.length).toBe(1);
      expect(ipv4[0]!.key).toBe(0);
      expect(sum(ipv4[0]!.value)).toBe(4);
      expect(await ok("GET", `/dynmon/${cube}/open-metrics/`)).toBe('#HELP ipv4 IPv4 packets\n#TYPE ipv4 counter\nipv4{path="in"} 4');
      expect(await metric(cube, "ingress", "last")).toEqual(Array(4).fill({ len: 84, proto: 1, ttl: 64, tag: "ip" }));
      expect(await metric(cube, "ingress", "last")).toBeNull(); // taken out by the first read
      expect(await metric(cube, "egress", "replies")).toEqual([4]);
    });

    test("empty-on-read: a read returns what came since the previous one", async () => {
      await ok("PUT", `/dynmon/${cube}/dataplane-config/`, {
        "ingress-path": { name: "c", code: echoCounter(8, "C"), "metric-configs": [metricConfig("c", "C", { empty: true })] },
      });
      expect(ping(type, 3)).toBe(true);
      expect(await metric(cube, "ingress", "c")).toEqual([3]);
      expect(await metric(cube, "ingress", "c")).toEqual([0]);
      expect(ping(type, 2)).toBe(true);
      expect(await metric(cube, "ingress", "c")).toEqual([2]);
    });

    test("swap-on-read with empty-on-read under a ping flood: the reads add up to every packet counted", async () => {
      await ok("PUT", `/dynmon/${cube}/dataplane-config/`, {
        "ingress-path": {
          name: "swap",
          code: echoCounter(8, "SWAPPED", "TOTAL"),
          "metric-configs": [metricConfig("swapped", "SWAPPED", { empty: true, swap: true, help: "h" }), metricConfig("total", "TOTAL")],
        },
      });
      const flood = pingInBackground(type, 1500, 0.002);
      let seen = 0;
      let reads = 0;
      const done = { v: false };
      void flood.then(() => (done.v = true));
      while (!done.v) {
        seen += sum((await metric(cube, "ingress", "swapped")) as number[]);
        reads++;
        await Bun.sleep(20);
      }
      const { sent, received } = await flood;
      expect(received).toBe(sent);
      // the open-metrics reading is a read too: it takes what came since
      const last = await ok("GET", `/dynmon/${cube}/open-metrics/`);
      seen += Number(/swapped\{path="in"\} (\d+)/.exec(last)![1]);
      expect(reads).toBeGreaterThan(5);
      expect(await metric(cube, "ingress", "total")).toEqual([sent]);
      expect(seen).toBe(sent);
    });

    test("swap-on-read alone: the copies alternate, as the original's", async () => {
      await ok("PUT", `/dynmon/${cube}/dataplane-config/`, {
        "ingress-path": { name: "alt", code: echoCounter(8, "ALT"), "metric-configs": [metricConfig("alt", "ALT", { swap: true })] },
      });
      expect(ping(type, 3)).toBe(true);
      expect(await metric(cube, "ingress", "alt")).toEqual([3]); // copy 0: the 3 pings
      expect(ping(type, 2)).toBe(true);
      expect(await metric(cube, "ingress", "alt")).toEqual([2]); // copy 1: the 2 since
      expect(ping(type, 1)).toBe(true);
      expect(await metric(cube, "ingress", "alt")).toEqual([4]); // copy 0 again: 3 + 1
    });

    test("replacing the code while pings flow loses none; the new code counts from zero", async () => {
      const flood = pingInBackground(type, 400, 0.02);
      for (const [i, map] of ["R1", "R2", "R3"].entries()) {
        await Bun.sleep(300);
        await ok("PUT", `/dynmon/${cube}/dataplane-config/`, {
          "ingress-path": { name: `gen${i}`, code: echoCounter(8, map), "metric-configs": [metricConfig("r", map)] },
        });
      }
      const before = ((await metric(cube, "ingress", "r")) as number[])[0]!;
      const { sent, received } = await flood;
      expect(received).toBe(sent);
      const after = ((await metric(cube, "ingress", "r")) as number[])[0]!;
      expect(after).toBeGreaterThan(before);
      expect(after).toBeLessThan(sent);
    });

    test("a map shared by both paths counts both directions", async () => {
      const shared = `BPF_TABLE_SHARED("array", int, u64, BOTH, 1);\n${echoCounter(8, "REQ").replace("REQ.increment(0);", "REQ.increment(0); BOTH.increment(0);")}`;
      const ext = `BPF_TABLE("extern", int, u64, BOTH, 1);\n${echoCounter(0, "REP").replace("REP.increment(0);", "REP.increment(0); BOTH.increment(0);")}`;
      await ok("PUT", `/dynmon/${cube}/dataplane-config/`, {
        "ingress-path": { name: "s", code: shared, "metric-configs": [metricConfig("both", "BOTH")] },
        "egress-path": { name: "e", code: ext, "metric-configs": [metricConfig("both", "BOTH"), metricConfig("rep", "REP")] },
      });
      expect(ping(type, 3)).toBe(true);
      expect(await metric(cube, "ingress", "both")).toEqual([6]);
      expect(await metric(cube, "egress", "both")).toEqual([6]);
      expect(await metric(cube, "egress", "rep")).toEqual([3]);
    });
  });
}

describe("dynmon refusals (TC)", () => {
  const cube = "dmt";
  const type = "TC";
  const good = { "ingress-path": { name: "good", code: echoCounter(8, "GOOD"), "metric-configs": [metricConfig("good", "GOOD")] } };

  /** The refusal of `body`, after which the good configuration is still there and still counts. */
  async function refusedKeepsGood(body: unknown): Promise<{ status: number; message: string }> {
    const before = ((await metric(cube, "ingress", "good")) as number[])[0]!;
    const r = await daemon.request("PUT", `/dynmon/${cube}/dataplane-config/`, body);
    expect((await ok("GET", `/dynmon/${cube}/dataplane-config/ingress-path/name/`))).toBe("good");
    expect(ping(type, 2)).toBe(true);
    expect(await metric(cube, "ingress", "good")).toEqual([before + 2]);
    const message = r.status >= 300 ? (r.json()["ietf-restconf:errors"]?.error?.[0]?.["error-message"] ?? r.text) : r.text;
    return { status: r.status, message };
  }

  beforeAll(async () => {
    await ok("PUT", `/dynmon/${cube}/dataplane-config/`, good);
  });

  test("code that does not compile: 400 with clang's diagnostics on the path's own line", async () => {
    const r = await refusedKeepsGood({ "ingress-path": { name: "bad", code: `BPF_ARRAY(C, u64, 1);\n${RX} {\n  return nope;\n}` } });
    expect(r.status).toBe(400);
    expect(r.message).toContain("dataplane-config.ingress-path.code: the code does not compile");
    expect(r.message).toContain("ingress-path:3:10: error: use of undeclared identifier 'nope'");
  });

  test("code the verifier refuses: 400 with the verifier's log", async () => {
    const code = `${RX} {\n  unsigned char *p = (void *)(long)ctx->data;\n  return p[100] == 7 ? RX_DROP : RX_OK;\n}`;
    const r = await refusedKeepsGood({ "ingress-path": { name: "unsafe", code } });
    expect(r.status).toBe(400);
    expect(r.message).toContain("dataplane-config.ingress-path.code: the TC build of the code does not load");
    expect(r.message).toContain("the verifier says:");
    expect(r.message).toMatch(/invalid access to packet/);
  });

  test("a metric naming a map the code lacks: 400 naming the metric and the map", async () => {
    const r = await refusedKeepsGood({ "ingress-path": { name: "x", code: echoCounter(8, "GOOD"), "metric-configs": [metricConfig("good", "GOD")] } });
    expect(r.status).toBe(400);
    expect(r.message).toBe("dataplane-config.ingress-path.metric-configs[good].map-name: the ingress code has no map GOD (its maps: GOOD)");
  });

  test("BCC code dynmon cannot take: 400 naming the path and the line", async () => {
    const r = await refusedKeepsGood({ "egress-path": { name: "perf", code: `\nBPF_PERF_OUTPUT(events);\n${RX} { return RX_OK; }` } });
    expect(r.status).toBe(400);
    expect(r.message).toContain("dataplane-config.egress-path.code: egress code, line 2: BPF_PERF_OUTPUT: perf buffers have no reader in dynmon");
  });
});

describe("dynmon without a compiler", () => {
  const lone = new Daemon({ env: { CLANG: "/nonexistent/clang-19" } });
  beforeAll(() => lone.start());
  afterAll(async () => {
    try {
      await lone.request("DELETE", "/dynmon/dmn/");
      await lone.stop();
    } finally {
      lone.cleanup();
    }
  });

  test("a cube without code is created; code is refused with a 500 naming the compiler, the cube unchanged", async () => {
    const created = await lone.request("POST", "/dynmon/dmn/", {});
    expect(created.status).toBeLessThan(300);
    const r = await lone.request("PUT", "/dynmon/dmn/dataplane-config/", ORIGINAL_PACKET_COUNTER);
    expect(r.status).toBe(500);
    expect(r.text).toContain("dynmon: cannot build the code: the C compiler CLANG=/nonexistent/clang-19 is not found or not executable");
    expect((await lone.request("GET", "/dynmon/dmn/dataplane-config/ingress-path/name/")).json()).toBe("Default path config");
  });
});

describe("dynmon removal", () => {
  test("deleting the cubes leaves no program on the interface", async () => {
    for (const c of ["dmt", "dmx"]) await ok("DELETE", `/dynmon/${c}/`);
    expect(hooksOn(Object.values(hosts).map((h) => h.outer))).toEqual([]);
    for (const type of Object.keys(hosts)) expect(ping(type, 1)).toBe(true);
  });
});
