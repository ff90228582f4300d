// Builds dynmon's rewritten code (rewrite.ts) with clang, as build/bpf.sh builds the services'
// datapaths (-O2 -g -target bpf, once per flavour), in a temporary folder holding the code,
// bpf/polycube.h and bcc-compat.h (both embedded in the executable). clang is looked for at run
// time: $CLANG if set, else clang-19 or clang in PATH; the kernel and libbpf headers
// (linux-libc-dev, libbpf-dev) must be installed too.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import polycubeH from "../../../bpf/polycube.h" with { type: "text" };
import compatH from "./bcc-compat.h" with { type: "text" };

export type Flavour = "tc" | "xdp";

/** The code does not build: clang's diagnostics, or what is missing to run it. */
export class CompileError extends Error {
  constructor(
    message: string,
    /** The host lacks the compiler or the headers (not the code's fault). */
    readonly missingTool = false,
  ) {
    super(message);
  }
}

/** Compilers tried, in order, when $CLANG is not set. */
export const CLANG_NAMES = ["clang-19", "clang"];
const TIMEOUT_MS = 120_000;

/** The clang to run: $CLANG (a path or a name in PATH), else the first of CLANG_NAMES in PATH. */
export function findClang(env: Record<string, string | undefined> = process.env): string {
  const wanted = env.CLANG;
  if (wanted) {
    const found = Bun.which(wanted, { PATH: env.PATH ?? "" });
    if (!found) throw new CompileError(`cannot build the code: the C compiler CLANG=${wanted} is not found or not executable`, true);
    return found;
  }
  for (const name of CLANG_NAMES) {
    const found = Bun.which(name, { PATH: env.PATH ?? "" });
    if (found) return found;
  }
  throw new CompileError(`cannot build the code: no C compiler for BPF (${CLANG_NAMES.join(" or ")}) in PATH; install clang, or set CLANG to its path`, true);
}

const WARNINGS = [
  // BCC built code of this kind without complaint; errors stay errors.
  "-Wno-unused-value", "-Wno-pointer-sign", "-Wno-compare-distinct-pointer-types", "-Wno-address-of-packed-member",
  "-Wno-gnu-variable-sized-type-not-at-end", "-Wno-tautological-compare", "-Wno-unused-function", "-Wno-extra-tokens",
  // clang >= 15 makes these errors; BCC's clang let them pass (the original's queue example assigns push()'s int to a pointer).
  "-Wno-error=int-conversion", "-Wno-error=incompatible-pointer-types", "-Wno-error=incompatible-function-pointer-types",
];

/** Builds `source` for each flavour; bytes of the objects, by flavour. */
export async function compile(source: string, flavours: Flavour[], env: Record<string, string | undefined> = process.env): Promise<Map<Flavour, Uint8Array>> {
  const clang = findClang(env);
  const dir = mkdtempSync(join(tmpdir(), "dynmon-"));
  try {
    writeFileSync(join(dir, "polycube.h"), polycubeH);
    writeFileSync(join(dir, "bcc-compat.h"), compatH);
    writeFileSync(join(dir, "dynmon.c"), source);
    // Kernel headers that reach glibc's (linux/icmp.h includes sys/socket.h) ask for the stubs of
    // a 32-bit target, as BPF's word size says; there are no such stubs to declare.
    mkdirSync(join(dir, "gnu"));
    writeFileSync(join(dir, "gnu", "stubs-32.h"), "");
    const arch = `/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`;
    const runs = flavours.map(async (f) => {
      const out = join(dir, `dynmon.${f}.o`);
      const argv = [clang, "-O2", "-g", "-target", "bpf", `-D${f === "xdp" ? "PCN_XDP" : "PCN_TC"}`, ...WARNINGS, "-I", dir, "-I", arch, "-c", join(dir, "dynmon.c"), "-o", out];
      let p;
      try {
        p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", stdin: "ignore", cwd: dir, timeout: TIMEOUT_MS });
      } catch (e) {
        throw new CompileError(`cannot run the C compiler ${clang}: ${(e as Error).message}`, true);
      }
      const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
      if (code !== 0) throw diagnostics(stderr.split(`${dir}/`).join(""), clang, code, p.signalCode);
      return [f, new Uint8Array(readFileSync(out))] as const;
    });
    return new Map(await Promise.all(runs));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function diagnostics(text: string, clang: string, code: number, signal: unknown): CompileError {
  const header = /(polycube\.h|bcc-compat\.h):\d+:\d+: fatal error: '([^']+)' file not found/.exec(text);
  if (header) return new CompileError(`cannot build the code: the header ${header[2]} is missing (install libbpf-dev and linux-libc-dev)`, true);
  if (signal) return new CompileError(`${clang} did not finish (${signal}):\n${text.trimEnd()}`);
  return new CompileError(`the code does not compile (${clang}, exit code ${code}):\n${text.trimEnd()}`);
}
