// simpleforwarder's control plane: the actions map it writes, and how strictly each entry is
// checked (its model is compared with the original's tree in src/services/router/models.test.ts).
import { describe, expect, test } from "bun:test";
import type { Change } from "../../lib/sdk/types.ts";
import { checksFor, desiredActions } from "./index.ts";

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
    // As the original: a given outport must exist whatever the action.
    expect(() => desiredActions([{ inport: "p1", action: "DROP", outport: "p7" }], ports)).toThrow(/outport 'p7'/);
  });

  test("an entry switched to FORWARD before its outport is set is accepted and drops", () => {
    const m = desiredActions([{ inport: "p1", action: "FORWARD" }], ports, () => ({ refs: true, outport: false }));
    expect(m.size).toBe(0);
  });

  test("entries naming deleted ports are left out, not refused, when a change spares them", () => {
    const m = desiredActions(
      [{ inport: "p1", action: "FORWARD", outport: "gone" }, { inport: "gone", action: "DROP" }, { inport: "p2", action: "DROP" }],
      ports,
      () => ({ refs: false, outport: false }),
    );
    expect([...m.keys()]).toEqual([2]);
  });
});

describe("checks a change calls for", () => {
  const entry = (inport: string, ...rest: string[]) => [{ node: "actions", keys: { inport } }, ...rest.map((node) => ({ node }))];
  const change = (op: Change["op"], path: Change["path"]): Change => ({ op, path, where: "" });

  test("created entries in full, modified ones for their ports, the others not at all", () => {
    const check = checksFor([
      change("create", entry("p1")),
      change("modify", entry("p2", "action")),
      change("delete", entry("p3")),
      change("create", [{ node: "ports", keys: { name: "p4" } }]),
    ]);
    expect(check({ inport: "p1", action: "DROP" })).toEqual({ refs: true, outport: true });
    expect(check({ inport: "p2", action: "DROP" })).toEqual({ refs: true, outport: false });
    expect(check({ inport: "p3", action: "DROP" })).toEqual({ refs: false, outport: false });
    expect(check({ inport: "p4", action: "DROP" })).toEqual({ refs: false, outport: false });
  });
});
