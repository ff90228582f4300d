// A remote service that hangs (SIGSTOP) blocks only its own cubes (issue 16): every call to it
// has a deadline (--remote-timeout); the call that meets it answers 504 naming the service, the
// following ones 503 at once, the rest of the daemon goes on, the datapath keeps forwarding, and
// when the service runs again (SIGCONT) it is registered again and its cubes work.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { Daemon, freePort } from "../lib/daemon.ts";
import { okRequester } from "../lib/datapath.ts";
import { startRemoteService } from "../lib/remote-service.ts";
import { Topology, type Host } from "../lib/netns.ts";

const topo = new Topology("oph");
const daemon = new Daemon();
const ok = okRequester(daemon);
const servicePort = freePort();
let service: Subprocess | undefined;
let h1: Host;
let h2: Host;

beforeAll(async () => {
  h1 = topo.host(1, "10.185.5.1/24");
  h2 = topo.host(2, "10.185.5.2/24");
  await daemon.start(["--remote-timeout", "1"]);
  service = await startRemoteService("simplebridge", `127.0.0.1:${servicePort}`);
  // The remote simplebridge takes the built-in one's name.
  await ok("DELETE", "/services/simplebridge/");
  await ok("POST", "/services", { name: "simplebridge", type: "grpc", uri: `127.0.0.1:${servicePort}` });
});

afterAll(async () => {
  try {
    service?.kill("SIGCONT");
    service?.kill("SIGKILL");
    await service?.exited;
    await daemon.stop();
  } finally {
    topo.cleanup();
    daemon.cleanup();
  }
});

/** A request that must answer (whatever it answers) well before it would have hung. */
async function answered(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const r = await Promise.race([daemon.request(method, path, body), Bun.sleep(15000).then(() => undefined)]);
  if (!r) throw new Error(`${method} ${path} did not answer`);
  return r;
}

test("a stopped remote service: its calls fail with 504 then 503, other cubes and the datapath go on; SIGCONT brings it back", async () => {
  await ok("POST", "/simplebridge/ophb/", { ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }] });
  expect(topo.ping(h1, h2.ip)).toBe(true);

  service!.kill("SIGSTOP");
  // The first call waits for the deadline: 504, naming the service.
  const first = await answered("GET", "/simplebridge/ophb/");
  expect(first.status).toBe(504);
  expect(first.text).toContain("remote service simplebridge");
  expect(first.text).toContain("did not answer");
  // From then on its cubes answer 503 without waiting; nothing changes.
  const write = await answered("POST", "/simplebridge/ophb/ports/p3/", {});
  expect(write.status).toBe(503);
  expect(write.text).toContain("simplebridge");
  expect((await answered("GET", "/cubes/")).text).not.toContain("p3");
  // The rest of the daemon works, and the datapath forwards what it learned.
  await ok("POST", "/helloworld/ophw/", {});
  await ok("DELETE", "/helloworld/ophw/");
  expect(topo.ping(h1, h2.ip)).toBe(true);

  service!.kill("SIGCONT");
  let back = 0;
  for (let i = 0; i < 100 && back !== 200; i++) {
    back = (await answered("GET", "/simplebridge/ophb/")).status;
    if (back !== 200) await Bun.sleep(200);
  }
  expect(back).toBe(200);
  expect(daemon.log()).toContain("remote service simplebridge is back");
  // Its cube is the daemon's configuration again, and takes writes.
  await ok("POST", "/simplebridge/ophb/ports/p3/", {});
  expect((await ok("GET", "/simplebridge/ophb/ports/p3/")).name).toBe("p3");
  expect(topo.ping(h1, h2.ip)).toBe(true);
  await ok("DELETE", "/simplebridge/ophb/");
}, 60000);
