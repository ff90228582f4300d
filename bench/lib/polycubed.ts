// A polycubed of the benchmark's own (build/out/polycubed), on a free port with its files in a
// temporary directory, started on first use and stopped (SIGTERM, then SIGKILL) at the end.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { onInterrupt } from "./cleanup.ts";
import { NotAvailable } from "./dut.ts";

const EXE = join(import.meta.dir, "../../build/out/polycubed");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class RestError extends Error {}

export class Polycubed {
  private proc?: Subprocess;
  private dir?: string;
  private starting?: Promise<void>;
  private forget?: () => void;
  private base = "";

  /** Starts the daemon once; a daemon that does not come up makes its rows "not available". */
  ready(): Promise<void> {
    this.starting ??= this.start();
    return this.starting;
  }

  private async start(): Promise<void> {
    const dir = (this.dir = mkdtempSync(join(tmpdir(), "pcnb-")));
    const port = await freePort();
    this.base = `http://127.0.0.1:${port}/polycube/v1`;
    writeFileSync(join(dir, "polycubed.conf"), "# bench\n");
    const proc = Bun.spawn([EXE, "--addr", "127.0.0.1", "--port", String(port), "--loglevel", "warn",
      "--configfile", join(dir, "polycubed.conf"), "--pidfile", join(dir, "polycubed.pid"),
      "--logfile", join(dir, "polycubed.log")],
    { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    this.proc = proc;
    this.forget = onInterrupt(() => proc.kill("SIGKILL"));
    for (let i = 0; i < 200 && proc.exitCode === null; i++) {
      try {
        if ((await fetch(`${this.base}/version`)).ok) return;
      } catch {
        /* not listening yet */
      }
      await Bun.sleep(50);
    }
    const err = proc.exitCode !== null ? await new Response(proc.stderr as ReadableStream).text() : "no answer in 10 s";
    await this.stop();
    throw new NotAvailable(`polycubed did not start: ${err.trim().split("\n")[0]}`);
  }

  /** The API's base URL, `http://127.0.0.1:<port>/polycube/v1` (set once ready() resolved). */
  get url(): string {
    return this.base;
  }

  /** The daemon's temporary directory (set once ready() resolved); it is removed by stop(). */
  get home(): string {
    return this.dir!;
  }

  /** A REST call under /polycube/v1; throws RestError on a status of 300 or more. */
  async rest(method: string, path: string, body?: unknown): Promise<unknown> {
    await this.ready();
    const r = await fetch(`${this.base}${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? undefined : { "content-type": "application/json" },
    });
    const text = await r.text();
    if (r.status >= 300) {
      // A refused batch of 10,000 entries can name every one of them: the start says enough.
      const said = text.trim();
      throw new RestError(`${method} ${path}: ${r.status} ${said.length > 600 ? `${said.slice(0, 600)}… (${said.length} characters)` : said}`);
    }
    return text ? JSON.parse(text) : undefined;
  }

  /** The last lines of the daemon's log, for error messages. */
  logTail(lines = 20): string {
    try {
      return readFileSync(join(this.dir!, "polycubed.log"), "utf8").trim().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (proc && proc.exitCode === null) {
      proc.kill("SIGTERM");
      const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(10000).then(() => false)]);
      if (!done) proc.kill("SIGKILL");
    }
    this.forget?.();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
