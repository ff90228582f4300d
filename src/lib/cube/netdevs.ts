// The host's network devices, as ports and transparent cubes see them.
import { readdirSync, readFileSync } from "node:fs";

const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;

function sysfs(name: string, attr: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${name}/${attr}`, "utf8").trim();
  } catch {
    return undefined;
  }
}

export function netdevNames(): string[] {
  try {
    return readdirSync("/sys/class/net");
  } catch {
    return [];
  }
}

/** A netdev's ifindex, or undefined when there is no such device. */
export function netdevIndex(name: string): number | undefined {
  if (!name || name.includes("/") || name.startsWith(".")) return undefined;
  const v = sysfs(name, "ifindex");
  return v === undefined ? undefined : Number(v);
}

/** Up and not loopback: what a port may be connected to. */
export function netdevUsable(name: string): boolean {
  const flags = sysfs(name, "flags");
  if (flags === undefined) return false;
  const f = Number.parseInt(flags, 16);
  return (f & IFF_UP) !== 0 && (f & IFF_LOOPBACK) === 0;
}

export function netdevMac(name: string): string | undefined {
  return sysfs(name, "address");
}
