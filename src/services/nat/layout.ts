// nat's maps as the control plane reads and writes them: one codec per C struct of nat.bpf.c,
// checked against the object's BTF when the cube's typed maps are made. Pure, for tests.
import { array, be16, be32, bytes, ipv4, struct, u32, u64, u8 } from "../../lib/bpf/codec.ts";

/** struct nat_cfg; `timeout` in ns, in the order of T_* (sessions.ts TIMEOUTS). */
export const configValue = (timeouts: number) =>
  struct<{ masqIp: number; masqOn: number; snatRules: number; dnatRules: number; timeout: bigint[] }>(16 + 8 * timeouts, {
    masqIp: { offset: 0, codec: be32 },
    masqOn: { offset: 4, codec: u32 },
    snatRules: { offset: 8, codec: u32 },
    dnatRules: { offset: 12, codec: u32 },
    timeout: { offset: 16, codec: array(u64, timeouts) },
  });

/** struct nat_key: a packet's tuple as it arrives at the cube, and its direction. */
export type SessionKey = { src: number; dst: number; sport: number; dport: number; proto: number; dir: number; pad: number };
export const sessionKey = struct<SessionKey>(16, {
  src: { offset: 0, codec: be32 },
  dst: { offset: 4, codec: be32 },
  sport: { offset: 8, codec: be16 },
  dport: { offset: 10, codec: be16 },
  proto: { offset: 12, codec: u8 },
  dir: { offset: 13, codec: u8 },
  pad: { offset: 14, codec: be16 },
});

/** struct nat_val: what the packet gets, the rule kind that made the session, its deadline. */
export type SessionValue = { ip: number; port: number; rewriteSrc: number; kind: number; expires: bigint; state: number; orig: number; pad: Uint8Array };
export const sessionValue = struct<SessionValue>(24, {
  ip: { offset: 0, codec: be32 },
  port: { offset: 4, codec: be16 },
  rewriteSrc: { offset: 6, codec: u8 },
  kind: { offset: 7, codec: u8 },
  expires: { offset: 8, codec: u64 },
  state: { offset: 16, codec: u8 },
  orig: { offset: 17, codec: u8 },
  pad: { offset: 18, codec: bytes(6) },
});

/** struct snat_key: an LPM key (prefix length, then the network in wire order). */
export const snatKey = struct<{ prefixlen: number; addr: number }>(8, { prefixlen: { offset: 0, codec: u32 }, addr: { offset: 4, codec: be32 } });
export const snatValue = struct<{ externalIp: string; id: number }>(8, { externalIp: { offset: 0, codec: ipv4 }, id: { offset: 4, codec: u32 } });

/** nat_dnat: external address -> internal address, both __u32 in wire order. */
export const dnatKey = ipv4;
export const dnatValue = ipv4;

export const pfKey = struct<{ ip: string; port: number; proto: number; pad: number }>(8, {
  ip: { offset: 0, codec: ipv4 },
  port: { offset: 4, codec: be16 },
  proto: { offset: 6, codec: u8 },
  pad: { offset: 7, codec: u8 },
});
export const pfValue = struct<{ ip: string; port: number; pad: number }>(8, { ip: { offset: 0, codec: ipv4 }, port: { offset: 4, codec: be16 }, pad: { offset: 6, codec: be16 } });
