// The datapath's clock as user space reads it. Services time entries with
// bpf_ktime_get_boot_ns() (CLOCK_BOOTTIME, which counts suspend too); user space reads the same
// clock from /proc/uptime (Bun exposes no clock_gettime, and its hrtime has another origin).
import { readFileSync } from "node:fs";

/** CLOCK_BOOTTIME in nanoseconds, to the centisecond /proc/uptime gives. */
export function bootNs(): bigint {
  const [whole, frac = "0"] = readFileSync("/proc/uptime", "utf8").split(" ")[0]!.split(".");
  return BigInt(whole!) * 1_000_000_000n + BigInt(frac.padEnd(9, "0").slice(0, 9));
}

/** CLOCK_BOOTTIME in whole seconds. */
export function bootSeconds(): bigint {
  return bootNs() / 1_000_000_000n;
}
