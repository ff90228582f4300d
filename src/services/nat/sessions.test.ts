// nat's sessions: natting-table rows, the partner entry's key, liveness by either entry's
// deadline, the timeouts knob and the datapath's configuration.
import { describe, expect, test } from "bun:test";
import { encodeConfig, liveSessions, parseTimeouts, partnerKey, sessionRow, TIMEOUTS } from "./sessions.ts";

/** struct nat_val: ip, port, rewrite_src, kind, expires (ns), state, orig. */
function val(ip: number[], port: number, rewriteSrc: number, kind: number, expires: bigint, orig = 0): Uint8Array {
  const v = new Uint8Array(24);
  const dv = new DataView(v.buffer);
  v.set(ip, 0);
  dv.setUint16(4, port, false);
  v[6] = rewriteSrc;
  v[7] = kind;
  dv.setBigUint64(8, expires, true);
  v[17] = orig;
  return v;
}

/** struct nat_key */
function key(src: number[], dst: number[], sport: number, dport: number, proto: number, dir: number): Uint8Array {
  const k = new Uint8Array(16);
  const dv = new DataView(k.buffer);
  k.set(src, 0);
  k.set(dst, 4);
  dv.setUint16(8, sport, false);
  dv.setUint16(10, dport, false);
  k[12] = proto;
  k[13] = dir;
  return k;
}

describe("nat sessions", () => {
  // 10.0.0.1:1000 -> 8.8.8.8:53 UDP leaving as 1.2.3.4:2000 (masquerade)
  const k = key([10, 0, 0, 1], [8, 8, 8, 8], 1000, 53, 17, 1);
  const v = val([1, 2, 3, 4], 2000, 1, 2, 100n, 1);
  const rk = key([8, 8, 8, 8], [1, 2, 3, 4], 53, 2000, 17, 0);
  const rv = val([10, 0, 0, 1], 1000, 0, 2, 50n);

  test("rows and partner keys", () => {
    expect(sessionRow(k, v)).toEqual({ "internal-src": "10.0.0.1", "internal-dst": "8.8.8.8", "internal-sport": 1000, "internal-dport": 53, proto: "UDP", "originating-rule": "masquerade", "external-ip": "1.2.3.4", "external-port": 2000 });
    expect(Array.from(partnerKey(k, v))).toEqual(Array.from(rk));
    expect(Array.from(partnerKey(rk, rv))).toEqual(Array.from(k));
    expect(sessionRow(rk, rv)).toBeUndefined();
    // ICMP echo: the id stands for both ports, on both sides.
    const ik = key([10, 0, 0, 1], [8, 8, 8, 8], 7, 7, 1, 1);
    expect(Array.from(partnerKey(ik, val([1, 2, 3, 4], 9, 1, 0, 1n)))).toEqual(Array.from(key([8, 8, 8, 8], [1, 2, 3, 4], 9, 9, 1, 0)));
    // DNAT: 9.9.9.9:5 -> 1.2.3.4:80 arriving, to 10.0.0.1:8080; its partner leaves.
    const dk = key([9, 9, 9, 9], [1, 2, 3, 4], 5, 80, 6, 0);
    expect(Array.from(partnerKey(dk, val([10, 0, 0, 1], 8080, 0, 3, 1n)))).toEqual(Array.from(key([10, 0, 0, 1], [9, 9, 9, 9], 8080, 5, 6, 1)));
  });

  test("a session lives while either entry's deadline is ahead", () => {
    const rows = (now: bigint, entries: Array<[Uint8Array, Uint8Array]>) => liveSessions(entries, now).map((s) => s.row["external-port"]);
    expect(rows(40n, [[k, v], [rk, rv]])).toEqual([2000]);
    expect(rows(80n, [[k, v], [rk, rv]])).toEqual([2000]);
    expect(rows(80n, [[k, val([1, 2, 3, 4], 2000, 1, 2, 60n, 1)], [rk, rv]])).toEqual([]);
    expect(rows(80n, [[k, val([1, 2, 3, 4], 2000, 1, 2, 60n, 1)], [rk, val([10, 0, 0, 1], 1000, 0, 2, 90n)]])).toEqual([2000]);
    expect(liveSessions([[k, v], [rk, rv]], 0n)[0]!.keys.map((x) => Array.from(x))).toEqual([Array.from(k), Array.from(rk)]);
    expect(rows(150n, [[k, v]])).toEqual([]);
  });

  test("timeouts and the configuration", () => {
    expect(parseTimeouts(undefined)).toEqual(TIMEOUTS.map(([, s]) => s));
    expect(parseTimeouts("udp=2,tcp-closed=1")).toEqual([120, 432000, 120, 1, 2, 2, 30]);
    expect(() => parseTimeouts("udp-old=2")).toThrow(/POLYCUBE_NAT_TIMEOUTS/);
    const c = encodeConfig({ masqIp: 0x0a000001, masquerade: true, snatRules: 2, dnatRules: 3, timeouts: parseTimeouts("icmp=2") });
    expect(c.length).toBe(16 + 8 * 7);
    expect(Buffer.from(c.subarray(0, 16)).toString("hex")).toBe("0a000001010000000200000003000000");
    expect(new DataView(c.buffer).getBigUint64(16 + 8 * 6, true)).toBe(2_000_000_000n);
  });
});
