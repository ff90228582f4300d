// BPF_PROG_TEST_RUN: run a program on a buffer in the kernel, without a device.
import { ptr } from "bun:ffi";
import { lib } from "./libbpf.ts";
import { check } from "./errors.ts";

/** XDP only: inject the frames for real (redirects and XDP_TX happen), recycling pages. */
export const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;

export interface TestRunInput {
  data: Uint8Array;
  /** Context in (e.g. a struct __sk_buff or xdp_md image). */
  ctxIn?: Uint8Array;
  repeat?: number;
  flags?: number;
  /** Room for the output packet; defaults to the input size plus headroom. */
  dataSizeOut?: number;
  /** Live frames: frames per batch. */
  batchSize?: number;
}

export interface TestRunResult {
  retval: number;
  data: Uint8Array;
  /** Average ns per repetition, as the kernel measured it. */
  duration: number;
}

export function testRun(progFd: number, input: TestRunInput): TestRunResult {
  const live = ((input.flags ?? 0) & BPF_F_TEST_XDP_LIVE_FRAMES) !== 0;
  const out = live ? null : new Uint8Array(input.dataSizeOut ?? input.data.length + 256);
  // struct bpf_test_run_opts (see bpf.h): 80 bytes on 64-bit.
  const o = new ArrayBuffer(80);
  const v = new DataView(o);
  v.setBigUint64(0, 80n, true);
  v.setBigUint64(8, BigInt(ptr(input.data)), true);
  v.setBigUint64(16, out ? BigInt(ptr(out)) : 0n, true);
  v.setUint32(24, input.data.length, true);
  v.setUint32(28, out ? out.length : 0, true);
  if (input.ctxIn) {
    v.setBigUint64(32, BigInt(ptr(input.ctxIn)), true);
    v.setUint32(48, input.ctxIn.length, true);
  }
  v.setInt32(60, input.repeat ?? 1, true);
  v.setUint32(68, input.flags ?? 0, true);
  if (input.batchSize) v.setUint32(76, input.batchSize, true);
  check(lib.bpf_prog_test_run_opts(progFd, ptr(new Uint8Array(o))), `test-run program fd ${progFd}`);
  const outLen = v.getUint32(28, true);
  return { retval: v.getUint32(56, true), duration: v.getUint32(64, true), data: out ? out.slice(0, outLen) : new Uint8Array() };
}
