// lbrp ports: the port_mode rules, as the original has them.
//
// SINGLE: one FRONTEND and one BACKEND port (two ports at most), neither with an `ip`.
// MULTI: any number of FRONTEND ports, each with its own `ip` (the address of the client behind
// it: the backends' answers to that address leave through that port), and one BACKEND port,
// without `ip`. The port_mode of a cube and the type of a port are fixed once created.
//
// Everything here is pure: the rules are checked on a whole configuration, before anything is
// written, so a refused request leaves no port and no map entry behind.
import { ServiceError, type JsonObject } from "../../lib/sdk/types.ts";

export type PortMode = "SINGLE" | "MULTI";

/** Entries of the datapath's ip -> FRONTEND port map (lbrp.bpf.c). */
export const MAX_FRONTENDS = 1024;

export interface LbrpPort {
  name: string;
  type: "FRONTEND" | "BACKEND";
  ip?: string;
}

export function portMode(config: JsonObject): PortMode {
  return String(config.port_mode ?? "SINGLE").toUpperCase() === "MULTI" ? "MULTI" : "SINGLE";
}

function refuse(message: string, field: string): never {
  throw new ServiceError(message, 400, "invalid-value", field);
}

/**
 * The ports of a configuration, checked against its port_mode as the original checks them when
 * they are added one by one (same order, same messages). Throws a ServiceError (400) naming the
 * field at fault.
 */
export function checkPorts(config: JsonObject): LbrpPort[] {
  const mode = portMode(config);
  const out: LbrpPort[] = [];
  const ips = new Set<string>();
  for (const p of (config.ports ?? []) as JsonObject[]) {
    const port: LbrpPort = { name: String(p.name), type: String(p.type ?? "").toUpperCase() === "BACKEND" ? "BACKEND" : "FRONTEND" };
    const ip = p.ip === undefined || p.ip === null || p.ip === "" ? undefined : String(p.ip);
    const frontends = out.filter((q) => q.type === "FRONTEND").length;
    const backend = out.some((q) => q.type === "BACKEND");
    if (mode === "SINGLE" && out.length === 2) refuse("Reached maximum number of ports", "ports");
    if (port.type === "FRONTEND") {
      if (mode === "SINGLE") {
        if (frontends === 1) refuse("There is already a FRONTEND port. Only a FRONTEND port is allowed in SINGLE port mode", "type");
        if (ip !== undefined) refuse("The ip address in not allow in SINGLE port mode for a FRONTEND port", "ip");
      } else {
        if (ip === undefined) refuse("The IP address is mandatory in MULTI port mode for a FRONTEND port", "ip");
        if (ips.has(ip)) refuse(`A FRONTEND port with the provided IP address (${ip}) already exist`, "ip");
        if (frontends === MAX_FRONTENDS) refuse(`Reached maximum number of FRONTEND ports (${MAX_FRONTENDS})`, "ports");
        ips.add(ip);
        port.ip = ip;
      }
    } else {
      if (backend) refuse("There is already a BACKEND port", "type");
      if (ip !== undefined) refuse("The ip address in not allowed in BACKEND port", "ip");
    }
    out.push(port);
  }
  return out;
}

/**
 * What may not change on a running cube, as in the original: its port_mode, and the type of a
 * port. Throws a ServiceError (400) naming the field.
 */
export function checkUpdate(before: JsonObject, after: JsonObject): void {
  if (portMode(before) !== portMode(after)) refuse("Port mode cannot be changed at runtime", "port_mode");
  const typeOf = (p: JsonObject) => String(p.type ?? "").toUpperCase();
  const was = new Map(((before.ports ?? []) as JsonObject[]).map((p) => [String(p.name), typeOf(p)]));
  for (const p of (after.ports ?? []) as JsonObject[]) {
    const t = was.get(String(p.name));
    if (t !== undefined && t !== typeOf(p)) refuse("Error: Port type cannot be changed at runtime.", "type");
  }
}
