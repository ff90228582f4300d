// MAC address text for services, parsed strictly as the models' yang:mac-address writes it: six
// colon-separated pairs of hex digits (either case). Bytes are wire order; text comes out in
// lower case, as the daemon shows addresses.

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** "aa:bb:cc:dd:ee:ff" -> its 6 bytes; undefined when the text is not six hex pairs. */
export function parseMac(text: string): Uint8Array | undefined {
  if (!MAC.test(text)) return undefined;
  return Uint8Array.from(text.split(":"), (p) => Number.parseInt(p, 16));
}

/** 6 bytes (at offset) -> "aa:bb:cc:dd:ee:ff". */
export function formatMac(b: Uint8Array, offset = 0): string {
  return Array.from(b.subarray(offset, offset + 6), (x) => x.toString(16).padStart(2, "0")).join(":");
}

/** "aa:bb:cc:dd:ee:ff" -> its 6 bytes; throws "invalid MAC address '...'" on bad text. */
export function macBytes(text: string): Uint8Array {
  const b = parseMac(text);
  if (!b) throw new Error(`invalid MAC address '${text}'`);
  return b;
}

/** The text in the daemon's form (lower case); throws "invalid MAC address '...'" on bad text. */
export function normalizeMac(text: string): string {
  return formatMac(macBytes(text));
}

/**
 * Why a MAC cannot be one station's own address, or undefined when it can: the all-zero
 * address, or a group address (the I/G bit, broadcast included).
 */
export function notUnicastMac(b: Uint8Array): string | undefined {
  if (b.every((x) => x === 0)) return "is the all-zero address";
  if (b.every((x) => x === 0xff)) return "is the broadcast address";
  if (b[0]! & 1) return "is a multicast address";
  return undefined;
}

/** Locally administered, unicast random MAC (as the original's get_random_mac). */
export function randomMac(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  b[0] = (b[0]! & 0xfe) | 0x02;
  return formatMac(b);
}
