// Where one write's time goes at scale: starts polycubed from the sources (optionally under
// Bun's CPU profiler), fills a simplebridge FDB or a router's routing table one entry per
// request, and prints ms per request over blocks of entries.
//   bun bench/profile-writes.ts fdb|rt <entries> [--prof <dir>]
// With --prof the daemon writes a markdown CPU profile (Bun's --cpu-prof-md) into <dir> on exit.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const [what = "fdb", nText = "10000"] = process.argv.slice(2);
const n = Number(nText);
const profAt = process.argv.indexOf("--prof");
const profDir = profAt > 0 ? process.argv[profAt + 1] : undefined;

const hex2 = (x: number) => (x & 255).toString(16).padStart(2, "0");
const cases = {
  fdb: {
    service: "simplebridge",
    cube: { ports: [{ name: "p1" }, { name: "p2" }] },
    path: (i: number) => `fdb/entry/02:00:00:${hex2(i >> 16)}:${hex2(i >> 8)}:${hex2(i)}/`,
    body: (i: number) => ({ port: `p${(i % 2) + 1}` }),
  },
  rt: {
    service: "router",
    cube: { ports: [{ name: "p1", ip: "10.1.0.1/16" }, { name: "p2", ip: "10.2.0.1/16" }] },
    path: (i: number) => `route/${encodeURIComponent(`10.${128 + (i >> 8)}.${i & 255}.0/24`)}/10.1.0.${2 + (i % 200)}/`,
    body: () => ({}),
  },
};
const c = cases[what as keyof typeof cases];
if (!c) throw new Error(`usage: bun bench/profile-writes.ts fdb|rt <entries> [--prof <dir>]`);

const dir = mkdtempSync(join(tmpdir(), "pcnprof-"));
const port = 20000 + Math.floor(Math.random() * 20000);
writeFileSync(join(dir, "polycubed.conf"), "# profile\n");
const prof = profDir ? ["--cpu-prof-md", `--cpu-prof-dir=${profDir}`] : [];
const proc = Bun.spawn(
  [join(ROOT, "node_modules/.bin/bun"), ...prof, join(ROOT, "src/polycube.ts"), "--daemon", "--addr", "127.0.0.1", "--port", String(port), "--loglevel", "warn",
    "--configfile", join(dir, "polycubed.conf"), "--pidfile", join(dir, "polycubed.pid"), "--logfile", join(dir, "polycubed.log")],
  { stdin: "ignore", stdout: "inherit", stderr: "inherit" },
);
const base = `http://127.0.0.1:${port}/polycube/v1`;
try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/version`)).ok) break;
    } catch {
      if (i > 400) throw new Error("the daemon did not start");
    }
    await Bun.sleep(50);
  }
  const cube = `${base}/${c.service}/prof1/`;
  const r0 = await fetch(cube, { method: "POST", body: JSON.stringify(c.cube), headers: { "content-type": "application/json" } });
  if (r0.status >= 300) throw new Error(`create: ${r0.status} ${await r0.text()}`);
  const block = Math.max(1, Math.min(1000, Math.floor(n / 10)));
  let t = performance.now();
  const line: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fetch(cube + c.path(i), { method: "POST", body: JSON.stringify(c.body(i)), headers: { "content-type": "application/json" } });
    if (r.status >= 300) throw new Error(`entry ${i}: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
    if ((i + 1) % block === 0) {
      const now = performance.now();
      line.push(`${i + 1}: ${((now - t) / block).toFixed(2)}`);
      console.log(`entries ${i + 1 - block + 1}-${i + 1}: ${((now - t) / block).toFixed(2)} ms per request`);
      t = now;
    }
  }
  const g0 = performance.now();
  await (await fetch(`${cube}${what === "fdb" ? "fdb/entry/02:00:00:00:00:05/" : "route/"}`)).text();
  console.log(`GET one ${what === "fdb" ? "entry" : "list"}: ${(performance.now() - g0).toFixed(2)} ms`);
  await fetch(cube, { method: "DELETE" });
} finally {
  proc.kill("SIGTERM");
  await proc.exited;
  rmSync(dir, { recursive: true, force: true });
}
