// End-to-end harness for polycubectl: the real REST layer (src/lib/rest) served by Bun on a
// random localhost port in front of the in-memory core test double, and the CLI run as a child
// process, as users and scripts run it.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JsonObject } from "../../src/lib/sdk/types.ts";
import { createRestApp } from "../../src/lib/rest/index.ts";
import { MemoryCore } from "../rest/memory-core.ts";

export const ROOT = join(import.meta.dir, "..", "..");
const BUN = join(ROOT, "node_modules", ".bin", "bun");
/** POLYCUBECTL_BIN=build/polycube runs the compiled binary instead of the sources. */
export const CLI_ARGV = process.env.POLYCUBECTL_BIN ? [join(ROOT, process.env.POLYCUBECTL_BIN)] : [BUN, join(ROOT, "src", "polycube.ts")];

const TRANSPARENT = `module tyrtrans {
  yang-version 1.1;
  namespace "http://polycube.network/tyrtrans";
  prefix "tyrtrans";
  import polycube-base { prefix "polycube-base"; }
  import polycube-transparent-base { prefix "polycube-transparent-base"; }
  description "Transparent test service";
  polycube-base:service-description "Transparent test service";
  polycube-base:service-version "1.0";
  uses "polycube-transparent-base:transparent-base-yang-module";
  leaf ingress-action { type enumeration { enum DROP; enum PASS; } default PASS; }
}`;

/** The test double, with a netdev topology like the daemon's (§12: service chains). */
class CliCore extends MemoryCore {
  override netdevTopology(ifname: string): JsonObject {
    if (!this.devices.some((d) => d.name === ifname)) throw new Error(`netdev ${ifname} does not exist`);
    return {
      name: ifname,
      "cubes, ingress_index, egress_index": ["th1,\t12,\t13"],
      "ingress service chain": "th1 ---> stack",
      "egress service chain": "stack ---> th1",
    };
  }
}

export interface Daemon {
  core: MemoryCore;
  /** The CLI's url setting: http://127.0.0.1:<port>/polycube/v1/ */
  url: string;
  stop(): void;
}

/** `version`: the one the daemon reports (by default the CLI's own, so that it warns of nothing). */
export function startDaemon(version?: string): Daemon {
  const core = new CliCore();
  core.addModel("tyrrest", readFileSync(join(ROOT, "test", "yang", "models", "tyr-rest.yang"), "utf8"));
  core.addModel("tyrtrans", TRANSPARENT, "transparent");
  let app: ReturnType<typeof createRestApp> | undefined;
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (r) => app!.fetch(r) });
  app = createRestApp(core, { host: "127.0.0.1", port: server.port!, ...(version ? { version } : {}) });
  return { core, url: `http://127.0.0.1:${server.port}/polycube/v1/`, stop: () => server.stop(true) };
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** A HOME of its own, so the user's config file is neither read nor written. */
export const home = mkdtempSync(join(tmpdir(), "tyrcli-home-"));
export const cleanupHome = () => rmSync(home, { recursive: true, force: true });

/** Runs polycubectl with `args`; stdin is /dev/null unless `stdin` text is given (a pipe). */
export async function cli(url: string, args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  const p = Bun.spawn([...CLI_ARGV, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, POLYCUBECTL_URL: url, ...opts.env },
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

/** Runs a bash command line with `polycubectl` as a function calling the CLI (for here-strings). */
export async function bash(url: string, script: string, env: Record<string, string> = {}): Promise<CliResult> {
  const fn = `polycubectl() { ${CLI_ARGV.map((c) => `'${c}'`).join(" ")} "$@"; }`;
  const p = Bun.spawn(["bash", "-c", `${fn}\n${script}`], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, POLYCUBECTL_URL: url, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}
