// The services built into the daemon. Adding a service: its folder, and one line here.
import type { ServiceModule } from "../lib/sdk/types.ts";
import bridge from "./bridge/index.ts";
import ddosmitigator from "./ddosmitigator/index.ts";
import dynmon from "./dynmon/index.ts";
import firewall from "./firewall/index.ts";
import helloworld from "./helloworld/index.ts";
import nat from "./nat/index.ts";
import packetcapture from "./packetcapture/index.ts";
import pbforwarder from "./pbforwarder/index.ts";
import lbdsr from "./lbdsr/index.ts";
import lbrp from "./lbrp/index.ts";
import router from "./router/index.ts";
import simplebridge from "./simplebridge/index.ts";
import synflood from "./synflood/index.ts";
import simpleforwarder from "./simpleforwarder/index.ts";
import transparenthelloworld from "./transparenthelloworld/index.ts";

export const builtinServices: ServiceModule[] = [simplebridge, simpleforwarder, router, helloworld, transparenthelloworld, bridge, ddosmitigator, firewall, lbdsr, lbrp, nat, packetcapture, pbforwarder, synflood, dynmon];
