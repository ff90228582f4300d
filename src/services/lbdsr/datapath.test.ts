// lbdsr.bpf.c itself, loaded alone and run with BPF_PROG_TEST_RUN (TC and XDP builds), its maps
// written by the cube's own control plane (index.ts) through a context over the real object: ARP
// for the VIP is answered on the FRONTEND port; requests go out of the BACKEND port to the backend
// balance.ts predicts, only their Ethernet addresses changed; a session keeps its backend while
// the pool changes, and is balanced again when its backend leaves; the rest is dropped.
import { describe, expect, test } from "bun:test";
import { u32 } from "../../lib/bpf/codec.ts";
import { BpfObject, embeddedObject, testRun } from "../../lib/bpf/index.ts";
import { mapAccess } from "../../daemon/cube-context.ts";
import type { CubeControl, JsonObject } from "../../lib/sdk/types.ts";
import { memoryContext } from "../../../test/lib/memory-context.ts";
import { backendIndex, type Session } from "./balance.ts";
import lbdsr from "./index.ts";
import { LB_MAC } from "./tables.ts";

const FE = 0; // the FRONTEND port's id: test runs come in on port 0
const BE = 1;
const VIP = "10.0.0.100";
const FE_MAC = "02:aa:00:00:00:01";
const CLIENT_MAC = "02:cc:00:00:00:01";
const MACS = ["02:b0:00:00:00:01", "02:b0:00:00:00:02", "02:b0:00:00:00:03"];

const bytes = (text: string, sep: string, base: number) => text.split(sep).map((x) => Number.parseInt(x, base));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");

function ether(dst: string, src: string, type: number, payload: number[]): Uint8Array {
  const f = new Uint8Array(Math.max(60, 14 + payload.length));
  f.set(bytes(dst, ":", 16), 0);
  f.set(bytes(src, ":", 16), 6);
  f[12] = type >> 8;
  f[13] = type & 255;
  f.set(payload, 14);
  return f;
}

/** An IPv4 packet of `proto` with `l4` after the header (checksums left zero: nothing checks them). */
function ipv4(s: Pick<Session, "src" | "dst" | "proto">, l4: number[], opts: { dstMac?: string; frag?: number } = {}): Uint8Array {
  const len = 20 + l4.length;
  const frag = opts.frag ?? 0;
  return ether(opts.dstMac ?? FE_MAC, CLIENT_MAC, 0x0800, [0x45, 0, len >> 8, len & 255, 0, 1, frag >> 8, frag & 255, 64, s.proto, 0, 0, ...bytes(s.src, ".", 10), ...bytes(s.dst, ".", 10), ...l4]);
}

function udp(s: Session, opts?: { dstMac?: string; frag?: number }): Uint8Array {
  return ipv4(s, [s.sport >> 8, s.sport & 255, s.dport >> 8, s.dport & 255, 0, 12, 0, 0, 1, 2, 3, 4], opts);
}

function arpRequest(target: string, op = 1): Uint8Array {
  return ether("ff:ff:ff:ff:ff:ff", CLIENT_MAC, 0x0806, [0, 1, 8, 0, 6, 4, 0, op, ...bytes(CLIENT_MAC, ":", 16), 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...bytes(target, ".", 10)]);
}

async function loaded(flavour: "tc" | "xdp") {
  const obj = BpfObject.open(await embeddedObject(`lbdsr.${flavour}`), `lbdsr_test_${flavour}`);
  obj.load();
  // FE leads to the stack (PCN_HOP_PASS), BE to a netdev (PCN_HOP_NETDEV, lo): the verdict tells them apart.
  const hop = (kind: number, ifindex = 0) => {
    const h = new Uint8Array(16);
    new DataView(h.buffer).setUint32(0, kind, true);
    new DataView(h.buffer).setUint32(12, ifindex, true);
    return h;
  };
  obj.map("pcn_peers").update(u32.encode(FE), hop(3));
  obj.map("pcn_peers").update(u32.encode(BE), hop(2, 1));
  const { ctx } = memoryContext({ name: "ld1", service: "lbdsr", ports: [{ id: FE, name: "fe", peer: "", status: "UP" }, { id: BE, name: "be", peer: "", status: "UP" }] });
  ctx.map = (name) => mapAccess(() => obj.map(name));
  ctx.describeMaps = () => obj.describeMaps();
  return { obj, ctx, prog: obj.program("pcn_ingress") };
}

/** A cube of `config` on a fresh object; `run` test-runs a frame through it. */
async function withCube(flavour: "tc" | "xdp", cfg: JsonObject, fn: (cube: CubeControl, run: (data: Uint8Array) => { retval: number; data: Uint8Array }) => Promise<void>): Promise<void> {
  const { obj, ctx, prog } = await loaded(flavour);
  try {
    const cube = (await lbdsr.createCube(ctx, cfg)) as CubeControl;
    await fn(cube, (data) => testRun(prog.fd, { data }));
  } finally {
    obj.close();
  }
}

function config(pool: string[], extra: JsonObject = {}): JsonObject {
  return {
    ports: [{ name: "fe", type: "FRONTEND" }, { name: "be", type: "BACKEND" }],
    frontend: { vip: VIP, mac: FE_MAC },
    backend: { pool: pool.map((mac, i) => ({ id: i + 1, mac })) },
    ...extra,
  };
}

for (const flavour of ["tc", "xdp"] as const) {
  const OUT_FE = flavour === "tc" ? 0 : 2; // TC_ACT_OK / XDP_PASS
  const OUT_BE = flavour === "tc" ? 7 : 4; // TC_ACT_REDIRECT / XDP_REDIRECT
  const DROP = flavour === "tc" ? 2 : 1;

  describe(`lbdsr datapath (${flavour}, test run)`, () => {
    test("ARP for the VIP is answered on the FRONTEND port with the frontend MAC; other ARP is dropped", async () => {
      // Before the VIP and MAC are set, nothing is answered.
      await withCube(flavour, config([], { frontend: {} }), async (cube, run) => {
        expect(run(arpRequest(VIP)).retval).toBe(DROP);
        await cube.apply!([], config([]));
        const r = run(arpRequest(VIP));
        expect(r.retval).toBe(OUT_FE);
        const d = r.data;
        expect([hex(d.subarray(0, 6)), hex(d.subarray(6, 12))]).toEqual([CLIENT_MAC, FE_MAC]);
        expect([...d.subarray(12, 22)]).toEqual([8, 6, 0, 1, 8, 0, 6, 4, 0, 2]);
        expect([hex(d.subarray(22, 28)), [...d.subarray(28, 32)].join("."), hex(d.subarray(32, 38)), [...d.subarray(38, 42)].join(".")]).toEqual([FE_MAC, VIP, CLIENT_MAC, "10.0.0.1"]);
        expect(run(arpRequest("10.0.0.101")).retval).toBe(DROP);
        expect(run(arpRequest(VIP, 2)).retval).toBe(DROP);
      });
    });

    test("each session goes out of the BACKEND port to the backend balance.ts predicts, only its MACs changed", async () => {
      await withCube(flavour, config(MACS), async (cube, run) => {
        const seen = new Set<string>();
        for (let i = 0; i < 200; i++) {
        const s: Session = { src: `10.1.${i & 7}.${1 + (i >> 3)}`, dst: VIP, sport: 1024 + ((i * 7919) % 60000), dport: i % 2 ? 80 : 53, proto: i % 2 ? 6 : 17 };
        const frame = udp(s); // TCP and UDP carry their ports in the same place
        const r = run(frame);
        expect(r.retval).toBe(OUT_BE);
        const want = MACS[backendIndex(s, MACS.length)]!;
        expect({ i, dst: hex(r.data.subarray(0, 6)), src: hex(r.data.subarray(6, 12)) }).toEqual({ i, dst: want, src: LB_MAC });
        expect([...r.data.subarray(12, frame.length)]).toEqual([...frame.subarray(12)]);
        seen.add(want);
        }
        expect(seen.size).toBe(3);
        // ICMP echo requests and replies: a session of the addresses, ports 0.
        for (const type of [8, 0]) {
        const r = run(ipv4({ src: "10.9.9.9", dst: VIP, proto: 1 }, [type, 0, 0, 0, 0, 1, 0, 1]));
        expect(r.retval).toBe(OUT_BE);
        expect(hex(r.data.subarray(0, 6))).toBe(MACS[backendIndex({ src: "10.9.9.9", dst: VIP, sport: 0, dport: 0, proto: 1 }, 3)]!);
        }
      });
    });

    test("dropped: frames not for the frontend MAC, other protocols and ICMP types, later fragments, an empty pool, other ports", async () => {
      await withCube(flavour, config(MACS), async (cube, run) => {
        const s: Session = { src: "10.0.0.1", dst: VIP, sport: 5000, dport: 53, proto: 17 };
        expect(run(udp(s)).retval).toBe(OUT_BE);
        expect(run(udp(s, { dstMac: "02:aa:00:00:00:02" })).retval).toBe(DROP);
        expect(run(ipv4({ src: "10.0.0.1", dst: VIP, proto: 47 }, [0, 0, 0, 0])).retval).toBe(DROP);
        expect(run(ipv4({ src: "10.0.0.1", dst: VIP, proto: 1 }, [3, 3, 0, 0, 0, 0, 0, 0])).retval).toBe(DROP);
        expect(run(udp(s, { frag: 0x2000 })).retval).toBe(OUT_BE); // first fragment: has the ports
        expect(run(udp(s, { frag: 0x0010 })).retval).toBe(DROP);
        expect(run(ether(FE_MAC, CLIENT_MAC, 0x86dd, [0x60])).retval).toBe(DROP);
        await cube.apply!([], config([]));
        expect(run(udp({ ...s, sport: 5001 })).retval).toBe(DROP);
        // Without a FRONTEND port, everything from port 0 drops, ARP included.
        await cube.apply!([], { ...config(MACS), ports: [{ name: "be", type: "BACKEND" }] });
        expect(run(udp(s)).retval).toBe(DROP);
        expect(run(arpRequest(VIP)).retval).toBe(DROP);
      });
    });

    test("a session keeps its backend while the pool changes; the sessions of a backend that leaves are balanced again", async () => {
      await withCube(flavour, config(MACS), async (cube, run) => {
        const sessions: Session[] = Array.from({ length: 60 }, (_, i) => ({ src: "10.0.0.1", dst: VIP, sport: 20000 + i, dport: 53, proto: 17 }));
        const out = (s: Session) => {
        const r = run(udp(s));
        expect(r.retval).toBe(OUT_BE);
        return hex(r.data.subarray(0, 6));
        };
        const first = sessions.map(out);
        expect(first).toEqual(sessions.map((s) => MACS[backendIndex(s, 3)]!));
        // A fourth backend: the existing sessions stay, though hash % 4 would move most of them.
        const four = [...MACS, "02:b0:00:00:00:04"];
        await cube.apply!([], config(four));
        expect(sessions.filter((s) => four[backendIndex(s, 4)] !== MACS[backendIndex(s, 3)]).length).toBeGreaterThan(10);
        expect(sessions.map(out)).toEqual(first);
        const fresh: Session = { src: "10.0.0.2", dst: VIP, sport: 7, dport: 53, proto: 17 };
        expect(out(fresh)).toBe(four[backendIndex(fresh, 4)]!);
        // The second backend leaves (the pool is now ids 1, 3, 4): its sessions go where a new
        // session would; the others stay.
        await cube.apply!([], { ...config([]), backend: { pool: [{ id: 1, mac: MACS[0] }, { id: 3, mac: MACS[2] }, { id: 4, mac: four[3] }] } });
        const left = [MACS[0]!, MACS[2]!, four[3]!];
        const after = sessions.map(out);
        sessions.forEach((s, i) => expect({ i, mac: after[i] }).toEqual({ i, mac: first[i] === MACS[1] ? left[backendIndex(s, 3)]! : first[i]! }));
        expect(first.filter((m) => m === MACS[1]).length).toBeGreaterThan(5);
      });
    });
  });
}
