// The spanning-tree engine on simulated networks: instances linked port to port, BPDUs carried
// through their wire encoding, time advanced by a fake clock.
import { describe, expect, test } from "bun:test";
import { bpduFrame, parseBpduFrame } from "./frames.ts";
import { bridgeIdOf, decodeBpdu, encodeBpdu, PortState, StpInstance, type Bpdu, type StpTimers } from "./stp.ts";

const TIMERS: StpTimers = { helloTime: 1, maxAge: 4, forwardDelay: 2 };

class Net {
  now = 0;
  readonly bridges = new Map<string, StpInstance>();
  private readonly links = new Map<string, string>();
  private readonly queue: Array<{ to: string; bpdu: Bpdu }> = [];
  readonly changes: string[] = [];

  bridge(name: string, priority: number, mac: string, ports: number[], timers = TIMERS): StpInstance {
    const inst = new StpInstance(bridgeIdOf(priority, mac), timers, {
      send: (port, bpdu) => {
        const peer = this.links.get(`${name}:${port}`);
        // Through the wire format, as the slow path does.
        if (peer) this.queue.push({ to: peer, bpdu: parseBpduFrame(bpduFrame("02:00:00:00:00:01", bpdu, 1, false))! });
      },
      topologyChange: () => this.changes.push(name),
    }, () => this.now);
    inst.setPorts(ports.map((id) => ({ id, priority: 128, pathCost: 4 })));
    this.bridges.set(name, inst);
    return inst;
  }

  link(a: string, b: string): void {
    this.links.set(a, b);
    this.links.set(b, a);
    for (const end of [a, b]) this.endpoint(end).setPortUp(this.port(end), true);
  }

  cut(a: string): void {
    const b = this.links.get(a)!;
    this.links.delete(a);
    this.links.delete(b);
    for (const end of [a, b]) this.endpoint(end).setPortUp(this.port(end), false);
  }

  private endpoint(e: string): StpInstance {
    return this.bridges.get(e.split(":")[0]!)!;
  }

  private port(e: string): number {
    return Number(e.split(":")[1]);
  }

  /** Runs the network for a while, in 100 ms steps. */
  run(seconds: number): void {
    for (let t = 0; t < seconds * 10; t++) {
      this.now += 100;
      for (const b of this.bridges.values()) b.tick();
      for (let guard = 0; this.queue.length && guard < 10000; guard++) {
        const m = this.queue.shift()!;
        this.endpoint(m.to).receive(this.port(m.to), m.bpdu);
      }
    }
  }

  state(e: string): PortState {
    return this.endpoint(e).state(this.port(e));
  }

  blocked(): string[] {
    const out: string[] = [];
    for (const [name, b] of this.bridges) for (const end of this.links.keys()) if (end.startsWith(`${name}:`) && b.state(this.port(end)) === PortState.BLOCKING) out.push(end);
    return out.sort();
  }
}

/** b1 (root) -- b2 -- b3 -- b1, each link on ports 1 and 2. */
function triangle(): Net {
  const net = new Net();
  net.bridge("b1", 4096, "02:00:00:00:00:01", [1, 2]);
  net.bridge("b2", 8192, "02:00:00:00:00:02", [1, 2]);
  net.bridge("b3", 32768, "02:00:00:00:00:03", [1, 2]);
  net.link("b1:1", "b2:1");
  net.link("b2:2", "b3:2");
  net.link("b3:1", "b1:2");
  return net;
}

describe("BPDU wire format", () => {
  test("configuration and TCN BPDUs survive encoding, tagged or not", () => {
    const cfg: Bpdu = {
      type: "config", tc: true, tca: false, rootId: bridgeIdOf(4096, "02:00:00:00:00:01"), rootPathCost: 8,
      bridgeId: bridgeIdOf(32768, "02:00:00:00:00:03"), portId: 0x8002, messageAge: 1, maxAge: 20, helloTime: 2, forwardDelay: 15,
    };
    expect(decodeBpdu(encodeBpdu(cfg))).toEqual(cfg);
    expect(decodeBpdu(encodeBpdu({ type: "tcn" }))).toEqual({ type: "tcn" });
    const tagged = bpduFrame("02:00:00:00:00:07", cfg, 10, true);
    expect([tagged[12], tagged[13], tagged[15]]).toEqual([0x81, 0x00, 10]);
    expect(parseBpduFrame(tagged)).toEqual(cfg);
    const plain = bpduFrame("02:00:00:00:00:07", cfg, 10, false);
    expect(plain.length).toBe(60);
    expect([...plain.subarray(0, 6)]).toEqual([0x01, 0x80, 0xc2, 0, 0, 0]);
    expect(parseBpduFrame(plain)).toEqual(cfg);
  });
});

describe("802.1D on a loop of three bridges", () => {
  test("converges: the lowest bridge id is root, one port blocks, the rest forward after two forward delays", () => {
    const net = triangle();
    net.run(1);
    expect(net.state("b1:1")).toBe(PortState.LISTENING);
    net.run(5);
    expect(net.bridges.get("b1")!.isRoot()).toBe(true);
    for (const n of ["b2", "b3"]) expect(net.bridges.get(n)!.root).toBe(bridgeIdOf(4096, "02:00:00:00:00:01"));
    expect(net.bridges.get("b3")!.rootPortId).toBe(1);
    expect(net.bridges.get("b3")!.pathCostToRoot).toBe(4);
    expect(net.blocked()).toEqual(["b3:2"]);
    for (const e of ["b1:1", "b1:2", "b2:1", "b2:2", "b3:1"]) expect(net.state(e)).toBe(PortState.FORWARDING);
  });

  test("a link down away from the blocked port: its information ages out, the blocked port takes over", () => {
    const net = triangle();
    net.run(6);
    net.changes.length = 0;
    net.cut("b1:1");
    net.run(2);
    expect(net.state("b3:2")).toBe(PortState.BLOCKING);
    net.run(8);
    expect(net.state("b3:2")).toBe(PortState.FORWARDING);
    expect(net.bridges.get("b2")!.rootPortId).toBe(2);
    expect(net.bridges.get("b2")!.pathCostToRoot).toBe(8);
    expect(net.bridges.get("b2")!.isRoot()).toBe(false);
    // b3's port forwarding is a topology change: b3 tells the root, which tells everyone.
    expect(net.changes).toContain("b3");
    for (const b of net.bridges.values()) expect(b.fastAging).toBe(true);
  });

  test("the root port going down on the bridge with the blocked port: the alternate takes over at once", () => {
    const net = triangle();
    net.run(6);
    net.cut("b3:1");
    net.run(0.2);
    expect(net.bridges.get("b3")!.rootPortId).toBe(2);
    expect(net.state("b3:2")).toBe(PortState.LISTENING);
    net.run(5);
    expect(net.state("b3:2")).toBe(PortState.FORWARDING);
  });

  test("path costs and port priorities steer the tree", () => {
    const net = triangle();
    net.run(6);
    // b3's direct link to the root gets expensive: it goes through b2, and b2 designates on their link.
    net.bridges.get("b3")!.setPorts([{ id: 1, priority: 128, pathCost: 100 }, { id: 2, priority: 128, pathCost: 4 }]);
    net.run(6);
    expect(net.bridges.get("b3")!.rootPortId).toBe(2);
    expect(net.blocked()).toEqual(["b3:1"]);

    // Two parallel links between two bridges: the better port id on the root's side wins.
    const two = new Net();
    two.bridge("r", 4096, "02:00:00:00:00:0a", [1, 2]);
    two.bridge("s", 32768, "02:00:00:00:00:0b", [1, 2]);
    two.link("r:1", "s:1");
    two.link("r:2", "s:2");
    two.run(6);
    expect(two.blocked()).toEqual(["s:2"]);
    two.bridges.get("r")!.setPorts([{ id: 1, priority: 128, pathCost: 4 }, { id: 2, priority: 16, pathCost: 4 }]);
    two.run(6);
    expect(two.blocked()).toEqual(["s:1"]);
  });

  test("a better bridge priority moves the root", () => {
    const net = triangle();
    net.run(6);
    net.bridges.get("b3")!.setBridgeId(bridgeIdOf(1024, "02:00:00:00:00:03"));
    net.run(8);
    expect(net.bridges.get("b3")!.isRoot()).toBe(true);
    expect(net.bridges.get("b1")!.isRoot()).toBe(false);
    // b1 and b2 reach b3 directly; the b1-b2 link blocks at b2 (the worse bridge).
    expect(net.blocked()).toEqual(["b2:1"]);
  });
});
