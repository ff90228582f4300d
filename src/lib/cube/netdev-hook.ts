// A netdev's way into the chains: the pcn_entry program attached at its TC ingress or egress
// hook, or as its XDP program, following one hop that the control plane keeps up to date.
import { readdirSync, statSync } from "node:fs";
import { attachTc, attachXdp, closeFd, clsactOurs, detachXdp, ifindex, programInfo, tcProgramId, u32Bytes, withNetns, xdpProgramId, type BpfObject, type TcAttachment, type XdpMode } from "../bpf/index.ts";
import { encodeHop, sameHop, type Hop } from "./hops.ts";
import { netdevIndex } from "./netdevs.ts";
import type { DatapathRuntime } from "./runtime.ts";
import type { Logger } from "../sdk/types.ts";

export type HookPoint = { kind: "tc"; direction: "ingress" | "egress" } | { kind: "xdp"; mode: XdpMode };

export class NetdevHook {
  private hop?: Hop;
  /** Detaches the program; may say what it did beyond that. */
  private detachFn?: () => string | undefined | void;
  /** Forgets a program that is no longer attached (TC: its filter count). */
  private forgetFn?: () => void;
  /** The id of the program attached. */
  private programId = 0;

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
      h.programId = programInfo(fd).id;
      if (point.kind === "tc") {
        const a: TcAttachment = attachTc(index, point.direction, fd, { replace: previous !== undefined, ownsQdisc: previous?.ownsQdisc });
        h.detachFn = () => a.detach();
        h.forgetFn = () => a.forget();
      } else {
        try {
          attachXdp(index, fd, point.mode, previous?.fd);
        } catch (e) {
          if (previous === undefined) throw e;
          attachXdp(index, fd, point.mode); // another program took its place meanwhile: as new
        }
        const id = h.programId;
        h.detachFn = () => {
          // Still on the device where it was attached: detached there (and only if it is ours).
          if (netdevIndex(netdev) === index) {
            if (xdpProgramId(index, point.mode) === id) detachXdp(index, point.mode);
            return;
          }
          // The device is gone from this namespace: deleted (its program went with it), or moved
          // to another namespace, where an XDP program stays attached (TC filters do not: the
          // move removes the device's qdiscs). There it is detached, so that the device can be
          // used again, here or there.
          const where = detachMoved(netdev, index, point.mode, id);
          return where && `${netdev} moved to network namespace ${where}: its XDP program was detached there`;
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

  /** True while the program is attached where it was (someone may have removed it, or the device's qdisc). */
  present(): boolean {
    const p = this.point;
    const id = p.kind === "tc" ? tcProgramId(this.ifindex, p.direction) : xdpProgramId(this.ifindex, p.mode);
    return id === this.programId;
  }

  /** A hook someone else removed: forgotten without touching the device (whatever is there now is not ours). */
  abandon(): void {
    this.forgetFn?.();
    this.detachFn = undefined;
    this.runtime.pins?.forgetHook(this.ifindex, this.point);
    this.obj.close();
  }

  close(log?: Logger): void {
    try {
      const said = this.detachFn?.();
      if (said) log?.info(said);
    } finally {
      if (this.detachFn) this.runtime.pins?.forgetHook(this.ifindex, this.point);
      this.detachFn = undefined;
      this.obj.close();
    }
  }
}

/** The network namespaces of the machine (named ones and those of processes), but the caller's; one path each. */
function otherNamespaces(): string[] {
  const key = (path: string) => {
    try {
      const st = statSync(path);
      return `${st.dev}:${st.ino}`;
    } catch {
      return undefined;
    }
  };
  const seen = new Set([key("/proc/thread-self/ns/net")]);
  const out: string[] = [];
  const list = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  const candidates = [...list("/run/netns").map((n) => `/run/netns/${n}`), ...list("/proc").filter((p) => /^\d+$/.test(p)).map((p) => `/proc/${p}/ns/net`)];
  for (const path of candidates) {
    const k = key(path);
    if (k === undefined || seen.has(k)) continue;
    seen.add(k);
    out.push(path);
  }
  return out;
}

/**
 * Finds a device that left this namespace with our XDP program (by its former ifindex or its
 * name, which a move usually keeps) and detaches the program there. Returns the namespace.
 */
function detachMoved(netdev: string, index: number, mode: XdpMode, progId: number): string | undefined {
  for (const ns of otherNamespaces()) {
    try {
      const found = withNetns(ns, () => {
        let byName: number | undefined;
        try {
          byName = ifindex(netdev);
        } catch {
          byName = undefined;
        }
        for (const i of new Set([index, byName])) {
          if (i !== undefined && xdpProgramId(i, mode) === progId) {
            detachXdp(i, mode);
            return true;
          }
        }
        return false;
      });
      if (found) return ns;
    } catch {
      /* a namespace that went away meanwhile, or that cannot be entered */
    }
  }
  return undefined;
}
