// The firewall's maps as the control plane writes and reads them: one codec per C struct of
// firewall.bpf.c, checked against the object's BTF when the cube's typed maps are made (index.ts).
// Pure, for tests.
import { array, be16, be32, bytes, struct, u16, u32, u64, u8 } from "../../lib/bpf/codec.ts";

/** FW_TUPLES_MAX in firewall.bpf.c */
export const TUPLES_MAX = 128;

/** struct fw_chain: the active generation of a chain, and its default action. */
export const chainValue = struct<{ gen: number; defaultAction: number }>(8, { gen: { offset: 0, codec: u32 }, defaultAction: { offset: 4, codec: u32 } });

/** struct fw_rule_key: a generation slot, then one tuple's masked fields. */
export type RuleKey = { slot: number; proto: number; flags: number; ct: number; tuple: number; sport: number; dport: number; pad: number; src: number; dst: number };
export const ruleKey = struct<RuleKey>(20, {
  slot: { offset: 0, codec: u8 },
  proto: { offset: 1, codec: u8 },
  flags: { offset: 2, codec: u8 },
  ct: { offset: 3, codec: u8 },
  tuple: { offset: 4, codec: u16 },
  sport: { offset: 6, codec: be16 },
  dport: { offset: 8, codec: be16 },
  pad: { offset: 10, codec: u16 },
  src: { offset: 12, codec: be32 },
  dst: { offset: 16, codec: be32 },
});

/** struct fw_rule_value */
export type RuleValue = { rank: number; counter: number; action: number };
export const ruleValue = struct<RuleValue>(12, { rank: { offset: 0, codec: u32 }, counter: { offset: 4, codec: u32 }, action: { offset: 8, codec: u32 } });

/** struct fw_tuple: the masks and fields one hash lookup uses. */
export type TupleValue = { srcMask: number; dstMask: number; best: number; id: number; flagsMask: number; use: number };
const tupleValue = struct<TupleValue>(16, {
  srcMask: { offset: 0, codec: be32 },
  dstMask: { offset: 4, codec: be32 },
  best: { offset: 8, codec: u32 },
  id: { offset: 12, codec: u16 },
  flagsMask: { offset: 14, codec: u8 },
  use: { offset: 15, codec: u8 },
});

/** struct fw_tupleset: the tuples in use, the rest zero. */
export const tupleSet = struct<{ n: number; pad: number; t: TupleValue[] }>(8 + 16 * TUPLES_MAX, {
  n: { offset: 0, codec: u32 },
  pad: { offset: 4, codec: u32 },
  t: { offset: 8, codec: array(tupleValue, TUPLES_MAX) },
});

const NO_TUPLE: TupleValue = { srcMask: 0, dstMask: 0, best: 0, id: 0, flagsMask: 0, use: 0 };

export function encodeTupleSet(tuples: TupleValue[]): Uint8Array {
  const t = [...tuples, ...Array.from({ length: TUPLES_MAX - tuples.length }, () => NO_TUPLE)];
  return tupleSet.encode({ n: tuples.length, pad: 0, t });
}

/** struct fw_counter (per CPU) */
export const counterValue = struct<{ pkts: bigint; bytes: bigint }>(16, { pkts: { offset: 0, codec: u64 }, bytes: { offset: 8, codec: u64 } });

/** struct fw_config; `timeout` in ns, in the order of T_* (conntrack.ts TIMEOUTS). */
export const configValue = (timeouts: number) =>
  struct<{ mode: number; pad: number; timeout: bigint[] }>(8 + 8 * timeouts, {
    mode: { offset: 0, codec: u32 },
    pad: { offset: 4, codec: u32 },
    timeout: { offset: 8, codec: array(u64, timeouts) },
  });

/** struct ct_key: a session as its first packet went. */
export type CtKey = { src: number; dst: number; sport: number; dport: number; proto: number; pad: Uint8Array };
export const ctKey = struct<CtKey>(16, {
  src: { offset: 0, codec: be32 },
  dst: { offset: 4, codec: be32 },
  sport: { offset: 8, codec: be16 },
  dport: { offset: 10, codec: be16 },
  proto: { offset: 12, codec: u8 },
  pad: { offset: 13, codec: bytes(3) },
});

/** struct ct_value */
export type CtValue = { expires: bigint; seq: number; state: number; closer: number; pad: Uint8Array };
export const ctValue = struct<CtValue>(16, {
  expires: { offset: 0, codec: u64 },
  seq: { offset: 8, codec: u32 },
  state: { offset: 12, codec: u8 },
  closer: { offset: 13, codec: u8 },
  pad: { offset: 14, codec: bytes(2) },
});
