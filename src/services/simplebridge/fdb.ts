// The simplebridge filtering database as the datapath stores it (MAC -> port, last-seen
// time, static flag), and its aging rules. Times are CLOCK_BOOTTIME seconds, the clock of the
// datapath's bpf_ktime_get_boot_ns(), which user space reads from /proc/uptime.
import { bytes, mac, struct, u32, u64 } from "../../lib/bpf/codec.ts";

export const ENTRY_STATIC = 1;
export const DEFAULT_AGING_TIME = 300;
/** Entries the datapath's fwdtable holds (simplebridge.bpf.c), static and learned together. */
export const FDB_SIZE = 65536;

export type FdbEntry = {
  timestamp: bigint;
  port: number;
  flags: number;
};

/** struct mac_key { u8 addr[6]; u16 pad; } */
export const fdbKey = struct<{ addr: string; pad: Uint8Array }>(8, { addr: { offset: 0, codec: mac }, pad: { offset: 6, codec: bytes(2) } });
/** struct fdb_entry { u64 timestamp; u32 port; u32 flags; } */
export const fdbValue = struct<FdbEntry>(16, { timestamp: { offset: 0, codec: u64 }, port: { offset: 8, codec: u32 }, flags: { offset: 12, codec: u32 } });
/** struct bridge_config { u32 aging_time; } */
export const bridgeConfig = struct<{ agingTime: number }>(4, { agingTime: { offset: 0, codec: u32 } });

export function encodeKey(address: string): Uint8Array {
  return fdbKey.encode({ addr: address, pad: new Uint8Array(2) });
}

export { bootSeconds } from "../../lib/sdk/clock.ts";

/** Age of an entry in seconds; static entries are always 0. */
export function ageOf(e: FdbEntry, now: bigint): number {
  if (e.flags & ENTRY_STATIC) return 0;
  return now > e.timestamp ? Number(now - e.timestamp) : 0;
}

/** A learned entry older than the aging time is no longer used by the datapath and can go. */
export function isExpired(e: FdbEntry, now: bigint, agingTime: number): boolean {
  return !(e.flags & ENTRY_STATIC) && ageOf(e, now) > agingTime;
}
