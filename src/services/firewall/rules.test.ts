// Rule fields: the original's vocabulary, normal forms, and refusals that name the field.
import { describe, expect, test } from "bun:test";
import { admits, parsePrefix, parseRule, parseTcpFlags, sameRule } from "./rules.ts";

describe("firewall rule fields", () => {
  test("addresses and prefixes", () => {
    expect(parsePrefix("10.1.2.3")).toEqual([0x0a010203, 32]);
    expect(parsePrefix("10.1.2.3/16")).toEqual([0x0a010000, 16]);
    expect(parsePrefix("0.0.0.0/0")).toEqual([0, 0]);
    for (const bad of ["10.1.2", "10.1.2.3/33", "300.1.1.1", "010.1.1.1", "a.b.c.d", "10.1.2.3/", ""]) expect(parsePrefix(bad)).toBeUndefined();
  });

  test("TCP flags: commas or spaces, '!' for a clear bit", () => {
    expect(parseTcpFlags("SYN !ACK", "f")).toEqual([0x12, 0x02]);
    expect(parseTcpFlags("!FIN,SYN,!RST,!ACK", "f")).toEqual([0x17, 0x02]);
    expect(() => parseTcpFlags("SYN FOO", "f")).toThrow(/FOO/);
    expect(() => parseTcpFlags("SYN,syn", "f")).toThrow(/twice/);
  });

  test("the original's actions, ACCEPT by default, any case", () => {
    expect(parseRule({}).action).toBe("ACCEPT");
    expect(parseRule({ action: "drop" }).action).toBe("DROP");
    expect(parseRule({ action: "Log", l4proto: "icmp" })).toMatchObject({ action: "LOG", l4proto: "ICMP", proto: 1 });
    expect(() => parseRule({ action: "FORWARD" })).toThrow(/action.*'FORWARD' is not one of DROP, LOG, ACCEPT/);
    expect(parseRule({ conntrack: "related" })).toMatchObject({ conntrack: "RELATED", ct: 3 });
    expect(() => parseRule({ conntrack: "OPEN" }, "r")).toThrow(/r\.conntrack/);
  });

  test("refusals name the field", () => {
    expect(() => parseRule({ src: "1.2.3.4/40" }, "x")).toThrow(/x\.src/);
    expect(() => parseRule({ dst: "10.0.0.256" }, "x")).toThrow(/x\.dst/);
    expect(() => parseRule({ l4proto: "SCTP" }, "x")).toThrow(/x\.l4proto/);
    expect(() => parseRule({ l4proto: "icmp", dport: 80 }, "x")).toThrow(/x\.dport/);
    expect(() => parseRule({ sport: 70000 }, "x")).toThrow(/x\.sport/);
    expect(() => parseRule({ l4proto: "UDP", tcpflags: "SYN" }, "x")).toThrow(/x\.tcpflags/);
  });

  test("delete's equality: every field and the action; the description only when given", () => {
    const r = parseRule({ src: "10.0.0.1", l4proto: "TCP", dport: 80, action: "DROP", description: "web" });
    expect(sameRule(r, parseRule({ src: "10.0.0.1", l4proto: "tcp", dport: 80, action: "DROP" }), {})).toBe(true);
    expect(sameRule(r, parseRule({ src: "10.0.0.1", l4proto: "tcp", dport: 80 }), {})).toBe(false); // ACCEPT by default
    expect(sameRule(r, parseRule({ src: "10.0.0.1/32", l4proto: "TCP", dport: 80, action: "DROP" }), {})).toBe(true);
    expect(sameRule(r, parseRule({ src: "10.0.0.1", l4proto: "TCP", action: "DROP" }), {})).toBe(false);
    const withText = { src: "10.0.0.1", l4proto: "TCP", dport: 80, action: "DROP", description: "other" };
    expect(sameRule(r, parseRule(withText), withText)).toBe(false);
  });

  test("the reference matcher: ports need TCP or UDP, flags need TCP, conntrack the packet's label", () => {
    const icmp = { src: 0x0a000001, dst: 0x0a000002, proto: 1 };
    expect(admits(parseRule({ dport: 0 }), icmp)).toBe(false);
    expect(admits(parseRule({ tcpflags: "!SYN" }), { ...icmp, proto: 17 })).toBe(false);
    expect(admits(parseRule({ tcpflags: "SYN !ACK" }), { ...icmp, proto: 6, flags: 0x02 })).toBe(true);
    expect(admits(parseRule({ conntrack: "NEW" }), { ...icmp, ct: 1 })).toBe(true);
    expect(admits(parseRule({ conntrack: "NEW" }), icmp)).toBe(false); // tracking off: no label
    expect(admits(parseRule({ src: "10.0.0.0/8" }), icmp)).toBe(true);
  });
});
