import { describe, expect, test, afterAll } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfigText, optionNames, parseConfigFile, parseOptions, OptionsError, usage } from "../../src/daemon/options.ts";
import { journalLine, journalMode } from "../../src/lib/log.ts";

const dir = mkdtempSync(join(tmpdir(), "tdaemon-opts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function conf(text: string): string {
  const f = join(dir, `c${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(f, text);
  return f;
}

describe("polycubed options", () => {
  test("defaults as the original", () => {
    const { options } = parseOptions(["--configfile", conf("")]);
    expect(options.port).toBe(9000);
    expect(options.addr).toBe("localhost");
    expect(options.loglevel).toBe("INFO");
    expect(options.logfile).toBe("/var/log/polycube/polycubed.log");
    expect(options.pidfile).toBe("/var/run/polycube.pid");
    expect(options.cubesDumpFile).toBe("/etc/polycube/cubes.yaml");
    expect(options.cubesDumpEnable).toBe(false);
    expect(options.daemon).toBe(false);
  });

  test("short and long forms, = and separate values", () => {
    const { options } = parseOptions(["-p", "9100", "--addr=0.0.0.0", "-l", "debug", "--configfile", conf("")]);
    expect(options.port).toBe(9100);
    expect(options.addr).toBe("0.0.0.0");
    expect(options.loglevel).toBe("DEBUG");
  });

  test("the file is read and the command line overrides it", () => {
    const f = conf("# comment\nport: 9200\nloglevel : trace\naddr: 127.0.0.2  # trailing\n");
    const p = parseOptions(["--configfile", f, "--port", "9300"]);
    expect(p.options.port).toBe(9300);
    expect(p.options.loglevel).toBe("TRACE");
    expect(p.options.addr).toBe("127.0.0.2");
    expect(p.overridden).toEqual(["port"]);
  });

  test("--config-file is accepted as an alias", () => {
    expect(parseOptions(["--config-file", conf("port: 9400")]).options.port).toBe(9400);
  });

  test("bad input names what is wrong", () => {
    const c = conf("");
    expect(() => parseOptions(["--port", "70000", "--configfile", c])).toThrow(/--port: '70000'/);
    expect(() => parseOptions(["--loglevel", "loud", "--configfile", c])).toThrow(/--loglevel: 'loud'/);
    expect(() => parseOptions(["--frobnicate", "--configfile", c])).toThrow(/unknown option '--frobnicate'/);
    expect(() => parseOptions(["--port"])).toThrow(/--port needs a value/);
    expect(() => parseOptions(["--configfile", join(dir, "missing.conf")])).toThrow(/does not exist/);
    expect(() => parseOptions(["--configfile", conf("port 9000\n")])).toThrow(/:1: expected 'parameter: value'/);
    expect(() => parseOptions(["--configfile", conf("colour: blue\n")])).toThrow(/unknown parameter 'colour'/);
  });

  test("consistency checks of the original", () => {
    const c = conf("");
    expect(() => parseOptions(["--cert", "a", "--configfile", c])).toThrow(OptionsError);
    expect(() => parseOptions(["--cert", "a", "--key", "b", "--configfile", c])).toThrow(/--cacert or --cert-whitelist/);
    expect(() => parseOptions(["--cacert", "a", "--configfile", c])).toThrow(/--cacert requires --cert/);
    expect(() => parseOptions(["--cubes-dump-clean-init", "--configfile", c])).toThrow(/requires --cubes-dump-enable/);
    expect(() => parseOptions(["--cubes-dump-file", "/tmp/x", "--configfile", c])).toThrow(/requires --cubes-dump-enable/);
    expect(parseOptions(["--cert", "a", "--key", "b", "--cacert", "c", "--configfile", c]).options.cacert).toBe("c");
  });

  test("help and version short-circuit", () => {
    expect(parseOptions(["--help"]).help).toBe(true);
    expect(parseOptions(["-v"]).version).toBe(true);
    expect(usage()).toContain("--cubes-dump-enable");
  });
});

describe("the default configuration file (installed as /etc/polycube/polycubed.conf)", () => {
  const text = defaultConfigText();
  test("documents every option, commented out", () => {
    for (const name of optionNames()) {
      expect(text).toMatch(new RegExp(`^#${name}: \\S`, "m"));
      expect(usage()).toContain(`--${name}`);
    }
  });
  test("reads back as is, and each line uncommented parses", () => {
    expect(parseConfigFile(text, "default")).toEqual([]);
    const uncommented = text.split("\n").filter((l) => /^#[a-z-]+: /.test(l)).map((l) => l.slice(1));
    expect(uncommented.length).toBe(optionNames().length);
    expect(parseConfigFile(uncommented.join("\n"), "uncommented").map((s) => s.spec.long)).toEqual(optionNames());
  });
});

describe("logging under systemd", () => {
  test("JOURNAL_STREAM set: no date prefix on stdout, a syslog priority instead", () => {
    expect(journalMode({ JOURNAL_STREAM: "8:1234" })).toBe(true);
    expect(journalMode({})).toBe(false);
    expect(journalLine("[2026-11-24 10:00:00.123] [polycubed] [info] up", "INFO")).toBe("<6>[polycubed] [info] up");
    expect(journalLine("[2026-11-24 10:00:00.123] [Bridge] [br1] [warning] x", "WARN")).toBe("<4>[Bridge] [br1] [warning] x");
    expect(journalLine("[2026-11-24 10:00:00.123] [polycubed] [error] x", "ERR")).toBe("<3>[polycubed] [error] x");
  });
});
