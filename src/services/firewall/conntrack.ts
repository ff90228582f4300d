// Connection tracking as the control plane sees it: the modes and their switches (the
// original's automatic/manual/disabled), the timeouts the datapath applies (with the
// POLYCUBE_FIREWALL_TIMEOUTS knob), and the session table read back from the datapath's map.
import { ServiceError, type JsonObject } from "../../lib/sdk/types.ts";
import { parseTimeouts as parseKnob, timeoutsNs } from "../../lib/sdk/timeouts.ts";
import { configValue, ctKey, ctValue } from "./layout.ts";
import { formatIp, PROTO_NAME } from "./rules.ts";

/** fw_config.mode: tracking off; on, rules decide everything; on, ESTABLISHED passes before the rules. */
export type Mode = "DISABLED" | "MANUAL" | "AUTOMATIC";
const MODE_CODE: Record<Mode, number> = { DISABLED: 0, MANUAL: 1, AUTOMATIC: 2 };

/** The original starts in automatic mode. */
export const INITIAL_MODE: Mode = "AUTOMATIC";

export function modeView(m: Mode): { conntrack: "ON" | "OFF"; "accept-established": "ON" | "OFF" } {
  return { conntrack: m === "DISABLED" ? "OFF" : "ON", "accept-established": m === "AUTOMATIC" ? "ON" : "OFF" };
}

/** conntrack=ON|OFF: turning it on from OFF gives manual mode, as in the original. */
export function setConntrack(m: Mode, value: string): Mode {
  if (value === "OFF") return "DISABLED";
  return m === "DISABLED" ? "MANUAL" : m;
}

/** accept-established=ON|OFF switches automatic/manual; refused while tracking is off. */
export function setAcceptEstablished(m: Mode, value: string): Mode {
  if (m === "DISABLED") throw new ServiceError("accept-established: connection tracking is OFF; enable conntrack first", 409, "operation-failed", "accept-established");
  return value === "ON" ? "AUTOMATIC" : "MANUAL";
}

/** Timeout names (the knob's words), in the order of T_* in firewall.bpf.c, with the original's values in seconds. */
export const TIMEOUTS: Array<[string, number]> = [
  ["tcp-syn-sent", 120], ["tcp-syn-recv", 60], ["tcp-established", 432000], ["tcp-fin-wait", 120],
  ["tcp-last-ack", 30], ["tcp-time-wait", 120], ["udp-new", 30], ["udp-established", 180], ["icmp", 30],
];
export const TIMEOUTS_ENV = "POLYCUBE_FIREWALL_TIMEOUTS";

/** Seconds per timeout from "name=seconds,..." over the defaults; throws naming what is wrong. */
export function parseTimeouts(text: string | undefined): number[] {
  return parseKnob(TIMEOUTS_ENV, TIMEOUTS, text);
}

export const configCodec = configValue(TIMEOUTS.length);

/** struct fw_config */
export function encodeConfig(mode: Mode, timeouts: number[]): Uint8Array {
  return configCodec.encode({ mode: MODE_CODE[mode], pad: 0, timeout: timeoutsNs(timeouts) });
}

/** Session states (S_* in firewall.bpf.c) as the session table names them. */
const STATE_NAME: Record<number, string> = { 1: "SYN_SENT", 2: "SYN_RECV", 3: "ESTABLISHED", 4: "FIN_WAIT", 5: "LAST_ACK", 6: "TIME_WAIT", 7: "NEW" };

/** One fw_sessions entry as a session-table entry; undefined once expired. `now` is CLOCK_BOOTTIME in ns, the datapath's clock. */
export function sessionEntry(key: Uint8Array, value: Uint8Array, now: bigint): JsonObject | undefined {
  const { expires, state } = ctValue.decode(value);
  if (expires <= now) return undefined;
  const { src, dst, proto, sport, dport } = ctKey.decode(key);
  return {
    src: formatIp(src),
    dst: formatIp(dst),
    l4proto: PROTO_NAME[proto] ?? String(proto),
    // ICMP echo sessions are keyed by the request: the id stands as the source port.
    sport, dport,
    state: STATE_NAME[state] ?? "INVALID",
    // Rounded: /proc/uptime lags the kernel's clock by up to 10 ms, so rounding up could show
    // a second more than the timeout.
    eta: Math.round(Number(expires - now) / 1e9),
  };
}
