// Session timeouts a service's datapath applies, overridable for tests and tuning through an
// environment variable read when a cube is created ("name=seconds,name=seconds"). The firewall
// (POLYCUBE_FIREWALL_TIMEOUTS) and nat (POLYCUBE_NAT_TIMEOUTS) use it.
import { ServiceError } from "./types.ts";

/**
 * Seconds per timeout: the defaults of `table` ([name, seconds] in the datapath's order) with
 * `text` over them. A name may also be a group, the part of names before a '-': "udp=2" sets
 * udp-new and udp-established. Throws (naming the variable and the item) on anything else.
 */
export function parseTimeouts(env: string, table: ReadonlyArray<readonly [string, number]>, text: string | undefined): number[] {
  const out = table.map(([, s]) => s);
  if (!text?.trim()) return out;
  for (const item of text.split(/[\s,]+/).filter(Boolean)) {
    const m = /^([a-z-]+)=(\d+)$/.exec(item);
    const which = m ? table.flatMap(([n], i) => (n === m[1] || n.startsWith(`${m[1]}-`) ? [i] : [])) : [];
    if (!m || !which.length || Number(m[2]) < 1) {
      throw new ServiceError(`${env}: '${item}' is not NAME=SECONDS (SECONDS >= 1) with NAME one of ${table.map(([n]) => n).join(", ")} (or the part before a '-')`, 500, "operation-failed");
    }
    for (const i of which) out[i] = Number(m[2]);
  }
  return out;
}

/** Seconds to the nanoseconds bpf_ktime_get_boot_ns() counts (a datapath's `__u64 timeout[]`, codec array(u64, n)). */
export function timeoutsNs(seconds: number[]): bigint[] {
  return seconds.map((s) => BigInt(s) * 1_000_000_000n);
}

/**
 * Seconds to nanoseconds as little-endian u64s at `off`: SDK 1.0's form of timeoutsNs(), kept for
 * plug-ins built for it.
 */
export function writeTimeoutsNs(into: DataView, off: number, seconds: number[]): void {
  timeoutsNs(seconds).forEach((ns, i) => into.setBigUint64(off + 8 * i, ns, true));
}
