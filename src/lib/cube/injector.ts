// Packet-out: frames from the slow path enter the datapath through a veth pair that the daemon
// owns (pcn_cp_tx -> pcn_cp). The pcn_inject program on pcn_cp reads the hop each frame was
// tagged with (TC: skb->mark; XDP: a header in front of the frame) and follows it.
// Frames for a netdev need no injector: they are written straight out of that netdev.
import { spawnSync } from "bun";
import { attachTc, attachXdp, ifindex, PacketSocket, type BpfObject, type TcAttachment } from "../bpf/index.ts";
import { encodeHop, HopKind, type Flavour, type Hop } from "./hops.ts";
import type { DatapathRuntime } from "./runtime.ts";
import { netdevNames } from "./netdevs.ts";
import { processAlive } from "../process-alive.ts";

// Named after the daemon's pid: daemons in other network namespaces (or a test's second
// daemon) must not take each other's pair away.
export const INJECT_DEV = `pcn_cp_${process.pid}`;
export const INJECT_TX_DEV = `pcn_tx_${process.pid}`;
const INJECT_MAGIC = 0x70636e69;
const MARK_FLAG = 0x80000000;
/** Tells pcn_entry on a netdev's TC egress hook to let a frame through untouched. */
const MARK_BYPASS = (MARK_FLAG | (HopKind.PASS << 28)) >>> 0;

function ip(args: string[], allowFail = false): void {
  const r = spawnSync(["ip", ...args], { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0 && !allowFail) throw new Error(`ip ${args.join(" ")}: ${r.stderr.toString().trim()}`);
}

function sysctl(key: string, value: string): void {
  spawnSync(["sysctl", "-qw", `${key}=${value}`], { stdout: "ignore", stderr: "ignore" });
}

/** The daemons' own devices, which are not for users' ports. */
export function isInjectorDevice(name: string): boolean {
  return /^pcn_(cp|tx)_\d+$/.test(name);
}

/** Pairs left by daemons that were killed. */
function removeOrphanPairs(): void {
  for (const dev of netdevNames()) {
    const m = /^pcn_tx_(\d+)$/.exec(dev);
    if (m && (Number(m[1]) === process.pid || !processAlive(Number(m[1])))) ip(["link", "del", dev], true);
  }
}

export class Injector {
  private readonly socket = new PacketSocket();
  private txIndex = 0;
  private tc?: TcAttachment;
  private readonly objects: BpfObject[] = [];

  private constructor(private readonly runtime: DatapathRuntime) {}

  static async create(runtime: DatapathRuntime): Promise<Injector> {
    const inj = new Injector(runtime);
    try {
      await inj.setup();
      return inj;
    } catch (e) {
      inj.close();
      throw e;
    }
  }

  private async setup(): Promise<void> {
    removeOrphanPairs();
    ip(["link", "add", INJECT_TX_DEV, "mtu", "9000", "type", "veth", "peer", "name", INJECT_DEV, "mtu", "9000"]);
    for (const d of [INJECT_DEV, INJECT_TX_DEV]) {
      sysctl(`net.ipv6.conf.${d}.disable_ipv6`, "1");
      ip(["link", "set", d, "up"]);
    }
    this.txIndex = ifindex(INJECT_TX_DEV);
    const rx = ifindex(INJECT_DEV);
    const tc = await this.runtime.load("pcn_inject", "tc", {});
    this.objects.push(tc);
    this.tc = attachTc(rx, "ingress", tc.program("pcn_inject").fd);
    const xdp = await this.runtime.load("pcn_inject", "xdp", {});
    this.objects.push(xdp);
    attachXdp(rx, xdp.program("pcn_inject").fd, "skb");
  }

  /** Sends a frame along a hop, in the given flavour's datapath. False if the hop leads nowhere. */
  send(flavour: Flavour, hop: Hop, frame: Uint8Array): boolean {
    switch (hop.kind) {
      case HopKind.NETDEV:
        this.socket.send(hop.ifindex, frame);
        return true;
      case HopKind.CUBE:
        if (flavour === "tc") {
          const mark = MARK_FLAG | (HopKind.CUBE << 28) | ((hop.index & 0x3ff) << 16) | (hop.port & 0xffff);
          this.socket.send(this.txIndex, frame, mark >>> 0);
        } else {
          const tagged = new Uint8Array(4 + 16 + frame.length);
          new DataView(tagged.buffer).setUint32(0, INJECT_MAGIC, true);
          tagged.set(encodeHop(hop), 4);
          tagged.set(frame, 20);
          this.socket.send(this.txIndex, tagged);
        }
        return true;
      default:
        return false;
    }
  }

  /** Delivers a frame to a netdev's own stack as if received on it, past its ingress hook (TC injector, any flavour). */
  sendToStack(ifindex: number, frame: Uint8Array): void {
    const mark = MARK_FLAG | (HopKind.PASS << 28) | (ifindex & 0x0fffffff);
    this.socket.send(this.txIndex, frame, mark >>> 0);
  }

  /** Writes a frame out of a netdev, past its egress hook. */
  sendToWire(ifindex: number, frame: Uint8Array): void {
    this.socket.send(ifindex, frame, MARK_BYPASS);
  }

  close(): void {
    this.socket.close();
    this.tc?.detach();
    // Deleting the pair removes the XDP program with it.
    ip(["link", "del", INJECT_TX_DEV], true);
    for (const o of this.objects) o.close();
  }
}
