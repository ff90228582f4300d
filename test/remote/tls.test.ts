// A remote service over gRPC with TLS both ways: the service proves itself with a certificate
// of the test's CA and asks polycubed for a client certificate of the same CA.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { join } from "node:path";
import { Daemon, freePort } from "../lib/daemon.ts";
import { startRemoteService } from "../lib/remote-service.ts";
import { Topology, sh, type Host } from "../lib/netns.ts";

const topo = new Topology("ttls");
const daemon = new Daemon();
const pki = join(daemon.dir, "pki");
const servicePort = freePort();
const services: Subprocess[] = [];
let h1: Host;
let h2: Host;

function makePki(): void {
  const ext = join(pki, "san.ext");
  sh(`mkdir -p ${pki} && cd ${pki} &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca 2>/dev/null &&
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ${ext} &&
    for who in service daemon; do
      openssl req -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr -subj /CN=$who 2>/dev/null &&
      openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $who.crt -days 2 -extfile ${ext} 2>/dev/null;
    done &&
    printf 'subjectAltName=DNS:elsewhere.example\n' > other.ext &&
    openssl req -newkey rsa:2048 -nodes -keyout misnamed.key -out misnamed.csr -subj /CN=misnamed 2>/dev/null &&
    openssl x509 -req -in misnamed.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out misnamed.crt -days 2 -extfile other.ext 2>/dev/null`);
}

async function startService(port = servicePort, identity = "service"): Promise<Subprocess> {
  const proc = await startRemoteService("simplebridge", `127.0.0.1:${port}`,
    ["--cert", join(pki, `${identity}.crt`), "--key", join(pki, `${identity}.key`), "--cacert", join(pki, "ca.crt")]);
  services.push(proc);
  return proc;
}

beforeAll(async () => {
  makePki();
  h1 = topo.host(1, "10.205.0.1/24");
  h2 = topo.host(2, "10.205.0.2/24");
  await startService();
});

afterAll(async () => {
  for (const p of services) p.kill("SIGKILL");
  await daemon.stop();
  topo.cleanup();
  daemon.cleanup();
});

describe("remote service over TLS", () => {
  test("a daemon without a client certificate is refused with a clear error", async () => {
    await daemon.start(["--remote-cacert", join(pki, "ca.crt")]);
    try {
      expect((await daemon.request("DELETE", "/services/simplebridge/")).status).toBeLessThan(300);
      const r = await daemon.request("POST", "/services/", { name: "simplebridge", type: "grpc", uri: `127.0.0.1:${servicePort}` });
      expect(r.status).toBe(400);
      expect(r.text).toContain(`cannot reach remote service at 127.0.0.1:${servicePort}`);
      expect((await daemon.request("GET", "/services/simplebridge/")).status).toBe(400);
    } finally {
      await daemon.stop();
    }
  });

  test("a service whose certificate does not name its address is refused", async () => {
    const otherPort = freePort();
    await startService(otherPort, "misnamed");
    await daemon.start(["--remote-cacert", join(pki, "ca.crt"), "--remote-cert", join(pki, "daemon.crt"), "--remote-key", join(pki, "daemon.key")]);
    try {
      expect((await daemon.request("DELETE", "/services/simplebridge/")).status).toBeLessThan(300);
      const r = await daemon.request("POST", "/services/", { name: "simplebridge", type: "grpc", uri: `127.0.0.1:${otherPort}` });
      expect(r.status).toBe(400);
      expect(r.text).toContain("cannot reach remote service");
    } finally {
      await daemon.stop();
    }
  });

  test("with its certificate the daemon registers the service, and a cube forwards", async () => {
    await daemon.start(["--remote-cacert", join(pki, "ca.crt"), "--remote-cert", join(pki, "daemon.crt"), "--remote-key", join(pki, "daemon.key")]);
    expect((await daemon.request("DELETE", "/services/simplebridge/")).status).toBeLessThan(300);
    const add = await daemon.request("POST", "/services/", { name: "simplebridge", type: "grpc", uri: `127.0.0.1:${servicePort}` });
    expect(add.text).toBe("");
    expect(add.status).toBe(200);
    const created = await daemon.request("POST", "/simplebridge/tlsb/", { ports: [{ name: "p1", peer: h1.outer }, { name: "p2", peer: h2.outer }] });
    expect(created.status).toBe(201);
    expect(topo.ping(h1, h2.ip, 3)).toBe(true);
  });
});
