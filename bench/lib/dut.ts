// End-to-end path measurements: generator namespace -> device under test -> sink namespace.
//
//   generator netns            DUT side (its own netns, or the root netns)        sink netns
//   g0 (XDP live frames) ===== <ingress>  [ device under test ]  <egress> ===== s0 (XDP counter)
//
// ======================== EXTENSION POINT ========================
// A row is a DeviceUnderTest: setup() wires <ingress> to <egress> (a Linux bridge, IP
// forwarding, a polycube cube or chain of cubes...) and says which MAC the generator must
// address its frames to; teardown() undoes it. The harness creates and always removes the
// namespaces and veths. See bench/scenarios/linux.ts (Linux baselines) and
// bench/scenarios/polycube.ts (cubes made over REST; placement "root": polycubed's cube ports
// peer with netdevs in the root namespace).
// =================================================================
import { Lab, type Endpoint } from "./lab.ts";
import { FLOW_PORT, udpFrame } from "./frame.ts";
import { burst, type Generator, type Sink } from "./traffic.ts";
import { inNs, ipNs, sh } from "./sh.ts";
import { ifindex, PacketSocket, withNetns } from "../../src/lib/bpf/index.ts";

/** Addressing of every path: the generator and the sink sit in different /24s. */
export const NET = {
  genIp: "10.250.1.2", genGw: "10.250.1.1",
  sinkIp: "10.250.2.2", sinkGw: "10.250.2.1",
  prefixLen: 24,
} as const;

export interface PathEnds {
  /** The generator's veth end (in its netns), with its MAC and IP. */
  gen: Endpoint & { mac: string; ip: string };
  /** The sink's veth end (in its netns), with its MAC and IP; an XDP program counts and drops there. */
  sink: Endpoint & { mac: string; ip: string };
  /** The namespace of the DUT side: a fresh netns for placement "netns", null (root) for "root". */
  ns: string | null;
  /** DUT-side peer of the generator's veth: frames come in here (GRO is on, so it has NAPI). */
  ingress: string;
  /** DUT-side peer of the sink's veth: frames must leave here to be counted. */
  egress: string;
}

export interface DeviceUnderTest {
  /** Row key, unique; other rows name it as their baseline. */
  key: string;
  /** Row label in the report. */
  label: string;
  /** Key of the row this one is compared with (ratio and added ns per packet), if any. */
  baseline?: string;
  /** A name that selects this row (and its baseline) on the command line, e.g. "fw". */
  group?: string;
  /** What this row adds to its baseline, to report the added ns per unit (e.g. 3 added cubes). */
  perUnit?: { count: number; unit: string };
  /**
   * "direct": no DUT at all, the generator's veth is peered with the sink's (the ceiling);
   * "netns": ingress/egress in a namespace of their own; "root": in the root namespace.
   */
  placement: "direct" | "netns" | "root";
  /**
   * Wires ingress to egress; returns the destination MAC of the generated frames and, when the
   * DUT rewrites the destination (a load balancer's VIP), the address the generator sends to
   * (default NET.sinkIp; the sink counts only frames that reach it addressed to NET.sinkIp).
   */
  setup(ends: PathEnds, lab: Lab): Promise<{ dstMac: string; dstIp?: string }> | { dstMac: string; dstIp?: string };
  /**
   * Undoes setup; called whenever setup was, even when it threw, so it must undo only what
   * exists. The harness deletes the namespaces and veths afterwards in any case.
   */
  teardown?(ends: PathEnds): Promise<void> | void;
  /**
   * The flow must have been seen both ways before each trial (connection tracking labels it
   * ESTABLISHED): the generator sends one frame, then the sink answers it (see answerFromSink).
   */
  establish?: boolean;
  /** After the measurement, before teardown: a few words appended to the row's detail. */
  describe?(ends: PathEnds): Promise<string | undefined> | string | undefined;
}

/** Where the sink's answer goes: a MAC no interface has, so the generator's namespace drops it. */
export const ANSWER_MAC = "02:00:00:00:00:fe";

/**
 * One UDP frame from the sink back to the generator, the reverse of the test flow
 * (sink:FLOW_PORT -> generator:FLOW_PORT), written on the sink's veth by a packet socket in its
 * namespace (the sink's XDP program only sees what arrives). Its destination MAC is ANSWER_MAC:
 * bridges flood it towards the generator, whose kernel drops it as not addressed to it (no port
 * unreachable comes back), but every filter on the way has seen the reply of the flow.
 */
export function answerFromSink(ends: PathEnds, dstIp = NET.genIp): void {
  const frame = udpFrame({ srcMac: ends.sink.mac, dstMac: ANSWER_MAC, srcIp: NET.sinkIp, dstIp, srcPort: FLOW_PORT, dstPort: FLOW_PORT });
  const send = () => {
    const s = new PacketSocket();
    try {
      s.send(ifindex(ends.sink.dev), frame);
    } finally {
      s.close();
    }
  };
  if (ends.sink.ns) withNetns(ends.sink.ns, send);
  else send();
}

/** Thrown by setup() when the DUT cannot run on this machine; the row says why. */
export class NotAvailable extends Error {}

/** A path built and ready: trial() sends for a while and says what reached the sink. */
export interface Path {
  key: string;
  label: string;
  /** Frames per second: delivered to the sink, or (the source alone) run by the generator. */
  trial(seconds: number): { pps: number; sent: number; delivered: number; stray: number };
  /** The DUT's own words on what it did during the measurement (before close), if it has any. */
  describe(): Promise<string | undefined>;
  /** Undoes the DUT and removes the path's namespaces and veths. */
  close(): Promise<void>;
}

/** Builds generator -> `dut` -> sink. On failure everything built so far is removed. */
export async function openPath(dut: DeviceUnderTest, gen: Generator, sink: Sink): Promise<Path> {
  const lab = new Lab();
  let ends: PathEnds | undefined;
  let detachSink: (() => void) | undefined;
  let setupCalled = false;
  const close = async () => {
    try {
      if (setupCalled && ends) await dut.teardown?.(ends);
    } finally {
      detachSink?.();
      lab.cleanup();
    }
  };
  try {
    const genNs = lab.netns("g");
    const sinkNs = lab.netns("s");
    const ns = dut.placement === "netns" ? lab.netns("d") : null;
    const g: Endpoint = { ns: genNs, dev: "g0" };
    const s: Endpoint = { ns: sinkNs, dev: "s0" };
    const ingress = lab.name("a");
    const egress = lab.name("b");
    if (dut.placement === "direct") {
      lab.veth(g, s);
    } else {
      lab.veth(g, { ns, dev: ingress });
      lab.veth(s, { ns, dev: egress });
      // A veth only takes XDP-redirected frames when its receiving end runs NAPI: GRO gives it that.
      sh(`${inNs(ns)}ethtool -K ${ingress} gro on`);
    }
    sh(`ip ${ipNs(genNs)}addr add ${NET.genIp}/${NET.prefixLen} dev g0`);
    sh(`ip ${ipNs(sinkNs)}addr add ${NET.sinkIp}/${NET.prefixLen} dev s0`);
    ends = {
      gen: { ...g, mac: lab.mac(g), ip: NET.genIp },
      sink: { ...s, mac: lab.mac(s), ip: NET.sinkIp },
      ns, ingress, egress,
    };
    detachSink = sink.attach(s);
    setupCalled = true;
    const { dstMac, dstIp } = await dut.setup(ends, lab);
    const frame = udpFrame({ srcMac: ends.gen.mac, dstMac, srcIp: NET.genIp, dstIp: dstIp ?? NET.sinkIp });
    return {
      key: dut.key,
      label: dut.label,
      trial(seconds) {
        gen.configure(frame, g, genNs);
        if (dut.establish) {
          gen.send(1, frame);
          answerFromSink(ends!);
          Bun.sleepSync(10); // the answer's softirq work, before the trial counts
        }
        const b = burst(gen, sink, frame, seconds);
        return { pps: (b.delivered * 1e9) / b.ns, sent: b.sent, delivered: b.delivered, stray: b.stray };
      },
      describe: async () => (dut.describe ? await dut.describe(ends!) : undefined),
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** The generator alone: frames written and dropped inside the program, nothing sent. */
export function openSource(gen: Generator, sink: Sink, key: string, label: string): Path {
  const lab = new Lab();
  try {
    const genNs = lab.netns("g");
    const frame = udpFrame({ srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", srcIp: NET.genIp, dstIp: NET.sinkIp });
    return {
      key,
      label,
      trial(seconds) {
        gen.configure(frame, null, genNs);
        const b = burst(gen, sink, frame, seconds);
        return { pps: (b.sent * 1e9) / b.ns, sent: b.sent, delivered: b.sent, stray: 0 };
      },
      describe: async () => undefined,
      close: async () => lab.cleanup(),
    };
  } catch (e) {
    lab.cleanup();
    throw e;
  }
}

export interface PathResult {
  /** Frames per second of the best, median and worst trial. */
  best: number;
  median: number;
  worst: number;
  /** Delivered / sent over all trials. */
  delivered: number;
  /** Frames at the sink that were not the test flow, over all trials. */
  stray: number;
}

export interface PathOptions {
  trials: number;
  seconds: number;
  warmup: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Measures the paths in rounds: each round runs one trial of every path, so that load from
 * elsewhere on the machine falls on all of them alike. A path that fails (or delivers nothing
 * in its warm-up) gets its error instead of a result, and the others go on.
 */
export function measureRounds(paths: Path[], opts: PathOptions, progress: (msg: string) => void): Map<string, PathResult | Error> {
  const out = new Map<string, PathResult | Error>();
  const acc = new Map<string, { rates: number[]; sent: number; delivered: number; stray: number }>();
  const fail = (p: Path, e: unknown) => out.set(p.key, e instanceof Error ? e : new Error(String(e)));
  for (const p of paths) {
    try {
      const w = p.trial(opts.warmup);
      if (w.delivered === 0) throw new Error(`the path delivered none of ${w.sent} frames`);
      acc.set(p.key, { rates: [], sent: 0, delivered: 0, stray: 0 });
    } catch (e) {
      fail(p, e);
    }
  }
  for (let round = 1; round <= opts.trials; round++) {
    progress(`round ${round} of ${opts.trials}`);
    for (const p of paths) {
      const a = acc.get(p.key);
      if (!a || out.has(p.key)) continue;
      try {
        const t = p.trial(opts.seconds);
        a.rates.push(t.pps);
        a.sent += t.sent;
        a.delivered += t.delivered;
        a.stray += t.stray;
      } catch (e) {
        fail(p, e);
      }
    }
  }
  for (const [key, a] of acc) {
    if (out.has(key)) continue;
    out.set(key, { best: Math.max(...a.rates), median: median(a.rates), worst: Math.min(...a.rates), delivered: a.delivered / a.sent, stray: a.stray });
  }
  return out;
}
