// Shell commands for the benchmark: ip, ethtool, sysctl. Failures throw with the command's stderr.
import { spawnSync } from "bun";

export function sh(cmd: string, opts: { allowFail?: boolean } = {}): string {
  const r = spawnSync(["bash", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString();
  if (r.exitCode !== 0 && !opts.allowFail) throw new Error(`'${cmd}' failed (${r.exitCode}): ${r.stderr.toString().trim()}`);
  return out;
}

/** `ip netns exec <ns> ` or nothing for the root namespace: the prefix of a command run there. */
export function inNs(ns: string | null): string {
  return ns ? `ip netns exec ${ns} ` : "";
}

/** `-n <ns> ` for ip(8), or nothing for the root namespace. */
export function ipNs(ns: string | null): string {
  return ns ? `-n ${ns} ` : "";
}
