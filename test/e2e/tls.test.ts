// The REST API over TLS with client certificates (--cert/--key/--cacert), used through the
// CLI with its POLYCUBECTL_* settings.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Daemon, polycube } from "../lib/daemon.ts";
import { sh } from "../lib/netns.ts";

const daemon = new Daemon();
const pki = join(daemon.dir, "pki");
const url = `https://127.0.0.1:${daemon.port}/polycube/v1/`;

function makePki(): void {
  sh(`mkdir -p ${pki} && cd ${pki} &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca 2>/dev/null &&
    printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext &&
    for who in server client; do
      openssl req -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr -subj /CN=$who 2>/dev/null &&
      openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $who.crt -days 2 -extfile san.ext 2>/dev/null;
    done &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout stranger.key -out stranger.crt -days 2 -subj /CN=stranger 2>/dev/null`);
}

async function cli(words: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([...polycube(), ...words], {
    env: { ...process.env, HOME: daemon.dir, POLYCUBECTL_URL: url, ...env },
    stdout: "pipe", stderr: "pipe", stdin: "ignore",
  });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, out, err };
}

beforeAll(async () => {
  makePki();
  // A TLS server does not answer the helper's plain-HTTP probe: wait for its log line.
  await daemon.start(["--cert", join(pki, "server.crt"), "--key", join(pki, "server.key"), "--cacert", join(pki, "ca.crt")],
    () => daemon.log().includes("listening on https://"));
});

afterAll(async () => {
  await daemon.stop();
  daemon.cleanup();
});

describe("REST over TLS", () => {
  test("a client with a certificate of the CA is served", async () => {
    const r = await cli(["version"], {
      POLYCUBECTL_CACERT: join(pki, "ca.crt"), POLYCUBECTL_CERT: join(pki, "client.crt"), POLYCUBECTL_KEY: join(pki, "client.key"),
    });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("0.1.0");
    const made = await cli(["simplebridge", "add", "tlsbr"], {
      POLYCUBECTL_CACERT: join(pki, "ca.crt"), POLYCUBECTL_CERT: join(pki, "client.crt"), POLYCUBECTL_KEY: join(pki, "client.key"),
    });
    expect(made.code).toBe(0);
  });

  test("a client without a certificate, or with a stranger's, is refused", async () => {
    const none = await cli(["version"], { POLYCUBECTL_CACERT: join(pki, "ca.crt") });
    expect(none.code).not.toBe(0);
    const stranger = await cli(["version"], {
      POLYCUBECTL_CACERT: join(pki, "ca.crt"), POLYCUBECTL_CERT: join(pki, "stranger.crt"), POLYCUBECTL_KEY: join(pki, "stranger.key"),
    });
    expect(stranger.code).not.toBe(0);
    // Plain HTTP gets nothing either.
    let plain = "answered";
    try {
      await fetch(`http://127.0.0.1:${daemon.port}/polycube/v1/version`);
    } catch {
      plain = "refused";
    }
    expect(plain).toBe("refused");
  });
});
