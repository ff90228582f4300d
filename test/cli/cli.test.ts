// polycubectl end to end over HTTP: the CLI run as a child process (the sources, or the compiled
// binary with POLYCUBECTL_BIN=build/polycube) against the real REST layer served by Bun in front
// of the in-memory core test double (test/cli/harness.ts). Every grammar form of reference §5
// and §12, every output form, stdin bodies, and the error exits.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bash, CLI_ARGV, cleanupHome, cli as run, home, startDaemon, type CliResult, type Daemon } from "./harness.ts";

let d: Daemon;
const tmp = mkdtempSync(join(tmpdir(), "tyrcli-e2e-"));

beforeAll(() => {
  d = startDaemon();
});
afterAll(() => {
  d.stop();
  cleanupHome();
  rmSync(tmp, { recursive: true, force: true });
});

const cli = (...args: string[]) => run(d.url, args);
const sh = (script: string, env?: Record<string, string>) => bash(d.url, script, env);

/** Success: exit 0, nothing on stderr. Returns stdout. */
async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  expect({ args, code: r.code, err: r.err }).toEqual({ args, code: 0, err: "" });
  return r.out;
}

/** A refused request: exit 2 (non-2xx), the daemon's message on stderr, nothing on stdout. */
async function refused(args: string[], message: string | RegExp): Promise<CliResult> {
  const r = await cli(...args);
  expect({ args, code: r.code, out: r.out }).toEqual({ args, code: 2, out: "" });
  expect(r.err).toMatch(message);
  return r;
}

/** A command line error: exit 1, the message on stderr, and no request sent. */
async function badSyntax(args: string[], message: RegExp): Promise<void> {
  const before = d.core.changes.length;
  const r = await cli(...args);
  expect({ args, code: r.code, out: r.out }).toEqual({ args, code: 1, out: "" });
  expect(r.err).toMatch(message);
  expect(d.core.changes.length).toBe(before);
}

const config = (cube: string) => d.core.cubeConfig(cube) as Record<string, any>;

describe("root help and built-in commands", () => {
  test("no argument and `?`: services, built-ins, then the running cubes", async () => {
    const empty = await ok();
    expect(empty).toMatch(/^Keyword +Type +Description\ntyrrest +service +tyrrest test service\n/);
    for (const w of ["connect", "disconnect", "attach", "detach", "services", "cubes", "topology", "netdevs"]) expect(empty).toMatch(new RegExp(`\\n${w} +command `));
    expect(empty).not.toContain("Running Services");
    expect(await ok("?")).toBe(empty);
    await ok("tyrrest", "add", "rh1");
    expect(await ok("?")).toMatch(/\nRunning Services:\n Name +Service +Type\n rh1 +tyrrest +TC\n$/);
    await ok("del", "rh1");
  });

  test("expert false hides services", async () => {
    const r = await run(d.url, ["?"], { env: { POLYCUBECTL_EXPERT: "false" } });
    expect(r.code).toBe(0);
    expect(r.out).not.toContain("services");
  });

  test("version prints the CLI's then the daemon's", async () => {
    expect(await ok("version")).toMatch(/^polycubectl:\n version: (\S+)\npolycubed:\n version: \1\n$/);
  });

  test("services, services show [name]", async () => {
    const list = await ok("services");
    expect(list).toMatch(/^name +servicecontroller +description +version/);
    expect(list).toMatch(/\ntyrtrans +builtin +tyrtrans test service +1\.0 /);
    expect(await ok("services", "show")).toBe(list);
    expect(await ok("services", "show", "tyrrest")).toContain("module tyr-rest");
    await refused(["services", "show", "nosuch"], /Service Controller does not exist/);
  });

  test("services add name=… type=lib uri=…, and services del", async () => {
    const { readFileSync } = await import("node:fs");
    d.core.loadable.set("/usr/lib/libpcn-tyrx.so", { yang: readFileSync(join(import.meta.dir, "..", "yang", "models", "tyr-rest.yang"), "utf8"), kind: "standard" });
    await ok("services", "add", "name=tyrx", "type=lib", "uri=/usr/lib/libpcn-tyrx.so");
    expect(await ok("?")).toMatch(/\ntyrx +service /);
    await refused(["services", "add", "name=tyrx", "type=lib", "uri=/usr/lib/libpcn-tyrx.so"], /Service Controller already exists/);
    await refused(["services", "add", "name=tyry", "type=grpc", "uri=x"], /GRPC support has not been compiled/);
    await ok("services", "del", "tyrx");
    expect(await ok("?")).not.toContain("tyrx");
  });

  test("netdevs, netdevs show <name>", async () => {
    expect(await ok("netdevs")).toBe("name      addresses\ntyrveth0  [10.9.9.1/24]\n");
    expect(await ok("netdevs", "show", "tyrveth0")).toBe("name      addresses\ntyrveth0  [10.9.9.1/24]\n");
    await refused(["netdevs", "show", "nosuch0"], /netdev nosuch0/);
  });
});

describe("cubes: create, show, update, delete", () => {
  test("<service> add <name> k=v…: enumerations in any case", async () => {
    await ok("tyrrest", "add", "br1", "type=tc", "loglevel=trace", "action=forward");
    expect(config("br1")).toMatchObject({ name: "br1", type: "TC", loglevel: "TRACE", action: "FORWARD" });
    await ok("add", "tyrrest", "br2");
    await ok("tyrrest", "br3", "add");
    expect(d.core.cubeNames()).toEqual(expect.arrayContaining(["br1", "br2", "br3"]));
    await refused(["tyrrest", "add", "br1"], /data-exists/);
  });

  test("show <leaf> prints the bare value, through the cube-name redirect and with the service", async () => {
    expect(await ok("br1", "show", "action")).toBe("FORWARD\n");
    expect(await ok("tyrrest", "br1", "show", "loglevel")).toBe("TRACE\n");
    expect(await ok("show", "br1", "type")).toBe("TC\n");
    expect(await ok("br1", "fdb", "show", "aging-time")).toBe("300\n");
  });

  test("set: one leaf (PATCH on the leaf), several leaves (PATCH on the cube), dotted keys", async () => {
    await ok("br1", "set", "loglevel=DEBUG");
    expect(await ok("br1", "show", "loglevel")).toBe("DEBUG\n");
    await ok("br1", "set", "action=slowpath", "span=true");
    expect(config("br1")).toMatchObject({ action: "SLOWPATH", span: true });
    await ok("br1", "set", "fdb.aging-time=60");
    expect(await ok("br1", "fdb", "show", "aging-time")).toBe("60\n");
    await ok("br1", "fdb", "set", "aging-time=70");
    expect(config("br1").fdb["aging-time"]).toBe(70);
  });

  test("show: tables by default, -brief, -verbose, -hide", async () => {
    await ok("br1", "ports", "add", "p1", "ip=10.0.1.1/24");
    await ok("br1", "ports", "p1", "secondaryip", "add", "10.0.2.1/24");
    const normal = await ok("br1", "show");
    expect(normal).toMatch(/^name: br1\n/);
    expect(normal).toContain("\nfdb:\n aging-time: 70\n");
    expect(normal).toMatch(/\n\nports:\n ip +name +secondaryip +uuid +status\n 10\.0\.1\.1\/24 +p1 +\[1 items\] +\S+ +DOWN\n$/);
    expect(normal).not.toContain("_links");
    expect(await ok("br1", "show", "-normal")).toBe(normal);
    const brief = await ok("br1", "show", "-brief");
    expect(brief).toContain("\nports: [1 items]\n");
    const verbose = await ok("br1", "show", "-verbose");
    expect(verbose).toEndWith("\n\n secondaryip of p1:\n  ip\n  10.0.2.1/24\n");
    const hidden = await ok("br1", "show", "-hide=uuid,ports.uuid,ports.secondaryip");
    expect(hidden).not.toContain("uuid");
    expect(hidden).toMatch(/\nports:\n ip +name +status\n/);
    expect(await ok("br1", "ports", "show")).toMatch(/^ip +name +secondaryip +uuid +status\n10\.0\.1\.1\/24 +p1 /);
  });

  test("show -json and -yaml", async () => {
    const json = JSON.parse(await ok("br1", "show", "-json"));
    expect(json).toMatchObject({ name: "br1", action: "SLOWPATH", ports: [{ name: "p1", ip: "10.0.1.1/24" }] });
    expect(json._links).toBeUndefined();
    const yaml = await ok("br1", "ports", "p1", "show", "-yaml");
    expect(yaml).toMatch(/^ip: 10\.0\.1\.1\/24\nname: p1\nsecondaryip:\n  - ip: 10\.0\.2\.1\/24\n/m);
    expect(await ok("br1", "show", "counter", "-yaml")).toMatch(/^\d+\n$/);
    expect(await ok("cubes", "show", "br1", "-json")).toContain('"service-name": "tyrrest"');
  });

  test("the verb anywhere before the key=value arguments", async () => {
    await ok("br2", "ports", "add", "p1");
    await ok("tyrrest", "br2", "ports", "add", "p2");
    await ok("br2", "add", "ports", "p3");
    await ok("add", "br2", "ports", "p4");
    expect(await ok("br2", "ports", "show", "p3", "name")).toBe("p3\n");
    await ok("tyrrest", "br2", "del", "ports", "p2");
    await ok("del", "br2", "ports", "p3");
    await ok("br2", "ports", "p4", "del");
    expect((config("br2").ports as Array<{ name: string }>).map((p) => p.name)).toEqual(["p1"]);
  });

  test("multi-key lists and their entries", async () => {
    await ok("br1", "fdb", "entry", "add", "10", "aa:bb:cc:dd:ee:ff", "port=p1");
    await ok("br1", "fdb", "entry", "add", "20", "aa:bb:cc:dd:ee:01", "port=p1", "type=dynamic");
    expect(await ok("br1", "fdb", "entry", "show", "20", "aa:bb:cc:dd:ee:01", "type")).toBe("DYNAMIC\n");
    expect(await ok("br1", "fdb", "entry", "show")).toMatch(/^port +vlan +address +type\np1 +10 +aa:bb:cc:dd:ee:ff +STATIC\np1 +20 +aa:bb:cc:dd:ee:01 +DYNAMIC\n$/);
    await ok("br1", "fdb", "entry", "del", "20", "aa:bb:cc:dd:ee:01");
    expect((config("br1").fdb.entry as unknown[]).length).toBe(1);
  });

  test("no verb is a POST: YANG actions, with their output printed", async () => {
    await ok("br1", "chain", "add", "INGRESS");
    expect(await ok("br1", "chain", "INGRESS", "append", "src=10.0.0.1/32", "action=drop")).toBe("id: 0\n");
    expect(await ok("br1", "chain", "INGRESS", "append", "src=10.0.0.2/32")).toBe("id: 1\n");
    expect(await ok("br1", "chain", "INGRESS", "rule", "show", "0", "action")).toBe("DROP\n");
    expect(await ok("br1", "chain", "ingress", "rule", "1", "show", "action")).toBe("FORWARD\n");
    await ok("br1", "chain", "INGRESS", "del", "rule", "1");
    expect(await ok("br1", "fdb", "flush")).toBe("flushed: 1\n");
    expect(config("br1").fdb.entry).toBeUndefined();
  });

  test('peer="" clears; quoted values', async () => {
    await ok("br1", "ports", "p1", "set", "peer=tyrveth0");
    expect(await ok("br1", "ports", "p1", "show", "peer")).toBe("tyrveth0\n");
    expect(await ok("br1", "ports", "p1", "show", "status")).toBe("UP\n");
    const r = await sh(`polycubectl br1 ports p1 set peer="" && polycubectl br1 ports p1 show peer && polycubectl br1 fdb entry add "30" 'aa:bb:cc:dd:ee:30' port='p1' type="dynamic" && polycubectl br1 fdb entry 30 aa:bb:cc:dd:ee:30 show vlan`);
    expect(r).toEqual({ code: 0, out: "\n30\n", err: "" });
    await ok("br1", "fdb", "flush");
  });

  test("cubes, cubes show <name>, topology, topology show <netdev>", async () => {
    const cubes = await ok("cubes");
    expect(cubes).toMatch(/^tyrrest:\n name +uuid +service-name +type +loglevel +ports +shadow +span\n br1 /);
    expect(JSON.parse(await ok("cubes", "show", "br2", "-json"))).toMatchObject({ name: "br2", "service-name": "tyrrest", type: "TC" });
    await ok("br1", "ports", "p1", "set", "peer=tyrveth0");
    const topo = await ok("topology");
    expect(topo).not.toContain("uuid");
    expect(topo).toMatch(/^name +service-name +type +loglevel +ports +shadow +span\nbr1 /);
    // verbose by default: the ports of each cube follow.
    expect(topo).toMatch(/\n\nports of br1:\n name +peer\n p1 +tyrveth0\n/);
    const chain = await ok("topology", "show", "tyrveth0");
    expect(chain).toContain("ingress service chain: th1 ---> stack\n");
    expect(chain).toContain("egress service chain: stack ---> th1\n");
  });

  test("del <cube>, <cube> del, <service> del <cube>", async () => {
    await ok("del", "br3");
    await ok("br2", "del");
    await ok("tyrrest", "add", "br4");
    await ok("tyrrest", "del", "br4");
    expect(d.core.cubeNames()).toEqual(["br1"]);
  });
});

describe("connect, disconnect, attach, detach", () => {
  test("connect A:p B:q and A:p netdev; disconnect", async () => {
    await ok("tyrrest", "add", "cx");
    await ok("cx", "ports", "add", "a");
    await ok("br1", "ports", "add", "p2");
    await ok("connect", "cx:a", "br1:p2");
    expect(await ok("cx", "ports", "a", "show", "peer")).toBe("br1:p2\n");
    expect(await ok("br1", "ports", "p2", "show", "status")).toBe("UP\n");
    await refused(["connect", "cx:a", "br1:p2"], /already has a peer/);
    await ok("disconnect", "cx:a", "br1:p2");
    expect(await ok("cx", "ports", "a", "show", "peer")).toBe("\n");
    await refused(["disconnect", "cx:a", "br1:p2"], /is not connected/);
    await badSyntax(["connect", "cx:a"], /connect takes exactly two arguments/);
  });

  test("attach T X [position=…|before=…|after=…], detach T X, and their errors", async () => {
    await ok("tyrtrans", "add", "th1");
    await ok("attach", "th1", "br1:p1", "position=first");
    expect(await ok("th1", "show", "parent")).toBe("br1:p1\n");
    await refused(["attach", "th1", "br1:p1"], /already attached/);
    await refused(["attach", "br1", "tyrveth0"], /not transparent/);
    await ok("detach", "th1", "br1:p1");
    await refused(["detach", "th1", "br1:p1"], /doesn't exist/);
    await ok("attach", "th1", "tyrveth0", "after=th9");
    await ok("detach", "th1", "tyrveth0");
    await badSyntax(["attach", "th1", "br1:p1", "position=middle"], /position must be auto, first or last/);
    await badSyntax(["attach", "th1", "br1:p1", "position=last", "after=x"], /only one of position, before and after/);
    await badSyntax(["attach", "th1", "br1:p1", "where=x"], /unknown parameter where/);
    await badSyntax(["detach", "th1"], /detach takes two arguments/);
  });
});

describe("help (?)", () => {
  test("of a cube, a list, add, set, show, del, an action, a leaf", async () => {
    expect(await ok("br1", "?")).toMatch(/^Keyword +Type +Description +Example\nset +command +Set a value\nshow +command /);
    expect(await ok("br1", "?")).toMatch(/\nports +list +Entry of the ports table\n/);
    const ports = await ok("br1", "ports", "?");
    expect(ports).toMatch(/\n<name> +string +Port Name +port1\np1 +<name>\np2 +<name>\n$/);
    const add = await ok("br1", "ports", "add", "?");
    expect(add).toMatch(/\nOther parameters:\nKeyword +Type +Description +Example\npeer=value /);
    expect(add).toContain("\nip=value ");
    expect(add).toEndWith("Example:\n    polycubectl br1 ports add port1 peer=r0:port1 ip=10.0.0.1/24\n");
    const set = await ok("br1", "set", "?");
    expect(set).toMatch(/\naction +string +Action performed on the received packet \(DROP, SLOWPATH, FORWARD\) +DROP\n/);
    expect(set).not.toMatch(/\ntype /);
    expect(await ok("br1", "show", "?")).toMatch(/\ncounter +unsigned +Packets seen\n/);
    expect(await ok("br1", "ports", "del", "?")).toEndWith("Example:\n    polycubectl br1 ports del port1\n");
    expect(await ok("br1", "fdb", "flush", "?")).toMatch(/^Keyword +Type +Description +Example\n<vlan> +unsigned +Only this vlan\n$/);
    expect(await ok("br1", "action", "?")).toMatch(/\naction +string +/);
    expect(await ok("tyrrest", "add", "?")).toEndWith("Example:\n    polycubectl tyrrest add tyrrest1 type=TC loglevel=INFO action=DROP\n");
  });

  test("of the built-ins, printed locally", async () => {
    expect(await ok("connect", "?")).toContain("polycubectl connect br1:port1 veth1");
    expect(await ok("attach", "?")).toContain("position=value");
    expect(await ok("detach", "?")).toContain("<cube>");
    expect(await ok("services", "add", "?")).toContain("uri=value");
    expect(await ok("cubes", "?")).toMatch(/\nbr1 +<cube>\n/);
    expect(await ok("netdevs", "?")).toMatch(/\ntyrveth0 +<netdev>\n/);
  });

  test("an unknown resource: the daemon's message, non-zero", async () => {
    await refused(["nosuch", "?"], /No cube found named nosuch/);
    await refused(["br1", "nosuch", "?"], /nosuch/);
  });
});

describe("stdin bodies", () => {
  test("a here-string of flow YAML with single quotes and trailing commas (a bash ≥ 5.1 FIFO)", async () => {
    const batch = "{'name': 'EGRESS', 'rule': [{'id': 7, 'src': '10.1.0.0/31', 'action': 'drop',}, {'id': 8, 'dport': 80,},],}";
    const r = await sh(`polycubectl br1 chain add EGRESS <<<"${batch}"`);
    expect(r).toEqual({ code: 0, out: "", err: "" });
    expect(config("br1").chain[1]).toMatchObject({ name: "EGRESS", rule: [{ id: 7, src: "10.1.0.0/31", action: "DROP" }, { id: 8, dport: 80 }] });
  });

  test("an action's input from a pipe; from a regular file; from a named FIFO", async () => {
    expect(await sh(`echo '{"src": "10.0.0.9/32"}' | polycubectl br1 chain EGRESS append`)).toEqual({ code: 0, out: "id: 9\n", err: "" });
    const file = join(tmp, "rule.yaml");
    writeFileSync(file, "src: 10.0.0.10/32\naction: FORWARD\n");
    expect(await sh(`polycubectl br1 chain EGRESS append < '${file}'`)).toEqual({ code: 0, out: "id: 10\n", err: "" });
    const fifo = join(tmp, "fifo");
    const r = await sh(`mkfifo '${fifo}'; (sleep 0.2; echo "{src: 10.0.0.11/32}") > '${fifo}' & polycubectl br1 chain EGRESS append < '${fifo}'; wait`);
    expect(r).toEqual({ code: 0, out: "id: 11\n", err: "" });
  });

  test("POST /cubes from a YAML file: several cubes, peers between them", async () => {
    const file = join(tmp, "cubes.yaml");
    writeFileSync(
      file,
      `- name: sx1
  service-name: tyrrest
  ports: [{name: a, peer: "sx2:b"}]
- {name: sx2, service-name: tyrrest, ports: [{name: b, peer: "sx1:a"}]}
`,
    );
    expect(await sh(`polycubectl cubes add < '${file}'`)).toEqual({ code: 0, out: "", err: "" });
    expect(await ok("sx1", "ports", "a", "show", "status")).toBe("UP\n");
    await ok("del", "sx1");
    await ok("del", "sx2");
  });

  test("stdin is not read by show, del, set k=v, or help", async () => {
    const r = await sh(`echo '{"action": "DROP"}' | polycubectl br1 set action=forward && echo '{}' | polycubectl br1 show action && polycubectl br1 show loglevel <<<"x: 1"`);
    expect(r).toEqual({ code: 0, out: "FORWARD\nDEBUG\n", err: "" });
  });

  test("a silent inherited pipe does not hang the CLI: the key=value body is used", async () => {
    const fifo = join(tmp, "silent");
    const r = await sh(`mkfifo '${fifo}'; sleep 30 > '${fifo}' & writer=$!; polycubectl br1 ports add p9 ip=10.9.0.1/24 < '${fifo}'; echo "exit $?"; kill $writer`);
    expect(r.out).toBe("exit 0\n");
    expect(await ok("br1", "ports", "p9", "show", "ip")).toBe("10.9.0.1/24\n");
  }, 15000);

  test("a body that is neither JSON nor YAML is refused before any request", async () => {
    const r = await sh(`polycubectl br1 chain EGRESS append <<<"{a: [}"`);
    expect(r.code).toBe(1);
    expect(r.err).toContain("neither JSON nor YAML");
  });
});

describe("errors", () => {
  test("the daemon's refusals: exit 2 and its message on stderr", async () => {
    await refused(["br1", "set", "action=explode"], /"error-info":"action"/);
    await refused(["nosuch", "show"], /No cube found named nosuch/);
    await refused(["br1", "ports", "del", "p77"], /data-missing/);
    await refused(["del", "nosuch"], /No cube found named nosuch/);
    await refused(["tyrrest", "del", "nosuch"], /nosuch/);
    await refused(["br1", "fdb", "entry", "add", "5000", "aa:bb:cc:dd:ee:ff", "port=p1"], /vlan/);
    await refused(["br1", "ports", "add", "p5", "ip=300.0.0.1/24"], /ip/);
    await refused(["br1", "add", "ports", "p6", "bogus=1"], /bogus/);
    await refused(["br1", "fdb", "entry", "add", "11", "aa:bb:cc:dd:ee:ff"], /port/);
    expect(d.core.cubeConfig("br1")!.action).toBe("FORWARD");
  });

  test("command line errors: exit 1, nothing sent", async () => {
    await badSyntax(["br1", "chain", "INGRESS", "rule", "del", "-1"], /Unknown flag -1/);
    await badSyntax(["br1", "?", "show"], /\? must be the last/);
    await badSyntax(["br1", "show", "del"], /Only one command/);
    await badSyntax(["br1", "set", "-json"], /only with show/);
    await badSyntax(["br1", "ports", "add", "p1", "ip=x", "ip=y"], /ip given more than once/);
    await badSyntax(["br1", "ports", "add", "ip=x", "p1"], /path arguments must come before/);
    await badSyntax(["br1", "show", "name=x"], /not allowed with show/);
    await badSyntax(["version", "x"], /version takes no arguments/);
  });

  test("no daemon: `?` and commands exit non-zero with the original's message", async () => {
    const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const dead = `http://127.0.0.1:${s.port}/polycube/v1/`;
    s.stop(true);
    for (const args of [["?"], [], ["br1", "show"]]) {
      const r = await run(dead, args);
      expect(r.code).not.toBe(0);
      expect(r.out).toBe("");
      expect(r.err).toBe(`Cannot contact the polycubed daemon at ${dead} Please verify that the daemon is running.\n`);
    }
  });

  test("debug prints each request on stderr", async () => {
    const r = await run(d.url, ["br1", "set", "loglevel=INFO"], { env: { POLYCUBECTL_DEBUG: "true" } });
    expect(r.code).toBe(0);
    expect(r.err).toContain(`PATCH ${d.url}br1/loglevel/\n"INFO"\n`);
    // The 308 to the service's path, followed with method and body kept.
    expect(r.err).toContain(`PATCH ${d.url}tyrrest/br1/loglevel/\n"INFO"\n`);
    expect(r.err).toMatch(/\n200 OK\n$/);
  });
});

describe("usage and completion", () => {
  test("-h and --help print the usage, needing no daemon", async () => {
    for (const flag of ["-h", "--help"]) {
      const r = await run("http://127.0.0.1:1/polycube/v1/", [flag]);
      expect(r.code).toBe(0);
      expect(r.out).toStartWith("Usage: polycubectl ");
    }
  });

  test("--complete: words from the daemon for the word under the cursor", async () => {
    const words = async (...args: string[]) => (await ok("--complete", ...args)).split("\n").filter(Boolean);
    expect(await words("")).toEqual(expect.arrayContaining(["connect", "attach", "cubes", "tyrrest", "tyrtrans", "br1", "cx", "th1"]));
    expect(await words("b")).toEqual(["br1"]);
    expect(await words("br1", "")).toEqual(["set", "show", "ports", "fdb", "chain"]);
    expect(await words("br1", "ports", "")).toEqual(["add", "del", "show", "p1", "p2", "p9"]);
    expect(await words("br1", "set", "act")).toEqual(["action="]);
    expect(await words("br1", "set", "action=f")).toEqual(["action=FORWARD"]);
    expect(await words("br1", "show", "-j")).toEqual(["-json"]);
    expect(await words("connect", "")).toEqual(expect.arrayContaining(["br1:p1", "cx:a"]));
    expect(await words("attach", "th1", "br1:p1", "")).toEqual(["position=", "before=", "after="]);
  });

  test("completion bash|zsh prints a script; anything else is a usage error", async () => {
    expect(await ok("completion", "bash")).toContain("complete -F _polycubectl polycubectl");
    expect(await ok("completion", "zsh")).toStartWith("#compdef polycubectl");
    const r = await cli("completion", "fish");
    expect(r.code).toBe(1);
    expect(r.err).toContain("Usage: polycubectl completion bash|zsh");
  });

  test("the bash script completes a cube's ports", async () => {
    const r = await sh(`source <(polycubectl completion bash)
COMP_LINE="polycubectl br1 ports del "; COMP_POINT=\${#COMP_LINE}; COMP_WORDS=(polycubectl br1 ports del ""); COMP_CWORD=4
_polycubectl; printf '%s\\n' "\${COMPREPLY[@]}"`);
    expect(r.err).toBe("");
    expect(r.out.split("\n")).toContain("p1");
  });

  test("the zsh script loads (sourced and autoloaded from $fpath) and completes a cube's ports", async () => {
    const fpath = join(tmp, "zfunc");
    mkdirSync(fpath, { recursive: true });
    writeFileSync(join(fpath, "_polycubectl"), await ok("completion", "zsh"));
    // compadd exists only inside the completion system: a stand-in prints what it is given.
    const stub = `compadd() { while (( $# )); do case $1 in -S) shift 2;; --) shift; break;; *) shift;; esac; done; print -l -- "$@"; }`;
    const fn = `polycubectl() { ${CLI_ARGV.map((c) => `'${c}'`).join(" ")} "$@"; }`;
    const run = (script: string) =>
      Bun.spawn(["zsh", "-f", "-c", script], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, POLYCUBECTL_URL: d.url }, stdout: "pipe", stderr: "pipe" });
    const sourced = run(`${fn}; autoload -Uz compinit; compinit -u -d ${tmp}/zcd; source <(polycubectl completion zsh); print $_comps[polycubectl]`);
    expect((await new Response(sourced.stdout).text()).trim()).toBe("_polycubectl");
    const auto = run(`${fn}; ${stub}; fpath=(${fpath} $fpath); autoload -Uz _polycubectl; words=(polycubectl br1 ports del ""); CURRENT=5; _polycubectl`);
    const [out, err] = [await new Response(auto.stdout).text(), await new Response(auto.stderr).text()];
    expect(err).toBe("");
    expect(out.split("\n")).toContain("p1");
  });

  test("the bash script completes through the CLI", async () => {
    const r = await sh(`source <(polycubectl completion bash)
COMP_LINE="polycubectl br1 set action=S"; COMP_POINT=\${#COMP_LINE}; COMP_WORDS=(polycubectl br1 set action = S); COMP_CWORD=5
_polycubectl; printf '%s\\n' "\${COMPREPLY[@]}"`);
    expect(r.err).toBe("");
    expect(r.out).toBe("SLOWPATH\n");
  });
});

describe("version mismatch", () => {
  test("a daemon of another version: one warning on stderr, the output unchanged", async () => {
    const other = startDaemon("9.9.9-test");
    try {
      const r = await run(other.url, ["version"]);
      expect(r.code).toBe(0);
      expect(r.err).toMatch(/^polycubectl: warning: polycubectl is version \S+ but polycubed is version 9\.9\.9-test\n$/);
      expect(r.out).toMatch(/^polycubectl:\n version: \S+\npolycubed:\n version: 9\.9\.9-test\n$/);
    } finally {
      other.stop();
    }
  });
});
