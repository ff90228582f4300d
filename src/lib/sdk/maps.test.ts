// Typed maps are checked against the datapath's BTF when a cube is created.
import { describe, expect, test } from "bun:test";
import { memoryContext, objectMaps } from "../../../test/lib/memory-context.ts";
import { bytes, mac, struct, u16, u32 } from "../bpf/codec.ts";
import bridge from "../../services/bridge/index.ts";
import ddosmitigator from "../../services/ddosmitigator/index.ts";
import lbrp from "../../services/lbrp/index.ts";
import router from "../../services/router/index.ts";
import simplebridge from "../../services/simplebridge/index.ts";
import { checkCodec, MapLayoutError, typedMap } from "./maps.ts";
import type { JsonObject, MapDescription, ServiceModule } from "./types.ts";

const ports = [{ id: 0, name: "p1", peer: "", status: "UP" as const }, { id: 1, name: "p2", peer: "", status: "UP" as const }];
const configs: Array<[ServiceModule, JsonObject]> = [
  [router, { ports: [{ name: "p1", ip: "10.0.1.1/24" }, { name: "p2", ip: "10.0.2.1/24" }] }],
  [simplebridge, { ports: [{ name: "p1" }, { name: "p2" }], fdb: { entry: [{ address: "aa:bb:cc:00:00:01", port: "p1" }] } }],
  [lbrp, { ports: [{ name: "p1", type: "FRONTEND" }, { name: "p2", type: "BACKEND" }], service: [{ vip: "10.0.0.1", vport: 80, proto: "TCP", backend: [{ ip: "10.1.0.1", port: 8080 }] }] }],
  [bridge, { ports: [{ name: "p1" }, { name: "p2" }] }],
  [ddosmitigator, { "blacklist-src": [{ ip: "10.0.0.9" }] }],
];

async function create(svc: ServiceModule, cfg: JsonObject, describe?: Record<string, MapDescription>) {
  const { ctx } = memoryContext({ name: "c1", service: svc.name, ports, describe: describe ?? (await objectMaps(svc.name)) });
  const control = await svc.createCube(ctx, cfg);
  await control.destroy?.();
}

describe("typed maps", () => {
  for (const [svc, cfg] of configs)
    test(`${svc.name}: its codecs fit the C types of ${svc.name}.bpf.c`, async () => {
      await create(svc, cfg);
    });

  test("a map the datapath does not declare is refused at creation, naming the maps it has", async () => {
    const { arp_table: _, ...maps } = await objectMaps("router");
    const err = await create(router, configs[0]![1], maps).catch((e) => e);
    expect(err).toBeInstanceOf(MapLayoutError);
    expect(err.message).toMatch(/^map arp_table: the datapath has no such map \(its maps: .*routing_table/);
  });

  test("a C struct that no longer matches the service's codec is refused at creation, naming map, struct and field", async () => {
    const maps = await objectMaps("router");
    // As if arp_entry's port had moved (a member inserted before it in router.bpf.c).
    const arp = structuredClone(maps.arp_table!);
    arp.value!.members!.find((m) => m.name === "port")!.offset = 12;
    arp.value!.size = arp.valueSize = 16;
    const err = await create(router, configs[0]![1], { ...maps, arp_table: arp }).catch((e) => e);
    expect(err).toBeInstanceOf(MapLayoutError);
    expect((err as Error).message).toBe("map arp_table: value (struct arp_entry) is 16 bytes, its codec 12");
    // Same size, another layout: the field is named.
    arp.value!.size = arp.valueSize = 12;
    arp.value!.members = [
      { name: "mac", offset: 0, size: 6, type: { name: "__u8[6]", size: 6 } },
      { name: "port", offset: 6, size: 4, type: { name: "__u32", size: 4 } },
      { name: "pad", offset: 10, size: 2, type: { name: "__u16", size: 2 } },
    ];
    const err2 = await create(router, configs[0]![1], { ...maps, arp_table: arp }).catch((e) => e);
    expect((err2 as Error).message).toBe("map arp_table: value: field 'pad' is 2 bytes, struct arp_entry.port (__u32) is 4");
  });

  test("a deliberately wrong codec is refused with a clear message", async () => {
    const { ctx } = memoryContext({ name: "c1", service: "simplebridge", ports, describe: await objectMaps("simplebridge") });
    const wrongValue = struct<{ timestamp: number; port: number }>(16, { timestamp: { offset: 0, codec: u32 }, port: { offset: 8, codec: u32 } });
    expect(() => typedMap(ctx, "fwdtable", struct(8, { addr: { offset: 0, codec: mac }, pad: { offset: 6, codec: bytes(2) } }), wrongValue)).toThrow(
      "map fwdtable: value: field 'timestamp' is 4 bytes, struct fdb_entry.timestamp (__u64) is 8",
    );
    const shifted = struct<{ addr: string }>(8, { addr: { offset: 2, codec: mac } });
    expect(() => typedMap(ctx, "fwdtable", shifted, bytes(16))).toThrow(
      "map fwdtable: key: field 'addr' is at offset 2, where struct mac_key has no member (its members: addr at 0 (6 bytes), pad at 6 (2 bytes))",
    );
    expect(() => typedMap(ctx, "config", u16, u32)).toThrow("map config: key (__u32) is 4 bytes, its codec 2");
  });

  test("without BTF types (remote contexts of an older daemon), sizes are still checked", () => {
    expect(() => checkCodec("map m: value", u32, 8)).toThrow("map m: value is 8 bytes, its codec 4");
    checkCodec("map m: value", struct(8, { a: { offset: 2, codec: u32 } }), 8);
    const { ctx } = memoryContext({ name: "c1", service: "x", ports, describe: { m: { keySize: 4, valueSize: 8 } } });
    expect(() => typedMap(ctx, "m", u32, u32)).toThrow("map m: value is 8 bytes, its codec 4");
  });
});
