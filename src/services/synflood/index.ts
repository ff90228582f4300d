// synflood: a transparent cube that monitors the host for TCP SYN floods, as the original: its
// datapath lets every packet go on, and its statistics (stats.ts) are the host's TCP/IP
// counters, read from /proc/net/snmp whenever the cube's stats are read.
import type { CubeContext, CubeControl, ServiceModule } from "../../lib/sdk/types.ts";
import { readSnmp, statsOf } from "./stats.ts";
import yang from "./synflood.yang" with { type: "text" };

async function createCube(ctx: CubeContext): Promise<CubeControl> {
  await ctx.loadDatapath("synflood");
  return {
    state: () => ({ stats: { ...statsOf(readSnmp(), Date.now()) } }),
    parentChanged(parent: string) {
      ctx.log.info(parent ? `attached to ${parent}` : "detached");
    },
  };
}

export const synflood: ServiceModule = { name: "synflood", kind: "transparent", yang, createCube };
export default synflood;
