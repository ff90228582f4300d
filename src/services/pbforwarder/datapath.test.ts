// pbforwarder.bpf.c itself, loaded alone and run with BPF_PROG_TEST_RUN on frames, its maps
// filled by table.ts: the rule with the lowest matching id decides (FORWARD leads to a port
// whose hop passes the packet, a miss drops), and the cost of a packet does not grow with the
// rules: 10,000 rules of one shape with the match last cost about what 10 do.
import { describe, expect, test } from "bun:test";
import { u32 } from "../../lib/bpf/codec.ts";
import { BpfObject, embeddedObject, testRun, type BpfMap } from "../../lib/bpf/index.ts";
import { TypedMapAccess } from "../../lib/sdk/maps.ts";
import type { MapAccess } from "../../lib/sdk/types.ts";
import { entryKey, entryValue, tupleSet } from "./classify.ts";
import { ACTION_DROP, ACTION_FORWARD, type Rule } from "./rules.ts";
import { RuleTable } from "./table.ts";

function access(m: BpfMap): MapAccess {
  return {
    get: async (k) => m.lookup(k),
    getPerCpu: async (k) => m.lookupPerCpu(k),
    set: async (k, v) => m.update(k, v),
    delete: async (k) => m.delete(k),
    entries: async () => m.entries(),
    clear: async () => m.clear(),
    setMany: async (e) => m.updateMany(e),
    deleteMany: async (k) => m.deleteMany(k),
    keySize: m.keySize,
    valueSize: m.valueSize,
  };
}

/** Ethernet + IPv4 + UDP from 10.0.0.1 to dst. */
function frame(dst: number[]): Uint8Array {
  const f = new Uint8Array(64);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00], 0);
  f.set([0x45, 0, 0, 36, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, ...dst], 14);
  f.set([0x0f, 0xa0, 0x1f, 0x90, 0, 16, 0, 0], 34);
  return f;
}

async function loaded(flavour: "tc" | "xdp") {
  const obj = BpfObject.open(await embeddedObject(`pbforwarder.${flavour}`), `pbf_test_${flavour}`);
  obj.load();
  // Port 1 leads to the stack (PCN_HOP_PASS): a packet forwarded there is passed.
  const hop = new Uint8Array(16);
  new DataView(hop.buffer).setUint32(0, 3, true);
  obj.map("pcn_peers").update(u32.encode(1), hop);
  const table = new RuleTable({
    rules: new TypedMapAccess(access(obj.map("pbf_rules")), "pbf_rules", entryKey, entryValue),
    tuples: new TypedMapAccess(access(obj.map("pbf_tuples")), "pbf_tuples", u32, tupleSet),
    active: new TypedMapAccess(access(obj.map("pbf_active")), "pbf_active", u32, u32),
  });
  return { obj, table, prog: obj.program("pcn_ingress") };
}

/** n rules of one shape (dst_ip), the one for 10.0.0.2 last. */
function rules(n: number): Rule[] {
  const out: Rule[] = [];
  for (let i = 0; i < n - 1; i++) out.push({ id: i, dstIp: (0x0a090000 + i) >>> 0, action: ACTION_DROP, outPort: 0 });
  out.push({ id: n - 1, dstIp: 0x0a000002, action: ACTION_FORWARD, outPort: 1 });
  return out;
}

for (const flavour of ["tc", "xdp"] as const) {
  const PASS = flavour === "tc" ? 0 : 2;
  const DROP = flavour === "tc" ? 2 : 1;

  describe(`pbforwarder datapath (${flavour}, test run)`, () => {
    test("lowest matching id decides; no match drops; a change is seen at once", async () => {
      const { obj, table, prog } = await loaded(flavour);
      try {
        expect(testRun(prog.fd, { data: frame([10, 0, 0, 2]) }).retval).toBe(DROP); // no rules
        await table.sync(rules(10));
        expect(testRun(prog.fd, { data: frame([10, 0, 0, 2]) }).retval).toBe(PASS);
        expect(testRun(prog.fd, { data: frame([10, 0, 0, 3]) }).retval).toBe(DROP);
        // A lower id of another shape (any UDP) that drops takes over; deleting it gives back.
        const udpDrop: Rule = { id: 0, proto: 17, action: ACTION_DROP, outPort: 0 };
        await table.sync([...rules(10).filter((r) => r.id !== 0), udpDrop]);
        expect(testRun(prog.fd, { data: frame([10, 0, 0, 2]) }).retval).toBe(DROP);
        await table.sync(rules(10));
        expect(testRun(prog.fd, { data: frame([10, 0, 0, 2]) }).retval).toBe(PASS);
      } finally {
        obj.close();
      }
    });

    test("10,000 rules of one shape, the match last, cost about what 10 do", async () => {
      const cost = async (n: number) => {
        const { obj, table, prog } = await loaded(flavour);
        try {
          await table.sync(rules(n));
          expect(table.space.tupleCount).toBe(1);
          const data = frame([10, 0, 0, 2]);
          expect(testRun(prog.fd, { data }).retval).toBe(PASS);
          // The best of a few runs: the machine is shared.
          return Math.min(...Array.from({ length: 5 }, () => testRun(prog.fd, { data, repeat: 20000 }).duration));
        } finally {
          obj.close();
        }
      };
      const small = await cost(10);
      const large = await cost(10_000);
      console.log(`pbforwarder ${flavour}: ${small} ns per packet with 10 rules, ${large} ns with 10,000`);
      expect(large).toBeLessThan(small * 2 + 50);
    });
  });
}
