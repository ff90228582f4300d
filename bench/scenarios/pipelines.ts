// Per-packet cost of each service's pipeline, by BPF_PROG_TEST_RUN of the program the daemon
// attached to the cube's input netdev (its pcn_entry), beside an empty program of the same kind.
//
// A polycubed of its own (bench/lib/polycubed.ts) makes one cube per service and mode (TC and
// XDP_SKB), each with its ports peered to veths whose other ends are in a namespace of the run,
// and static FDB/ARP/action entries so that the test frame takes the fast path. The entry that
// the daemon attached to the input veth is found with `bpftool -j net show` and opened by id;
// a test run of it follows the whole chain (entry -> tail call -> cube -> egress program, if
// any) up to the final bpf_redirect, which test-run does not perform. Every call's return value
// is checked against the verdict of the fast path, so a frame sent to the slow path (which
// returns DROP) fails the row instead of measuring the ring buffer.
//
// Timing: the kernel's own figure (bpf_test_run_opts.duration: ns per repetition over the loop,
// without the syscall and the skb/xdp_buff set-up), averaged over the calls of a trial. The
// frame is not restored between repetitions, so the router's calls stay below what its TTL
// allows (its frame is a fixed point otherwise: its ARP entry for the sink names the input
// port's own MAC, so the rewritten destination MAC is accepted again).
//
// The entry alone: our own copy of bpf/pcn_entry (built object, private maps, so no daemon
// state is touched), with its hop DROP (map lookup + verdict), and with a hop CUBE into an
// empty pcn_nodes slot (also writes the metadata and attempts the tail call, which fails).
// "beyond the entry" in a service's detail subtracts the latter.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BpfObject, closeProgramFd, programFdById, programInfo, testRun } from "../../src/lib/bpf/index.ts";
import { NET } from "../lib/dut.ts";
import { FLOW_PORT, udpFrame } from "../lib/frame.ts";
import { Lab } from "../lib/lab.ts";
import { Polycubed } from "../lib/polycubed.ts";
import type { Row } from "../lib/report.ts";
import { sh } from "../lib/sh.ts";

const ROOT = join(import.meta.dir, "../..");
const TRIALS = 15;
/** Repetitions per call and calls per trial. An XDP call with more than one repetition costs
 * milliseconds of set-up (the XDP dispatcher is re-pointed at the program and back), so few
 * long calls; the kernel's figure leaves that set-up out either way. */
const RUN = { repeat: 25_000, calls: 4 };
/** The router decrements a TTL of 255 once per repetition: at most 254 (see the header). */
const ROUTER_RUN = { repeat: 250, calls: 25 };

type Mode = "TC" | "XDP_SKB";
const TAG: Record<Mode, string> = { TC: "tc", XDP_SKB: "xdp" };
/** Verdicts: [TC, XDP]. */
const V = {
  pass: { TC: 0, XDP_SKB: 2 },
  drop: { TC: 2, XDP_SKB: 1 },
  redirect: { TC: 7, XDP_SKB: 4 },
} as const;
const VERDICT_NAME: Record<Mode, Record<number, string>> = {
  TC: { 0: "TC_ACT_OK", 2: "TC_ACT_SHOT", 7: "TC_ACT_REDIRECT" },
  XDP_SKB: { 1: "XDP_DROP", 2: "XDP_PASS", 4: "XDP_REDIRECT" },
};

/** MACs of the test frame's source and of the sink (never a real interface: nothing is sent). */
const SRC_MAC = "02:00:00:00:0a:01";
const SINK_MAC = "02:00:00:00:0a:02";
const ROUTER_IN_MAC = "02:00:00:00:0a:03";

export interface PipelineOptions {
  /** Whether a row key was asked for (run.ts: every key, or the group key "pipelines"). */
  wanted(key: string): boolean;
  log(msg: string): void;
}

interface Case {
  key: string;
  label: string;
  mode: Mode;
  baseline?: string;
  expect: number;
  frame: Uint8Array;
  fd: number;
  /** Extra check on the output frame of a call (e.g. the router's TTL). */
  check?(out: Uint8Array): string | undefined;
  run: { repeat: number; calls: number };
  ns: number[];
  error?: string;
}

interface Service {
  name: string;
  label: string;
  /** Transparent: attached to the input veth; standard: ports "in" and "out" peered to veths. */
  transparent?: boolean;
  expect: keyof typeof V;
  /** The cube's body (standard cubes: ports "in" and "out" are added unless it has its own). */
  body(mode: Mode, inDev: string, outDev: string): Record<string, unknown>;
  /** The frame's destination MAC (default: the sink's). */
  dstMac?: string;
  check?(out: Uint8Array): string | undefined;
  run?: { repeat: number; calls: number };
}

const SERVICES: Service[] = [
  {
    name: "simplebridge", label: "simplebridge (static FDB entry for the destination; the source learned)", expect: "redirect",
    body: (type) => ({ type, fdb: { entry: [{ address: SINK_MAC, port: "out" }] } }),
  },
  {
    name: "bridge", label: "bridge (access ports, VLAN 1; static FDB entry)", expect: "redirect",
    body: (type) => ({ type, fdb: { entry: [{ vlan: 1, mac: SINK_MAC, port: "out" }] } }),
  },
  {
    name: "router", label: "router (connected route, static ARP entry; TTL and MACs rewritten)", expect: "redirect",
    // The ARP entry names the input port's own MAC: the rewritten frame is accepted again.
    body: (type, inDev, outDev) => ({
      type,
      ports: [
        { name: "in", peer: inDev, ip: `${NET.genGw}/${NET.prefixLen}`, mac: ROUTER_IN_MAC },
        { name: "out", peer: outDev, ip: `${NET.sinkGw}/${NET.prefixLen}` },
      ],
      "arp-table": [{ address: `${NET.sinkIp}/32`, mac: ROUTER_IN_MAC, interface: "out" }],
    }),
    dstMac: ROUTER_IN_MAC,
    run: ROUTER_RUN,
    check: (out) => {
      const ttl = out[out.length - 60 + 22];
      const want = 255 - ROUTER_RUN.repeat;
      return ttl === want ? undefined : `TTL after ${ROUTER_RUN.repeat} repetitions is ${ttl}, not ${want}: not every repetition was forwarded`;
    },
  },
  {
    name: "helloworld", label: "helloworld FORWARD (ingress + egress program)", expect: "redirect",
    body: (type) => ({ type, action: "FORWARD" }),
  },
  {
    name: "simpleforwarder", label: "simpleforwarder FORWARD", expect: "redirect",
    body: (type) => ({ type, actions: [{ inport: "in", action: "FORWARD", outport: "out" }] }),
  },
  {
    name: "transparenthelloworld", label: "transparenthelloworld on the netdev (PASS)", transparent: true, expect: "pass",
    body: (type) => ({ type }),
  },
  {
    name: "ddosmitigator", label: "ddosmitigator on the netdev (4 + 4 blacklist entries, none matching)", transparent: true, expect: "pass",
    body: (type) => ({
      type,
      "blacklist-src": ["10.99.0.1", "10.99.0.2", "10.99.0.3", "10.99.0.4"].map((ip) => ({ ip })),
      "blacklist-dst": ["10.98.0.1", "10.98.0.2", "10.98.0.3", "10.98.0.4"].map((ip) => ({ ip })),
    }),
  },
  {
    name: "firewall", label: "firewall on the netdev (INGRESS: 8 rules, the last one accepts the flow; default DROP; conntrack OFF)", transparent: true, expect: "pass",
    // conntrack OFF: with the default (ON, accept-established ON) every repetition after the
    // first would be ESTABLISHED and skip the rules.
    body: (type) => ({
      type,
      conntrack: "OFF",
      chain: [{
        name: "INGRESS",
        default: "DROP",
        rule: [
          ...Array.from({ length: 7 }, (_, i) => ({ id: i, src: `10.99.${i}.0/24`, l4proto: "TCP", dport: 1000 + i, action: "DROP" })),
          { id: 7, src: `${NET.genIp}/32`, dst: `${NET.sinkIp}/32`, l4proto: "UDP", dport: FLOW_PORT, action: "ACCEPT" },
        ],
      }],
    }),
  },
];

function frame(dstMac: string, ttl = 64): Uint8Array {
  return udpFrame({ srcMac: SRC_MAC, dstMac, srcIp: NET.genIp, dstIp: NET.sinkIp, ttl });
}

/** The id of the program the daemon attached to dev (TC ingress or XDP), waiting up to 3 s. */
async function attachedProgram(dev: string, mode: Mode): Promise<number> {
  for (let i = 0; i < 60; i++) {
    const j = JSON.parse(sh(`bpftool -j net show dev ${dev}`) || "[]") as Array<{
      xdp?: Array<{ id: number }>;
      tc?: Array<{ id: number; kind?: string }>;
    }>;
    const progs = mode === "TC" ? j.flatMap((x) => x.tc ?? []).filter((p) => p.kind === "clsact/ingress") : j.flatMap((x) => x.xdp ?? []);
    if (progs.length === 1) return progs[0]!.id;
    if (progs.length > 1) throw new Error(`${dev}: ${progs.length} programs attached, expected one`);
    await Bun.sleep(50);
  }
  throw new Error(`${dev}: no ${mode === "TC" ? "TC ingress" : "XDP"} program attached`);
}

/** Mean of the kernel's ns per repetition over the case's calls; throws on an unexpected verdict. */
function trial(c: Case): number {
  let sum = 0;
  for (let i = 0; i < c.run.calls; i++) {
    const r = testRun(c.fd, { data: c.frame, repeat: c.run.repeat });
    if (r.retval !== c.expect) {
      throw new Error(`verdict ${VERDICT_NAME[c.mode][r.retval] ?? r.retval}, expected ${VERDICT_NAME[c.mode][c.expect]}`);
    }
    if (c.check && i === 0) {
      const bad = c.check(r.data);
      if (bad) throw new Error(bad);
    }
    sum += r.duration;
  }
  return sum / c.run.calls;
}

/** The rows of this scenario (none if no key of it is wanted); every failure ends up in its row. */
export async function pipelineRows(o: PipelineOptions): Promise<Row[]> {
  const modes = (["TC", "XDP_SKB"] as Mode[]).filter((m) =>
    ["empty", "entry-drop", "entry-miss", ...SERVICES.map((s) => s.name)].some((k) => o.wanted(`pipe-${k}-${TAG[m]}`)));
  if (modes.length === 0) return [];
  const cases: Case[] = [];
  const closers: Array<() => void | Promise<void>> = [];
  const pcn = new Polycubed();
  const lab = new Lab();
  try {
    const ns = lab.netns("p");
    let n = 0;
    let cubes = 0;
    /** A veth pair: the returned end in the root namespace (the daemon's), the other in ns. */
    const veth = () => {
      const dev = lab.name(`p${n++}`);
      lab.veth({ ns: null, dev }, { ns, dev: "e" + dev.slice(-6) });
      return dev;
    };
    for (const mode of modes) {
      const t = TAG[mode];
      const base = `pipe-empty-${t}`;
      const add = (c: Omit<Case, "ns" | "mode" | "run"> & { run?: Case["run"] }) => cases.push({ run: RUN, ...c, mode, ns: [] });
      // Baseline: the empty program of this kind.
      try {
        const obj = BpfObject.open(await Bun.file(join(ROOT, `build/out/bpf/pcn_empty.${mode === "TC" ? "tc" : "xdp"}.o`)).bytes(), "pcn_empty");
        closers.push(() => obj.close());
        obj.load();
        add({ key: base, label: `empty ${mode === "TC" ? "TC" : "XDP"} program (pcn_empty), kernel-timed`, expect: V.pass[mode], frame: frame(SINK_MAC), fd: obj.program("pcn_empty").fd });
      } catch (e) {
        add({ key: base, label: `empty ${mode} program`, expect: 0, frame: frame(SINK_MAC), fd: -1, error: (e as Error).message });
      }
      // The entry alone, our own copy: hop DROP, then hop CUBE into an empty slot.
      for (const kind of ["drop", "miss"] as const) {
        const key = `pipe-entry-${kind}-${t}`;
        const label = kind === "drop" ? `pcn_entry alone, hop DROP (${mode})` : `pcn_entry alone, hop into an empty slot: metadata + failed tail call (${mode})`;
        try {
          const obj = BpfObject.open(await Bun.file(join(ROOT, `build/out/bpf/pcn_entry.${mode === "TC" ? "tc" : "xdp"}.o`)).bytes(), "pcn_entry");
          closers.push(() => obj.close());
          obj.load();
          if (kind === "miss") {
            const hop = new Uint32Array([1 /* PCN_HOP_CUBE */, 7 /* empty slot */, 1 /* port */, 0]);
            obj.map("pcn_peers").update(new Uint8Array(4), new Uint8Array(hop.buffer));
          }
          add({ key, label, baseline: base, expect: V.drop[mode], frame: frame(SINK_MAC), fd: obj.program("pcn_entry").fd });
        } catch (e) {
          add({ key, label, baseline: base, expect: 0, frame: frame(SINK_MAC), fd: -1, error: (e as Error).message });
        }
      }
      for (const s of SERVICES) {
        const key = `pipe-${s.name}-${t}`;
        if (!o.wanted(key)) continue;
        const label = `${s.label}, ${mode}`;
        try {
          if (!existsSync(join(ROOT, "src/services", s.name))) throw new Error("service not in this tree");
          const cube = lab.name(`c${cubes++}`);
          const inDev = veth();
          if (s.transparent) {
            const body = s.body(mode, inDev, "");
            await pcn.rest("POST", `/${s.name}/${cube}/`, body);
            closers.push(() => pcn.rest("DELETE", `/${s.name}/${cube}/`).then(() => {}));
            await pcn.rest("POST", "/attach", { cube, port: inDev });
          } else {
            const outDev = veth();
            const body = s.body(mode, inDev, outDev);
            await pcn.rest("POST", `/${s.name}/${cube}/`, { ports: [{ name: "in", peer: inDev }, { name: "out", peer: outDev }], ...body });
            closers.push(() => pcn.rest("DELETE", `/${s.name}/${cube}/`).then(() => {}));
          }
          const dst = s.dstMac ?? SINK_MAC;
          const id = await attachedProgram(inDev, mode);
          const fd = programFdById(id);
          closers.push(() => closeProgramFd(fd));
          const info = programInfo(fd);
          if (info.name !== "pcn_entry") throw new Error(`${inDev} runs ${info.name}, not pcn_entry`);
          add({ key, label, baseline: base, expect: V[s.expect][mode], frame: frame(dst, s.name === "router" ? 255 : 64), fd, check: s.check, run: s.run ?? RUN });
        } catch (e) {
          o.log(`pipelines: ${label}: set-up failed: ${(e as Error).stack ?? e}`);
          add({ key, label, baseline: base, expect: 0, frame: frame(SINK_MAC), fd: -1, error: `set-up failed: ${(e as Error).message.split("\n")[0]}` });
        }
      }
    }
    // Interleaved rounds: one trial of every case per round, after a warm-up call each.
    const live = cases.filter((c) => !c.error);
    for (const c of live) {
      try {
        trial(c);
      } catch (e) {
        c.error = `failed: ${(e as Error).message}`;
      }
    }
    o.log(`pipelines: ${TRIALS} rounds of ${live.length} programs`);
    for (let r = 0; r < TRIALS; r++) {
      for (const c of live) {
        if (c.error) continue;
        try {
          c.ns.push(trial(c));
        } catch (e) {
          c.error = `failed: ${(e as Error).message}`;
        }
      }
    }
  } finally {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (e) {
        o.log(`pipelines: cleanup: ${(e as Error).message}`);
      }
    }
    await pcn.stop();
    lab.cleanup();
  }
  const best = new Map<string, number>();
  for (const c of cases) if (!c.error && c.ns.length) best.set(c.key, Math.min(...c.ns));
  return cases.map((c): Row => {
    const row: Row = { key: c.key, label: c.label, section: "program", baseline: c.baseline };
    if (c.error) {
      row.missing = c.error;
      return row;
    }
    const xs = [...c.ns].sort((a, b) => a - b);
    const b = xs[0]!;
    row.nsPerPkt = b;
    row.mpps = 1e3 / b;
    const entry = best.get(`pipe-entry-miss-${TAG[c.mode]}`);
    const beyond = entry !== undefined && !c.key.startsWith("pipe-entry") && !c.key.startsWith("pipe-empty")
      ? `; beyond the entry (pcn_entry, hop into an empty slot): ${b - entry >= 0 ? "+" : ""}${(b - entry).toFixed(1)} ns`
      : "";
    row.detail = `median ${xs[xs.length >> 1]!.toFixed(1)}, worst ${xs[xs.length - 1]!.toFixed(1)} ns${beyond}; every call ${VERDICT_NAME[c.mode][c.expect]}` +
      (c.run !== RUN ? `; ${c.run.calls} calls of ${c.run.repeat} repetitions per trial` : "");
    return row;
  });
}

/** The report's method line for these rows. */
export const PIPELINE_METHOD =
  `Pipeline rows (pipe-*): BPF_PROG_TEST_RUN of the pcn_entry program the daemon attached to a cube's input veth (found with bpftool, opened by id), so entry + tail calls + the cube's programs up to the final redirect, which test-run does not perform; TC rows run the TC entry on an skb (the entry sets cb[] itself: no context passed), XDP rows the XDP entry of an XDP_SKB cube. Timed by the kernel (duration: ns per repetition, without the syscall and buffer set-up), mean of ${RUN.calls} calls of ${RUN.repeat.toLocaleString("en")} repetitions per trial (the router: ${ROUTER_RUN.calls} calls of ${ROUTER_RUN.repeat}, as the frame is not restored between repetitions and its TTL allows 254; the kernel gives whole ns per call, rounded down, on every row alike), best of ${TRIALS} interleaved rounds; "added ns/pkt" is over the empty program of the same kind timed the same way. Every call's verdict is checked (a slow-path frame would return DROP and fail the row).`;
