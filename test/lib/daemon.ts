// Starts the real daemon (the compiled executable when built, else the sources) on a free port
// with its own config, pid and log files, and stops it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

const root = join(import.meta.dir, "../..");
const compiled = join(root, "build/out/polycube");

/** argv prefix that runs the executable (compiled if present). */
export function polycube(): string[] {
  return existsSync(compiled) ? [compiled] : [join(root, "node_modules/.bin/bun"), join(root, "src/polycube.ts")];
}

const handedOut = new Set<number>();

/**
 * A TCP port nothing listens on now: the kernel picks it, so parallel test files do not collide.
 * Never the same one twice in a process (the kernel may offer a port again once its probe closed).
 */
export function freePort(): number {
  for (;;) {
    const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const port = probe.port!;
    probe.stop(true);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

export class Daemon {
  readonly dir = mkdtempSync(join(tmpdir(), "tpcd-"));
  readonly port = freePort();
  private proc?: Subprocess;

  /** env: added to the daemon process's environment (knobs such as POLYCUBE_FIREWALL_TIMEOUTS). */
  constructor(private readonly opts: { env?: Record<string, string> } = {}) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/polycube/v1`;
  }

  get logfile(): string {
    return join(this.dir, "polycubed.log");
  }

  get pidfile(): string {
    return join(this.dir, "polycubed.pid");
  }

  args(extra: string[] = []): string[] {
    const conf = join(this.dir, "polycubed.conf");
    if (!existsSync(conf)) writeFileSync(conf, "# test\n");
    return [...polycube(), "--daemon", "--addr", "127.0.0.1", "--port", String(this.port), "--configfile", conf,
      "--pidfile", this.pidfile, "--logfile", this.logfile, "--loglevel", "debug", ...extra];
  }

  /** Starts the daemon and waits until `ready` (by default: GET /version over plain HTTP answers). */
  async start(extra: string[] = [], ready: () => Promise<boolean> | boolean = () => this.answers()): Promise<void> {
    this.proc = Bun.spawn(this.args(extra), { stdout: "ignore", stderr: "pipe", stdin: "ignore", env: { ...process.env, ...this.opts.env } });
    for (let i = 0; i < 200; i++) {
      if (await ready()) return;
      if (this.proc.exitCode !== null) break;
      await Bun.sleep(50);
    }
    const err = this.proc.stderr ? await new Response(this.proc.stderr as ReadableStream).text() : "";
    throw new Error(`daemon did not start: ${err}\n${this.log()}`);
  }

  private async answers(): Promise<boolean> {
    try {
      return (await fetch(`${this.url}/version`)).ok;
    } catch {
      return false; // not up yet
    }
  }

  log(): string {
    try {
      return readFileSync(this.logfile, "utf8");
    } catch {
      return "";
    }
  }

  /** The CLI against this daemon. */
  async cli(words: string[], opts: { stdin?: string } = {}): Promise<{ code: number; out: string; err: string }> {
    const p = Bun.spawn([...polycube(), ...words], {
      env: { ...process.env, POLYCUBECTL_URL: `${this.url}/`, HOME: this.dir },
      stdout: "pipe", stderr: "pipe", stdin: opts.stdin !== undefined ? new Blob([opts.stdin]) : "ignore",
    });
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    return { code: await p.exited, out, err };
  }

  async request(method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json(): any }> {
    const r = await fetch(`${this.url}${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      redirect: "follow",
    });
    const text = await r.text();
    return { status: r.status, text, json: () => JSON.parse(text) };
  }

  /** SIGTERM and wait; returns the exit code. */
  async stop(): Promise<number | null> {
    if (!this.proc) return null;
    this.proc.kill("SIGTERM");
    const code = await Promise.race([this.proc.exited, Bun.sleep(10000).then(() => null)]);
    if (code === null) this.proc.kill("SIGKILL");
    this.proc = undefined;
    return code;
  }

  /** SIGKILL (a crash) and wait. */
  async kill(): Promise<void> {
    if (!this.proc) return;
    this.proc.kill("SIGKILL");
    await this.proc.exited;
    this.proc = undefined;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
    // A daemon stopped with --cubes-dump-enable leaves its datapath pinned for the next one.
    rmSync(`/sys/fs/bpf/polycube/${this.port}`, { recursive: true, force: true });
  }
}
