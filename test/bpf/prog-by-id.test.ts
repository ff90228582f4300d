import { describe, expect, test } from "bun:test";
import { BpfError, BpfObject, closeProgramFd, embeddedObject, programFdById, programInfo, testRun } from "../../src/lib/bpf/index.ts";

const frame = new Uint8Array(64).fill(0xab);

describe("programs by id", () => {
  for (const [flavour, type, verdict] of [["tc", 3, 2], ["xdp", 6, 1]] as const) {
    test(`${flavour}: a second fd for a loaded program, by its id, runs the same program`, async () => {
      const obj = BpfObject.open(await embeddedObject(`test_counter.${flavour}`), `test_counter_${flavour}`);
      obj.setGlobals({ verdict });
      obj.load();
      try {
        const info = programInfo(obj.program("test_counter").fd);
        expect(info).toMatchObject({ type, name: "test_counter" });
        expect(info.id).toBeGreaterThan(0);
        const fd = programFdById(info.id);
        try {
          expect(fd).not.toBe(obj.program("test_counter").fd);
          expect(programInfo(fd)).toEqual(info);
          expect(testRun(fd, { data: frame }).retval).toBe(verdict);
        } finally {
          closeProgramFd(fd);
        }
      } finally {
        obj.close();
      }
    });
  }

  test("an id no program has is a BpfError (ENOENT) naming it", () => {
    let error: unknown;
    try {
      programFdById(0x7ffffff0);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BpfError);
    expect((error as BpfError).errno).toBe(2);
    expect((error as BpfError).message).toContain(`program id ${0x7ffffff0}`);
  });
});
