// A CubeContext in memory, for unit tests of a service's control plane: maps are JS maps, and
// every packet-out is recorded. The kernel datapath is tested through the real daemon instead.
import { BpfObject, embeddedObject } from "../../src/lib/bpf/index.ts";
import type { CubeContext, CubeType, MapAccess, MapDescription, PortInfo } from "../../src/lib/sdk/types.ts";

export type MemoryMap = MapAccess & { data: Map<string, Uint8Array> };

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** A map in memory; with a capacity, writes of new keys past it fail as the kernel's E2BIG. */
export function memoryMap(opts: { capacity?: number; keySize?: number; valueSize?: number } = {}): MemoryMap {
  const data = new Map<string, Uint8Array>();
  return {
    data, keySize: opts.keySize ?? 0, valueSize: opts.valueSize ?? 0,
    async get(k) { return data.get(hex(k)); },
    async getPerCpu() { return undefined; },
    async set(k, v) {
      if (opts.capacity !== undefined && !data.has(hex(k)) && data.size >= opts.capacity) throw Object.assign(new Error("Argument list too long"), { errno: 7 });
      data.set(hex(k), v.slice());
    },
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

/** The maps of an embedded datapath object as a daemon describes them (sizes and BTF types); no root needed. */
export async function objectMaps(object: string): Promise<Record<string, MapDescription>> {
  const obj = BpfObject.open(await embeddedObject(`${object}.tc`), object);
  try {
    return obj.describeMaps();
  } finally {
    obj.close();
  }
}

/**
 * A standard cube's context with the given ports. With `describe` (e.g. objectMaps("router")),
 * it describes its maps as the daemon does, so typed maps are checked against the real C types.
 */
export function memoryContext(opts: { name: string; service: string; ports: PortInfo[] | (() => PortInfo[]); type?: CubeType; describe?: Record<string, MapDescription> }) {
  const maps = new Map<string, MemoryMap>();
  const sent: SentPacket[] = [];
  const quiet = () => {};
  const ports = typeof opts.ports === "function" ? opts.ports : () => opts.ports as PortInfo[];
  const ctx: CubeContext = {
    name: opts.name, uuid: "u", service: opts.service, type: opts.type ?? "TC",
    log: { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet, critical: quiet },
    async loadDatapath() {},
    map(name) {
      if (!maps.has(name)) maps.set(name, memoryMap(opts.describe?.[name]));
      return maps.get(name)!;
    },
    ...(opts.describe ? { describeMaps: () => opts.describe! } : {}),
    ports,
    async packetOut(port, frame, o) { sent.push({ port, frame, recirculate: !!o?.recirculate }); },
    async packetOutDirection() { throw new Error("not a transparent cube"); },
  };
  return { ctx, sent, maps };
}
