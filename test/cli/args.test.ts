// polycubectl grammar (reference §5.1, §12): command line → (method, URL, body).
import { describe, expect, test } from "bun:test";
import { convertValue, parseArgs, pathEscape, readsStdin, toRequest, UsageError } from "../../src/cli/args.ts";

const BASE = "http://localhost:9000/polycube/v1/";
const req = (line: string[], stdin?: string) => toRequest(parseArgs(line), BASE, stdin);
const u = (p: string) => BASE + p;

describe("method and URL of each grammar form", () => {
  const cases: Array<[string[], string, string, unknown?]> = [
    [["router", "add", "r1"], "POST", "router/r1/", {}],
    [["router", "add", "r1", "type=XDP_SKB", "loglevel=debug", "shadow=true"], "POST", "router/r1/", { type: "XDP_SKB", loglevel: "debug", shadow: true }],
    [["r1", "ports", "add", "p1", "ip=10.0.1.1/24"], "POST", "r1/ports/p1/", { ip: "10.0.1.1/24" }],
    [["r1", "show"], "GET", "r1/"],
    [["r1", "ports", "show"], "GET", "r1/ports/"],
    [["r1", "ports", "p1", "show", "peer"], "GET", "r1/ports/p1/peer/"],
    [["r1", "ports", "del", "p1"], "DELETE", "r1/ports/p1/"],
    [["del", "r1"], "DELETE", "r1/"],
    [["router", "del", "r1"], "DELETE", "router/r1/"],
    [["del", "helloworld", "hw0"], "DELETE", "helloworld/hw0/"],
    [["helloworld", "hw0", "del", "ports", "port1"], "DELETE", "helloworld/hw0/ports/port1/"],
    [["hw1", "del"], "DELETE", "hw1/"],
    [["fw", "chain", "EGRESS", "del", "rule", "0"], "DELETE", "fw/chain/EGRESS/rule/0/"],
    [["fw", "chain", "EGRESS", "rule", "show", "4"], "GET", "fw/chain/EGRESS/rule/4/"],
    [["k0", "show", "nodeport-rule", "32000", "TCP"], "GET", "k0/nodeport-rule/32000/TCP/"],
    [["br1", "ports", "p1", "trunk", "allowed", "add", "10"], "POST", "br1/ports/p1/trunk/allowed/10/", {}],
    // No verb: a POST, which is how YANG actions are called.
    [["fw1", "chain", "INGRESS", "append", "src=10.0.0.1", "action=DROP"], "POST", "fw1/chain/INGRESS/append/", { src: "10.0.0.1", action: "DROP" }],
    [["fw1", "chain", "INGRESS", "reset-counters"], "POST", "fw1/chain/INGRESS/reset-counters/", {}],
    [["nat", "rule", "masquerade", "enable"], "POST", "nat/rule/masquerade/enable/", {}],
    [["r1", "set", "loglevel=trace", "span=false"], "PATCH", "r1/", { loglevel: "trace", span: false }],
    [["r1", "ports", "p1", "set", "vlanid=10", "mode=trunk"], "PATCH", "r1/ports/p1/", { vlanid: 10, mode: "trunk" }],
  ];
  for (const [line, method, path, body] of cases)
    test(line.join(" "), () => {
      const r = req(line);
      expect(r.method).toBe(method);
      expect(r.url).toBe(u(path));
      expect(r.body === undefined ? undefined : JSON.parse(r.body)).toEqual(body);
    });

  test("single-parameter set writes the leaf with a scalar body", () => {
    expect(req(["r0", "ports", "port1", "set", "peer=veth1"])).toEqual({ method: "PATCH", url: u("r0/ports/port1/peer/"), body: '"veth1"' });
    expect(req(["r0", "set", "loglevel=TRACE"])).toEqual({ method: "PATCH", url: u("r0/loglevel/"), body: '"TRACE"' });
    expect(req(["r0", "ports", "port1", "set", "peer="])).toEqual({ method: "PATCH", url: u("r0/ports/port1/peer/"), body: '""' });
    expect(req(["b", "ports", "p", "set", "vlanid=10"]).body).toBe("10");
    expect(req(["b", "set", "span=true"]).body).toBe("true");
    // A dotted key names a nested leaf.
    expect(req(["c1", "set", "fdb.aging-time=5"])).toEqual({ method: "PATCH", url: u("c1/fdb/aging-time/"), body: "5" });
  });

  test("dotted keys build nested objects", () => {
    expect(JSON.parse(req(["c1", "add", "x", "a.b=1", "a.c=x", "d=2"]).body!)).toEqual({ a: { b: 1, c: "x" }, d: 2 });
  });

  test("help: OPTIONS without the trailing slash, the verb as help type", () => {
    expect(req(["?"])).toEqual({ method: "OPTIONS", url: `${BASE.slice(0, -1)}?help=NONE` });
    expect(req(["r1", "ports", "?"])).toEqual({ method: "OPTIONS", url: u("r1/ports?help=NONE") });
    expect(req(["r1", "ports", "add", "?"])).toEqual({ method: "OPTIONS", url: u("r1/ports?help=ADD") });
    expect(req(["r1", "set", "?"]).url).toBe(u("r1?help=SET"));
    expect(req(["r1", "show", "?"]).url).toBe(u("r1?help=SHOW"));
    expect(req(["del", "r1", "?"]).url).toBe(u("r1?help=DEL"));
    expect(req(["r1", "show", "-json", "?"]).url).toBe(u("r1?help=SHOW"));
  });

  test("stdin body replaces the key=value pairs, and the single-parameter form", () => {
    expect(req(["fw", "chain", "INGRESS", "batch", "rules="], '{"rules":[]}')).toEqual({ method: "POST", url: u("fw/chain/INGRESS/batch/"), body: '{"rules":[]}' });
    expect(req(["c1", "set"], '{"b":2}')).toEqual({ method: "PATCH", url: u("c1/"), body: '{"b":2}' });
    expect(req(["c1", "set", "a=1", "b=2"], '{"b":2}')).toEqual({ method: "PATCH", url: u("c1/"), body: '{"b":2}' });
    // As the original: `set k=v` writes the leaf and never looks at stdin.
    expect(req(["c1", "set", "a=1"], '{"b":2}')).toEqual({ method: "PATCH", url: u("c1/a/"), body: "1" });
  });

  test("which commands read stdin", () => {
    const reads = (line: string[]) => readsStdin(parseArgs(line));
    expect(reads(["fw", "chain", "INGRESS", "batch", "rules="])).toBe(true);
    expect(reads(["r1", "ports", "add", "p1"])).toBe(true);
    expect(reads(["cubes", "add"])).toBe(true);
    expect(reads(["r1", "set"])).toBe(true);
    expect(reads(["r1", "set", "a=1", "b=2"])).toBe(true);
    expect(reads(["r1", "set", "a=1"])).toBe(false);
    expect(reads(["r1", "show"])).toBe(false);
    expect(reads(["del", "r1"])).toBe(false);
    expect(reads(["r1", "add", "?"])).toBe(false);
  });

  test("path words are escaped like Go's url.PathEscape", () => {
    expect(req(["c1", "fdb", "entry", "show", "10", "aa:bb:cc:dd:ee:ff"]).url).toBe(u("c1/fdb/entry/10/aa:bb:cc:dd:ee:ff/"));
    expect(req(["c1", "route", "show", "10.0.0.0/24"]).url).toBe(u("c1/route/10.0.0.0%2F24/"));
    expect(pathEscape("a b?#%")).toBe("a%20b%3F%23%25");
  });
});

describe("flags", () => {
  test("output formats and -hide, with show", () => {
    expect(parseArgs(["r1", "show", "-json"]).format).toBe("json");
    expect(parseArgs(["r1", "show", "-yaml"]).format).toBe("yaml");
    expect(parseArgs(["r1", "show", "-brief"]).format).toBe("brief");
    expect(parseArgs(["r1", "show", "-verbose"]).format).toBe("verbose");
    expect(parseArgs(["r1", "show", "-normal"]).format).toBe("normal");
    expect(parseArgs(["r1", "show", "-hide=uuid,ports.peer"]).hide).toEqual(["uuid", "ports.peer"]);
    expect(parseArgs(["r1", "show", "-brief", "-hide=uuid"])).toMatchObject({ format: "brief", hide: ["uuid"] });
  });
});

describe("syntax errors", () => {
  const bad: Array<[string[], RegExp]> = [
    [["fw", "chain", "INGRESS", "rule", "del", "-1"], /Unknown flag -1/],
    [["r1", "show", "-x"], /Unknown flag -x/],
    [["r1", "?", "show"], /\? must be the last/],
    [["r1", "add", "del", "x"], /Only one command/],
    [["r1", "add", "p", "a=1", "a=2"], /a given more than once/],
    [["r1", "add", "p", "a=1", "q"], /path arguments must come before/],
    [["r1", "append", "a=1", "show"], /must come before the key=value/],
    [["r1", "set", "-json"], /only with show/],
    [["r1", "-hide=uuid"], /only with show/],
    [["r1", "show", "-json", "-yaml"], /Only one of/],
    [["r1", "show", "-json", "-hide=uuid"], /cannot be used with -json/],
    [["r1", "show", "-h"], /must be the only argument/],
    [["r1", "add", "p", "=1"], /no key before =/],
    [["r1", "add", "p", "a=1", "a.b=2"], /conflicts/],
  ];
  for (const [line, msg] of bad)
    test(line.join(" "), () => {
      expect(() => parseArgs(line)).toThrow(UsageError);
      expect(() => parseArgs(line)).toThrow(msg);
    });

  test("key=value with show or del, and set without any", () => {
    expect(() => req(["r1", "show", "a=1"])).toThrow(/not allowed with show/);
    expect(() => req(["r1", "del", "a=1"])).toThrow(/not allowed with del/);
    expect(() => req(["r1", "set"])).toThrow(/set needs/);
  });
});

describe("value conversion: integer, float, boolean, string", () => {
  const cases: Array<[string, unknown]> = [
    ["10", 10],
    ["-5", -5],
    ["+7", 7],
    ["007", 7],
    ["1", 1],
    ["0", 0],
    ["1.5", 1.5],
    ["-0.25", -0.25],
    ["1e3", 1000],
    [".5", 0.5],
    ["true", true],
    ["True", true],
    ["TRUE", true],
    ["t", true],
    ["false", false],
    ["F", false],
    ["forward", "forward"],
    ["", ""],
    ["10.0.0.1", "10.0.0.1"],
    ["10.0.0.0/24", "10.0.0.0/24"],
    ["aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff"],
    ["!SYN", "!SYN"],
    ["inf", "inf"],
    ["NaN", "NaN"],
    ["yes", "yes"],
    // Beyond 2^53: kept exact as a string (the daemon takes 64-bit integers as strings).
    ["18446744073709551615", "18446744073709551615"],
  ];
  for (const [text, value] of cases) test(JSON.stringify(text), () => expect(convertValue(text)).toEqual(value as never));
});
