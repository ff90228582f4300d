// The real daemon, driven over HTTP and through the CLI, forwarding real packets between
// namespaces; then stopped with SIGTERM, leaving nothing in the kernel.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { hooks, injectorDevice, stillLoaded } from "../lib/bpftool.ts";
import { Daemon } from "../lib/daemon.ts";
import { Topology, sh } from "../lib/netns.ts";

const topo = new Topology("te2e");
const daemon = new Daemon();
let h1: ReturnType<Topology["host"]>;
let h2: ReturnType<Topology["host"]>;


beforeAll(async () => {
  h1 = topo.host(1, "10.202.0.1/24");
  h2 = topo.host(2, "10.202.0.2/24");
  await daemon.start();
});

afterAll(async () => {
  await daemon.stop();
  topo.cleanup();
  daemon.cleanup();
});

describe("polycubed end to end", () => {
  test("a second daemon on the same pid file refuses to start", async () => {
    const p = Bun.spawn(daemon.args(), { stdout: "pipe", stderr: "pipe" });
    const code = await p.exited;
    expect(code).not.toBe(0);
    expect(daemon.log()).toContain("There is another polycube instance running with pid");
  });

  test("create a helloworld cube over REST, add ports with the CLI, ping through it", async () => {
    const created = await daemon.request("POST", "/helloworld/hw1/", { action: "forward" });
    expect(created.status).toBe(201);
    for (const [port, host] of [["p1", h1], ["p2", h2]] as const) {
      const r = await daemon.cli(["hw1", "ports", "add", port, `peer=${host.outer}`]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
    }
    expect((await daemon.cli(["hw1", "ports", "p1", "show", "status"])).out.trim()).toBe("UP");
    expect(topo.ping(h1, h2.ip, 2)).toBe(true);
  });

  test("GET shows _links in the original's order", async () => {
    const r = await daemon.request("GET", "/helloworld/hw1/");
    expect(r.status).toBe(200);
    const rels = r.json()._links.map((l: { rel: string }) => l.rel);
    expect(rels).toEqual(["self", "uuid", "type", "service-name", "loglevel", "ports", "shadow", "span", "action"]);
    expect(r.json()._links[0].href).toBe(`//127.0.0.1:${daemon.port}/polycube/v1/helloworld/hw1/`);
  });

  test("set action=drop through the CLI stops the pings; show prints the bare value", async () => {
    expect((await daemon.cli(["hw1", "set", "action=drop"])).code).toBe(0);
    expect((await daemon.cli(["hw1", "show", "action"])).out.trim()).toBe("DROP");
    expect(topo.ping(h1, h2.ip, 1)).toBe(false);
  });

  test("bad input is refused with a message naming the field, and changes nothing", async () => {
    const r = await daemon.request("PATCH", "/helloworld/hw1/", { action: "explode" });
    expect(r.status).toBe(400);
    expect(r.text).toContain("action");
    const cli = await daemon.cli(["hw1", "ports", "add", "p3", "peer=te2enosuch0"]);
    expect(cli.code).not.toBe(0);
    expect(cli.err).toContain("te2enosuch0");
    expect((await daemon.request("GET", "/helloworld/hw1/ports/p3/")).status).not.toBe(200);
    expect((await daemon.cli(["hw1", "show", "action"])).out.trim()).toBe("DROP");
  });

  test("deleting the cube removes its programs; SIGTERM leaves nothing behind", async () => {
    expect((await daemon.cli(["del", "hw1"])).code).toBe(0);
    expect((await daemon.request("GET", "/helloworld/hw1/")).status).toBeGreaterThanOrEqual(400);
    expect(sh(`tc filter show dev ${h1.outer} ingress`)).toBe("");
    const injector = injectorDevice(readFileSync(daemon.pidfile, "utf8"));
    const attached = hooks([injector]).map((h) => h.id);
    expect(attached.length).toBe(2);
    expect(await daemon.stop()).toBe(0);
    expect(await stillLoaded(attached)).toEqual([]);
    expect(sh("ip -o link show")).not.toContain(injector);
    expect(daemon.log()).toContain("polycubed is shutting down. Bye!");
  });
});
