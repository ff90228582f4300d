// The router's ARP table (static entries from the configuration, entries learned from ARP
// traffic) and the packets waiting for an address to be resolved, so that the first packets
// towards an unknown neighbour are delivered once it answers instead of being dropped.

export interface ArpEntry {
  ip: string;
  mac: string;
  interface: string;
  static: boolean;
}

export interface PendingPacket {
  frame: Uint8Array;
  /** Port the packet came in on: it is re-injected there once the next hop is resolved. */
  inPort: number;
}

/** At most this many packets wait per next hop; older ones are dropped first (as Linux's unres_qlen). */
export const MAX_PENDING_PER_HOP = 64;

export class ArpTable {
  private readonly entries = new Map<string, ArpEntry>();
  private readonly pending = new Map<string, { port: string; packets: PendingPacket[]; since: number }>();

  get(ip: string): ArpEntry | undefined {
    return this.entries.get(ip);
  }

  all(): ArpEntry[] {
    return [...this.entries.values()];
  }

  setStatic(ip: string, mac: string, iface: string): ArpEntry {
    const e = { ip, mac: mac.toLowerCase(), interface: iface, static: true };
    this.entries.set(ip, e);
    return e;
  }

  removeStatic(ip: string): boolean {
    const e = this.entries.get(ip);
    if (!e?.static) return false;
    return this.entries.delete(ip);
  }

  /** Learns from ARP traffic; a static entry is never overwritten. Returns the entry if it changed. */
  learn(ip: string, mac: string, iface: string): ArpEntry | undefined {
    const old = this.entries.get(ip);
    if (old?.static) return undefined;
    mac = mac.toLowerCase();
    if (old && old.mac === mac && old.interface === iface) return undefined;
    const e = { ip, mac, interface: iface, static: false };
    this.entries.set(ip, e);
    return e;
  }

  /** Forgets learned entries through a port (it went away or changed address). */
  forgetPort(iface: string): ArpEntry[] {
    const gone = this.all().filter((e) => !e.static && e.interface === iface);
    for (const e of gone) this.entries.delete(e.ip);
    for (const [ip, p] of this.pending) if (p.port === iface) this.pending.delete(ip);
    return gone;
  }

  /**
   * Queues a packet until `nexthop` is resolved. Returns true when this is the first packet
   * waiting for it, i.e. when the caller should send an ARP request.
   */
  enqueue(nexthop: string, port: string, pkt: PendingPacket, now = Date.now()): boolean {
    const q = this.pending.get(nexthop);
    if (!q) {
      this.pending.set(nexthop, { port, packets: [pkt], since: now });
      return true;
    }
    q.packets.push(pkt);
    if (q.packets.length > MAX_PENDING_PER_HOP) q.packets.shift();
    return false;
  }

  /** Takes the packets waiting for `ip` (after it was resolved). */
  takePending(ip: string): PendingPacket[] {
    const q = this.pending.get(ip);
    this.pending.delete(ip);
    return q?.packets ?? [];
  }

  /** Drops the queues older than maxAgeMs (the neighbour never answered); returns them by next hop. */
  expirePending(maxAgeMs: number, now = Date.now()): Map<string, PendingPacket[]> {
    const out = new Map<string, PendingPacket[]>();
    for (const [ip, q] of this.pending) {
      if (now - q.since >= maxAgeMs) {
        out.set(ip, q.packets);
        this.pending.delete(ip);
      }
    }
    return out;
  }

  pendingCount(ip: string): number {
    return this.pending.get(ip)?.packets.length ?? 0;
  }
}
