// polycubed run by systemd (JOURNAL_STREAM set): its stdout lines carry no timestamp of their
// own, the journal's priority prefix instead; the log file keeps the original's format.
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Daemon } from "../lib/daemon.ts";

const daemon = new Daemon();
afterAll(() => daemon.cleanup());

test("under systemd: no date prefix on stdout, a syslog priority instead", async () => {
  // In the foreground, as the unit runs it: the polycubed link (`polycube --daemon` would detach).
  const args = daemon.args().filter((a) => a !== "--daemon" && a !== "debug" && a !== "--loglevel");
  if (!args[0]!.endsWith("/polycube")) return; // the sources: no polycubed link to run
  args[0] = `${args[0]}d`;
  const p = Bun.spawn(args, { env: { ...process.env, JOURNAL_STREAM: "8:12345" }, stdout: "pipe", stderr: "pipe" });
  const reader = p.stdout.getReader();
  let out = "";
  let pending = reader.read();
  for (let i = 0; i < 200 && !out.includes("listening on"); i++) {
    const r = await Promise.race([pending, Bun.sleep(100).then(() => undefined)]);
    if (!r) continue; // the same read is still pending
    if (r.done) break;
    out += new TextDecoder().decode(r.value);
    pending = reader.read();
  }
  p.kill("SIGTERM");
  await p.exited;
  const lines = out.split("\n").filter(Boolean);
  expect(lines.some((l) => /^<6>\[polycubed\] \[info\] polycubed \S+ listening on /.test(l))).toBe(true);
  for (const l of lines) expect(l).toMatch(/^<\d>\[/);
  expect(readFileSync(daemon.logfile, "utf8")).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] \[polycubed\] /m);
}, 60_000);
