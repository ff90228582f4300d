// The timeouts knob shared by services that expire sessions in their datapath.
import { expect, test } from "bun:test";
import { parseTimeouts, timeoutsNs } from "./timeouts.ts";

const TABLE = [["tcp-new", 120], ["tcp-established", 432000], ["udp-new", 30], ["udp-established", 180], ["icmp", 30]] as const;

test("defaults, names, groups, refusals", () => {
  expect(parseTimeouts("X", TABLE, undefined)).toEqual([120, 432000, 30, 180, 30]);
  expect(parseTimeouts("X", TABLE, " ")).toEqual([120, 432000, 30, 180, 30]);
  expect(parseTimeouts("X", TABLE, "udp=2,icmp=3 tcp-new=4")).toEqual([4, 432000, 2, 2, 3]);
  expect(parseTimeouts("X", TABLE, "tcp=5")).toEqual([5, 5, 30, 180, 30]);
  for (const bad of ["udp", "udp=0", "ud=2", "sctp=1", "udp=-1", "icmp=1s"]) expect(() => parseTimeouts("X", TABLE, bad)).toThrow(/^X: /);
});

test("nanoseconds", () => {
  expect(timeoutsNs([2, 432000])).toEqual([2_000_000_000n, 432_000_000_000_000n]);
});
