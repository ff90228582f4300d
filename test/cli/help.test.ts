// Help tables (reference §5.3) rendered from the daemon's OPTIONS replies (docs/rest.md).
import { describe, expect, test } from "bun:test";
import { builtinHelp, renderHelp, renderRootHelp, type HelpReply } from "../../src/cli/help.ts";

const portsNone: HelpReply = {
  commands: ["add", "del", "show"],
  params: { name: { name: "name", type: "key", simpletype: "string", description: "Port Name", example: "port1" } },
  elements: [{ name: "p1" }, { name: "port2" }],
};

describe("help of a resource", () => {
  test("no verb: commands, keys as <key>, existing entries typed by their keys", () => {
    expect(renderHelp(portsNone, ["r1", "ports"])).toBe(
      [
        "Keyword  Type     Description                                                       Example",
        "add      command  Add entry to a list",
        "del      command  Delete entry of a list",
        "show     command  Show entry or list [-normal | -brief | -verbose | -json | -yaml]",
        "<name>   string   Port Name                                                         port1",
        "p1       <name>",
        "port2    <name>",
        "",
      ].join("\n"),
    );
  });

  test("multi-key entries show all their key values", () => {
    const out = renderHelp({ elements: [{ vlan: "10", address: "aa:bb:cc:dd:ee:ff" }] }, ["c", "fdb", "entry"]);
    expect(out).toContain("10 aa:bb:cc:dd:ee:ff  <vlan> <address>");
  });

  test("a verb hides the commands; del gets an Example line", () => {
    const out = renderHelp(portsNone, ["r1", "ports"], "del");
    expect(out).not.toContain("command");
    expect(out).toEndWith("\nExample:\n    polycubectl r1 ports del port1\n");
  });

  test("add: keys, then writable leaves as key=value, and an Example from cli-example values", () => {
    const h: HelpReply = {
      params: { name: { type: "key", simpletype: "string", description: "Name of the router service", example: "router1" } },
      "optional-params": {
        type: { type: "leaf", simpletype: "string", description: "Type of the cube (TC, XDP_SKB, XDP_DRV)", example: "TC", enum: ["TC", "XDP_SKB", "XDP_DRV"] },
        "service-name": { type: "leaf", simpletype: "string", description: "Name of the service the cube belongs to", example: "helloworld" },
        shadow: { type: "leaf", simpletype: "boolean", description: "Defines if the service is visible in Linux", example: "" },
        action: { type: "leaf", simpletype: "string", description: "Action", example: "DROP", enum: ["DROP", "FORWARD"] },
      },
    };
    const out = renderHelp(h, ["router"], "add");
    expect(out).toContain("\n<name>   string  Name of the router service  router1\n");
    expect(out).toContain("\nOther parameters:\nKeyword ");
    expect(out).toMatch(/\ntype=value +string +Type of the cube \(TC, XDP_SKB, XDP_DRV\) +TC\n/);
    expect(out).toMatch(/\nshadow=value +boolean +Defines if the service is visible in Linux\n/);
    // Enumerations not named by the description are listed after it.
    expect(out).toMatch(/\naction=value +string +Action \(DROP, FORWARD\) +DROP\n/);
    expect(out).toEndWith("Example:\n    polycubectl router add router1 type=TC action=DROP\n");
  });

  test("types: list, container, action; descriptions on one line", () => {
    const out = renderHelp(
      {
        commands: ["set", "show"],
        params: {
          ports: { type: "list", simpletype: "string", description: "Entry of\n   the ports table" },
          fdb: { type: "complex", simpletype: "string", description: "" },
          "reset-counters": { type: "action", simpletype: "string", description: "Reset" },
          vlan: { type: "leaf", simpletype: "unsigned", description: "" },
        },
      },
      ["br1"],
    );
    expect(out).toMatch(/\nports +list +Entry of the ports table\n/);
    expect(out).toMatch(/\nfdb +container\n/);
    expect(out).toMatch(/\nreset-counters +action +Reset\n/);
    expect(out).toMatch(/\nvlan +unsigned\n/);
  });

  test("an empty reply says there is no help", () => {
    expect(renderHelp({}, ["x"])).toBe("There is not help for this command\n");
    expect(renderHelp({ commands: [] }, ["x"], "add")).toBe("There is not help for this command\n");
  });
});

describe("root help", () => {
  const root: HelpReply = { params: { router: { name: "router", type: "leaf", simpletype: "service", description: "Router Service" } } };

  test("services, then the built-in commands, then the running cubes", () => {
    const out = renderRootHelp(root, { router: [{ name: "r1", type: "TC" }], simplebridge: [{ name: "br1", type: "XDP_SKB" }] }, true);
    const lines = out.split("\n");
    expect(lines[0]).toMatch(/^Keyword +Type +Description$/);
    expect(lines[1]).toMatch(/^router +service +Router Service$/);
    expect(lines.slice(0, 11).map((l) => l.split(/ +/)[0])).toEqual(["Keyword", "router", "connect", "disconnect", "attach", "detach", "services", "cubes", "topology", "netdevs", ""]);
    expect(out).toContain("Running Services:\n Name  Service       Type\n r1    router        TC\n br1   simplebridge  XDP_SKB\n");
  });

  test("services is listed only for experts; no cubes, no Running Services section", () => {
    const out = renderRootHelp(root, {}, false);
    expect(out).not.toContain("services");
    expect(out).not.toContain("Running");
    expect(out).toContain("\nnetdevs ");
  });
});

describe("built-in commands' help", () => {
  test("connect, disconnect, attach, detach, services", () => {
    expect(builtinHelp("connect")).toContain("polycubectl connect br1:port1 veth1");
    expect(builtinHelp("disconnect")).toContain("<peer2>");
    const attach = builtinHelp("attach")!;
    for (const w of ["<cube>", "<port>", "position=value", "before=value", "after=value", "Only one of"]) expect(attach).toContain(w);
    expect(builtinHelp("detach")).toContain("polycubectl detach fw1 br1:port1");
    expect(builtinHelp("services")).toContain("add      command");
    expect(builtinHelp("services", "add")).toContain("uri=value");
    expect(builtinHelp("services", "del")).toContain("polycubectl services del router");
    expect(builtinHelp("router")).toBeUndefined();
  });
});
