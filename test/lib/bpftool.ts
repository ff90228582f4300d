// What the kernel holds, read with bpftool: programs attached to interfaces, and whether
// programs still exist. Tests use it to check that nothing of the daemon's is left behind.
import { sh } from "./netns.ts";

export interface Hook {
  devname: string;
  id: number;
}

/** TC and XDP programs attached to any of the given interfaces. */
export function hooks(devs: string[]): Hook[] {
  const net = JSON.parse(sh("bpftool -j net show"))[0] as { xdp: Hook[]; tc: Hook[] };
  return [...net.xdp, ...net.tc].filter((h) => devs.includes(h.devname));
}

export function programIds(): number[] {
  return (JSON.parse(sh("bpftool -j prog show")) as Array<{ id: number }>).map((p) => p.id);
}

/** The ids among `ids` still loaded after up to `ms` (the kernel frees programs asynchronously). */
export async function stillLoaded(ids: number[], ms = 2000): Promise<number[]> {
  let left = ids;
  for (let waited = 0; left.length && waited < ms; waited += 50) {
    await Bun.sleep(50);
    const now = new Set(programIds());
    left = ids.filter((id) => now.has(id));
  }
  return left;
}

/** The daemon's own packet-injection device (src/lib/cube/injector.ts). */
export function injectorDevice(daemonPid: string | number): string {
  return `pcn_cp_${String(daemonPid).trim()}`;
}
