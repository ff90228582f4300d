// Traffic source and sink. The source is bench/bpf/pcnb_gen.bpf.c run by BPF_PROG_TEST_RUN in
// XDP live-frames mode from inside the generator namespace: every repetition rewrites the frame
// and redirects it into a veth. The sink is bench/bpf/pcnb_sink.bpf.c, attached in native XDP
// mode to the sink namespace's veth, where it counts and drops.
import { join } from "node:path";
import {
  BpfObject, BPF_F_TEST_XDP_LIVE_FRAMES, attachXdp, detachXdp, ifindex, testRun, u32Bytes, withNetns, type BpfMap,
} from "../../src/lib/bpf/index.ts";
import { FRAME_LEN } from "./frame.ts";
import type { Endpoint } from "./lab.ts";

const TMP = join(import.meta.dir, "../tmp");
const GEN_REDIRECT = 0;
const GEN_DROP = 1;

/** One of the benchmark's own objects (bench/tmp/<name>.o): one program and one map. */
class BenchProgram {
  protected readonly obj: BpfObject;
  protected readonly map: BpfMap;

  protected constructor(bytes: Uint8Array, private readonly name: string, mapName: string, globals: Record<string, number> = {}) {
    this.obj = BpfObject.open(bytes, name);
    this.obj.setGlobals(globals);
    this.obj.load();
    this.map = this.obj.map(mapName);
  }

  protected static bytes(name: string): Promise<Uint8Array> {
    return Bun.file(join(TMP, `${name}.o`)).bytes();
  }

  get fd(): number {
    return this.obj.program(this.name).fd;
  }

  close(): void {
    this.obj.close();
  }
}

export interface Burst {
  /** Frames the generator ran. */
  sent: number;
  /** Frames of the test flow counted at the sink. */
  delivered: number;
  /** Other frames that reached the sink (none, on a correct path). */
  stray: number;
  /** Wall time of the test runs, in ns. */
  ns: number;
}

export class Generator extends BenchProgram {
  private ns: string | null = null;

  static async load(): Promise<Generator> {
    return new Generator(await BenchProgram.bytes("pcnb_gen"), "pcnb_gen", "gen_cfg");
  }

  /**
   * Makes the program write `frame` and send it out of `out` (redirect), or drop it when out is
   * null. Live frames are sent from namespace genNs (none: the program is only test-run).
   */
  configure(frame: Uint8Array, out: Endpoint | null, genNs: string | null): void {
    if (out && out.ns !== genNs) throw new Error(`the generator sends from ${genNs}, not from the namespace of ${out.dev}`);
    if (frame.length !== FRAME_LEN) throw new Error(`generator frames are ${FRAME_LEN} bytes`);
    const v = new Uint8Array(8 + 64);
    const dv = new DataView(v.buffer);
    dv.setUint32(0, out && genNs ? withNetns(genNs, () => ifindex(out.dev)) : 0, true);
    dv.setUint32(4, out ? GEN_REDIRECT : GEN_DROP, true);
    v.set(frame, 8);
    this.map.update(u32Bytes(0), v);
    this.ns = genNs;
  }

  /** Runs `frames` live frames from the generator namespace; blocks until they are all sent. */
  send(frames: number, frame: Uint8Array): number {
    if (!this.ns) throw new Error("configure the generator with a namespace to send from first");
    const t0 = Bun.nanoseconds();
    withNetns(this.ns, () => testRun(this.fd, { data: frame, repeat: frames, flags: BPF_F_TEST_XDP_LIVE_FRAMES }));
    return Bun.nanoseconds() - t0;
  }
}

export class Sink extends BenchProgram {
  /** A sink that tells the frames of the flow to daddr:dport apart from any other. */
  static async load(daddr: string, dport: number): Promise<Sink> {
    const ip = new Uint8Array(daddr.split(".").map(Number));
    const port = new Uint8Array([dport >> 8, dport & 0xff]);
    return new Sink(await BenchProgram.bytes("pcnb_sink"), "pcnb_sink", "sink_count", {
      want_daddr: new DataView(ip.buffer).getUint32(0, true), // as the program reads it: network order
      want_dport: new DataView(port.buffer).getUint16(0, true),
    });
  }

  /** Attaches the counter (native XDP) to a device; returns its detach. */
  attach(at: Endpoint): () => void {
    const run = <R>(fn: () => R): R => (at.ns ? withNetns(at.ns, fn) : fn());
    const idx = run(() => ifindex(at.dev));
    run(() => attachXdp(idx, this.fd, "drv"));
    return () => run(() => { try { detachXdp(idx, "drv"); } catch { /* the device went first */ } });
  }

  /** Frames counted so far on all CPUs: all of them, and those of the test flow. */
  counts(): { all: number; flow: number } {
    let all = 0n;
    let flow = 0n;
    for (const slot of this.map.lookupPerCpu(u32Bytes(0)) ?? []) {
      const v = new DataView(slot.buffer, slot.byteOffset);
      all += v.getBigUint64(0, true);
      flow += v.getBigUint64(8, true);
    }
    return { all: Number(all), flow: Number(flow) };
  }
}

/**
 * Sends frames until `seconds` have passed and counts what the sink saw. Each test run is sized
 * from the rate of the one before to last about a quarter of a second: one run blocks the thread.
 * The first is small (4096 frames), so that a slow path (tens of microseconds per frame: 10,000
 * iptables rules) does not overrun the trial's length.
 */
export function burst(gen: Generator, sink: Sink, frame: Uint8Array, seconds: number): Burst {
  const target = seconds * 1e9;
  const before = sink.counts();
  let sent = 0;
  let ns = 0;
  let chunk = 1 << 12;
  while (ns < target) {
    const t = gen.send(chunk, frame);
    ns += t;
    sent += chunk;
    const perNs = chunk / Math.max(t, 1);
    chunk = Math.min(1 << 26, Math.max(1 << 12, Math.round(perNs * Math.min(0.25e9, Math.max(target - ns, 0.02e9)))));
  }
  const after = sink.counts();
  const delivered = after.flow - before.flow;
  return { sent, delivered, stray: after.all - before.all - delivered, ns };
}

/** Average ns per run of a program on one frame, as the kernel times it (no live frames). */
export function programCost(progFd: number, frame: Uint8Array, repeat: number): number {
  return testRun(progFd, { data: frame, repeat }).duration;
}
