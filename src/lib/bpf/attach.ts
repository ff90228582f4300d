// Attaching programs to network devices: XDP (generic or native) and TC clsact hooks.
import { ptr } from "bun:ffi";
import { readFileSync } from "node:fs";
import { lib, libc } from "./libbpf.ts";
import { BpfError, check } from "./errors.ts";

export type XdpMode = "skb" | "drv";
const XDP_FLAGS = { skb: 1 << 1, drv: 1 << 2 } as const;
const XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0;
const XDP_FLAGS_REPLACE = 1 << 4;
const BPF_TC_F_REPLACE = 1 << 0;
const TC_INGRESS = 1;
const TC_EGRESS = 2;

/** The ifindex of a netdev in this network namespace; throws if there is none. */
export function ifindex(name: string): number {
  const i = libc.if_nametoindex(Buffer.from(`${name}\0`));
  if (i === 0) throw new BpfError(`find netdev ${name}`, 19 /* ENODEV */);
  return i;
}

/** The name of an ifindex, for messages; "?" when it is gone. */
export function ifname(index: number): string {
  try {
    for (const line of readFileSync("/proc/net/dev", "utf8").split("\n").slice(2)) {
      const name = line.split(":")[0]?.trim();
      if (name && readFileSync(`/sys/class/net/${name}/ifindex`, "utf8").trim() === String(index)) return name;
    }
  } catch {
    /* best effort */
  }
  return "?";
}

function where(index: number): string {
  return `${ifname(index)} (ifindex ${index})`;
}

/**
 * Attaches an XDP program; fails if one is already there (ours or someone else's), unless
 * `replace` names the program expected there: then it is swapped atomically (XDP_FLAGS_REPLACE),
 * and the call fails if another program took its place.
 */
export function attachXdp(index: number, progFd: number, mode: XdpMode, replace?: number): void {
  if (replace === undefined) {
    check(lib.bpf_xdp_attach(index, progFd, XDP_FLAGS[mode] | XDP_FLAGS_UPDATE_IF_NOEXIST, null),
      () => `attach XDP (${mode} mode) to ${where(index)}`);
    return;
  }
  // struct bpf_xdp_attach_opts { size_t sz; int old_prog_fd; }
  const o = new Uint8Array(16);
  new DataView(o.buffer).setBigUint64(0, 16n, true);
  new DataView(o.buffer).setInt32(8, replace, true);
  check(lib.bpf_xdp_attach(index, progFd, XDP_FLAGS[mode] | XDP_FLAGS_REPLACE, ptr(o)),
    () => `replace the XDP (${mode} mode) program of ${where(index)}`);
}

/** The id of the XDP program attached in a mode (0: none). */
export function xdpProgramId(index: number, mode: XdpMode): number {
  const id = new Uint32Array(1);
  if (lib.bpf_xdp_query_id(index, XDP_FLAGS[mode], ptr(id)) < 0) return 0;
  return id[0]!;
}

/** The id of the program of our TC filter (handle 1, priority 1 unless told) on a hook (0: none). */
export function tcProgramId(index: number, direction: TcDirection, opts: { priority?: number; handle?: number } = {}): number {
  const o = tcOpts(0, opts.handle ?? 1, opts.priority ?? 1);
  if (lib.bpf_tc_query(ptr(tcHook(index, direction)), ptr(o)) < 0) return 0;
  return new DataView(o.buffer).getUint32(16, true);
}

/** Removes our TC filter from a hook (a previous daemon's), whatever program it runs. */
export function detachTcFilter(index: number, direction: TcDirection, opts: { priority?: number; handle?: number } = {}): void {
  lib.bpf_tc_detach(ptr(tcHook(index, direction)), ptr(tcOpts(0, opts.handle ?? 1, opts.priority ?? 1)));
}

export function detachXdp(index: number, mode: XdpMode): void {
  check(lib.bpf_xdp_detach(index, XDP_FLAGS[mode], null), () => `detach XDP (${mode} mode) from ${where(index)}`);
}

export type TcDirection = "ingress" | "egress";

function tcHook(index: number, direction: TcDirection): Uint8Array {
  // struct bpf_tc_hook { size_t sz; int ifindex; enum attach_point; u32 parent; } = 24 bytes
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, 24n, true);
  v.setInt32(8, index, true);
  v.setUint32(12, direction === "ingress" ? TC_INGRESS : TC_EGRESS, true);
  return b;
}

function tcOpts(progFd: number, handle: number, priority: number): Uint8Array {
  // struct bpf_tc_opts { size_t sz; int prog_fd; u32 flags; u32 prog_id; u32 handle; u32 priority; } = 32 bytes
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, 32n, true);
  v.setInt32(8, progFd, true);
  v.setUint32(20, handle, true);
  v.setUint32(24, priority, true);
  return b;
}

export interface TcAttachment {
  readonly ifindex: number;
  readonly direction: TcDirection;
  detach(): void;
  /** The filter is gone already (removed by someone else, with its qdisc): stop counting it, touch nothing. */
  forget(): void;
}

/**
 * Attaches a classifier to a device's clsact hook (creating the qdisc if needed).
 * Returns a handle that detaches exactly this filter; the clsact qdisc is removed when the
 * last of our filters on the device goes away and we created it.
 */
export function attachTc(index: number, direction: TcDirection, progFd: number, opts: { priority?: number; handle?: number; replace?: boolean; ownsQdisc?: boolean } = {}): TcAttachment {
  const hook = tcHook(index, direction);
  const rc = lib.bpf_tc_hook_create(ptr(hook));
  const created = rc === 0;
  if (rc < 0 && rc !== -17 /* EEXIST */) check(rc, () => `create clsact qdisc on ${where(index)}`);
  const handle = opts.handle ?? 1;
  const priority = opts.priority ?? 1;
  const o = tcOpts(progFd, handle, priority);
  // Replace: a previous daemon's filter on the same handle and priority is swapped in place
  // (packets never find the hook empty).
  if (opts.replace) new DataView(o.buffer).setUint32(12, BPF_TC_F_REPLACE, true);
  try {
    check(lib.bpf_tc_attach(ptr(hook), ptr(o)), () => `attach TC ${direction} program to ${where(index)}`);
  } catch (e) {
    if (created) destroyClsactIfOurs(index);
    throw e;
  }
  // ownsQdisc: a previous daemon created the clsact qdisc this filter replaces one of.
  track(index, +1, created || !!opts.ownsQdisc);
  let attached = true;
  return {
    ifindex: index,
    direction,
    detach() {
      if (!attached) return;
      attached = false;
      const d = tcOpts(0, handle, priority);
      const r = lib.bpf_tc_detach(ptr(tcHook(index, direction)), ptr(d));
      // ENOENT/ENODEV: the filter or the device is already gone, which is what we wanted.
      if (r < 0 && r !== -2 && r !== -19) check(r, () => `detach TC ${direction} program from ${where(index)}`);
      if (track(index, -1, false)) destroyClsactIfOurs(index);
    },
    forget() {
      if (!attached) return;
      attached = false;
      track(index, -1, false);
    },
  };
}

/** True when the clsact qdisc of a device is ours (created for our filters): the last of them removes it. */
export function clsactOurs(index: number): boolean {
  return users.get(index)?.ours ?? false;
}

/** Our filters per device, and whether we created its clsact qdisc. */
const users = new Map<number, { count: number; ours: boolean }>();

function track(index: number, delta: number, created: boolean): boolean {
  const u = users.get(index) ?? { count: 0, ours: false };
  u.count += delta;
  u.ours ||= created;
  if (u.count <= 0) {
    users.delete(index);
    return u.ours;
  }
  users.set(index, u);
  return false;
}

function destroyClsactIfOurs(index: number): void {
  // BPF_TC_INGRESS|BPF_TC_EGRESS destroys the whole clsact qdisc.
  const hook = tcHook(index, "ingress");
  new DataView(hook.buffer).setUint32(12, TC_INGRESS | TC_EGRESS, true);
  lib.bpf_tc_hook_destroy(ptr(hook));
}
