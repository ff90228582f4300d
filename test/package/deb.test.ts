// make deb: the package builds (build/deb.sh, no network), is lintian clean apart from the
// documented overrides, installs into a scratch root with dpkg --root (maintainer scripts run
// chrootless against that root), enables the unit without starting it, and purges cleanly.
// The unit passes systemd-analyze verify.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfigText, optionNames } from "../../src/daemon/options.ts";

const ROOT = join(import.meta.dir, "../..");
const BIN = join(ROOT, "build/out/polycube");
const scratch = mkdtempSync(join(tmpdir(), "tpkg-"));
let deb = "";

function run(argv: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(argv, { cwd: ROOT, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error("build/out/polycube is missing: run make build first");
  const r = run(["build/deb.sh"]);
  expect(r).toMatchObject({ code: 0 });
  deb = join(ROOT, r.out.trim().split("\n").at(-1)!);
}, 180_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const FILES = [
  "usr/bin/polycube",
  "usr/bin/polycubed",
  "usr/bin/polycubectl",
  "lib/systemd/system/polycubed.service",
  "usr/share/bash-completion/completions/polycubectl",
  "usr/share/zsh/vendor-completions/_polycubectl",
  "etc/polycube/polycubed.conf",
  "usr/share/doc/polycube/copyright",
  "usr/share/doc/polycube/changelog.gz",
  "usr/share/lintian/overrides/polycube",
];

describe("the Debian package", () => {
  test("control: name, dependencies on what the executable opens at run time, conffile", () => {
    const f = (field: string) => run(["dpkg-deb", "-f", deb, field]).out.trim();
    expect(f("Package")).toBe("polycube");
    const depends = f("Depends").split(/,\s*/).map((d) => d.split(" ")[0]);
    expect(depends).toEqual(expect.arrayContaining(["libc6", "libbpf1", "libpcap0.8", "iproute2"]));
    expect(run(["dpkg-deb", "--ctrl-tarfile", deb]).code).toBe(0);
    const ctrl = mkdtempSync(join(scratch, "ctrl-"));
    expect(run(["dpkg-deb", "-e", deb, ctrl]).code).toBe(0);
    expect(readFileSync(join(ctrl, "conffiles"), "utf8").trim()).toBe("/etc/polycube/polycubed.conf");
    // The maintainer scripts enable the unit; none starts it.
    const scripts = ["postinst", "prerm", "postrm"].map((s) => readFileSync(join(ctrl, s), "utf8")).join("\n").replace(/^\s*#.*$/gm, "");
    expect(scripts).toContain("deb-systemd-helper enable polycubed.service");
    expect(scripts).not.toMatch(/(deb-systemd-invoke|systemctl)[^\n]*\b(start|restart)\b/);
  });

  test("lintian: no error or warning beyond the documented overrides", () => {
    const r = run(["lintian", "--tag-display-limit", "0", deb]);
    const tags = r.out.split("\n").filter((l) => /^[EW]: /.test(l));
    expect(tags).toEqual([]);
    // Each override has its reason in a comment above it.
    const overrides = readFileSync(join(ROOT, "pkg/debian/lintian-overrides"), "utf8");
    expect(overrides.split("\n")[0]).toStartWith("#");
  }, 120_000);

  test("installs into a scratch root: the files, the unit enabled but not started; purge leaves nothing", () => {
    const root = join(scratch, "root");
    mkdirSync(join(root, "var/lib/dpkg/info"), { recursive: true });
    mkdirSync(join(root, "var/lib/dpkg/updates"), { recursive: true });
    writeFileSync(join(root, "var/lib/dpkg/status"), "");
    const dpkg = (...args: string[]) => run(["dpkg", `--root=${root}`, "--force-script-chrootless", "--force-depends", "--log=/dev/null", ...args]);
    const i = dpkg("-i", deb);
    expect(i.code).toBe(0);
    for (const f of FILES) expect({ f, exists: existsSync(join(root, f)) }).toEqual({ f, exists: true });
    expect(statSync(join(root, "usr/bin/polycubed")).ino).toBe(statSync(join(root, "usr/bin/polycube")).ino);
    expect(statSync(join(root, "usr/bin/polycubed")).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(root, "etc/polycube/polycubed.conf"), "utf8")).toBe(defaultConfigText());
    for (const name of optionNames()) expect(readFileSync(join(root, "etc/polycube/polycubed.conf"), "utf8")).toContain(`#${name}: `);
    const unit = readFileSync(join(root, "lib/systemd/system/polycubed.service"), "utf8");
    expect(unit).toContain("ExecStart=/usr/bin/polycubed --cubes-dump-enable");
    const wants = join(root, "etc/systemd/system/multi-user.target.wants/polycubed.service");
    expect(lstatSync(wants).isSymbolicLink()).toBe(true);
    expect(readlinkSync(wants)).toBe("/lib/systemd/system/polycubed.service");
    expect(existsSync(join(root, "var/log/polycube"))).toBe(false); // never started
    expect(run(["dpkg", `--root=${root}`, "-s", "polycube"]).out).toContain("Status: install ok installed");
    // The completion script the package ships is the CLI's own.
    expect(readFileSync(join(root, "usr/share/bash-completion/completions/polycubectl"), "utf8")).toBe(run([BIN, "completion", "bash"], { HOME: scratch }).out);

    const p = dpkg("--purge", "polycube");
    expect(p.code).toBe(0);
    const left = run(["find", root, "-not", "-path", `${root}/var/lib/dpkg*`, "-not", "-path", `${root}/var/lib/systemd*`, "-type", "f", "-o", "-type", "l"]).out.trim();
    expect(left.split("\n").filter((l) => l && !l.includes("/var/lib/"))).toEqual([]);
  });

  test("the unit passes systemd-analyze verify", () => {
    // verify checks that ExecStart's program exists: the same template, pointed at the built executable.
    const dir = join(scratch, "unit");
    expect(run([join(ROOT, "node_modules/.bin/bun"), "build/dist.ts", dir, join(ROOT, "build/out"), "/etc"]).code).toBe(0);
    const r = run(["systemd-analyze", "verify", join(dir, "polycubed.service")]);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: "" });
  });
});

describe("make install / make uninstall", () => {
  const env = (destdir: string) => ({ DESTDIR: destdir, PREFIX: "/usr/local", SYSCONFDIR: "/etc", OUT: "build/out", DIST: join(scratch, "dist") });

  test("installs the executable, unit, completion and configuration under DESTDIR; uninstall removes exactly those", () => {
    expect(run([join(ROOT, "node_modules/.bin/bun"), "build/dist.ts", join(scratch, "dist"), "/usr/local/bin", "/etc"]).code).toBe(0);
    const dest = join(scratch, "dest");
    // Something that was there before must stay.
    mkdirSync(join(dest, "usr/local/share/zsh/site-functions"), { recursive: true });
    writeFileSync(join(dest, "usr/local/share/zsh/site-functions/_other"), "");
    expect(run(["build/install.sh", "install"], env(dest)).code).toBe(0);
    for (const f of ["usr/local/bin/polycube", "usr/local/bin/polycubed", "usr/local/bin/polycubectl", "usr/local/lib/systemd/system/polycubed.service",
      "usr/local/share/bash-completion/completions/polycubectl", "usr/local/share/zsh/site-functions/_polycubectl", "etc/polycube/polycubed.conf"])
      expect({ f, exists: existsSync(join(dest, f)) }).toEqual({ f, exists: true });
    expect(readFileSync(join(dest, "usr/local/lib/systemd/system/polycubed.service"), "utf8")).toContain("ExecStart=/usr/local/bin/polycubed --cubes-dump-enable");
    // A reinstall keeps an edited configuration file.
    writeFileSync(join(dest, "etc/polycube/polycubed.conf"), "port: 9001\n");
    expect(run(["build/install.sh", "install"], env(dest)).code).toBe(0);
    expect(readFileSync(join(dest, "etc/polycube/polycubed.conf"), "utf8")).toBe("port: 9001\n");
    expect(run(["build/install.sh", "uninstall"], env(dest)).code).toBe(0);
    const left = run(["find", dest]).out.trim().split("\n").map((l) => l.slice(dest.length)).sort();
    expect(left).toEqual(["", "/usr", "/usr/local", "/usr/local/share", "/usr/local/share/zsh", "/usr/local/share/zsh/site-functions", "/usr/local/share/zsh/site-functions/_other"]);
  });
});
