// Output of `show` (reference §5.4, §12): bare leaf values, tables by depth, JSON, YAML, -hide.
import { describe, expect, test } from "bun:test";
import { columnize, hidePaths, renderShow, renderTable, scalarText, stripLinks } from "../../src/cli/format.ts";
import type { JsonValue } from "../../src/cli/args.ts";

const LINKS = [{ rel: "self", href: "//127.0.0.1:9000/polycube/v1/r/r1/" }];

/** A router-like cube reply: leaves, a container holding a list, a list with an inner list. */
const cube: JsonValue = {
  name: "r1",
  loglevel: "INFO",
  shadow: false,
  tcubes: ["fw1", "nat1"],
  _links: LINKS,
  fdb: { "aging-time": 300, entry: [{ vlan: 10, address: "aa:bb:cc:dd:ee:ff", port: "p1", _links: LINKS }] },
  ports: [
    { name: "p1", peer: "veth1", secondaryip: [{ ip: "10.2.0.1/24" }, { ip: "10.3.0.1/24" }] },
    { name: "p2", ip: "10.1.0.1/24", stats: { pkts: 2, bytes: 196 } },
  ],
};

describe("show <leaf> prints the bare value", () => {
  const cases: Array<[JsonValue, string]> = [
    [2, "2\n"],
    [196, "196\n"],
    ["forwarding", "forwarding\n"],
    ["", "\n"],
    [true, "true\n"],
    [null, "\n"],
    [0.5, "0.500000\n"],
    [["a", "b"], "[a b]\n"],
    [[3], "[3]\n"],
    [[], "[]\n"],
  ];
  for (const [v, out] of cases) test(JSON.stringify(v), async () => expect(await renderShow(v)).toBe(out));

  test("also with -brief and -verbose", async () => {
    expect(await renderShow("blocking", "brief")).toBe("blocking\n");
    expect(await renderShow(7, "verbose")).toBe("7\n");
  });
});

describe("tables", () => {
  test("normal (depth 2): leaves, then containers whole, then lists as tables; inner lists counted", async () => {
    expect(await renderShow(cube)).toBe(
      [
        "name: r1",
        "loglevel: INFO",
        "shadow: false",
        "tcubes: [fw1 nat1]",
        "fdb:",
        " aging-time: 300",
        "",
        " entry:",
        "  vlan  address            port",
        "  10    aa:bb:cc:dd:ee:ff  p1",
        "",
        "ports:",
        " name  peer   secondaryip  ip           stats.pkts  stats.bytes",
        " p1    veth1  [2 items]",
        " p2                        10.1.0.1/24  2           196",
        "",
      ].join("\n"),
    );
  });

  test("brief (depth 1): every list is [N items], containers are still printed", async () => {
    expect(await renderShow(cube, "brief")).toBe(
      ["name: r1", "loglevel: INFO", "shadow: false", "tcubes: [fw1 nat1]", "fdb:", " aging-time: 300", " entry: [1 items]", "ports: [2 items]", ""].join("\n"),
    );
  });

  test("verbose (depth 3): lists inside list entries follow as tables of their own", async () => {
    const out = await renderShow(cube, "verbose");
    expect(out).toEndWith(
      [
        "ports:",
        " name  peer   secondaryip  ip           stats.pkts  stats.bytes",
        " p1    veth1  [2 items]",
        " p2                        10.1.0.1/24  2           196",
        "",
        " secondaryip of p1:",
        "  ip",
        "  10.2.0.1/24",
        "  10.3.0.1/24",
        "",
      ].join("\n"),
    );
  });

  test("a whole-list reply is a table; its ['_links', …] element is dropped", async () => {
    const list: JsonValue = [{ name: "p1", status: "UP" }, { name: "port22", status: "DOWN" }, ["_links", LINKS]];
    expect(await renderShow(list)).toBe("name    status\np1      UP\nport22  DOWN\n");
  });

  test("a list of lists at the top: brief counts, normal and verbose nest", () => {
    const topo: JsonValue = [{ name: "br1", ports: [{ name: "p1", peer: "veth1", uuid: "u2" }], uuid: "u1" }];
    expect(renderTable(topo, "brief")).toBe("name  ports      uuid\nbr1   [1 items]  u1");
    expect(renderTable(topo, "normal")).toBe("name  ports      uuid\nbr1   [1 items]  u1");
    expect(renderTable(topo, "verbose")).toBe("name  ports      uuid\nbr1   [1 items]  u1\n\nports of br1:\n name  peer   uuid\n p1    veth1  u2");
  });

  test("an object of lists (GET /cubes/) prints one indented table per member", async () => {
    const cubes: JsonValue = { router: [{ name: "r1", type: "TC" }], simplebridge: [{ name: "br1", type: "XDP_SKB" }] };
    expect(await renderShow(cubes)).toBe("router:\n name  type\n r1    TC\n\nsimplebridge:\n name  type\n br1   XDP_SKB\n");
  });

  test("-hide removes dotted paths, in objects and in every list entry", async () => {
    const out = await renderShow(cube, "normal", ["loglevel", "ports.peer", "fdb.entry.address", "tcubes"]);
    expect(out).not.toContain("loglevel");
    expect(out).not.toContain("tcubes");
    expect(out).not.toContain("veth1");
    expect(out).not.toContain("aa:bb");
    expect(out).toContain("name: r1");
    expect(out).toContain(" name  secondaryip");
  });

  test("hidePaths does not touch its input", () => {
    const v = { a: 1, b: [{ c: 1, d: 2 }] };
    expect(hidePaths(v, ["a", "b.c"])).toEqual({ b: [{ d: 2 }] });
    expect(v).toEqual({ a: 1, b: [{ c: 1, d: 2 }] });
  });

  test("columnize aligns on the widest cell and trims trailing blanks", () => {
    expect(columnize([["a", "bb", ""], ["ccc", "d", "e"]], " ")).toEqual([" a    bb", " ccc  d   e"]);
  });

  test("scalarText: integers as they are, other numbers with six decimals", () => {
    expect(scalarText(300)).toBe("300");
    expect(scalarText(-4)).toBe("-4");
    expect(scalarText(1.25)).toBe("1.250000");
    expect(scalarText("1.25")).toBe("1.25");
    expect(scalarText(false)).toBe("false");
  });
});

describe("JSON and YAML", () => {
  test("-json: indented JSON without _links", async () => {
    const out = await renderShow(cube, "json");
    expect(out).toEndWith("}\n");
    expect(out).toContain('\n  "name": "r1",\n');
    expect(out).not.toContain("_links");
    expect(JSON.parse(out)).toEqual(stripLinks(cube) as never);
  });

  test("-yaml: block YAML without _links (stats show -yaml holds `pkts: 2` and `bytes: 196`)", async () => {
    const out = await renderShow({ pkts: 2, bytes: 196, _links: LINKS }, "yaml");
    expect(out).toBe("pkts: 2\nbytes: 196\n");
    const { parse } = await import("yaml");
    expect(parse(await renderShow(cube, "yaml"))).toEqual(stripLinks(cube) as never);
  });

  test("stripLinks drops _links members at any depth and the list quirk element", () => {
    expect(stripLinks([{ a: 1, _links: [] }, ["_links", []]])).toEqual([{ a: 1 }]);
    expect(stripLinks({ x: { _links: [], y: [1, 2] } })).toEqual({ x: { y: [1, 2] } });
  });
});
