// A shadow router and its namespace (pcn-<cube>), as in the original: each port's interface
// there carries the port's MAC and addresses, and the routes Linux adds through those
// interfaces (by hand, or a routing daemon such as FRR) join the router's table with path
// cost 1; when Linux removes them, they leave it. An address Linux adds to an interface
// becomes its port's address (ip), as the original's netlink NEW_ADDRESS handler does.
import type { Logger, ShadowContext } from "../../lib/sdk/types.ts";
import type { RouterModel } from "./model.ts";

export interface LinuxRoute {
  network: string;
  nexthop?: string;
  port: string;
}

/** How often the namespace is read for routes Linux added or removed. */
const POLL_MS = 1000;

export class ShadowFollower {
  /** What each port's interface was last given (JSON of mac and addresses), and its addresses. */
  private readonly applied = new Map<string, string>();
  private readonly addresses = new Map<string, string[]>();
  /** Changes with every reflect: a namespace read that spans one is not trusted. */
  private generation = 0;
  /** Addresses Linux set that the router refused (a conflict): not asked again. */
  private readonly refused = new Set<string>();
  private routes: LinuxRoute[] = [];
  private seen = "[]";
  private timer?: ReturnType<typeof setInterval>;
  private busy = false;

  constructor(
    private readonly shadow: ShadowContext,
    private readonly log: Logger,
    /** Called when the namespace's routes changed; the router rebuilds its tables. */
    private readonly changed: () => Promise<void>,
    /** Called when Linux gave a port's interface an address the port does not have. */
    private readonly addressAdded: (port: string, cidr: string) => Promise<void>,
  ) {}

  /** Routes Linux has through the ports' interfaces, other than those the kernel made for addresses. */
  linuxRoutes(): LinuxRoute[] {
    return this.routes;
  }

  /** Gives each port's interface the port's MAC and addresses (only what changed). */
  async reflect(model: RouterModel): Promise<void> {
    this.generation++;
    try {
      for (const name of [...this.applied.keys()])
        if (!model.ports.has(name)) {
          this.applied.delete(name);
          this.addresses.delete(name);
        }
      for (const p of model.ports.values()) {
        const want = JSON.stringify([p.mac, p.addresses]);
        if (this.applied.get(p.name) === want) continue;
        this.applied.delete(p.name);
        this.addresses.set(p.name, p.addresses);
        await this.shadow.setInterface(p.name, { mac: p.mac, addresses: p.addresses });
        this.applied.set(p.name, want);
      }
    } finally {
      this.generation++;
    }
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.poll()
        .catch((e) => this.log.warn(`shadow namespace ${this.shadow.namespace}: ${(e as Error).message}`))
        .finally(() => (this.busy = false));
    }, POLL_MS);
    this.timer.unref?.();
  }

  /** Reads the namespace's routes; tells the router when they changed. */
  async poll(): Promise<void> {
    const generation = this.generation;
    const view = await this.shadow.linux();
    if (generation !== this.generation || generation % 2) return;
    for (const [port, have] of view.addresses) {
      const mine = this.addresses.get(port);
      const added = mine && have.find((a) => !mine.includes(a) && !this.refused.has(`${port} ${a}`));
      if (!added) continue;
      this.log.info(`port ${port}: address ${added} set in ${this.shadow.namespace}`);
      try {
        await this.addressAdded(port, added);
      } catch (e) {
        this.refused.add(`${port} ${added}`);
        throw e;
      }
      return;
    }
    const routes = view.routes
      .filter((r) => r.proto !== "kernel")
      .map((r) => ({ network: r.network, nexthop: r.nexthop, port: r.dev }))
      .sort((a, b) => `${a.network} ${a.nexthop}`.localeCompare(`${b.network} ${b.nexthop}`));
    const text = JSON.stringify(routes);
    if (text === this.seen) return;
    this.seen = text;
    this.routes = routes;
    this.log.info(`routes from ${this.shadow.namespace}: ${routes.map((r) => `${r.network} via ${r.nexthop ?? r.port}`).join(", ") || "none"}`);
    await this.changed();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
