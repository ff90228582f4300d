// `polycube codegen`: skeletons generated from the services' models (helloworld, simplebridge,
// router, bridge, transparenthelloworld) and from two test models are complete: the tree is the
// model's, the datapath compiles for TC and XDP and passes the verifier, index.ts type-checks and
// works against a context, the generated tests pass. Bad input is refused with a clear message.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { BpfObject, testRun, u32Bytes } from "../../src/lib/bpf/index.ts";
import { printTree } from "../../src/lib/codegen/tree.ts";
import { libImportPath } from "../../src/lib/codegen/writer.ts";
import { ServiceError, type CubeContext, type CubeControl, type Direction, type JsonObject, type ServiceModule } from "../../src/lib/sdk/types.ts";
import { loadModule } from "../../src/lib/yang/index.ts";
import { memoryMap } from "../lib/memory-context.ts";

const ROOT = join(import.meta.dir, "..", "..");
// Under the repository so that the generated imports of src/lib resolve (git-ignored).
const TMP = join(ROOT, "build", `tmp-codegen-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
const OUTSIDE = join(tmpdir(), `tmp-codegen-${process.pid}`);

function codegen(args: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync([process.execPath, join(ROOT, "src", "polycube.ts"), "codegen", ...args], { stdout: "pipe", stderr: "pipe", cwd: ROOT });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

const MODELS: Array<{ name: string; file: string; kind: "standard" | "transparent" }> = [
  ...["helloworld", "simplebridge", "router", "bridge"].map((name) => ({ name, file: join(ROOT, "src", "services", name, `${name}.yang`), kind: "standard" as const })),
  { name: "transparenthelloworld", file: join(ROOT, "src", "services", "transparenthelloworld", "transparenthelloworld.yang"), kind: "transparent" },
  { name: "pcn-kitchen", file: join(import.meta.dir, "services", "pcn-kitchen.yang"), kind: "standard" },
  { name: "tap", file: join(import.meta.dir, "services", "tap.yang"), kind: "transparent" },
  // Named like the helpers of the generated index.ts.
  { name: "entries", file: join(import.meta.dir, "services", "entries.yang"), kind: "standard" },
];

beforeAll(() => mkdirSync(TMP, { recursive: true }));
afterAll(() => {
  rmSync(TMP, { recursive: true, force: true });
  rmSync(OUTSIDE, { recursive: true, force: true });
});

describe("codegen from service models", () => {
  for (const m of MODELS) {
    test(`${m.name}: writes the skeleton of a ${m.kind} service`, () => {
      const dir = join(TMP, m.name);
      const r = codegen(["-i", m.file, "-o", dir]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toContain(`${m.name}, a ${m.kind} service`);
      expect(readdirSync(dir).sort()).toEqual([`${m.name}.bpf.c`, `${m.name}.test.ts`, `${m.name}.tree`, `${m.name}.yang`, "index.ts"].sort());
      expect(readFileSync(join(dir, `${m.name}.yang`), "utf8")).toBe(readFileSync(m.file, "utf8"));
      const tree = readFileSync(join(dir, `${m.name}.tree`), "utf8");
      expect(tree).toBe(printTree(loadModule(readFileSync(m.file, "utf8"))));
      const lint = Bun.spawnSync(["yanglint", "-f", "tree", "-p", join(ROOT, "yang"), m.file], { stdout: "pipe" }).stdout.toString();
      expect(tree).toBe(lint);
      const c = readFileSync(join(dir, `${m.name}.bpf.c`), "utf8");
      expect(c.includes("#define PCN_TRANSPARENT")).toBe(m.kind === "transparent");
      expect(c).toContain("pcn_log(ctx, LOG_DEBUG,");
    });
  }

  test("the trees of helloworld, simplebridge, router and bridge are the services' .tree files", () => {
    for (const name of ["helloworld", "simplebridge", "router", "bridge"])
      expect(readFileSync(join(TMP, name, `${name}.tree`), "utf8")).toBe(readFileSync(join(ROOT, "src", "services", name, `${name}.tree`), "utf8"));
  });

  test("every datapath compiles for TC and XDP with build/bpf.sh's flags", () => {
    const arch = `/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`;
    for (const m of MODELS) {
      for (const flavour of ["PCN_TC", "PCN_XDP"]) {
        const obj = join(TMP, m.name, `${m.name}.${flavour === "PCN_TC" ? "tc" : "xdp"}.o`);
        const r = Bun.spawnSync(
          ["clang-19", "-O2", "-g", "-target", "bpf", `-D${flavour}`, "-Wall", "-Werror", "-Wno-unused-function", "-I", join(ROOT, "bpf"), "-I", arch, "-c", join(TMP, m.name, `${m.name}.bpf.c`), "-o", obj],
          { stdout: "pipe", stderr: "pipe" },
        );
        expect({ model: m.name, flavour, err: r.stderr.toString(), code: r.exitCode }).toEqual({ model: m.name, flavour, err: "", code: 0 });
      }
    }
  });

  test("every datapath passes the verifier and lets packets go on (TC_ACT_OK, XDP_PASS)", () => {
    const frame = new Uint8Array(64).fill(0xab);
    for (const m of MODELS) {
      for (const [flavour, pass] of [["tc", 0], ["xdp", 2]] as const) {
        const obj = BpfObject.open(readFileSync(join(TMP, m.name, `${m.name}.${flavour}.o`)), `codegen_${flavour}`);
        try {
          obj.load();
          // A transparent cube hands RX_OK packets to the hop of their direction: make both PASS.
          const pass3 = new Uint8Array(16);
          pass3[0] = 3; // PCN_HOP_PASS
          for (const dir of [0, 1]) obj.map("pcn_peers").update(u32Bytes(dir), pass3);
          const programs = m.kind === "transparent" ? ["pcn_ingress", "pcn_egress"] : ["pcn_ingress"];
          for (const p of programs) expect({ model: m.name, flavour, p, verdict: testRun(obj.program(p).fd, { data: frame }).retval }).toEqual({ model: m.name, flavour, p, verdict: pass });
        } finally {
          obj.close();
        }
      }
    }
  });

  test("every index.ts and test file type-checks with the project's settings", () => {
    writeFileSync(join(TMP, "tsconfig.json"), JSON.stringify({ extends: "../../tsconfig.json", include: ["./**/*.ts", "../../src/embedded.d.ts"] }));
    const r = Bun.spawnSync([join(ROOT, "node_modules", ".bin", "tsc"), "-p", join(TMP, "tsconfig.json")], { stdout: "pipe", stderr: "pipe", cwd: ROOT });
    expect(r.stdout.toString() + r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });

  test("the generated tests pass", () => {
    const r = Bun.spawnSync([process.execPath, "test", ...MODELS.map((m) => join(TMP, m.name, `${m.name}.test.ts`))], { stdout: "pipe", stderr: "pipe", cwd: ROOT });
    const text = r.stdout.toString() + r.stderr.toString();
    expect(text).toContain(`${MODELS.length * 2} pass`);
    expect(r.exitCode).toBe(0);
  });
});

/** A context that records what the control plane asks for. */
function fakeContext(kind: "standard" | "transparent") {
  const calls: string[] = [];
  const log = (level: string) => (msg: string) => void calls.push(`${level} ${msg}`);
  const ctx: CubeContext = {
    name: "c1",
    uuid: "00000000-0000-4000-8000-000000000000",
    service: "x",
    type: "TC",
    log: { trace: log("trace"), debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error"), critical: log("critical") },
    loadDatapath: async (object) => void calls.push(`load ${object}`),
    // The skeleton's one map: per-CPU packet counters (u32 key, u64 value); a memory map of those
    // sizes, so that the layout check runs.
    map: (name) => {
      if (name !== "packets") throw new Error(`the skeleton has no map ${name}`);
      return memoryMap({ keySize: 4, valueSize: 8 });
    },
    ports: () => (kind === "standard" ? [{ id: 0, name: "p1", peer: "", status: "DOWN" }] : []),
    packetOut: async (port, frame) => void calls.push(`out ${port} ${frame.length}`),
    packetOutDirection: async (direction: Direction, frame) => void calls.push(`out ${direction} ${frame.length}`),
  };
  return { ctx, calls };
}

async function load(name: string): Promise<ServiceModule> {
  return ((await import(join(TMP, name, "index.ts"))) as { default: ServiceModule }).default;
}

describe("generated control planes at work", () => {
  test("simplebridge: first configuration through the handlers, state over the configuration, the flush action", async () => {
    const svc = await load("simplebridge");
    expect(svc.name).toBe("simplebridge");
    const { ctx, calls } = fakeContext("standard");
    const config: JsonObject = { name: "c1", loglevel: "INFO", ports: [{ name: "p1", peer: "" }], fdb: { "aging-time": 300, entry: [{ address: "aa:bb:cc:dd:ee:ff", port: "p1" }] } };
    const cube: CubeControl = await svc.createCube(ctx, config);
    expect(calls[0]).toBe("load simplebridge");
    expect(calls).toContain("debug create /ports[name=p1]");
    expect(calls).toContain("debug create /fdb/aging-time");
    expect(calls).toContain("debug create /fdb/entry[address=aa:bb:cc:dd:ee:ff]");
    await cube.apply!([{ op: "modify", path: [{ node: "fdb" }, { node: "aging-time" }], where: "/fdb/aging-time", before: 300, after: 10 }], { ...config, fdb: { "aging-time": 10, entry: [] } });
    expect(calls).toContain("debug modify /fdb/aging-time");
    expect(await cube.state!()).toEqual({ fdb: { entry: [] } });
    await cube.apply!([], config);
    expect(await cube.state!()).toEqual({ fdb: { entry: [{ address: "aa:bb:cc:dd:ee:ff", port: "p1", age: 0 }] } });
    expect(await cube.action!([{ node: "fdb" }, { node: "flush" }], {})).toEqual({ flushed: false });
    let err: unknown;
    try {
      await cube.action!([{ node: "fdb" }, { node: "nosuch" }], {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).status).toBe(404);
    await cube.packetIn!({ portId: 0, portName: "p1", reason: 0, trafficClass: 0, metadata: [0, 0, 0], data: new Uint8Array(60) });
    expect(calls).toContain("info packet from port p1, 60 bytes");
    await cube.destroy!();
  });

  test("a handler that throws leaves the previous configuration in place", async () => {
    const svc = await load("helloworld");
    const { ctx } = fakeContext("standard");
    const cube = (await svc.createCube(ctx, { name: "c1", action: "DROP" })) as CubeControl & { updateAction(c: unknown): Promise<void> };
    cube.updateAction = async () => {
      throw new ServiceError("no", 400);
    };
    await expect(cube.apply!([{ op: "modify", path: [{ node: "action" }], where: "/action", before: "DROP", after: "FORWARD" }], { name: "c1", action: "FORWARD" })).rejects.toThrow("no");
    expect((cube as unknown as { config: JsonObject }).config.action).toBe("DROP");
  });

  test("pcn-kitchen: ports keep their names in state, other lists carry their configuration, actions in lists get the path", async () => {
    const svc = await load("pcn-kitchen");
    expect(svc.kind).toBe("standard");
    const { ctx } = fakeContext("standard");
    const config: JsonObject = {
      name: "c1",
      ports: [{ name: "p1", peer: "", ip: "10.0.0.1" }],
      table: [{ name: "t", value: 1, rule: [{ id: 7, action: "PASS" }] }],
      deep: { a: [{ k: "x", b: { c: [{ k1: 1, k2: 2 }] } }] },
    };
    const cube = await svc.createCube(ctx, config);
    const state = await cube.state!();
    expect(state.ports).toEqual([{ name: "p1", counters: { rx: 0, tx: 0 } }]);
    expect(state.table).toEqual([{ name: "t", hits: 0, rule: [{ id: 7, action: "PASS", matched: 0 }] }]);
    expect(state.deep).toEqual({ a: [{ k: "x", b: { c: [{ k1: 1, k2: 2, seen: false }] } }] });
    expect(state.stats).toEqual({ packets: 0, mode: "FAST", "per-cpu": [], kernel: false });
    expect(state["peers-seen"]).toEqual([]);
    expect(await cube.action!([{ node: "table", keys: { name: "t" } }, { node: "append" }], { value: 3 })).toEqual({ id: 0, created: [null] });
    expect(await cube.action!([{ node: "deep" }, { node: "flush" }], {})).toBeUndefined();
    expect(await cube.action!([{ node: "global-reset" }], {})).toBeUndefined();
  });

  test("tap (transparent): packets from the slow path go on in their direction; attach and detach are logged", async () => {
    const svc = await load("tap");
    expect(svc.kind).toBe("transparent");
    const { ctx, calls } = fakeContext("transparent");
    const cube = await svc.createCube(ctx, { name: "c1", direction: "BOTH", capture: { snaplen: 128 } });
    expect(calls).toContain("debug create /capture/snaplen");
    await cube.packetIn!({ portId: 1, direction: "EGRESS", reason: 0, trafficClass: 0, metadata: [0, 0, 0], data: new Uint8Array(42) });
    expect(calls).toContain("out EGRESS 42");
    await cube.parentChanged!("br1:p1");
    await cube.parentChanged!("");
    expect(calls).toContain("info attached to br1:p1");
    expect(calls).toContain("info detached");
    expect(await cube.state!()).toEqual({ counters: { ingress: 0, egress: 0 } });
    expect(await cube.action!([{ node: "capture" }, { node: "clear" }], {})).toEqual({ cleared: 0 });
  });
});

describe("bad input", () => {
  const bad = join(TMP, "bad");
  beforeAll(() => mkdirSync(bad, { recursive: true }));

  test("no arguments, a missing -o, an unknown option: usage, exit 2", () => {
    for (const args of [[], ["-i", "x.yang"], ["-i", "x.yang", "-o", "d", "--nope"], ["-i"]]) {
      const r = codegen(args);
      expect(r.code).toBe(2);
      expect(r.err).toContain("polycube codegen: ");
      expect(r.err).toContain("Usage: polycube codegen -i MODEL.yang -o OUTDIR");
    }
    expect(codegen(["--help"]).code).toBe(0);
    expect(codegen(["--help"]).out).toContain("Usage: polycube codegen");
  });

  test("a missing model file", () => {
    const r = codegen(["-i", join(bad, "nosuch.yang"), "-o", join(bad, "out1")]);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe(`polycube codegen: cannot read the model ${join(bad, "nosuch.yang")}: no such file`);
    expect(existsSync(join(bad, "out1"))).toBe(false);
  });

  test("invalid YANG: the engine's message", () => {
    const cases = {
      "syntax.yang": 'module syntax { yang-version 1.1; namespace "urn:s"; prefix s; leaf a { type string }',
      "semantics.yang": 'module semantics { yang-version 1.1; namespace "urn:s"; prefix s; leaf a { type no-such-type; } }',
    };
    for (const [f, text] of Object.entries(cases)) {
      writeFileSync(join(bad, f), text);
      let engine = "";
      try {
        loadModule(text);
      } catch (e) {
        engine = (e as Error).message;
      }
      expect(engine).not.toBe("");
      const r = codegen(["-i", join(bad, f), "-o", join(bad, "out2")]);
      expect(r.code).toBe(1);
      expect(r.err.trim()).toBe(`polycube codegen: ${join(bad, f)}: invalid YANG model: ${engine}`);
      expect(existsSync(join(bad, "out2"))).toBe(false);
    }
  });

  test("a model that does not use a polycube base grouping, or uses both", () => {
    const r = codegen(["-i", join(import.meta.dir, "models", "statements.yang"), "-o", join(bad, "out3")]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("the model does not use a polycube base grouping");
    expect(r.err).toContain("polycube-standard-base:standard-base-yang-module");
    expect(r.err).toContain("polycube-transparent-base:transparent-base-yang-module");
    const both = join(bad, "both.yang");
    writeFileSync(
      both,
      `module both { yang-version 1.1; namespace "urn:b"; prefix b;
         import polycube-standard-base { prefix s; } import polycube-transparent-base { prefix t; }
         container x { uses s:standard-base-yang-module; } uses t:transparent-base-yang-module; uses s:standard-base-yang-module; }`,
    );
    const r2 = codegen(["-i", both, "-o", join(bad, "out3")]);
    expect(r2.code).toBe(1);
    expect(r2.err).toMatch(/invalid YANG model|uses both the standard and the transparent base groupings/);
    expect(existsSync(join(bad, "out3"))).toBe(false);
  });

  test("an output directory that is not empty needs --force; other files stay", () => {
    const out = join(bad, "busy");
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "notes.txt"), "mine");
    writeFileSync(join(out, "index.ts"), "// old");
    const file = join(ROOT, "src", "services", "helloworld", "helloworld.yang");
    const r = codegen(["-i", file, "-o", out]);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe(`polycube codegen: output directory ${out} is not empty (--force writes into it, replacing the generated files)`);
    expect(readFileSync(join(out, "index.ts"), "utf8")).toBe("// old");
    const f = codegen(["-i", file, "-o", out, "--force"]);
    expect(f.code).toBe(0);
    expect(readFileSync(join(out, "index.ts"), "utf8")).toContain("export default helloworld;");
    expect(readFileSync(join(out, "notes.txt"), "utf8")).toBe("mine");
  });

  test("an output path that is a file", () => {
    writeFileSync(join(bad, "afile"), "");
    const r = codegen(["-i", join(ROOT, "src", "services", "helloworld", "helloworld.yang"), "-o", join(bad, "afile")]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("exists and is not a directory");
  });
});

describe("imports of src/lib", () => {
  test("found from the output folder inside the source tree", () => {
    expect(libImportPath(join(ROOT, "src", "services", "x")).path).toBe("../../lib");
    expect(libImportPath(join(ROOT, "build", "tmp", "x")).path).toBe("../../../src/lib");
    expect(libImportPath(join(ROOT, "src", "services", "x"), join(ROOT, "src", "lib")).path).toBe("../../lib");
  });

  test("outside the tree: the path for src/services/NAME, with a note; --lib sets it", () => {
    const r = codegen(["-i", join(ROOT, "src", "services", "helloworld", "helloworld.yang"), "-o", join(OUTSIDE, "hw")]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("note: no polycube source tree above");
    expect(readFileSync(join(OUTSIDE, "hw", "index.ts"), "utf8")).toContain('from "../../lib/sdk/types.ts"');
    const l = codegen(["-i", join(ROOT, "src", "services", "helloworld", "helloworld.yang"), "-o", join(OUTSIDE, "hw2"), "--lib", join(ROOT, "src", "lib")]);
    expect(l.code).toBe(0);
    expect(l.out).not.toContain("note:");
    expect(readFileSync(join(OUTSIDE, "hw2", "index.ts"), "utf8")).toContain(`from "${relative(join(OUTSIDE, "hw2"), join(ROOT, "src", "lib"))}/sdk/types.ts"`);
    const nolib = codegen(["-i", join(ROOT, "src", "services", "helloworld", "helloworld.yang"), "-o", join(OUTSIDE, "hw3"), "--lib", OUTSIDE]);
    expect(nolib.code).toBe(1);
    expect(nolib.err).toContain("no sdk/types.ts there");
  });
});
