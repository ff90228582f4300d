// SIGHUP (`systemctl reload`): the daemon reads its configuration file again and applies it
// without touching the datapath: pings across a simplebridge go on while it reloads, the log
// level and the REST address change, a broken file changes nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort, polycube } from "../lib/daemon.ts";
import { Topology, type Host } from "../lib/netns.ts";

const dir = mkdtempSync(join(tmpdir(), "tpcr-"));
const conf = join(dir, "polycubed.conf");
const logfile = join(dir, "polycubed.log");
const port = freePort();
const topo = new Topology("trl");
let proc: Subprocess;
let h1: Host;
let h2: Host;

const url = (addr: string) => `http://${addr}:${port}/polycube/v1`;
const log = () => readFileSync(logfile, "utf8");

async function answers(addr: string): Promise<boolean> {
  try {
    return (await fetch(`${url(addr)}/version`, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 10000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(50)) if (await pred()) return;
  throw new Error(`timed out waiting for ${what}\n${log()}`);
}

async function reloadWith(text: string): Promise<void> {
  const before = (log().match(/configuration reloaded|the running configuration stays/g) ?? []).length;
  writeFileSync(conf, text);
  proc.kill("SIGHUP");
  await until("the reload", () => (log().match(/configuration reloaded|the running configuration stays/g) ?? []).length > before);
}

beforeAll(async () => {
  h1 = topo.host(1, "10.186.0.1/24");
  h2 = topo.host(2, "10.186.0.2/24");
  // Options only in the file (the command line would win over it at every reload).
  writeFileSync(conf, "loglevel: info\naddr: 127.0.0.1\n");
  proc = Bun.spawn([...polycube(), "--daemon", "--port", String(port), "--configfile", conf, "--pidfile", join(dir, "pid"), "--logfile", logfile], {
    stdout: "ignore", stderr: "ignore", stdin: "ignore", env: { ...process.env, POLYCUBED_DETACHED: "1" },
  });
  await until("the daemon", () => answers("127.0.0.1"), 20000);
  const r = await fetch(`${url("127.0.0.1")}/simplebridge/br/`, { method: "POST", body: JSON.stringify({ ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }] }) });
  expect(r.status).toBe(201);
  expect(topo.ping(h1, h2.ip, 3)).toBe(true);
});

afterAll(async () => {
  proc?.kill("SIGTERM");
  await Promise.race([proc?.exited, Bun.sleep(10000)]);
  topo.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test("a reload applies the log level and moves the REST address while pings go on", async () => {
  const uuid = (await (await fetch(`${url("127.0.0.1")}/simplebridge/br/uuid/`)).json()) as string;
  // 1,500 pings 2 ms apart across the bridge while the daemon reloads twice.
  const pinger = Bun.spawn(["ip", "netns", "exec", h1.ns, "ping", "-c", "1500", "-i", "0.002", "-W", "1", "-q", h2.ip], { stdout: "pipe", stderr: "pipe" });
  await Bun.sleep(300);
  await reloadWith("loglevel: debug\naddr: 127.0.0.2\n");
  expect(log()).toContain("configuration reloaded");
  expect(log()).toContain("REST server now on http://127.0.0.2");
  await until("the new address", () => answers("127.0.0.2"));
  expect(await answers("127.0.0.1")).toBe(false);
  await reloadWith("loglevel: debug\naddr: 127.0.0.2\n"); // nothing changed: nothing moves
  const out = await new Response(pinger.stdout).text();
  expect(await pinger.exited).toBe(0);
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out)!;
  expect(Number(m[2])).toBe(Number(m[1]));
  // The cube is the same one, its datapath untouched.
  expect(await (await fetch(`${url("127.0.0.2")}/simplebridge/br/uuid/`)).json()).toBe(uuid);
  // Debug lines (libbpf's, loading a cube's programs) appear now that the level is debug.
  expect(log()).not.toContain("] [debug] ");
  expect((await fetch(`${url("127.0.0.2")}/helloworld/hw/`, { method: "POST", body: "{}" })).status).toBe(201);
  await until("a debug line", () => log().includes("] [debug] "));
});

test("a broken configuration file is refused and the running configuration stays", async () => {
  await reloadWith("loglevel: loud\naddr: 127.0.0.3\n");
  expect(log()).toMatch(/reload: .*loud.*the running configuration stays/);
  expect(await answers("127.0.0.2")).toBe(true);
  expect(topo.ping(h1, h2.ip, 2)).toBe(true);
  // Options that name what the daemon holds wait for a restart.
  await reloadWith("loglevel: info\naddr: 127.0.0.2\ncubes-dump-enable: true\n");
  expect(log()).toContain("cubes-dump-enable changed: applied at the next restart");
  expect(await answers("127.0.0.2")).toBe(true);
});
