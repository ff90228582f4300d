// lbdsr tables: the datapath's configuration and pool (lbdsr.bpf.c) computed from the model and
// the cube's port ids, with the codecs of their C structs.
import { be16, ipv4, mac, struct, u16, u32, u8 } from "../../lib/bpf/codec.ts";
import type { PortInfo } from "../../lib/sdk/types.ts";
import type { DsrModel } from "./model.ts";

export const NO_PORT = 0xffffffff;
/**
 * Source MAC of the requests sent to the backends, as the original's LB_MAC: not the frontend's,
 * so that a switch joining both ports learns each MAC on one port only.
 */
export const LB_MAC = "02:02:02:ff:ee:dd";
const NONE = "00:00:00:00:00:00";

export type DsrConf = {
  frontend: number;
  backend: number;
  /** "0.0.0.0": not set. */
  vip: string;
  /** Backends in the pool. */
  backends: number;
  /** The frontend MAC; all zero: not set. */
  mac: string;
  lbMac: string;
};

/** struct dsr_conf */
export const dsrConf = struct<DsrConf>(28, {
  frontend: { offset: 0, codec: u32 }, backend: { offset: 4, codec: u32 }, vip: { offset: 8, codec: ipv4 },
  backends: { offset: 12, codec: u32 }, mac: { offset: 16, codec: mac }, lbMac: { offset: 22, codec: mac },
});
/** struct dsr_backend (and struct session: the same layout) */
export const backendMac = struct<{ mac: string; pad: number }>(8, { mac: { offset: 0, codec: mac }, pad: { offset: 6, codec: u16 } });
/** struct session_key: addresses and ports in wire order. */
export const sessionKey = struct<{ saddr: string; daddr: string; sport: number; dport: number; proto: number }>(16, {
  saddr: { offset: 0, codec: ipv4 }, daddr: { offset: 4, codec: ipv4 }, sport: { offset: 8, codec: be16 }, dport: { offset: 10, codec: be16 }, proto: { offset: 12, codec: u8 },
});
/** An unused place of the pool array. */
export const NO_BACKEND = backendMac.encode({ mac: NONE, pad: 0 });

export interface Tables {
  config: DsrConf;
  /** Place in the pool -> the backend's MAC. */
  pool: Array<[number, { mac: string; pad: number }]>;
}

export function tables(m: DsrModel, ports: Pick<PortInfo, "id" | "name">[]): Tables {
  const id = (name?: string) => (name === undefined ? NO_PORT : ports.find((p) => p.name === name)?.id ?? NO_PORT);
  return {
    config: {
      frontend: id(m.frontend),
      backend: id(m.backend),
      vip: m.vip ?? "0.0.0.0",
      backends: m.pool.length,
      mac: m.mac ?? NONE,
      lbMac: LB_MAC,
    },
    pool: m.pool.map((b, i) => [i, { mac: b.mac, pad: 0 }]),
  };
}
