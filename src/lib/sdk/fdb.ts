// Learned L2 forwarding entries as the bridges' datapaths store them (struct fdb_entry in
// bpf/polycube.h, written by pcn_fdb_learn: last-seen time, port, static flag), and their aging
// rules. Times are CLOCK_BOOTTIME seconds (lib/sdk/clock.ts).
import { struct, u32, u64 } from "../bpf/codec.ts";

export { bootSeconds } from "./clock.ts";

export const ENTRY_STATIC = 1;
export const DEFAULT_AGING_TIME = 300;

export type FdbEntry = {
  timestamp: bigint;
  port: number;
  flags: number;
};

/** struct fdb_entry { u64 timestamp; u32 port; u32 flags; } */
export const fdbValue = struct<FdbEntry>(16, { timestamp: { offset: 0, codec: u64 }, port: { offset: 8, codec: u32 }, flags: { offset: 12, codec: u32 } });

/** Age of an entry in seconds; static entries are always 0. */
export function ageOf(e: FdbEntry, now: bigint): number {
  if (e.flags & ENTRY_STATIC) return 0;
  return now > e.timestamp ? Number(now - e.timestamp) : 0;
}

/** A learned entry older than the aging time is no longer used by the datapath and can go. */
export function isExpired(e: FdbEntry, now: bigint, agingTime: number): boolean {
  return !(e.flags & ENTRY_STATIC) && ageOf(e, now) > agingTime;
}
