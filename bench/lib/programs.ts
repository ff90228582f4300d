// Per-packet cost of one program, timed by the kernel over BPF_PROG_TEST_RUN repetitions
// (no live frames: nothing leaves the program).
//
// ======================== EXTENSION POINT ========================
// A service's pipeline is a ProgramCase: open() loads it (configured with the maps a real
// cube would have) and returns the program to run; the report shows its ns per packet and,
// with baseline "empty-xdp", the cost above an empty program.
// =================================================================
import { testRun } from "../../src/lib/bpf/index.ts";

export interface ProgramCase {
  key: string;
  label: string;
  baseline?: string;
  /** The frame to run the program on (default: the benchmark's UDP frame). */
  frame?: Uint8Array;
  open(): Promise<{ fd: number; close(): void }>;
}

export interface ProgramResult {
  /** ns per run (wall time of a test run / repetitions) of the best, median and worst trial. */
  best: number;
  median: number;
  worst: number;
  /** The kernel's own average in the best trial (whole ns). */
  kernelNs: number;
}

export async function measureProgram(c: ProgramCase, frame: Uint8Array, trials: number, repeat: number): Promise<ProgramResult> {
  const p = await c.open();
  try {
    const data = c.frame ?? frame;
    testRun(p.fd, { data, repeat: Math.max(1, repeat >> 4) }); // warm up
    const xs: Array<{ ns: number; kernelNs: number }> = [];
    for (let i = 0; i < trials; i++) {
      const t0 = Bun.nanoseconds();
      const r = testRun(p.fd, { data, repeat });
      xs.push({ ns: (Bun.nanoseconds() - t0) / repeat, kernelNs: r.duration });
    }
    xs.sort((a, b) => a.ns - b.ns);
    return { best: xs[0]!.ns, median: xs[xs.length >> 1]!.ns, worst: xs[xs.length - 1]!.ns, kernelNs: xs[0]!.kernelNs };
  } finally {
    p.close();
  }
}
