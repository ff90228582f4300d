// A netdev's way into the chains: the pcn_entry program attached at its TC ingress or egress
// hook, or as its XDP program, following one hop that the control plane keeps up to date.
import { attachTc, attachXdp, closeFd, clsactOurs, detachXdp, ifindex, u32Bytes, type BpfObject, type TcAttachment, type XdpMode } from "../bpf/index.ts";
import { encodeHop, sameHop, type Hop } from "./hops.ts";
import type { DatapathRuntime } from "./runtime.ts";

export type HookPoint = { kind: "tc"; direction: "ingress" | "egress" } | { kind: "xdp"; mode: XdpMode };

export class NetdevHook {
  private hop?: Hop;
  private detachFn?: () => void;

  private constructor(
    readonly netdev: string,
    readonly ifindex: number,
    readonly point: HookPoint,
    private readonly obj: BpfObject,
    private readonly runtime: DatapathRuntime,
  ) {}

  static async attach(runtime: DatapathRuntime, netdev: string, point: HookPoint, hop: Hop): Promise<NetdevHook> {
    const index = ifindex(netdev);
    const obj = await runtime.load("pcn_entry", point.kind === "tc" ? "tc" : "xdp", {});
    const h = new NetdevHook(netdev, index, point, obj, runtime);
    // A previous daemon's entry program still on this hook (a restart): replaced in one step.
    const previous = runtime.pins?.previousHook(index, point);
    try {
      h.setHop(hop);
      const fd = obj.program("pcn_entry").fd;
      if (point.kind === "tc") {
        const a: TcAttachment = attachTc(index, point.direction, fd, { replace: previous !== undefined, ownsQdisc: previous?.ownsQdisc });
        h.detachFn = () => a.detach();
      } else {
        try {
          attachXdp(index, fd, point.mode, previous?.fd);
        } catch (e) {
          if (previous === undefined) throw e;
          attachXdp(index, fd, point.mode); // another program took its place meanwhile: as new
        }
        h.detachFn = () => {
          try {
            detachXdp(index, point.mode);
          } catch {
            /* the device is gone, and its program with it */
          }
        };
      }
      runtime.pins?.recordHook(index, point, fd, point.kind === "tc" && clsactOurs(index));
      return h;
    } catch (e) {
      obj.close();
      throw e;
    } finally {
      if (previous !== undefined) closeFd(previous.fd);
    }
  }

  setHop(hop: Hop): void {
    if (this.hop && sameHop(this.hop, hop)) return;
    this.obj.map("pcn_peers").update(u32Bytes(0), encodeHop(hop));
    this.hop = hop;
  }

  close(): void {
    try {
      this.detachFn?.();
    } finally {
      if (this.detachFn) this.runtime.pins?.forgetHook(this.ifindex, this.point);
      this.detachFn = undefined;
      this.obj.close();
    }
  }
}
