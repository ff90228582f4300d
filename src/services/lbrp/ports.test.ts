// lbrp ports: the port_mode rules, as the original checks them.
import { describe, expect, test } from "bun:test";
import { ServiceError, type JsonObject } from "../../lib/sdk/types.ts";
import { checkPorts, checkUpdate, MAX_FRONTENDS, portMode } from "./ports.ts";

/** What a check refuses with: status, message and field; undefined when it passes. */
function refusal(f: () => unknown): { status: number; message: string; field?: string } | undefined {
  try {
    f();
  } catch (e) {
    if (!(e instanceof ServiceError)) throw e;
    return { status: e.status, message: e.message, field: e.field };
  }
}

/** Expects a 400 naming `field`, and gives its message. */
function refused(f: () => unknown, field: string): string {
  const r = refusal(f);
  expect({ status: r?.status, field: r?.field }).toEqual({ status: 400, field });
  return r!.message;
}

const fe = (name: string, ip?: string): JsonObject => (ip ? { name, type: "FRONTEND", ip } : { name, type: "FRONTEND" });
const be = (name: string, ip?: string): JsonObject => (ip ? { name, type: "BACKEND", ip } : { name, type: "BACKEND" });

describe("lbrp ports", () => {
  test("port_mode: SINGLE unless MULTI (any case)", () => {
    expect(portMode({})).toBe("SINGLE");
    expect(portMode({ port_mode: "multi" })).toBe("MULTI");
  });

  test("SINGLE: one FRONTEND and one BACKEND, neither with an ip", () => {
    expect(checkPorts({ ports: [fe("a"), be("b")] })).toEqual([{ name: "a", type: "FRONTEND" }, { name: "b", type: "BACKEND" }]);
    expect(checkPorts({ ports: [{ name: "a", type: "frontend" }] })).toEqual([{ name: "a", type: "FRONTEND" }]);
    expect(refused(() => checkPorts({ ports: [fe("a"), fe("b")] }), "type")).toBe("There is already a FRONTEND port. Only a FRONTEND port is allowed in SINGLE port mode");
    expect(refused(() => checkPorts({ ports: [fe("a", "10.0.0.1")] }), "ip")).toBe("The ip address in not allow in SINGLE port mode for a FRONTEND port");
    expect(refused(() => checkPorts({ ports: [fe("a"), be("b"), be("c")] }), "ports")).toBe("Reached maximum number of ports");
    expect(refused(() => checkPorts({ ports: [be("b"), be("c")] }), "type")).toBe("There is already a BACKEND port");
    expect(refused(() => checkPorts({ ports: [be("b", "10.0.0.1")] }), "ip")).toBe("The ip address in not allowed in BACKEND port");
  });

  test("MULTI: FRONTEND ports each with their own ip, one BACKEND without", () => {
    const m = (...ports: JsonObject[]) => ({ port_mode: "MULTI", ports });
    expect(checkPorts(m(fe("a", "10.0.0.1"), be("b"), fe("c", "10.0.0.2")))).toEqual([
      { name: "a", type: "FRONTEND", ip: "10.0.0.1" },
      { name: "b", type: "BACKEND" },
      { name: "c", type: "FRONTEND", ip: "10.0.0.2" },
    ]);
    expect(refused(() => checkPorts(m(fe("a"))), "ip")).toBe("The IP address is mandatory in MULTI port mode for a FRONTEND port");
    expect(refused(() => checkPorts(m(fe("a", "10.0.0.1"), fe("c", "10.0.0.1"))), "ip")).toBe("A FRONTEND port with the provided IP address (10.0.0.1) already exist");
    expect(refused(() => checkPorts(m(be("b"), be("c"))), "type")).toBe("There is already a BACKEND port");
    expect(refused(() => checkPorts(m(be("b", "10.0.0.9"))), "ip")).toBe("The ip address in not allowed in BACKEND port");
    const many = Array.from({ length: MAX_FRONTENDS + 1 }, (_, i) => fe(`p${i}`, `10.1.${i >> 8}.${i & 255}`));
    refused(() => checkPorts(m(...many)), "ports");
  });

  test("updates: port_mode and a port's type are fixed; its ip may change", () => {
    const before = { port_mode: "MULTI", ports: [fe("a", "10.0.0.1"), be("b")] };
    expect(refused(() => checkUpdate(before, { ...before, port_mode: "SINGLE" }), "port_mode")).toBe("Port mode cannot be changed at runtime");
    refused(() => checkUpdate({}, { port_mode: "MULTI" }), "port_mode");
    expect(refusal(() => checkUpdate({}, { port_mode: "single" }))).toBeUndefined();
    expect(refused(() => checkUpdate(before, { ...before, ports: [fe("a", "10.0.0.1"), fe("b", "10.0.0.2")] }), "type")).toBe("Error: Port type cannot be changed at runtime.");
    expect(refusal(() => checkUpdate(before, { ...before, ports: [fe("a", "10.0.0.3"), be("b"), fe("c", "10.0.0.1")] }))).toBeUndefined();
  });
});
