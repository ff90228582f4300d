// A shadow router and its namespace (pcn-<cube>), as in the original: each port's interface
// there carries the port's MAC and addresses, and the routes Linux adds through those
// interfaces (by hand, or a routing daemon such as FRR) join the router's table with path
// cost 1; when Linux removes them, they leave it.
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
  /** What each port's interface was last given (JSON of mac and addresses). */
  private readonly applied = new Map<string, string>();
  private routes: LinuxRoute[] = [];
  private seen = "[]";
  private timer?: ReturnType<typeof setInterval>;
  private busy = false;

  constructor(
    private readonly shadow: ShadowContext,
    private readonly log: Logger,
    /** Called when the namespace's routes changed; the router rebuilds its tables. */
    private readonly changed: () => Promise<void>,
  ) {}

  /** Routes Linux has through the ports' interfaces, other than those the kernel made for addresses. */
  linuxRoutes(): LinuxRoute[] {
    return this.routes;
  }

  /** Gives each port's interface the port's MAC and addresses (only what changed). */
  async reflect(model: RouterModel): Promise<void> {
    for (const name of [...this.applied.keys()]) if (!model.ports.has(name)) this.applied.delete(name);
    for (const p of model.ports.values()) {
      const want = JSON.stringify([p.mac, p.addresses]);
      if (this.applied.get(p.name) === want) continue;
      await this.shadow.setInterface(p.name, { mac: p.mac, addresses: p.addresses });
      this.applied.set(p.name, want);
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
    const view = await this.shadow.linux();
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
