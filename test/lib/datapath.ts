// Helpers for datapath tests through the real daemon: which interfaces carry programs, REST
// calls that must succeed, and the daemon log written since a mark.
import { afterAll, beforeAll } from "bun:test";
import type { Daemon } from "./daemon.ts";
import { hooks } from "./bpftool.ts";

/** Interfaces among `devs` that carry a TC or XDP program, once per program. */
export function hooksOn(devs: string[]): string[] {
  return hooks(devs).map((h) => h.devname);
}

/** A request that must succeed (status < 300); returns the parsed body, if any. */
export function okRequester(daemon: Daemon) {
  return async (method: string, path: string, body?: unknown): Promise<any> => {
    const r = await daemon.request(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.text ? r.json() : undefined;
  };
}

/** The daemon log after `mark` (a length of it taken earlier), once the datapath's lines have come up. */
export async function logSince(daemon: Daemon, mark: number, settleMs = 300): Promise<string> {
  await Bun.sleep(settleMs);
  return daemon.log().slice(mark);
}

/** The usual life of a datapath test file: `setup` (hosts...) and the daemon before all, everything removed after. */
export function daemonAround(daemon: Daemon, topo: { cleanup(): void }, setup: () => void): void {
  beforeAll(async () => {
    setup();
    await daemon.start();
  });
  afterAll(async () => {
    try {
      await daemon.stop();
    } finally {
      topo.cleanup();
      daemon.cleanup();
    }
  });
}
