// Finding clang at run time, and what a host without it is told.
import { describe, expect, test } from "bun:test";
import { compile, CompileError, findClang } from "./compile.ts";
import { DEFAULT_CODE, rewrite } from "./rewrite.ts";

describe("the compiler", () => {
  test("clang-19 or clang from PATH, or $CLANG", () => {
    expect(findClang({ PATH: process.env.PATH })).toMatch(/clang(-19)?$/);
    expect(findClang({ PATH: "/nowhere", CLANG: "/usr/bin/clang-19" })).toBe("/usr/bin/clang-19");
  });

  test("none in PATH, or a $CLANG that is not there: an error naming the compiler, as the host's lack", async () => {
    const source = rewrite({ ingress: { code: DEFAULT_CODE, swap: new Set() }, egress: { code: DEFAULT_CODE, swap: new Set() } }).source;
    const none = await compile(source, ["tc"], { PATH: "/nowhere" }).catch((e) => e);
    expect(none).toBeInstanceOf(CompileError);
    expect(none.missingTool).toBe(true);
    expect(none.message).toBe("cannot build the code: no C compiler for BPF (clang-19 or clang) in PATH; install clang, or set CLANG to its path");
    const wrong = await compile(source, ["tc"], { PATH: process.env.PATH, CLANG: "/opt/none/clang-42" }).catch((e) => e);
    expect(wrong.missingTool).toBe(true);
    expect(wrong.message).toBe("cannot build the code: the C compiler CLANG=/opt/none/clang-42 is not found or not executable");
  });
});
