// polycubectl configuration (reference §5.5): the YAML file, created with defaults when missing,
// and POLYCUBECTL_* environment overrides.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configPath, DEFAULT_URL, loadConfig } from "../../src/cli/config.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A fresh HOME, optionally holding a config file. */
function home(file?: string): string {
  const h = mkdtempSync(join(tmpdir(), "tyrcli-cfg-"));
  dirs.push(h);
  if (file !== undefined) {
    mkdirSync(join(h, ".config", "polycube"), { recursive: true });
    writeFileSync(join(h, ".config", "polycube", "polycubectl_config.yaml"), file);
  }
  return h;
}

describe("config file", () => {
  test("missing: defaults, and the file is written for the user to edit", async () => {
    const h = home();
    const cfg = await loadConfig({ HOME: h });
    expect(cfg).toEqual({ debug: false, expert: true, url: DEFAULT_URL, cacert: "", cert: "", key: "" });
    expect(await configPath({ HOME: h })).toBe(join(h, ".config", "polycube", "polycubectl_config.yaml"));
    const written = readFileSync(await configPath({ HOME: h }), "utf8");
    expect(written).toContain(`url: ${DEFAULT_URL}`);
    // What was written reads back to the same settings.
    expect(await loadConfig({ HOME: h })).toEqual(cfg);
  });

  test("an unwritable home is not an error", async () => {
    const h = home();
    writeFileSync(join(h, ".config"), "a file where a directory should be");
    expect((await loadConfig({ HOME: h })).url).toBe(DEFAULT_URL);
  });

  test("values, quotes, comments; a url without its trailing slash gets one", async () => {
    const h = home(`# polycubectl
debug: true
expert: 'false'   # quoted
url: "http://10.0.0.5:9001/polycube/v1"
`);
    expect(await loadConfig({ HOME: h })).toMatchObject({ debug: true, expert: false, url: "http://10.0.0.5:9001/polycube/v1/" });
  });

  test("full YAML falls back to the yaml parser", async () => {
    const h = home(`{debug: false, url: "http://127.0.0.1:9100/polycube/v1/"}\n`);
    expect((await loadConfig({ HOME: h })).url).toBe("http://127.0.0.1:9100/polycube/v1/");
  });

  test("bad values are errors naming the setting", async () => {
    await expect(loadConfig({ HOME: home("debug: maybe\n") })).rejects.toThrow(/debug: expected true or false/);
    await expect(loadConfig({ HOME: home("url: not a url\n") })).rejects.toThrow(/not a valid URL/);
  });
});

describe("environment", () => {
  test("POLYCUBECTL_* override the file, even when the file did not exist", async () => {
    const h = home("url: http://127.0.0.1:1/polycube/v1/\ndebug: false\n");
    const cfg = await loadConfig({ HOME: h, POLYCUBECTL_URL: "http://127.0.0.1:2/polycube/v1/", POLYCUBECTL_DEBUG: "true", POLYCUBECTL_EXPERT: "0" });
    expect(cfg).toMatchObject({ url: "http://127.0.0.1:2/polycube/v1/", debug: true, expert: false });
    const fresh = home();
    expect((await loadConfig({ HOME: fresh, POLYCUBECTL_URL: "http://127.0.0.1:3/polycube/v1" })).url).toBe("http://127.0.0.1:3/polycube/v1/");
    expect(existsSync(await configPath({ HOME: fresh }))).toBe(true);
  });

  test("TLS: https needs cacert; cert and key come together", async () => {
    const h = home();
    await expect(loadConfig({ HOME: h, POLYCUBECTL_URL: "https://localhost:9000/polycube/v1/" })).rejects.toThrow(/needs cacert/);
    const ok = await loadConfig({ HOME: h, POLYCUBECTL_URL: "https://localhost:9000/polycube/v1/", POLYCUBECTL_CACERT: "/ca.pem" });
    expect(ok).toMatchObject({ cacert: "/ca.pem", cert: "", key: "" });
    await expect(
      loadConfig({ HOME: h, POLYCUBECTL_URL: "https://localhost:9000/polycube/v1/", POLYCUBECTL_CACERT: "/ca.pem", POLYCUBECTL_CERT: "/c.pem" }),
    ).rejects.toThrow(/cert and key must be given together/);
    const client = await loadConfig({
      HOME: h,
      POLYCUBECTL_URL: "https://localhost:9000/polycube/v1/",
      POLYCUBECTL_CACERT: "/ca.pem",
      POLYCUBECTL_CERT: "/c.pem",
      POLYCUBECTL_KEY: "/k.pem",
    });
    expect(client).toMatchObject({ cert: "/c.pem", key: "/k.pem" });
  });

  test("certificates with an http url: a warning, not an error", async () => {
    const warnings: string[] = [];
    const cfg = await loadConfig({ HOME: home(), POLYCUBECTL_CACERT: "/ca.pem" }, (m) => warnings.push(m));
    expect(cfg.cacert).toBe("/ca.pem");
    expect(warnings).toEqual(["Warning: cacert, cert and key are ignored with an http url"]);
    const none: string[] = [];
    await loadConfig({ HOME: home() }, (m) => none.push(m));
    expect(none).toEqual([]);
  });
});
