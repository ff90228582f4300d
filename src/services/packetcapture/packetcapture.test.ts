// packetcapture's model matches the original's tree (plus the base model's read-only `parent`);
// its settings, refusals, pcap encoding and libpcap-compiled filters.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findDataChild, loadModule } from "../../lib/yang/index.ts";
import { ServiceError } from "../../lib/sdk/types.ts";
import { compile, encodeGlobalHeader, encodeRecord, globalHeader, settings } from "./index.ts";

const root = join(import.meta.dir, "..", "..", "..");
const file = join(import.meta.dir, "packetcapture.yang");

/** An Ethernet/IPv4/ICMP echo request from src to dst (checksums left 0: filters do not read them). */
export function icmpFrame(src: number[], dst: number[]): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + 16);
  f.set([0x08, 0x00], 12);
  f[14] = 0x45;
  f[16] = 0;
  f[17] = 44;
  f[22] = 64;
  f[23] = 1;
  f.set(src, 26);
  f.set(dst, 30);
  f[34] = 8;
  return f;
}

describe("packetcapture model", () => {
  test("loads in our engine and in yanglint, with the original's tree", () => {
    const schema = loadModule(readFileSync(file, "utf8"));
    for (const t of ["uuid", "type", "loglevel", "parent", "capture", "anonimize", "dump", "networkmode", "snaplen", "filter", "globalheader", "packet"]) {
      expect(findDataChild(schema.root, t)).toBeDefined();
    }
    for (const t of ["ports", "shadow", "span"]) expect(findDataChild(schema.root, t)).toBeUndefined();
    const r = spawnSync(["yanglint", "-p", join(root, "yang"), file], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const tree = spawnSync(["yanglint", "-f", "tree", "-p", join(root, "yang"), file], { stdout: "pipe" }).stdout.toString();
    const ours = tree.split("\n").filter((l) => !/^ {2}\+--ro parent\? +string$/.test(l)).join("\n");
    expect(ours).toBe(readFileSync(join(import.meta.dir, "packetcapture.tree"), "utf8"));
  });
});

describe("packetcapture settings", () => {
  test("defaults: OFF, snaplen 262144, every packet, a file per cube in /tmp", () => {
    expect(settings({}, "pc1")).toEqual({ capture: { ingress: 0, egress: 0 }, snaplen: 262144, filter: "", dump: "/tmp/packetcapture_pc1.pcap" });
    expect(settings({ capture: "bidirectional", snaplen: 80, dump: "/x.pcap" }, "pc1")).toMatchObject({ capture: { ingress: 1, egress: 1 }, snaplen: 80, dump: "/x.pcap" });
    expect(settings({ capture: "EGRESS" }, "c").capture).toEqual({ ingress: 0, egress: 1 });
  });

  test("anonimize and networkmode true, snaplen 0 and unknown capture are refused with 400", () => {
    for (const [cfg, field] of [[{ anonimize: true }, "anonimize"], [{ networkmode: true }, "networkmode"], [{ snaplen: 0 }, "snaplen"], [{ capture: "SIDEWAYS" }, "capture"]] as const) {
      try {
        settings(cfg, "c");
        throw new Error("accepted");
      } catch (e) {
        expect(e).toBeInstanceOf(ServiceError);
        expect((e as ServiceError).status).toBe(400);
        expect((e as ServiceError).message).toContain(field);
      }
    }
    expect(settings({ anonimize: false, networkmode: false }, "c").capture).toEqual({ ingress: 0, egress: 0 });
  });
});

describe("packetcapture filters (libpcap)", () => {
  test("'' and 'all' take every packet; an expression is compiled to classic BPF and matches as tcpdump would", () => {
    expect(compile("", 100)).toBeUndefined();
    expect(compile("all", 100)).toBeUndefined();
    const f = compile("icmp and src host 10.0.0.1", 262144)!;
    try {
      expect(f.instructions).toBeGreaterThan(2);
      expect(f.match(icmpFrame([10, 0, 0, 1], [10, 0, 0, 2]))).toBe(true);
      expect(f.match(icmpFrame([10, 0, 0, 2], [10, 0, 0, 1]))).toBe(false);
      const udp = icmpFrame([10, 0, 0, 1], [10, 0, 0, 2]);
      udp[23] = 17;
      expect(f.match(udp)).toBe(false);
    } finally {
      f.free();
    }
    const n = compile("net 10.0.0.0/8 and not port 22", 100)!;
    expect(n.match(icmpFrame([10, 1, 2, 3], [192, 168, 0, 1]))).toBe(true);
    expect(n.match(icmpFrame([172, 16, 0, 1], [192, 168, 0, 1]))).toBe(false);
    n.free();
  });

  test("a wrong expression is a 400 carrying libpcap's message", () => {
    try {
      compile("icmp and hots 1.2.3.4", 100);
      throw new Error("accepted");
    } catch (e) {
      expect((e as ServiceError).status).toBe(400);
      expect((e as ServiceError).message).toContain("filter");
      expect((e as ServiceError).message).toContain("syntax error");
    }
  });
});

describe("pcap encoding", () => {
  test("global header and records; tcpdump reads them when installed", () => {
    const h = encodeGlobalHeader(globalHeader(96));
    const v = new DataView(h.buffer);
    expect([v.getUint32(0, true), v.getUint16(4, true), v.getUint16(6, true), v.getUint32(16, true), v.getUint32(20, true)]).toEqual([0xa1b2c3d4, 2, 4, 96, 1]);
    const frame = icmpFrame([10, 0, 0, 1], [10, 0, 0, 2]);
    const r = encodeRecord({ seconds: 1700000000, micros: 123456, data: frame.subarray(0, 42), packetlen: frame.length });
    const rv = new DataView(r.buffer);
    expect([rv.getUint32(0, true), rv.getUint32(4, true), rv.getUint32(8, true), rv.getUint32(12, true), r.length]).toEqual([1700000000, 123456, 42, frame.length, 58]);
    if (!Bun.which("tcpdump")) return;
    const dir = mkdtempSync(join(tmpdir(), "pcap-"));
    try {
      const path = join(dir, "x.pcap");
      writeFileSync(path, Buffer.concat([h, r]));
      const out = spawnSync(["tcpdump", "-n", "-r", path], { stdout: "pipe", stderr: "pipe" });
      expect(out.exitCode).toBe(0);
      expect(out.stdout.toString()).toContain("10.0.0.1 > 10.0.0.2: ICMP echo request");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
