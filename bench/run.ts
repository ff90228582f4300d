// `make bench`: builds the benchmark's eBPF programs, measures every row in one run, and writes
// bench/results/<YYYY-MM-DD>.md (and .svg). `bun bench/run.ts <key>...` measures only those rows
// and prints the table without writing the report; the control-plane groups are the keys
// cube, rest, cli, fdb, routes and restart; a row's group (e.g. `fw`: every firewall row) selects its rows
// and their baselines. `--write` with keys writes the report all the same, as
// bench/results/<YYYY-MM-DD>-<keys>.md (a partial report, named after what it holds).
//   BENCH_TRIALS (default 5) trials of BENCH_SECONDS (default 2) per path, after a warm-up.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "bun";
import { BpfObject } from "../src/lib/bpf/index.ts";
import { Lab } from "./lib/lab.ts";
import { runCleanups } from "./lib/cleanup.ts";
import { sh } from "./lib/sh.ts";
import { FLOW_PORT, FRAME_LEN, udpFrame } from "./lib/frame.ts";
import { Generator, Sink } from "./lib/traffic.ts";
import { measureRounds, NotAvailable, NET, openPath, openSource, type DeviceUnderTest, type Path, type PathOptions } from "./lib/dut.ts";
import { measureProgram, type ProgramCase } from "./lib/programs.ts";
import { controlMarkdown, markdown, svgChart, type ControlGroup, type Row } from "./lib/report.ts";
import { linuxScenarios } from "./scenarios/linux.ts";
import { polycubeScenarios } from "./scenarios/polycube.ts";
import { FIREWALL_NOTE, firewallReport, firewallScenarios } from "./scenarios/firewall.ts";
import { natLbScenarios } from "./scenarios/natlb.ts";
import { pbforwarderScenarios, pbfReport } from "./scenarios/pbforwarder.ts";
import { lbdsrReport, lbdsrScenarios } from "./scenarios/lbdsr.ts";
import { PIPELINE_METHOD, pipelineRows } from "./scenarios/pipelines.ts";
import { Polycubed } from "./lib/polycubed.ts";
import { bulkLoads, cliWallTime, createRestCube, cubeLifecycle, REST_CUBE, restLatency, type ControlOptions } from "./scenarios/control.ts";
import { restartLoss } from "./scenarios/restart.ts";

const ROOT = join(import.meta.dir, "..");
const opts: PathOptions = {
  trials: Number(process.env.BENCH_TRIALS ?? 5),
  seconds: Number(process.env.BENCH_SECONDS ?? 2),
  warmup: 0.5,
};
const PROGRAM_TRIALS = 15;
const PROGRAM_REPEAT = 2_000_000;
const CONTROL = {
  cycles: 50,
  restSeconds: 3,
  concurrency: [1, 8, 32],
  cliRuns: 50,
  loadEntries: 10_000,
  loadTrials: 3,
  oneByOneBudget: 120,
};
const args = process.argv.slice(2);
const write = args.includes("--write");
const unknownFlag = args.find((a) => a.startsWith("--") && a !== "--write");
if (unknownFlag) throw new Error(`unknown option ${unknownFlag} (usage: bun bench/run.ts [--write] [key...])`);
const only = args.filter((a) => !a.startsWith("--"));
const wanted = (key: string) => only.length === 0 || only.includes(key);

/** The rows asked for: by key, or by group (a group brings the baselines of its rows too). */
function selected(duts: DeviceUnderTest[]): DeviceUnderTest[] {
  const inGroup = duts.filter((d) => d.group !== undefined && only.includes(d.group));
  const keys = new Set([...inGroup.map((d) => d.key), ...inGroup.flatMap((d) => (d.baseline ? [d.baseline] : []))]);
  return duts.filter((d) => wanted(d.key) || keys.has(d.key));
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function localDate(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function machine(): string[] {
  const model = cpus()[0]?.model ?? "unknown CPU";
  const os = readFileSync("/etc/os-release", "utf8").match(/PRETTY_NAME="([^"]*)"/)?.[1] ?? "Linux";
  return [
    `${os}, kernel ${sh("uname -r").trim()}, ${cpus().length} CPUs (${model})`,
    `Bun ${Bun.version}, ${sh("clang-19 --version").split("\n")[0]}`,
    `load average when the run started: ${loadAverage()} (other work on the machine shows in the spreads)`,
  ];
}

function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

function buildPrograms(): void {
  const r = spawnSync([join(import.meta.dir, "build.sh")], { stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) throw new Error("bench/build.sh failed");
}

/** Each path row, in order. The polycube rows come from the extension point in scenarios/polycube.ts. */
function pathScenarios(pcn: Polycubed): DeviceUnderTest[] {
  return [...linuxScenarios, ...polycubeScenarios(pcn), ...firewallScenarios(pcn), ...natLbScenarios(pcn), ...pbforwarderScenarios(pcn), ...lbdsrScenarios(pcn)];
}

function programCases(gen: Generator, sink: Sink): ProgramCase[] {
  const fromFile = (path: string, name: string, prog: string): ProgramCase["open"] => async () => {
    const obj = BpfObject.open(await Bun.file(path).bytes(), name);
    obj.load();
    return { fd: obj.program(prog).fd, close: () => obj.close() };
  };
  return [
    { key: "empty-xdp", label: "empty XDP program (pcn_empty)", open: fromFile(join(ROOT, "build/out/bpf/pcn_empty.xdp.o"), "pcn_empty", "pcn_empty") },
    // The generator configured to drop: its frame rewrite is what each live frame costs at the source.
    { key: "gen-prog", label: "generator program (rewrite 60 B, drop)", baseline: "empty-xdp", open: async () => ({ fd: gen.fd, close() {} }) },
    { key: "sink-prog", label: "sink counter program (count, drop)", baseline: "empty-xdp", open: async () => ({ fd: sink.fd, close() {} }) },
  ];
}

/**
 * The control-plane groups, after the datapath, with a daemon of their own (no cube left from
 * the datapath rows). Each group catches its own failures.
 */
async function controlPlane(): Promise<{ groups: ControlGroup[]; load: string }> {
  const groups: ControlGroup[] = [];
  const load = loadAverage();
  const tmp = mkdtempSync(join(tmpdir(), "pcnb-ctl-"));
  const o: ControlOptions = { ...CONTROL, tmp, log };
  const pcn = new Polycubed();
  try {
    if (wanted("cube")) {
      log("control plane: cube create/delete");
      groups.push(await cubeLifecycle(pcn, o));
    }
    if (wanted("rest") || wanted("cli")) {
      let cube: string | undefined;
      try {
        cube = await createRestCube(pcn);
      } catch (e) {
        log(`control plane: the REST/CLI cube could not be made: ${(e as Error).stack ?? e}`);
        groups.push({ title: "REST and CLI", method: [`Not measured: the cube could not be made: ${(e as Error).message.split("\n")[0]}`] });
      }
      if (cube) {
        if (wanted("rest")) groups.push(await restLatency(pcn, cube, o));
        if (wanted("cli")) groups.push(await cliWallTime(pcn, o));
        await pcn.rest("DELETE", `/simplebridge/${REST_CUBE}/`).catch((e: Error) => log(e.message));
      }
    }
    if (wanted("fdb") || wanted("routes")) groups.push(await bulkLoads(pcn, o, { fdb: wanted("fdb"), routes: wanted("routes") }));
    if (wanted("restart")) groups.push(await restartLoss(log));
  } finally {
    await pcn.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  return { groups, load };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("run the benchmarks as root (they create namespaces and attach programs)");
  const started = Date.now();
  const host = machine();
  buildPrograms();
  Lab.sweep();
  const gen = await Generator.load();
  const sink = await Sink.load(NET.sinkIp, FLOW_PORT);
  const rows: Row[] = [];
  const pcn = new Polycubed();
  try {
    // Every path is built first, then measured in interleaved rounds, then removed.
    const paths: Path[] = [];
    try {
      if (wanted("source")) {
        const label = "generator alone (frames dropped in the program)";
        rows.push({ key: "source", label, section: "path" });
        paths.push(openSource(gen, sink, "source", label));
      }
      for (const dut of selected(pathScenarios(pcn))) {
        const row: Row = { key: dut.key, label: dut.label, section: "path", baseline: dut.baseline, perUnit: dut.perUnit };
        rows.push(row);
        log(`set up: ${dut.label}`);
        try {
          paths.push(await openPath(dut, gen, sink));
        } catch (e) {
          if (!(e instanceof NotAvailable)) log(`${dut.label}: set-up failed: ${(e as Error).stack ?? e}`);
          row.missing = e instanceof NotAvailable ? `not available: ${e.message}` : `set-up failed: ${(e as Error).message.split("\n")[0]}`;
        }
      }
      const results = measureRounds(paths, opts, log);
      const said = new Map<string, string>();
      for (const p of paths) {
        const words = await p.describe().catch((e: Error) => `(could not tell what it did: ${e.message.split("\n")[0]})`);
        if (words) said.set(p.key, words);
      }
      for (const row of rows) {
        const r = results.get(row.key);
        if (!r) continue;
        if (r instanceof Error) {
          log(`${row.label} failed: ${r.stack ?? r}`);
          row.missing = `failed: ${r.message.split("\n")[0]}`;
          continue;
        }
        row.mpps = r.best / 1e6;
        row.nsPerPkt = 1e9 / r.best;
        row.detail = `median ${(r.median / 1e6).toFixed(2)}, worst ${(r.worst / 1e6).toFixed(2)} Mpps` +
          (row.key === "source" ? "" : `; ${(r.delivered * 100).toFixed(1)}% of sent delivered`) +
          (r.stray ? `; ${r.stray} frames at the sink were not the test flow` : "") +
          (said.has(row.key) ? `; ${said.get(row.key)}` : "");
      }
    } finally {
      for (const p of paths) {
        await p.close().catch((e: Error) => log(`cleanup of ${p.label}: ${e.message}`));
      }
      await pcn.stop();
    }
    const frame = udpFrame({ srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", srcIp: NET.genIp, dstIp: NET.sinkIp });
    // The generator program must not redirect outside live mode: configure it to drop.
    gen.configure(frame, null, null);
    for (const c of programCases(gen, sink)) {
      if (!wanted(c.key)) continue;
      log(c.label);
      const row: Row = { key: c.key, label: c.label, section: "program", baseline: c.baseline };
      try {
        const r = await measureProgram(c, frame, PROGRAM_TRIALS, PROGRAM_REPEAT);
        row.mpps = 1e3 / r.best;
        row.nsPerPkt = r.best;
        row.detail = `median ${r.median.toFixed(1)}, worst ${r.worst.toFixed(1)} ns; kernel's own average in the best trial ${r.kernelNs} ns`;
      } catch (e) {
        log(`${c.label} failed: ${(e as Error).stack ?? e}`);
        row.missing = `failed: ${(e as Error).message.split("\n")[0]}`;
      }
      rows.push(row);
    }
    // Each service's pipeline by test-run of its cube's entry (key "pipelines": all of them).
    rows.push(...await pipelineRows({ wanted: (k) => wanted(k) || wanted("pipelines"), log }));
  } finally {
    gen.close();
    sink.close();
  }
  const control = await controlPlane();

  const minutes = ((Date.now() - started) / 60000).toFixed(1);
  const date = localDate();
  const meta = {
    date,
    machine: host,
    method: [
      `Source: bench/bpf/pcnb_gen.bpf.c run by BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES from inside the generator namespace; it rewrites the whole ${FRAME_LEN}-byte UDP/IPv4 frame on every send (the kernel recycles the pages, and forwarding paths rewrite headers in place) and redirects it into its veth.`,
      "Sink: bench/bpf/pcnb_sink.bpf.c in native XDP on the sink namespace's veth counts the frames of the test flow (IPv4/UDP to the sink's address and port) apart from any other, and drops them all. Mpps = test-flow frames counted at the sink / wall time of the test runs; ns/pkt = 1e9 / pps.",
      "The DUT-side end of the generator's veth has GRO on, which gives it NAPI: without it a veth drops XDP-redirected frames.",
      `All paths are built first, then measured in ${opts.trials} interleaved rounds (one ${opts.seconds} s trial of every path per round, after a ${opts.warmup} s warm-up each), so that load from elsewhere on the machine falls on all of them alike.`,
      "The table shows the best trial (other load can only slow a trial down); the detail gives the median and worst trials and the share of sent frames that reached the sink (the source sends as fast as it can; the rest is dropped on the way).",
      "The test run and the softirq work it triggers run on the same CPU, so ns/pkt is the whole per-packet cost of source + path + sink on one core; \"added ns/pkt\" is the difference with the baseline row, i.e. what the device under test costs per packet.",
      `Program rows: wall time of one BPF_PROG_TEST_RUN of ${PROGRAM_REPEAT.toLocaleString("en")} repetitions on the frame / repetitions, best of ${PROGRAM_TRIALS} trials.`,
      PIPELINE_METHOD,
    ],
    notes: [
      `Whole run: ${minutes} min.`,
      "Polycube rows (simplebridge, bridge, router): cubes made over the REST API of a polycubed started for the run (build/out/polycubed), their ports peered with the path's two veths in the root namespace; every cube has a static FDB or ARP entry for the sink (which never answers), so that no packet takes the slow path. Chains: simplebridges joined port to port; \"per added cube\" divides the added ns/pkt by the cubes added to the single bridge.",
      FIREWALL_NOTE,
      "NAT and load-balancer rows (bench/scenarios/natlb.ts): one UDP flow, so one session (nat, lbrp) or conntrack entry (Linux) made once and looked up for every frame. NAT rewrites only the source, so the sink still counts the flow; the load-balancer rows send to a VIP outside both subnets and the sink counts only frames rewritten to its own address and port. Baselines: the same forwarding without the rewrite (pcn-router-tc, linux-router; the lbrp, an L2 cube, beside the simplebridge). Not measured: IPVS (this kernel has no ip_vs), NAT and lbrp in XDP modes, many flows (session-table churn).",
      "pbforwarder rows (bench/scenarios/pbforwarder.ts): N rules of one shape (destination address, UDP, destination port) of which only the last matches the flow, FORWARD to the sink's port, beside the same rules as an nftables netdev ingress chain ending in `fwd to`, as tc u32 filters (one per priority) with mirred redirect, and as iptables FORWARD rules on a bridge (the firewall rows' set-up); this kernel has no tc flower. lbdsr rows (bench/scenarios/lbdsr.ts): the sink holds the VIP and is the pool's only backend; one flow, so one session made by the first frame and looked up for every other; beside the same MAC rewrite as a static nftables netdev rule. Not measured: IPVS-DR (this kernel has no ip_vs), tc pedit (no act_pedit).",
    ],
    chart: undefined as string | undefined,
    afterPaths: [...firewallReport(rows), ...pbfReport(rows), ...lbdsrReport(rows)],
  };
  const controlIntro = [
    "Every figure in this part is a control-plane one: time taken by the daemon (polycubed) or the CLI (polycubectl) to act on the configuration, not packet processing. They were taken after the datapath rows, against a second polycubed started for them (same options, no cube left from the datapath), on the same machine in the same run as their baselines.",
    `Load average when the control-plane part started: ${control.load}.`,
    "Latencies are in milliseconds, summarised by nearest-rank percentiles (p50: the median sample; p99: the smallest sample with 99% of the samples at or below it). A ratio above 1 means polycube takes longer than its baseline.",
  ];
  const controlLines = controlMarkdown(control.groups, controlIntro);
  if (only.length > 0 && !write) {
    process.stdout.write(markdown(rows, meta, controlLines));
    return;
  }
  const name = only.length > 0 ? `${date}-${only.join("-")}` : date;
  if (only.length > 0) meta.notes.unshift(`Partial run: only the rows selected by \`bun bench/run.ts --write ${only.join(" ")}\`.`);
  const dir = join(import.meta.dir, "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.svg`), svgChart(rows.filter((r) => r.section === "path"), `End-to-end Mpps, ${date}`));
  meta.chart = `${name}.svg`;
  writeFileSync(join(dir, `${name}.md`), markdown(rows, meta, controlLines));
  log(`wrote bench/results/${name}.md in ${minutes} min`);
}

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    log(`${sig}: cleaning up`);
    runCleanups();
    process.exit(130);
  });
}

try {
  await main();
} catch (e) {
  log(`failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
} finally {
  runCleanups();
}
