import { describe, expect, test } from "bun:test";
import { desiredActions } from "./index.ts";

const ports = new Map([["p1", 1], ["p2", 2]]);

describe("simpleforwarder actions", () => {
  test("actions become map entries by port id", () => {
    const m = desiredActions([{ inport: "p1", action: "forward", outport: "p2" }, { inport: "p2", action: "SLOWPATH" }], ports);
    expect([...m.get(1)!]).toEqual([2, 0, 0, 0, 2, 0, 0, 0]);
    expect([...m.get(2)!]).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
  });
  test("bad entries are refused with the field named", () => {
    expect(() => desiredActions([{ inport: "p9", action: "DROP" }], ports)).toThrow(/inport 'p9' is not a port/);
    expect(() => desiredActions([{ inport: "p1", action: "FORWARD" }], ports)).toThrow(/needs an outport/);
    expect(() => desiredActions([{ inport: "p1", action: "FORWARD", outport: "p7" }], ports)).toThrow(/outport 'p7'/);
  });
});
