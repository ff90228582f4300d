// Frames as the bridge's slow path handles them: 802.1Q tags in the frame (the runtime puts a
// tag the kernel kept aside back in place), BPDU frames, and the filtering database's layout.
import { readFileSync } from "node:fs";
import { bytes, mac, struct, u16, u32 } from "../../lib/bpf/codec.ts";
import { insertVlanTag } from "../../lib/slowpath/events.ts";
import { BPDU_MAC, decodeBpdu, encodeBpdu, type Bpdu } from "./stp.ts";

export const ETH_P_8021Q = 0x8100;
const ETH_P_8021AD = 0x88a8;
const MIN_FRAME = 60;

function ethertype(frame: Uint8Array): number {
  return frame.length >= 14 ? (frame[12]! << 8) | frame[13]! : 0;
}

export function isTagged(frame: Uint8Array): boolean {
  const t = ethertype(frame);
  return (t === ETH_P_8021Q || t === ETH_P_8021AD) && frame.length >= 18;
}

/** The frame as it leaves a port: tagged with the VLAN, or without a tag. */
export function withTag(frame: Uint8Array, vlan: number, tagged: boolean): Uint8Array {
  const has = isTagged(frame);
  if (tagged) {
    if (has) return frame;
    return insertVlanTag(frame, ETH_P_8021Q, vlan & 0x0fff);
  }
  if (!has) return frame;
  const out = new Uint8Array(frame.length - 4);
  out.set(frame.subarray(0, 12), 0);
  out.set(frame.subarray(16), 12);
  return out;
}

function macBytes(s: string): number[] {
  return s.split(":").map((x) => Number.parseInt(x, 16));
}

/** An 802.3/LLC frame carrying a BPDU, from a port's MAC, tagged when the VLAN leaves tagged. */
export function bpduFrame(srcMac: string, bpdu: Bpdu, vlan: number, tagged: boolean): Uint8Array {
  const payload = encodeBpdu(bpdu);
  const frame = new Uint8Array(Math.max(MIN_FRAME, 14 + payload.length));
  frame.set(macBytes(BPDU_MAC), 0);
  frame.set(macBytes(srcMac), 6);
  frame[12] = payload.length >> 8;
  frame[13] = payload.length & 0xff;
  frame.set(payload, 14);
  return withTag(frame, vlan, tagged);
}

/** The BPDU a frame carries (tagged or not). */
export function parseBpduFrame(frame: Uint8Array): Bpdu | undefined {
  const at = isTagged(frame) ? 16 : 12;
  if (frame.length < at + 2) return undefined;
  const len = (frame[at]! << 8) | frame[at + 1]!;
  if (len >= 0x600) return undefined;
  return decodeBpdu(frame.subarray(at + 2, at + 2 + len));
}

let machineId: string | undefined;

/**
 * A locally administered unicast MAC derived from names (the cube's, a port's) and this
 * machine's id: the same after a daemon restart, different on another machine.
 */
export function derivedMac(...names: string[]): string {
  if (machineId === undefined) {
    try {
      machineId = readFileSync("/etc/machine-id", "utf8").trim();
    } catch {
      machineId = crypto.randomUUID();
    }
  }
  const h = new Bun.CryptoHasher("sha256").update([machineId, ...names].join("/")).digest();
  const b = [...h.subarray(0, 6)];
  b[0] = (b[0]! & 0xfc) | 0x02;
  return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
}

// ---- datapath maps (bridge.bpf.c) -------------------------------------------------------------

/** struct fdb_key { u32 vlan; u8 mac[6]; u16 pad; } */
export const fdbKey = struct<{ vlan: number; mac: string; pad: Uint8Array }>(12, {
  vlan: { offset: 0, codec: u32 },
  mac: { offset: 4, codec: mac },
  pad: { offset: 10, codec: bytes(2) },
});

export function encodeFdbKey(vlan: number, address: string): Uint8Array {
  return fdbKey.encode({ vlan, mac: address.toLowerCase(), pad: new Uint8Array(2) });
}

/** struct port_cfg { u16 untagged_vlan; u16 valid; } */
export const portCfg = struct<{ untaggedVlan: number; valid: number }>(4, { untaggedVlan: { offset: 0, codec: u16 }, valid: { offset: 2, codec: u16 } });

export function encodePortCfg(untaggedVlan: number, valid: boolean): Uint8Array {
  return portCfg.encode({ untaggedVlan, valid: valid ? 1 : 0 });
}

/** struct pv_key { u32 port; u32 vlan; } */
export const pvKey = struct<{ port: number; vlan: number }>(8, { port: { offset: 0, codec: u32 }, vlan: { offset: 4, codec: u32 } });
/** struct pv_val { u32 state; u32 tagged; } */
export const pvVal = struct<{ state: number; tagged: number }>(8, { state: { offset: 0, codec: u32 }, tagged: { offset: 4, codec: u32 } });
/** struct bridge_cfg { u32 aging_time; u32 stp_enabled; } */
export const bridgeCfg = struct<{ agingTime: number; stpEnabled: number }>(8, { agingTime: { offset: 0, codec: u32 }, stpEnabled: { offset: 4, codec: u32 } });
