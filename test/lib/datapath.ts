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

/**
 * The usual life of a datapath test file: `setup` (hosts...) and the daemon (started with
 * `opts.args`) before all, everything removed after (and `opts.cleanup`, for what the file made).
 */
export function daemonAround(daemon: Daemon, topo: { cleanup(): void }, setup: () => void | Promise<void>, opts: { args?: string[]; cleanup?: () => void } = {}): void {
  beforeAll(async () => {
    await setup();
    await daemon.start(opts.args);
  }, 60000);
  afterAll(async () => {
    try {
      await daemon.stop();
    } finally {
      topo.cleanup();
      daemon.cleanup();
      opts.cleanup?.();
    }
  });
}

/** Pings every 2 ms from a namespace while `during` runs (for up to 30 s); returns transmitted and received. */
export async function pingThrough(ns: string, to: string, during: () => Promise<void>): Promise<{ sent: number; received: number }> {
  const p = Bun.spawn(["ip", "netns", "exec", ns, "ping", "-q", "-i", "0.002", "-W", "1", "-w", "30", to], { stdout: "pipe", stderr: "pipe" });
  try {
    await Bun.sleep(300);
    await during();
    await Bun.sleep(500);
  } finally {
    p.kill("SIGINT");
  }
  const out = await new Response(p.stdout).text();
  await p.exited;
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  if (!m) throw new Error(`ping: ${out}`);
  return { sent: Number(m[1]), received: Number(m[2]) };
}

/** The rows of a list reply (its last element, the links, left out), with a requester from okRequester(). */
export async function listRows<T>(ok: ReturnType<typeof okRequester>, path: string): Promise<T[]> {
  return (((await ok("GET", path)) ?? []) as unknown[]).filter((e): e is T => !Array.isArray(e));
}
