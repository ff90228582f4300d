// The simplebridge filtering database as the datapath stores it: MAC keys, and the learned
// entries and their aging rules, which it shares with the bridge (lib/sdk/fdb.ts).
import { bytes, mac, struct, u32 } from "../../lib/bpf/codec.ts";

export { ageOf, bootSeconds, DEFAULT_AGING_TIME, ENTRY_STATIC, fdbValue, isExpired, type FdbEntry } from "../../lib/sdk/fdb.ts";

/** Entries the datapath's fwdtable holds (simplebridge.bpf.c), static and learned together. */
export const FDB_SIZE = 65536;

/** struct mac_key { u8 addr[6]; u16 pad; } */
export const fdbKey = struct<{ addr: string; pad: Uint8Array }>(8, { addr: { offset: 0, codec: mac }, pad: { offset: 6, codec: bytes(2) } });
/** struct bridge_config { u32 aging_time; } */
export const bridgeConfig = struct<{ agingTime: number }>(4, { agingTime: { offset: 0, codec: u32 } });

export function encodeKey(address: string): Uint8Array {
  return fdbKey.encode({ addr: address, pad: new Uint8Array(2) });
}
