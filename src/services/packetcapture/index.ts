// packetcapture: a transparent cube that copies the packets crossing it, in the directions
// `capture` names, into a pcap file (`dump`), while the packets themselves go on untouched.
//
// - Datapath: per direction, a flag in `config`; when set, the packet's first 2048 bytes (the
//   most the ring buffer carries) go to this control plane with its real length in the
//   metadata, and the packet continues (RX_OK).
// - Filter: compiled by libpcap (pcap_compile, the syntax of tcpdump) into classic BPF and run
//   here on each copy by libpcap's own interpreter (pcap_offline_filter). The datapath sends up
//   every packet of the captured directions; the filter decides what is written.
// - File: the pcap format (microsecond timestamps) with the values `globalheader` reports; each
//   record keeps min(snaplen, 2048, packet length) bytes. Timestamps are taken when the copy
//   reaches the control plane. The file is (re)created, with its global header, when the cube is
//   created and whenever `dump` changes; a change of snaplen rewrites the header's snaplen.
// - `anonimize` and `networkmode` are not implemented: true is refused with 400.
// - `globalheader` and `packet` are set by the capture; writing them is refused with 400.
import { closeSync, openSync, writeSync } from "node:fs";
import { compilePcapFilter, LINKTYPE_ETHERNET, type PcapFilter } from "../../lib/bpf/pcap.ts";
import { struct, u32 } from "../../lib/bpf/codec.ts";
import { ServiceError, type CubeContext, type CubeControl, type JsonObject, type PacketIn, type ServiceModule } from "../../lib/sdk/types.ts";
import yang from "./packetcapture.yang" with { type: "text" };

/** The most the datapath hands the slow path of one packet (PCN_MAX_PKT in bpf/polycube.h). */
export const DATAPATH_MAX_BYTES = 2048;
export const DEFAULT_SNAPLEN = 262144;

/** struct pc_config in packetcapture.bpf.c */
export const pcConfig = struct<{ ingress: number; egress: number }>(8, {
  ingress: { offset: 0, codec: u32 },
  egress: { offset: 4, codec: u32 },
});

const CAPTURE: Record<string, { ingress: number; egress: number }> = {
  OFF: { ingress: 0, egress: 0 },
  INGRESS: { ingress: 1, egress: 0 },
  EGRESS: { ingress: 0, egress: 1 },
  BIDIRECTIONAL: { ingress: 1, egress: 1 },
};

export interface GlobalHeader {
  magic: number;
  version_major: number;
  version_minor: number;
  thiszone: number;
  sigfigs: number;
  snaplen: number;
  linktype: number;
}

export function globalHeader(snaplen: number): GlobalHeader {
  return { magic: 0xa1b2c3d4, version_major: 2, version_minor: 4, thiszone: 0, sigfigs: 0, snaplen, linktype: LINKTYPE_ETHERNET };
}

/** The 24-byte pcap global header, little-endian as the host writes it. */
export function encodeGlobalHeader(h: GlobalHeader): Uint8Array {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setUint32(0, h.magic, true);
  v.setUint16(4, h.version_major, true);
  v.setUint16(6, h.version_minor, true);
  v.setInt32(8, h.thiszone, true);
  v.setUint32(12, h.sigfigs, true);
  v.setUint32(16, h.snaplen, true);
  v.setUint32(20, h.linktype, true);
  return b;
}

export interface CapturedPacket {
  capturelen: number;
  packetlen: number;
  "timestamp-seconds": number;
  "timestamp-microseconds": number;
  rawdata: string;
}

/** One pcap record: 16-byte header and the captured bytes. */
export function encodeRecord(p: { seconds: number; micros: number; data: Uint8Array; packetlen: number }): Uint8Array {
  const b = new Uint8Array(16 + p.data.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, p.seconds, true);
  v.setUint32(4, p.micros, true);
  v.setUint32(8, p.data.length, true);
  v.setUint32(12, p.packetlen, true);
  b.set(p.data, 16);
  return b;
}

export interface Settings {
  capture: { ingress: number; egress: number };
  snaplen: number;
  filter: string;
  dump: string;
}

/** The cube's settings from its configuration; refuses what is not supported with a 400. */
export function settings(cfg: JsonObject, cube: string): Settings {
  const text = String(cfg.capture ?? "OFF");
  const capture = CAPTURE[text.toUpperCase()];
  if (!capture) throw new ServiceError(`capture: unknown value '${text}' (INGRESS, EGRESS, BIDIRECTIONAL or OFF)`, 400, "invalid-value", "capture");
  if (cfg.anonimize === true) throw new ServiceError("anonimize: not supported by this implementation (only false)", 400, "invalid-value", "anonimize");
  if (cfg.networkmode === true) throw new ServiceError("networkmode: not supported by this implementation (only false: the capture goes to the file in 'dump')", 400, "invalid-value", "networkmode");
  const snaplen = Number(cfg.snaplen ?? DEFAULT_SNAPLEN);
  if (!(snaplen >= 1)) throw new ServiceError("snaplen: must be at least 1", 400, "invalid-value", "snaplen");
  const dump = cfg.dump === undefined || cfg.dump === null || cfg.dump === "" ? `/tmp/packetcapture_${cube}.pcap` : String(cfg.dump);
  return { capture, snaplen, filter: String(cfg.filter ?? "").trim(), dump };
}

/** The compiled filter, or undefined for every packet ("" or "all"). Bad expressions are a 400 with libpcap's message. */
export function compile(filter: string, snaplen: number): PcapFilter | undefined {
  if (filter === "" || filter.toLowerCase() === "all") return undefined;
  try {
    return compilePcapFilter(filter, snaplen);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (msg.startsWith("libpcap is not available")) throw new ServiceError(`filter: ${msg}`, 500);
    throw new ServiceError(`filter: '${filter}': ${msg}`, 400, "invalid-value", "filter");
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

async function createCube(ctx: CubeContext, config: JsonObject): Promise<CubeControl> {
  let s = settings(config, ctx.name);
  let filter = compile(s.filter, s.snaplen);
  await ctx.loadDatapath("packetcapture");
  const map = ctx.map("config");
  const zero = u32.encode(0);

  let fd: number | undefined;
  const openDump = (path: string, snaplen: number): number => {
    let f: number;
    try {
      f = openSync(path, "w", 0o644);
    } catch (e) {
      throw new ServiceError(`dump: cannot write '${path}': ${e instanceof Error ? e.message : e}`, 400, "invalid-value", "dump");
    }
    writeSync(f, encodeGlobalHeader(globalHeader(snaplen)));
    return f;
  };
  fd = openDump(s.dump, s.snaplen);
  let last: CapturedPacket | undefined;
  let writeError = "";

  await map.set(zero, pcConfig.encode(s.capture));

  return {
    async apply(changes, cfg) {
      for (const c of changes) {
        const top = c.path[0]?.node;
        if (top === "globalheader" || top === "packet") {
          throw new ServiceError(`${top}: read-only, set by the capture`, 400, "invalid-value", top);
        }
      }
      const next = settings(cfg, ctx.name);
      const nextFilter = next.filter !== s.filter || next.snaplen !== s.snaplen ? compile(next.filter, next.snaplen) : filter;
      let nextFd = fd;
      if (next.dump !== s.dump) nextFd = openDump(next.dump, next.snaplen);
      else if (next.snaplen !== s.snaplen && fd !== undefined) writeSync(fd, encodeGlobalHeader(globalHeader(next.snaplen)), 0, 24, 0);
      await map.set(zero, pcConfig.encode(next.capture));
      if (nextFd !== fd && fd !== undefined) closeSync(fd);
      if (nextFilter !== filter) filter?.free();
      fd = nextFd;
      filter = nextFilter;
      s = next;
    },
    state() {
      const out: JsonObject = { dump: s.dump, globalheader: { ...globalHeader(s.snaplen) } };
      if (last) out.packet = { ...last };
      return out;
    },
    packetIn(pkt: PacketIn) {
      const direction = pkt.direction ?? (pkt.portId === 1 ? "EGRESS" : "INGRESS");
      if (direction === "INGRESS" ? !s.capture.ingress : !s.capture.egress) return;
      const packetlen = Math.max(pkt.metadata[0] ?? 0, pkt.data.length);
      if (filter && !filter.match(pkt.data, packetlen)) return;
      const now = performance.timeOrigin + performance.now();
      const seconds = Math.floor(now / 1000);
      const micros = Math.min(999999, Math.floor((now - seconds * 1000) * 1000));
      const data = pkt.data.subarray(0, Math.min(s.snaplen, pkt.data.length));
      last = { capturelen: data.length, packetlen, "timestamp-seconds": seconds, "timestamp-microseconds": micros, rawdata: hex(data) };
      if (fd === undefined) return;
      try {
        writeSync(fd, encodeRecord({ seconds, micros, data, packetlen }));
        writeError = "";
      } catch (e) {
        const msg = `writing ${s.dump}: ${e instanceof Error ? e.message : e}`;
        if (msg !== writeError) ctx.log.error(msg);
        writeError = msg;
      }
    },
    destroy() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      filter?.free();
      filter = undefined;
    },
  };
}

export const packetcapture: ServiceModule = { name: "packetcapture", kind: "transparent", yang, createCube };
export default packetcapture;
