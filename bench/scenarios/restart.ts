// Control-plane group "restart": probes lost while the daemon restarts under traffic (issue 16).
// Two hosts ping each other every 2 ms through a simplebridge while a daemon of this group's own
// is stopped (SIGTERM, or SIGKILL) and started again, with --cubes-dump-enable (the datapath stays
// pinned and the next daemon adopts it) and without (the baseline: the operator makes the cubes
// again once the new daemon answers).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { onInterrupt } from "../lib/cleanup.ts";
import type { ControlGroup, RestartRow } from "../lib/report.ts";
import { sh } from "../lib/sh.ts";

const EXE = join(import.meta.dir, "../../build/out/polycubed");
const INTERVAL_MS = 2;
const NET = "10.199.7";

class Daemon {
  private proc?: Subprocess;
  constructor(private readonly dir: string, readonly port: number) {}
  get url(): string {
    return `http://127.0.0.1:${this.port}/polycube/v1`;
  }
  async start(extra: string[]): Promise<void> {
    const d = this.dir;
    this.proc = Bun.spawn([EXE, "--addr", "127.0.0.1", "--port", String(this.port), "--loglevel", "warn", "--configfile", join(d, "polycubed.conf"),
      "--pidfile", join(d, "polycubed.pid"), "--logfile", join(d, "polycubed.log"), ...extra], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 400; i++) {
      try {
        if ((await fetch(`${this.url}/version`)).ok) return;
      } catch {
        /* not yet */
      }
      await Bun.sleep(25);
    }
    throw new Error("polycubed did not start");
  }
  async stop(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p) return;
    p.kill(signal);
    await p.exited;
  }
  async post(path: string, body: unknown): Promise<void> {
    const r = await fetch(`${this.url}${path}`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    if (r.status >= 300) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
  }
}

async function measure(keep: boolean, signal: "SIGTERM" | "SIGKILL"): Promise<{ sent: number; lost: number; seconds: number; gapMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), "pcnb-rst-"));
  writeFileSync(join(dir, "polycubed.conf"), "# bench\n");
  const port = 20000 + Math.floor(Math.random() * 20000);
  const ns = ["pcnbrst1", "pcnbrst2"];
  const cleanup = () => {
    for (const n of ns) sh(`ip netns del ${n}`, { allowFail: true });
    sh(`rm -rf /sys/fs/bpf/polycube/${port}`, { allowFail: true });
    rmSync(dir, { recursive: true, force: true });
  };
  const forget = onInterrupt(cleanup);
  const d = new Daemon(dir, port);
  const opts = keep ? ["--cubes-dump-enable", "--cubes-dump-file", join(dir, "cubes.yaml")] : [];
  try {
    ns.forEach((n, i) => {
      sh(`ip netns add ${n} && ip link add ${n}o type veth peer name eth0 netns ${n}`);
      sh(`ip -n ${n} addr add ${NET}.${i + 1}/24 dev eth0 && ip -n ${n} link set eth0 up && ip link set ${n}o up`);
    });
    const topology = () => d.post("/simplebridge/rb/", { ports: [{ name: "a", peer: `${ns[0]}o` }, { name: "b", peer: `${ns[1]}o` }] });
    await d.start(opts);
    await topology();
    sh(`ip netns exec ${ns[0]} ping -c 3 -i 0.2 -W 1 ${NET}.2`);
    await Bun.sleep(200); // the dump is written
    const ping = Bun.spawn(["ip", "netns", "exec", ns[0], "ping", "-D", "-i", String(INTERVAL_MS / 1000), "-W", "1", "-w", "60", `${NET}.2`], { stdout: "pipe", stderr: "ignore" });
    await Bun.sleep(500);
    const t0 = performance.now();
    await d.stop(signal);
    await d.start(opts);
    if (!keep) await topology();
    const seconds = (performance.now() - t0) / 1000;
    await Bun.sleep(1000);
    ping.kill("SIGINT");
    const out = await new Response(ping.stdout).text();
    await ping.exited;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
    if (!m) throw new Error(`ping: ${out.trim().slice(-300)}`);
    // Outage: the longest time without a reply (ping -D stamps each one).
    const stamps = [...out.matchAll(/^\[(\d+\.\d+)\] .*icmp_seq=/gm)].map((x) => Number(x[1]));
    let gap = 0;
    for (let i = 1; i < stamps.length; i++) gap = Math.max(gap, stamps[i]! - stamps[i - 1]!);
    return { sent: Number(m[1]), lost: Number(m[1]) - Number(m[2]), seconds, gapMs: gap * 1000 };
  } finally {
    await d.stop("SIGTERM");
    cleanup();
    forget();
  }
}

export async function restartLoss(log: (msg: string) => void): Promise<ControlGroup> {
  const rows: RestartRow[] = [];
  for (const signal of ["SIGTERM", "SIGKILL"] as const)
    for (const keep of [false, true]) {
      const key = `restart-${signal.toLowerCase()}-${keep ? "kept" : "plain"}`;
      const label = `${signal}, then start, ${keep ? "with --cubes-dump-enable" : "without the option (cubes made again)"}`;
      const baseline = keep ? `restart-${signal.toLowerCase()}-plain` : undefined;
      log(`control plane: ${label}`);
      try {
        const r = await measure(keep, signal);
        rows.push({ key, label, baseline, sent: r.sent, lost: r.lost, gapMs: r.gapMs, restartSeconds: r.seconds });
      } catch (e) {
        rows.push({ key, label, baseline, missing: `not measured: ${(e as Error).message.split("\n")[0]}` });
      }
    }
  return {
    title: "restart under traffic",
    method: [
      `ping every ${INTERVAL_MS} ms between two namespaces through a simplebridge (TC) while its daemon is stopped and started again; lost = sent - received over the whole run (0.5 s before the signal, 1 s after the restart); outage: the longest time between two replies (ping -D timestamps), which includes the ${INTERVAL_MS} ms interval and ping's own pauses under load.`,
      "With --cubes-dump-enable the datapath stays pinned in bpffs and the next daemon adopts it (docs/datapath.md, Restarts); without it, the daemon's SIGTERM removes the datapath (a SIGKILL leaves it until the next start removes it) and the cube is made again over REST once the new daemon answers.",
      "restart s: from the signal until the new daemon answers REST (and, without the option, the cube is made again).",
    ],
    restarts: rows,
  };
}
