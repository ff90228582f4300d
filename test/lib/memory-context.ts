// A CubeContext in memory, for unit tests of a service's control plane: maps are JS maps, and
// every packet-out is recorded. The kernel datapath is tested through the real daemon instead.
import type { CubeContext, CubeType, MapAccess, PortInfo } from "../../src/lib/sdk/types.ts";

export type MemoryMap = MapAccess & { data: Map<string, Uint8Array> };

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

export function memoryMap(): MemoryMap {
  const data = new Map<string, Uint8Array>();
  return {
    data, keySize: 0, valueSize: 0,
    async get(k) { return data.get(hex(k)); },
    async getPerCpu() { return undefined; },
    async set(k, v) { data.set(hex(k), v.slice()); },
    async delete(k) { return data.delete(hex(k)); },
    async entries() { return [...data].map(([k, v]) => [Uint8Array.from(Buffer.from(k, "hex")), v] as [Uint8Array, Uint8Array]); },
    async clear() { data.clear(); },
  };
}

export interface SentPacket {
  port: number | string;
  frame: Uint8Array;
  recirculate: boolean;
}

/** A standard cube's context with the given ports. */
export function memoryContext(opts: { name: string; service: string; ports: PortInfo[] | (() => PortInfo[]); type?: CubeType }) {
  const maps = new Map<string, MemoryMap>();
  const sent: SentPacket[] = [];
  const quiet = () => {};
  const ports = typeof opts.ports === "function" ? opts.ports : () => opts.ports as PortInfo[];
  const ctx: CubeContext = {
    name: opts.name, uuid: "u", service: opts.service, type: opts.type ?? "TC",
    log: { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet, critical: quiet },
    async loadDatapath() {},
    map(name) {
      if (!maps.has(name)) maps.set(name, memoryMap());
      return maps.get(name)!;
    },
    ports,
    async packetOut(port, frame, o) { sent.push({ port, frame, recirculate: !!o?.recirculate }); },
    async packetOutDirection() { throw new Error("not a transparent cube"); },
  };
  return { ctx, sent, maps };
}
