// HTTP load through wrk (Debian's package): closed loop, `connections` clients each sending its
// next request as soon as the previous answer arrived, on one wrk thread. A Lua done() hook
// prints the latency percentiles as JSON (wrk's own histogram, 1 µs resolution).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "bun";
import { NotAvailable } from "./dut.ts";

export interface WrkResult {
  requests: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Answers with a status of 400 or more. */
  statusErrors: number;
  /** Connect, read, write errors and timeouts. */
  socketErrors: number;
}

const DONE = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK-RESULT %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
`;

/** A request() hook cycling through `bodies` (one counter per wrk thread). */
function requestHook(method: string, bodies: string[]): string {
  const list = bodies.map((b) => `[==[${b}]==]`).join(", ");
  return `
local n = 0
local bodies = { ${list} }
request = function()
  n = n + 1
  return wrk.format("${method}", nil, { ["Content-Type"] = "application/json" }, bodies[(n % #bodies) + 1])
end
`;
}

export function haveWrk(): boolean {
  return spawnSync(["sh", "-c", "command -v wrk"]).exitCode === 0;
}

/**
 * Runs wrk for `seconds` against `url` with `connections` clients. GET when no bodies are
 * given; otherwise `method` with the bodies in turn. `tmp` holds the Lua script.
 */
export function wrk(url: string, opts: { connections: number; seconds: number; tmp: string; method?: string; bodies?: string[] }): WrkResult {
  if (!haveWrk()) throw new NotAvailable("wrk is not installed (build/deps.sh installs it)");
  const method = opts.method ?? "GET";
  const script = join(opts.tmp, `wrk-${method.toLowerCase()}.lua`);
  writeFileSync(script, (opts.bodies ? requestHook(method, opts.bodies) : "") + DONE);
  const r = spawnSync(["wrk", "-t1", `-c${opts.connections}`, `-d${opts.seconds}s`, "--timeout", "10s", "-s", script, url], { stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString();
  const line = out.split("\n").find((l) => l.startsWith("WRK-RESULT "));
  if (r.exitCode !== 0 || !line) throw new Error(`wrk failed (${r.exitCode}): ${(r.stderr.toString() + out).trim().split("\n").slice(-3).join(" ")}`);
  const [requests, durationUs, p50, p99, max, statusErrors, socketErrors] = line.split(" ").slice(1).map(Number) as number[];
  return {
    requests: requests!, seconds: durationUs! / 1e6, p50Ms: p50! / 1e3, p99Ms: p99! / 1e3, maxMs: max! / 1e3,
    statusErrors: statusErrors!, socketErrors: socketErrors!,
  };
}
