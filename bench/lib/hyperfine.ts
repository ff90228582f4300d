// Wall time of a command through hyperfine (Debian's package): no shell (-N), output through a
// pipe (as when a script reads it), warm-up runs first. Returns every run's time in ms.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "bun";
import { NotAvailable } from "./dut.ts";

export function haveHyperfine(): boolean {
  return spawnSync(["sh", "-c", "command -v hyperfine"]).exitCode === 0;
}

export function hyperfine(argv: string[], opts: { runs: number; warmup: number; tmp: string; env?: Record<string, string> }): number[] {
  if (!haveHyperfine()) throw new NotAvailable("hyperfine is not installed (build/deps.sh installs it)");
  const json = join(opts.tmp, "hyperfine.json");
  // -N splits the command line on spaces itself: quote nothing, pass words without spaces.
  if (argv.some((w) => /\s/.test(w))) throw new Error(`hyperfine -N cannot take words with spaces: ${argv.join(" ")}`);
  const r = spawnSync(["hyperfine", "-N", "--style", "none", "--output", "pipe", "--warmup", String(opts.warmup),
    "--runs", String(opts.runs), "--export-json", json, argv.join(" ")],
  { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...opts.env } });
  if (r.exitCode !== 0) throw new Error(`hyperfine failed (${r.exitCode}): ${r.stderr.toString().trim().split("\n").slice(-3).join(" ")}`);
  const data = JSON.parse(readFileSync(json, "utf8")) as { results: Array<{ times: number[] }> };
  return data.results[0]!.times.map((s) => s * 1e3);
}
