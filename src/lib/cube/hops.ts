// Hops: where a packet goes when it leaves a port or a transparent cube (bpf/polycube.h,
// struct pcn_hop). The control plane computes them; the datapath only follows them.
import type { CubeType } from "../sdk/types.ts";

export const HopKind = { DROP: 0, CUBE: 1, NETDEV: 2, PASS: 3 } as const;

export type Hop =
  | { kind: typeof HopKind.DROP }
  | { kind: typeof HopKind.PASS }
  | { kind: typeof HopKind.NETDEV; ifindex: number }
  /** A tail call to program slot `index`, seen there as arriving on `port`. */
  | { kind: typeof HopKind.CUBE; index: number; port: number };

export const DROP: Hop = { kind: HopKind.DROP };
export const PASS: Hop = { kind: HopKind.PASS };

export const HOP_SIZE = 16;

export function encodeHop(h: Hop): Uint8Array {
  const b = new Uint8Array(HOP_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, h.kind, true);
  if (h.kind === HopKind.CUBE) {
    v.setUint32(4, h.index, true);
    v.setUint32(8, h.port, true);
  } else if (h.kind === HopKind.NETDEV) v.setUint32(12, h.ifindex, true);
  return b;
}

export function sameHop(a: Hop, b: Hop): boolean {
  const x = encodeHop(a);
  const y = encodeHop(b);
  return x.every((v, i) => v === y[i]);
}

export function describeHop(h: Hop): string {
  switch (h.kind) {
    case HopKind.CUBE: return `slot ${h.index} port ${h.port}`;
    case HopKind.NETDEV: return `ifindex ${h.ifindex}`;
    case HopKind.PASS: return "stack";
    default: return "drop";
  }
}

/** The two builds of every datapath object. */
export type Flavour = "tc" | "xdp";

export function flavourOf(type: CubeType): Flavour {
  return type === "TC" ? "tc" : "xdp";
}
