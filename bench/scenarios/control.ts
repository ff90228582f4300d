// Control-plane rows: each measurement is taken in the same run as its baseline, interleaved
// where the two can alternate, and reported as p50/p99 (latencies) or seconds and entries/s
// (bulk loads) with the ratio to the baseline. Every group returns a ControlGroup whose method
// lines say how its figures were taken; a group that cannot run here returns rows with
// `missing` set, and the others go on.
//
// The daemon is bench/lib/polycubed.ts's, fresh for the control plane (run.ts starts one after
// the datapath rows); every cube made here is deleted before its group returns.
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawn, spawnSync, type Subprocess } from "bun";
import { NotAvailable } from "../lib/dut.ts";
import { hyperfine } from "../lib/hyperfine.ts";
import { Lab } from "../lib/lab.ts";
import { summarize, timeMs, type Summary } from "../lib/latency.ts";
import type { Polycubed } from "../lib/polycubed.ts";
import type { ControlGroup, LatencyRow, LoadRow } from "../lib/report.ts";
import { inNs, sh } from "../lib/sh.ts";
import { wrk, type WrkResult } from "../lib/wrk.ts";
import { onInterrupt } from "../lib/cleanup.ts";

const ROOT = join(import.meta.dir, "../..");
const BENCH_TMP = join(import.meta.dir, "../tmp");

export interface ControlOptions {
  /** Create/delete cycles measured (after 3 unmeasured ones). */
  cycles: number;
  /** Seconds of wrk per REST row. */
  restSeconds: number;
  /** Concurrent clients of the REST rows. */
  concurrency: number[];
  /** hyperfine runs per CLI row (after 3 warm-up runs). */
  cliRuns: number;
  /** Entries of the bulk loads (FDB entries, routes). */
  loadEntries: number;
  /** Trials of each one-shot load (the median is reported). */
  loadTrials: number;
  /** Seconds allowed to a load through one request per entry. */
  oneByOneBudget: number;
  /** Scratch directory (removed by the caller). */
  tmp: string;
  log: (msg: string) => void;
}

interface Reply {
  status: number;
  text: string;
}

async function call(method: string, url: string, body?: unknown): Promise<Reply> {
  const r = await fetch(url, {
    method,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    headers: body === undefined ? undefined : { "content-type": "application/json" },
  });
  return { status: r.status, text: await r.text() };
}

function firstLine(s: string): string {
  return s.trim().split("\n")[0]!.slice(0, 160);
}

async function expectOk(method: string, url: string, body?: unknown): Promise<Reply> {
  const r = await call(method, url, body);
  if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${firstLine(r.text)}`);
  return r;
}

/** Times a spawned command (fork, exec and all); throws with its stderr when it fails. */
function timedRun(argv: string[]): number {
  const t = performance.now();
  const r = spawnSync(argv, { stdout: "ignore", stderr: "pipe" });
  const elapsed = performance.now() - t;
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${r.exitCode}): ${firstLine(r.stderr.toString())}`);
  return elapsed;
}

const spread = (s: Summary) => `min ${s.min.toFixed(2)}, mean ${s.mean.toFixed(2)}, max ${s.max.toFixed(2)} ms`;

function latencyRow(key: string, label: string, samples: number[], baseline?: string, extra = ""): LatencyRow {
  const s = summarize(samples);
  return { key, label, baseline, samples: s.samples, p50: s.p50, p99: s.p99, detail: spread(s) + extra };
}

function failedRows<T extends { key: string; label: string; missing?: string }>(rows: T[], e: unknown): T[] {
  const msg = e instanceof NotAvailable ? `not available: ${e.message}` : `failed: ${firstLine((e as Error).message)}`;
  return rows.map((r) => ({ ...r, missing: r.missing ?? msg }));
}

// ---------------------------------------------------------------------------------------------
// Cube create/delete

export async function cubeLifecycle(pcn: Polycubed, o: ControlOptions): Promise<ControlGroup> {
  const WARMUP = 3;
  const group: ControlGroup = {
    title: "cube create/delete latency",
    method: [
      "A simplebridge (TC) with two ports peered with two veths in the root namespace: `POST /simplebridge/<name>/` with both ports in the body, then `DELETE /simplebridge/<name>/`, each timed from the bench process (Bun fetch on a kept-alive connection) until the daemon's answer.",
      "Baseline: a Linux bridge with the same two veths as ports, made by one `ip -batch` process (`link add <br> type bridge`, `link set <br> up`, `link set <veth> master <br>` twice) and removed by `ip link del <br>`; timed around the process (fork and exec included). Removing a net device waits for the kernel's RCU grace periods, which the cube's removal (detaching programs, closing maps) does not.",
      `${o.cycles} cycles after ${WARMUP} unmeasured ones; each cycle creates and deletes the cube, then the Linux bridge, so that both see the same machine load. With ${o.cycles} samples p99 is the largest but one or the largest.`,
    ],
  };
  const rows: LatencyRow[] = [
    { key: "cube-create-linux", label: "Linux bridge, 2 ports: create (ip -batch)" },
    { key: "cube-create-pcn", label: "polycube simplebridge, 2 ports: create (REST POST)", baseline: "cube-create-linux" },
    { key: "cube-delete-linux", label: "Linux bridge, 2 ports: delete (ip link del)" },
    { key: "cube-delete-pcn", label: "polycube simplebridge, 2 ports: delete (REST DELETE)", baseline: "cube-delete-linux" },
  ];
  const lab = new Lab();
  let cubeUrl: string | undefined;
  const br = lab.name("br");
  try {
    await pcn.ready();
    const veths = ["a", "b"].map((t) => {
      const dev = lab.name(`cp${t}`);
      lab.veth({ ns: null, dev }, { ns: null, dev: lab.name(`cq${t}`) });
      return dev;
    });
    const cube = lab.name("sb");
    cubeUrl = `${pcn.url}/simplebridge/${cube}/`;
    const body = { ports: veths.map((peer, i) => ({ name: `p${i + 1}`, peer })) };
    const batch = join(o.tmp, "bridge-create.batch");
    writeFileSync(batch, [`link add ${br} type bridge`, `link set ${br} up`, ...veths.map((v) => `link set ${v} master ${br}`)].join("\n") + "\n");
    const s = { pcnCreate: [] as number[], pcnDelete: [] as number[], linCreate: [] as number[], linDelete: [] as number[] };
    let attached = "";
    for (let i = -WARMUP; i < o.cycles; i++) {
      const pc = await timeMs(() => expectOk("POST", cubeUrl!, body));
      // Once: what the create left on the veths when it answered (the cube's programs, tc or tcx).
      if (i === -WARMUP) attached = veths.map((v) => sh(`bpftool net show dev ${v}`).split("\n").filter((l) => /\bid \d+/.test(l)).length).join(" and ");
      const pd = await timeMs(() => expectOk("DELETE", cubeUrl!));
      const lc = timedRun(["ip", "-batch", batch]);
      const ld = timedRun(["ip", "link", "del", br]);
      if (i < 0) continue;
      s.pcnCreate.push(pc);
      s.pcnDelete.push(pd);
      s.linCreate.push(lc);
      s.linDelete.push(ld);
    }
    cubeUrl = undefined;
    group.latency = [
      latencyRow(rows[0]!.key, rows[0]!.label, s.linCreate),
      latencyRow(rows[1]!.key, rows[1]!.label, s.pcnCreate, rows[1]!.baseline, `; programs on the two veths when the first create answered: ${attached}`),
      latencyRow(rows[2]!.key, rows[2]!.label, s.linDelete),
      latencyRow(rows[3]!.key, rows[3]!.label, s.pcnDelete, rows[3]!.baseline),
    ];
  } catch (e) {
    o.log(`cube create/delete failed: ${(e as Error).stack ?? e}`);
    group.latency = failedRows(rows, e);
  } finally {
    if (cubeUrl) await call("DELETE", cubeUrl).catch(() => undefined);
    sh(`ip link del ${br}`, { allowFail: true });
    lab.cleanup();
  }
  return group;
}

// ---------------------------------------------------------------------------------------------
// REST GET/PATCH under concurrency

/** The baseline server (bench/lib/trivial-server.ts) as its own Bun process. */
async function startTrivialServer(): Promise<{ url: string; stop: () => void }> {
  const proc: Subprocess<"ignore", "pipe", "inherit"> = spawn([process.execPath, join(import.meta.dir, "../lib/trivial-server.ts")], { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const forget = onInterrupt(() => proc.kill("SIGKILL"));
  const stop = () => {
    proc.kill("SIGTERM");
    forget();
  };
  const reader = proc.stdout.getReader();
  let text = "";
  const deadline = Date.now() + 10_000;
  while (!text.includes("\n") && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const port = Number(text.trim());
  if (!port) {
    stop();
    throw new Error(`the baseline server did not start: ${JSON.stringify(text)}`);
  }
  return { url: `http://127.0.0.1:${port}`, stop };
}

export const REST_CUBE = "pcnb-rest";
const REST_MAC = "02:00:00:00:00:aa";

/** Creates the cube that the REST and CLI rows read and write: 2 ports (not peered), 1 FDB entry. */
export async function createRestCube(pcn: Polycubed): Promise<string> {
  await pcn.ready();
  const url = `${pcn.url}/simplebridge/${REST_CUBE}/`;
  await expectOk("POST", url, { ports: [{ name: "p1" }, { name: "p2" }], fdb: { entry: [{ address: REST_MAC, port: "p1" }] } });
  return url;
}

export async function restLatency(pcn: Polycubed, cubeUrl: string, o: ControlOptions): Promise<ControlGroup> {
  const group: ControlGroup = {
    title: "REST GET and PATCH latency under concurrency",
    method: [
      `Load generator: wrk (one thread, closed loop: each of N connections sends its next request as soon as its answer arrived), ${o.restSeconds} s per row; latency is wrk's per-request histogram, samples = requests completed. wrk, the server and the kernel share the 2 CPUs.`,
      `GET: \`GET /simplebridge/${REST_CUBE}/\`, a simplebridge with 2 ports and 1 FDB entry (the whole cube, state and _links included: SIZE_PCN bytes). PATCH: \`PATCH /simplebridge/${REST_CUBE}/fdb/entry/${REST_MAC}/\` with \`{"port":"p1"}\` and \`{"port":"p2"}\` in turn (every write changes the entry in the cube's BPF map; the daemon serialises writes).`,
      "Baseline: the same wrk command against bench/lib/trivial-server.ts, a Bun.serve process that answers every request with the same SIZE_BASE-byte JSON (reading the body of a PATCH first): the ratio is what the daemon's REST layer, model and service add to Bun's HTTP server.",
      "Rows alternate daemon and baseline for each method and concurrency.",
    ],
  };
  const plan = o.concurrency.flatMap((c) => (["GET", "PATCH"] as const).map((m) => ({ c, m })));
  const rows: LatencyRow[] = plan.flatMap(({ c, m }) => {
    const clients = `${c} client${c === 1 ? "" : "s"}`;
    return [
      { key: `rest-${m.toLowerCase()}-c${c}-base`, label: `Bun.serve baseline ${m}, ${clients}` },
      { key: `rest-${m.toLowerCase()}-c${c}`, label: `polycubed ${m}, ${clients}`, baseline: `rest-${m.toLowerCase()}-c${c}-base` },
    ];
  });
  let server: { url: string; stop: () => void } | undefined;
  try {
    server = await startTrivialServer();
    const sizePcn = (await expectOk("GET", cubeUrl)).text.length;
    const sizeBase = (await expectOk("GET", server.url)).text.length;
    group.method = group.method.map((m) => m.replace("SIZE_PCN", String(sizePcn)).replace("SIZE_BASE", String(sizeBase)));
    const out: LatencyRow[] = [];
    const row = (key: string, label: string, r: WrkResult, baseline?: string): LatencyRow => ({
      key, label, baseline, samples: r.requests, p50: r.p50Ms, p99: r.p99Ms,
      detail: `${(r.requests / r.seconds).toFixed(0)} req/s, max ${r.maxMs.toFixed(1)} ms` +
        (r.statusErrors ? `; ${r.statusErrors} answers with an error status` : "") +
        (r.socketErrors ? `; ${r.socketErrors} socket errors or timeouts` : ""),
    });
    const patchUrl = `${cubeUrl}fdb/entry/${REST_MAC}/`;
    const bodies = ['{"port":"p1"}', '{"port":"p2"}'];
    for (const [i, { c, m }] of plan.entries()) {
      o.log(`REST ${m}, ${c} clients`);
      const opts = { connections: c, seconds: o.restSeconds, tmp: o.tmp, ...(m === "PATCH" ? { method: "PATCH", bodies } : {}) };
      const [base, pcnRow] = [rows[2 * i]!, rows[2 * i + 1]!];
      try {
        const d = wrk(m === "GET" ? cubeUrl : patchUrl, opts);
        const b = wrk(`${server.url}/polycube/v1/simplebridge/${REST_CUBE}/`, opts);
        out.push(row(base.key, base.label, b), row(pcnRow.key, pcnRow.label, d, pcnRow.baseline));
      } catch (e) {
        if (e instanceof NotAvailable) throw e;
        o.log(`REST ${m} ${c} failed: ${(e as Error).stack ?? e}`);
        out.push(...failedRows([base, pcnRow], e));
      }
    }
    group.latency = out;
  } catch (e) {
    o.log(`REST rows failed: ${(e as Error).stack ?? e}`);
    group.latency = failedRows(rows, e);
  } finally {
    server?.stop();
  }
  return group;
}

// ---------------------------------------------------------------------------------------------
// CLI wall time

/** bench/tmp/hello: `bun build --compile` of bench/lib/hello.ts, with the flags of polycube's own build. */
function compileHello(): string {
  const src = join(import.meta.dir, "../lib/hello.ts");
  const exe = join(BENCH_TMP, "hello");
  if (existsSync(exe) && statSync(exe).mtimeMs > statSync(src).mtimeMs && statSync(exe).mtimeMs > statSync(process.execPath).mtimeMs) return exe;
  const r = spawnSync([process.execPath, "build", "--compile", "--minify-syntax", "--bytecode", "--format=esm", src, "--outfile", exe],
    { cwd: BENCH_TMP, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`bun build --compile of hello.ts failed: ${firstLine(r.stderr.toString())}`);
  return exe;
}

export async function cliWallTime(pcn: Polycubed, o: ControlOptions): Promise<ControlGroup> {
  const WARMUP = 3;
  const ctl = join(ROOT, "build/polycubectl");
  const group: ControlGroup = {
    title: "CLI wall time",
    method: [
      `hyperfine -N (no shell), output through a pipe, ${WARMUP} warm-up runs then ${o.cliRuns} runs per command, one command after the other; samples = runs.`,
      `\`build/polycubectl\` talks to the run's daemon (POLYCUBECTL_URL, HOME in the daemon's temporary directory); \`show\` and \`set\` act on ${REST_CUBE} (a simplebridge with 2 ports and 1 FDB entry); \`set loglevel=DEBUG\` writes the same value every run after the first.`,
      "Baselines: a compiled Bun hello-world (`bun build --compile --minify-syntax --bytecode` of `console.log(\"hello\")`, the flags of polycube's own build: the floor of any compiled Bun executable), and `ip link show` (a C program asking the kernel).",
    ],
  };
  const cmds: Array<{ key: string; label: string; argv: string[]; baseline?: string }> = [
    { key: "cli-hello", label: "compiled Bun hello-world", argv: [] },
    { key: "cli-ip", label: "ip link show", argv: ["ip", "link", "show"], baseline: "cli-hello" },
    { key: "cli-help", label: "polycubectl --help", argv: [ctl, "--help"], baseline: "cli-hello" },
    { key: "cli-show", label: `polycubectl ${REST_CUBE} show`, argv: [ctl, REST_CUBE, "show"], baseline: "cli-hello" },
    { key: "cli-set", label: `polycubectl ${REST_CUBE} set loglevel=DEBUG`, argv: [ctl, REST_CUBE, "set", "loglevel=DEBUG"], baseline: "cli-hello" },
  ];
  const rows: LatencyRow[] = cmds.map(({ key, label, baseline }) => ({ key, label, baseline }));
  try {
    await pcn.ready();
    cmds[0]!.argv = [compileHello()];
    const env = { POLYCUBECTL_URL: `${pcn.url}/`, HOME: pcn.home };
    const out: LatencyRow[] = [];
    for (const c of cmds) {
      o.log(`CLI: ${c.label}`);
      try {
        out.push(latencyRow(c.key, c.label, hyperfine(c.argv, { runs: o.cliRuns, warmup: WARMUP, tmp: o.tmp, env }), c.baseline));
      } catch (e) {
        if (e instanceof NotAvailable) throw e;
        out.push(...failedRows([{ key: c.key, label: c.label, baseline: c.baseline }], e));
      }
    }
    const ip = out.find((r) => r.key === "cli-ip");
    for (const r of out) {
      if (r.key.startsWith("cli-") && r.key !== "cli-ip" && r.p50 !== undefined && ip?.p50) r.detail += `; p50 ${(r.p50 / ip.p50).toFixed(1)}× ip link show`;
    }
    group.latency = out;
  } catch (e) {
    o.log(`CLI rows failed: ${(e as Error).stack ?? e}`);
    group.latency = failedRows(rows, e);
  }
  return group;
}

// ---------------------------------------------------------------------------------------------
// Bulk loads: 10k FDB entries, 10k routes

/** One kind of bulk load: a Linux baseline through a -batch file and a polycube cube over REST. */
interface LoadCase {
  /** "FDB entries", "routes" */
  what: string;
  tag: string;
  /** The Linux side: a namespace is given; prepare() makes (or remakes, empty) the table. */
  linux: {
    label: (n: number) => string;
    prepare(ns: string): void;
    /** The -batch file's lines. */
    lines(n: number): string[];
    /** The command loading `file` in `ns`. */
    argv(ns: string, file: string): string[];
    /** Entries of the test in the table now. */
    count(ns: string): number;
  };
  pcn: {
    service: string;
    label: string;
    cube: unknown;
    /** The list under the cube, e.g. "fdb/entry". */
    list: string;
    entry(i: number): Record<string, unknown>;
    /** Path under the list of entry i, and its body, for one request per entry. */
    entryPath(i: number): string;
    entryBody(i: number): unknown;
    /** Entries of the test in a GET of the list. */
    count(list: unknown[]): number;
  };
  /** The datapath map that holds the entries: its size is read from the object's BTF. */
  map: { object: string; name: string; what: string; reserved: number; reservedNote: string };
}

/** max_entries of map `name` as declared in the eBPF object `file` (bpftool's BTF dump), if found. */
export function declaredMapSize(file: string, name: string): number | undefined {
  const r = spawnSync(["bpftool", "-j", "btf", "dump", "file", file], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) return undefined;
  type T = { id: number; kind: string; name: string; type_id?: number; nr_elems?: number; members?: Array<{ name: string; type_id: number }> };
  const types = (JSON.parse(r.stdout.toString()) as { types: T[] }).types;
  const byId = new Map(types.map((t) => [t.id, t]));
  const v = types.find((t) => t.kind === "VAR" && t.name === name);
  const member = v && byId.get(v.type_id!)?.members?.find((m) => m.name === "max_entries");
  // __uint(max_entries, N) is `int (*max_entries)[N]`: a pointer to an array of N.
  const ptr = member && byId.get(member.type_id);
  const arr = ptr?.kind === "PTR" ? byId.get(ptr.type_id!) : undefined;
  return arr?.kind === "ARRAY" ? arr.nr_elems : undefined;
}

/** The case's map size, and the smaller load that fits in it when `n` does not (rounded down to 100s). */
function capacity(c: LoadCase, n: number): { size?: number; fits?: number; note: string } {
  const size = declaredMapSize(join(ROOT, "build/out/bpf", c.map.object), c.map.name);
  if (size === undefined) return { note: `the size of ${c.map.name} could not be read from ${c.map.object}` };
  const room = size - c.map.reserved;
  const note = `${c.map.object} declares ${c.map.name}, ${c.map.what}, with ${size} entries${c.map.reserved ? `, ${c.map.reserved} of them ${c.map.reservedNote}` : ""}`;
  return { size, fits: room < n ? Math.floor(room / 100) * 100 : undefined, note };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]!;
const objects = (list: unknown[]) => list.filter((x) => x !== null && typeof x === "object" && !Array.isArray(x)) as Array<Record<string, unknown>>;

const hex2 = (x: number) => (x & 255).toString(16).padStart(2, "0");
const fdbMac = (i: number) => `02:00:00:${hex2(i >> 16)}:${hex2(i >> 8)}:${hex2(i)}`;
const routeNet = (i: number) => `10.${128 + (i >> 8)}.${i & 255}.0/24`;
const routeVia = (i: number) => `10.1.0.${2 + (i % 200)}`;

/** A veth pair `dev` / `dev`p inside `ns`, both up (the VM's kernel has no dummy driver). */
function vethInNs(ns: string, dev: string): void {
  sh(`ip -n ${ns} link add ${dev} type veth peer name ${dev}p && ip -n ${ns} link set ${dev}p up && ip -n ${ns} link set ${dev} up`);
}

const fdbCase: LoadCase = {
  what: "FDB entries",
  tag: "fdb",
  linux: {
    label: (n) => `Linux bridge: bridge -batch, ${n} static entries`,
    prepare(ns) {
      sh(`ip -n ${ns} link del br0`, { allowFail: true });
      sh(`ip -n ${ns} link add br0 type bridge && ip -n ${ns} link set br0 up`);
      for (const d of ["d1", "d2"]) {
        if (!sh(`ip -n ${ns} -o link show`).includes(` ${d}@`)) vethInNs(ns, d);
        sh(`ip -n ${ns} link set ${d} master br0`);
      }
    },
    lines: (n) => Array.from({ length: n }, (_, i) => `fdb add ${fdbMac(i)} dev d${(i % 2) + 1} master static`),
    argv: (ns, file) => ["ip", "netns", "exec", ns, "bridge", "-batch", file],
    count: (ns) => sh(`${inNs(ns)}bridge fdb show br br0`).split("\n").filter((l) => l.startsWith("02:00:00:") && / static/.test(l)).length,
  },
  pcn: {
    service: "simplebridge",
    label: "polycube simplebridge",
    cube: { ports: [{ name: "p1" }, { name: "p2" }] },
    list: "fdb/entry",
    entry: (i) => ({ address: fdbMac(i), port: `p${(i % 2) + 1}` }),
    entryPath: (i) => `${fdbMac(i)}/`,
    entryBody: (i) => ({ port: `p${(i % 2) + 1}` }),
    count: (list) => objects(list).filter((e) => String(e.address).startsWith("02:00:00:")).length,
  },
  map: { object: "simplebridge.tc.o", name: "fwdtable", what: "the FDB", reserved: 0, reservedNote: "" },
};

const routeCase: LoadCase = {
  what: "routes",
  tag: "rt",
  linux: {
    label: (n) => `Linux: ip -batch, ${n} routes in a namespace`,
    prepare(ns) {
      sh(`ip -n ${ns} link del d0`, { allowFail: true });
      vethInNs(ns, "d0");
      sh(`ip -n ${ns} addr add 10.1.0.1/16 dev d0`);
    },
    lines: (n) => Array.from({ length: n }, (_, i) => `route add ${routeNet(i)} via ${routeVia(i)}`),
    argv: (ns, file) => ["ip", "-n", ns, "-batch", file],
    count: (ns) => sh(`ip -n ${ns} route show`).split("\n").filter((l) => / via 10\.1\.0\./.test(l)).length,
  },
  pcn: {
    service: "router",
    label: "polycube router",
    cube: { ports: [{ name: "p1", ip: "10.1.0.1/16" }, { name: "p2", ip: "10.2.0.1/16" }] },
    list: "route",
    entry: (i) => ({ network: routeNet(i), nexthop: routeVia(i) }),
    entryPath: (i) => `${encodeURIComponent(routeNet(i))}/${routeVia(i)}/`,
    entryBody: () => ({}),
    count: (list) => objects(list).filter((e) => e.nexthop !== "local").length,
  },
  map: { object: "router.tc.o", name: "routing_table", what: "the routing table as an LPM trie", reserved: 2, reservedNote: "the ports' connected routes" },
};

/** A fresh cube of the case's service for one trial; deleted by the returned function. */
async function freshCube(pcn: Polycubed, c: LoadCase, name: string): Promise<{ url: string; remove: () => Promise<void> }> {
  const url = `${pcn.url}/${c.pcn.service}/${name}/`;
  await expectOk("POST", url, c.pcn.cube);
  return { url, remove: async () => void (await expectOk("DELETE", url)) };
}

async function listed(c: LoadCase, cubeUrl: string): Promise<number> {
  const r = await expectOk("GET", `${cubeUrl}${c.pcn.list}/`);
  return c.pcn.count(JSON.parse(r.text) as unknown[]);
}

async function loadRows(pcn: Polycubed, c: LoadCase, o: ControlOptions): Promise<LoadRow[]> {
  const lab = new Lab();
  const ns = lab.netns(c.tag);
  const cubeName = `pcnb-${c.tag}`;
  const rows: LoadRow[] = [];
  try {
    await pcn.ready();
    const cap = capacity(c, o.loadEntries);
    for (const n of [o.loadEntries, ...(cap.fits ? [cap.fits] : [])]) {
      const file = join(o.tmp, `${c.tag}-${n}.batch`);
      writeFileSync(file, c.linux.lines(n).join("\n") + "\n");
      const body = Array.from({ length: n }, (_, i) => c.pcn.entry(i));
      const lin: number[] = [];
      const pcnTimes: number[] = [];
      let linCount = 0;
      let pcnCount = 0;
      let pcnFailure = "";
      for (let t = 0; t < o.loadTrials; t++) {
        c.linux.prepare(ns);
        lin.push(timedRun(c.linux.argv(ns, file)) / 1e3);
        linCount = c.linux.count(ns);
        // A load that failed is not repeated (it takes long, and fails alike).
        if (!pcnFailure) {
          o.log(`${c.pcn.label}: ${n} ${c.what} in one request, trial ${t + 1}`);
          const cube = await freshCube(pcn, c, cubeName);
          try {
            const t0 = performance.now();
            const r = await call("POST", `${cube.url}${c.pcn.list}/`, body);
            pcnTimes.push((performance.now() - t0) / 1e3);
            pcnCount = await listed(c, cube.url);
            if (r.status >= 300) pcnFailure = `${r.status} ${firstLine(r.text)}`;
          } finally {
            await cube.remove();
          }
        }
      }
      const baseKey = `load-${c.tag}-${n}-linux`;
      rows.push({
        key: baseKey, label: c.linux.label(n), asked: n, entries: linCount, seconds: median(lin),
        detail: `median of ${lin.length} trials (best ${Math.min(...lin).toFixed(3)}, worst ${Math.max(...lin).toFixed(3)} s); one process, fork and exec included`,
      });
      const one: LoadRow = { key: `load-${c.tag}-${n}-one`, label: `${c.pcn.label}: ${n} ${c.what} in one request (POST on ${c.pcn.list})`, baseline: baseKey, asked: n, seconds: median(pcnTimes) };
      if (pcnFailure) {
        one.entries = 0;
        one.detail = `**the request failed** after ${one.seconds!.toFixed(1)} s: ${pcnFailure}; a GET of the list afterwards shows ${pcnCount} of them (${cap.note})`;
      } else {
        one.entries = n;
        one.detail = `median of ${pcnTimes.length} trials (best ${Math.min(...pcnTimes).toFixed(3)}, worst ${Math.max(...pcnTimes).toFixed(3)} s); a GET of the list afterwards shows ${pcnCount}`;
      }
      rows.push(one);
      if (n === o.loadEntries) rows.push(await oneByOne(pcn, c, n, baseKey, cubeName, o));
    }
  } catch (e) {
    o.log(`${c.what} loads failed: ${(e as Error).stack ?? e}`);
    rows.push(...failedRows([{ key: `load-${c.tag}-failed`, label: `${c.pcn.label}: ${c.what}`, asked: o.loadEntries }], e));
  } finally {
    lab.cleanup();
  }
  return rows;
}

/** One request per entry, sequential on one kept-alive connection, until done, an error, or the budget. */
async function oneByOne(pcn: Polycubed, c: LoadCase, n: number, baseline: string, cubeName: string, o: ControlOptions): Promise<LoadRow> {
  o.log(`${c.pcn.label}: ${n} ${c.what}, one request each (at most ${o.oneByOneBudget} s)`);
  const row: LoadRow = {
    key: `load-${c.tag}-${n}-many`, label: `${c.pcn.label}: ${n} ${c.what}, one request each (sequential POSTs, ${o.oneByOneBudget} s budget)`,
    baseline, asked: n,
  };
  const cube = await freshCube(pcn, c, cubeName);
  try {
    const each: number[] = [];
    let failure = "";
    const t0 = performance.now();
    const deadline = t0 + o.oneByOneBudget * 1e3;
    for (let i = 0; i < n && performance.now() < deadline; i++) {
      const t = performance.now();
      const r = await call("POST", `${cube.url}${c.pcn.list}/${c.pcn.entryPath(i)}`, c.pcn.entryBody(i));
      if (r.status >= 300) {
        failure = `entry ${i + 1} failed: ${r.status} ${firstLine(r.text)}`;
        break;
      }
      each.push(performance.now() - t);
    }
    row.seconds = each.reduce((a, b) => a + b, 0) / 1e3;
    row.entries = each.length;
    // Whether a write costs what it changes: the time per request over the first and the last
    // 1,000 (the issue's goal: last/first at most 1.2).
    const k = Math.min(1000, Math.floor(each.length / 2));
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]!;
    const first = each.slice(0, k);
    const last = each.slice(-k);
    const growth = k > 0
      ? `ms per request: ${avg(first).toFixed(2)} (p50 ${p50(first).toFixed(2)}) over the first ${k}, ${avg(last).toFixed(2)} (p50 ${p50(last).toFixed(2)}) over the last ${k}: last/first ${(avg(last) / avg(first)).toFixed(2)} (goal at most 1.2)`
      : "";
    const count = await listed(c, cube.url);
    const end = failure ? `**stopped**: ${failure}` : each.length < n ? `**stopped at the budget** after ${each.length} of ${n}` : "all loaded";
    row.detail = `${end}; ${growth}; a GET of the list afterwards shows ${count}`;
  } finally {
    await cube.remove();
  }
  return row;
}

export async function bulkLoads(pcn: Polycubed, o: ControlOptions, which: { fdb: boolean; routes: boolean }): Promise<ControlGroup> {
  const caps = [fdbCase, routeCase].map((c) => capacity(c, o.loadEntries).note).join("; ");
  const group: ControlGroup = {
    title: `loading ${o.loadEntries} FDB entries and ${o.loadEntries} routes`,
    method: [
      `FDB: static entries (distinct MACs, on two ports in turn) into a fresh simplebridge (TC, 2 ports not peered) over REST: all in one \`POST /simplebridge/<cube>/fdb/entry/\` whose body is the array of entries; and one \`POST .../fdb/entry/<mac>/\` per entry. Baseline: \`bridge -batch\` of \`fdb add <mac> dev <port> master static\` lines into a Linux bridge with two veth ports in a namespace of the bench.`,
      `Routes: /24 networks via next hops in a port's /16 into a fresh router (2 ports with addresses, not peered): all in one \`POST /router/<cube>/route/\`; and one \`POST .../route/<network>/<nexthop>/\` per route. Baseline: \`ip -batch\` of \`route add <net> via <nexthop>\` lines in a namespace with a veth holding the next hops' /16.`,
      `Loads that fit are repeated ${o.loadTrials} times (a fresh cube, bridge or device each time) and the median is shown; a load whose request fails is timed once, until the failing answer. One request per entry runs sequentially (Bun fetch, one kept-alive connection) until done, an error, or ${o.oneByOneBudget} s; seconds = the sum of the requests' times.`,
      `Datapath tables, as declared in the services' compiled objects (read with bpftool's BTF dump): ${caps}. A table too small for ${o.loadEntries} entries is also loaded with the most that fit, rounded down to hundreds, beside a baseline of the same size.`,
      "Every polycube figure is checked afterwards with a GET of the list; every Linux one with `bridge fdb show` / `ip route show`. The ratio compares time per loaded entry.",
    ],
    loads: [],
  };
  if (which.fdb) group.loads!.push(...(await loadRows(pcn, fdbCase, o)));
  if (which.routes) group.loads!.push(...(await loadRows(pcn, routeCase, o)));
  return group;
}
