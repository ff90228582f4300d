// The original's programs-chain tests (tests/programs_chain_common.bash), as they read the
// daemon's log: the ingress and egress programs of a chain of helloworld and
// transparenthelloworld cubes run in the original's order, each packet's lines contiguous in
// the last 50 lines of the log, matched on the 4th and 6th words of each line.
//       +-----+        +-----+-----+-----+        +-----+
// veth1-| th1 |--------| th2 | hw1 | th3 |--------| hw2 |-------- veth2
//       +-----+        +-----+-----+-----+        +-----+
import { describe, expect, test } from "bun:test";
import { Daemon } from "../lib/daemon.ts";
import { daemonAround } from "../lib/datapath.ts";
import { Topology, sh, type Host } from "../lib/netns.ts";

const LOG_SIZE = 50;
// Newest first, as the original lists them.
const SEQ_1TO2 = ["[hw2] [EGRESS]", "[hw2] Forwarding", "[hw2] [INGRESS]", "[th3] [EGRESS]", "[hw1] Forwarding", "[hw1] [INGRESS]", "[th2] [INGRESS]", "[th1] [INGRESS]"];
const SEQ_2TO1 = ["[th1] [EGRESS]", "[hw1] [EGRESS]", "[th2] [EGRESS]", "[hw1] Forwarding", "[hw1] [INGRESS]", "[th3] [INGRESS]", "[hw2] Forwarding", "[hw2] [INGRESS]"];
const SEQ_STACK_EGRESS = ["[th1] [EGRESS]", "[hw1] [EGRESS]"];

const daemon = new Daemon();
const topo = new Topology("tpc");
let h1: Host;
let h2: Host;

/** The last LOG_SIZE lines, newest first, as "word4 word6". */
function processedLog(): string[] {
  const lines = daemon.log().trimEnd().split("\n").slice(-LOG_SIZE);
  return lines.map((l) => { const w = l.split(" "); return `${w[3]} ${w[5]}`; }).reverse();
}

/** The original's find_sequence: the first occurrence of seq[0] must be followed by the rest, contiguous. */
function findSequence(seq: string[], log: string[]): boolean {
  let i = 0;
  for (const line of log) {
    if (line === seq[i]) {
      if (++i === seq.length) return true;
    } else if (i > 0) return false;
  }
  return false;
}

async function cli(...words: string[]): Promise<void> {
  const r = await daemon.cli(words);
  if (r.code !== 0) throw new Error(`polycubectl ${words.join(" ")}: ${r.out}${r.err}`);
}

daemonAround(daemon, topo, () => {
  h1 = topo.host(1, "10.238.0.1/24");
  h2 = topo.host(2, "10.238.0.2/24");
});

async function removeAll(): Promise<void> {
  for (const c of ["hw1", "hw2", "th1", "th2", "th3"]) await daemon.request("DELETE", `/cubes/${c}/`).catch(() => undefined);
  for (const c of ["hw1", "hw2"]) await daemon.request("DELETE", `/helloworld/${c}/`).catch(() => undefined);
  for (const c of ["th1", "th2", "th3"]) await daemon.request("DELETE", `/transparenthelloworld/${c}/`).catch(() => undefined);
}

for (const type of ["TC", "XDP_SKB"]) {
  describe(`programs chain (${type})`, () => {
    test("a packet each way meets the programs in the original's order", async () => {
      try {
        // The original's commands, in its order.
        await cli("helloworld", "add", "hw1", "loglevel=trace", `type=${type}`);
        await cli("hw1", "set", "action=forward");
        await cli("hw1", "ports", "add", "to_veth1", `peer=${h1.outer}`);
        await cli("hw1", "ports", "add", "to_hw2");
        await cli("helloworld", "add", "hw2", "loglevel=trace", `type=${type}`);
        await cli("hw2", "set", "action=forward");
        await cli("hw2", "ports", "add", "to_hw1");
        await cli("hw2", "ports", "add", "to_veth2", `peer=${h2.outer}`);
        await cli("connect", "hw1:to_hw2", "hw2:to_hw1");
        await cli("transparenthelloworld", "add", "th1", "loglevel=trace", `type=${type}`);
        await cli("attach", "th1", h1.outer);
        await cli("transparenthelloworld", "add", "th2", "loglevel=trace", `type=${type}`);
        await cli("attach", "th2", "hw1:to_veth1");
        await cli("transparenthelloworld", "add", "th3", "loglevel=trace", `type=${type}`);
        await cli("attach", "th3", "hw1:to_hw2");
        expect(topo.ping(h1, h2.ip, 1)).toBe(true);
        await Bun.sleep(300); // the datapath's log lines come through the ring buffer
        const log = processedLog();
        expect(findSequence(SEQ_1TO2, log)).toBe(true);
        expect(findSequence(SEQ_2TO1, log)).toBe(true);
      } finally {
        await removeAll();
      }
    });
  });
}

describe("programs chain from the host's stack (TC)", () => {
  test("a packet the host sends out of veth1 meets hw1's egress program, then th1's", async () => {
    try {
      sh(`ip addr add 10.238.0.254/24 dev ${h1.outer}`);
      await cli("helloworld", "add", "hw1", "loglevel=trace", "type=TC");
      await cli("hw1", "ports", "add", "to_veth1", `peer=${h1.outer}`);
      await cli("transparenthelloworld", "add", "th1", "loglevel=trace", "type=TC");
      await cli("attach", "th1", h1.outer);
      await cli("transparenthelloworld", "add", "th2", "loglevel=trace", "type=TC");
      await cli("attach", "th2", "hw1:to_veth1");
      // The echo reply is dropped by hw1 (action DROP): the ping fails, as in the original.
      sh(`ping -c 1 -W 1 10.238.0.1`, { allowFail: true });
      await Bun.sleep(300);
      expect(findSequence(SEQ_STACK_EGRESS, processedLog())).toBe(true);
    } finally {
      sh(`ip addr del 10.238.0.254/24 dev ${h1.outer}`, { allowFail: true });
      await removeAll();
    }
  });
});
