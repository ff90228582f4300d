// libbpf's messages: the kernel's answer to a clsact qdisc someone else made is expected noise.
import { describe, expect, test } from "bun:test";
import { classify } from "../../src/lib/bpf/print.ts";

describe("libbpf messages", () => {
  test("expected noise is debug; the rest keeps its level, without the prefix and newline", () => {
    expect(classify(0, "libbpf: Kernel error message: Exclusivity flag on, cannot modify\n")).toEqual({ level: "debug", text: "Kernel error message: Exclusivity flag on, cannot modify" });
    expect(classify(0, "libbpf: prog 'x': BPF program load failed: Permission denied\n")).toEqual({ level: "warn", text: "prog 'x': BPF program load failed: Permission denied" });
    expect(classify(1, "something\n").level).toBe("info");
    expect(classify(2, "x").level).toBe("debug");
  });
});
