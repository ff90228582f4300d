// Values that cross the remote-service boundary as JSON.
import type { CubeContext, CubeType, PortInfo } from "../sdk/types.ts";

/** What a remote CubeContext knows synchronously about its cube; refreshed with every call. */
export interface CubeSnapshot {
  name: string;
  uuid: string;
  service: string;
  type: CubeType;
  ports: PortInfo[];
}

export function snapshotOf(ctx: CubeContext): CubeSnapshot {
  return { name: ctx.name, uuid: ctx.uuid, service: ctx.service, type: ctx.type, ports: ctx.ports() };
}

type Global = number | bigint | boolean;

/** JSON has no bigint: 64-bit globals travel as {"u64": "<decimal>"}. */
export function encodeGlobals(globals: Record<string, Global>): Record<string, number | boolean | { u64: string }> {
  const out: Record<string, number | boolean | { u64: string }> = {};
  for (const [k, v] of Object.entries(globals)) out[k] = typeof v === "bigint" ? { u64: v.toString() } : v;
  return out;
}

export function decodeGlobals(json: Record<string, number | boolean | { u64: string }>): Record<string, Global> {
  const out: Record<string, Global> = {};
  for (const [k, v] of Object.entries(json)) out[k] = typeof v === "object" && v !== null ? BigInt(v.u64) : v;
  return out;
}
