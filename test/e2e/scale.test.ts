// The semantics that writes costing what they change must keep, with large tables, through the
// real daemon: a refused write changes nothing (model and kernel: the FDB a GET shows is read
// from the BPF map), writes to one cube are none lost and each sees the one before, and
// concurrent writes to different cubes all land.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Daemon } from "../lib/daemon.ts";
import { okRequester } from "../lib/datapath.ts";

const daemon = new Daemon();
const ok = okRequester(daemon);
const N = 10_000;
const ROUTES = 5_000;

const hex2 = (x: number) => (x & 255).toString(16).padStart(2, "0");
const mac = (i: number) => `02:00:00:${hex2(i >> 16)}:${hex2(i >> 8)}:${hex2(i)}`;
const net = (i: number) => `10.${128 + (i >> 8)}.${i & 255}.0/24`;

type Entry = { address: string; port: string };
const fdb = async (cube: string): Promise<Entry[]> =>
  ((await ok("GET", `/simplebridge/${cube}/fdb/entry/`)) as Entry[]).filter((e) => e.address).map((e) => ({ address: e.address, port: e.port })).sort((a, b) => a.address.localeCompare(b.address));
const routes = async (cube: string): Promise<unknown[]> =>
  ((await ok("GET", `/router/${cube}/route/`)) as Array<Record<string, unknown>>).filter((r) => r.network).map((r) => `${r.network} ${r.nexthop} ${r.interface} ${r.pathcost}`).sort();

beforeAll(async () => {
  await daemon.start();
  await ok("POST", "/simplebridge/scb1/", { ports: [{ name: "p1" }, { name: "p2" }] });
  await ok("POST", "/simplebridge/scb1/fdb/entry/", Array.from({ length: N }, (_, i) => ({ address: mac(i), port: `p${(i % 2) + 1}` })));
  await ok("POST", "/router/scr1/", { ports: [{ name: "p1", ip: "10.1.0.1/16" }, { name: "p2", ip: "10.2.0.1/16" }] });
  await ok("POST", "/router/scr1/route/", Array.from({ length: ROUTES }, (_, i) => ({ network: net(i), nexthop: `10.1.0.${2 + (i % 200)}` })));
}, 120_000);

afterAll(async () => {
  await daemon.stop();
  daemon.cleanup();
});

describe(`a ${N}-entry FDB and a ${ROUTES}-route table`, () => {
  test("refused writes change nothing, in the model and in the kernel", async () => {
    const before = await fdb("scb1");
    expect(before.length).toBe(N);
    const refused: Array<[string, string, unknown, number]> = [
      ["POST", `fdb/entry/${mac(N + 1)}/`, { port: "nope" }, 400], // the service refuses: no such port
      ["POST", `fdb/entry/${mac(5)}/`, { port: "p1" }, 409], // exists
      ["PATCH", `fdb/entry/${mac(5)}/`, { port: 7 }, 400], // not a port name
      ["PATCH", `fdb/entry/${mac(5)}/`, { age: 3 }, 400], // read-only
      ["DELETE", `fdb/entry/${mac(N + 2)}/`, undefined, 409], // missing
      ["PATCH", `fdb/entry/${mac(6)}/port/`, "p9", 400], // the service refuses a change of one leaf
    ];
    for (const [m, path, body, status] of refused) {
      const r = await daemon.request(m, `/simplebridge/scb1/${path}`, body);
      expect({ m, path, status: r.status >= 400 && r.status < 500 }).toEqual({ m, path, status: true });
      if (status === 409) expect([404, 409]).toContain(r.status);
    }
    expect(await fdb("scb1")).toEqual(before);
    // The entries the refusals named are as they were, and a write goes on from there.
    expect(await ok("GET", `/simplebridge/scb1/fdb/entry/${mac(6)}/port/`)).toBe("p1");
    await ok("POST", `/simplebridge/scb1/fdb/entry/${mac(N + 1)}/`, { port: "p2" });
    const after = await fdb("scb1");
    expect(after.length).toBe(N + 1);
    expect(after.filter((e) => e.address !== mac(N + 1))).toEqual(before);
    await ok("DELETE", `/simplebridge/scb1/fdb/entry/${mac(N + 1)}/`);
    expect(await fdb("scb1")).toEqual(before);

    const rBefore = await routes("scr1");
    expect(rBefore.length).toBe(ROUTES + 2); // and the ports' connected routes
    for (const [m, path, body] of [
      ["POST", `route/${encodeURIComponent("10.250.0.0/24")}/10.9.0.1/`, {}], // next hop unreachable
      ["POST", `route/${encodeURIComponent("10.250.0.0/24")}/10.1.0.9/`, { interface: "p2" }], // reached through p1
      ["PATCH", `route/${encodeURIComponent(net(3))}/10.1.0.5/pathcost/`, "many"], // not a number
    ] as const) {
      const r = await daemon.request(m, `/router/scr1/${path}`, body);
      expect({ path, status: r.status >= 400 && r.status < 500 }).toEqual({ path, status: true });
    }
    expect(await routes("scr1")).toEqual(rBefore);
  }, 120_000);

  test("a GET of one entry or leaf shows what the GET of the list shows", async () => {
    const list = (await ok("GET", "/simplebridge/scb1/fdb/entry/")) as Array<Record<string, unknown>>;
    const e = list.find((x) => x.address === mac(7))!;
    const one = (await ok("GET", `/simplebridge/scb1/fdb/entry/${mac(7)}/`)) as Record<string, unknown>;
    expect({ ...one, _links: undefined }).toEqual({ ...e, _links: undefined });
    expect(await ok("GET", `/simplebridge/scb1/fdb/entry/${mac(7).toUpperCase()}/port/`)).toBe("p2");
    expect((await daemon.request("GET", `/simplebridge/scb1/fdb/entry/${mac(N + 3)}/`)).status).toBe(409);
    const routesList = (await ok("GET", "/router/scr1/route/")) as Array<Record<string, unknown>>;
    const r = routesList.find((x) => x.network === net(9))!;
    const path = `/router/scr1/route/${encodeURIComponent(net(9))}/${r.nexthop}/`;
    const oneRoute = (await ok("GET", path)) as Record<string, unknown>;
    expect({ ...oneRoute, _links: undefined }).toEqual({ ...r, _links: undefined });
    expect(await ok("GET", `${path}pathcost/`)).toBe(1);
    expect((await daemon.request("GET", `/router/scr1/route/${encodeURIComponent(net(9))}/10.1.0.250/`)).status).toBe(409);
  }, 60_000);

  test("writes to one cube: none is lost, and each sees the one before it", async () => {
    const K = 100;
    // K chains run at once, each create -> change -> change back -> delete of its own entry,
    // while one more entry's port is flipped K times; every step must see the previous one.
    await Promise.all(
      Array.from({ length: K }, async (_, j) => {
        const p = `/simplebridge/scb1/fdb/entry/${mac(N + 100 + j)}/`;
        await ok("POST", p, { port: "p1" });
        await ok("PATCH", p, { port: "p2" });
        expect(await ok("GET", `${p}port/`)).toBe("p2");
        await ok("PATCH", p, { port: "p1" });
        if (j % 2) await ok("DELETE", p);
      }),
    );
    const all = await fdb("scb1");
    expect(all.length).toBe(N + K / 2);
    for (let j = 0; j < K; j += 2) expect(all.find((e) => e.address === mac(N + 100 + j))?.port).toBe("p1");
  }, 120_000);

  test("concurrent writes to different cubes all land", async () => {
    const K = 200;
    await Promise.all([
      ...Array.from({ length: K }, (_, j) => ok("POST", `/simplebridge/scb1/fdb/entry/${mac(N + 1000 + j)}/`, { port: "p2" })),
      ...Array.from({ length: K }, (_, j) => ok("POST", `/router/scr1/route/${encodeURIComponent(net(ROUTES + j))}/10.2.0.${2 + (j % 200)}/`, { pathcost: 3 })),
    ]);
    const all = await fdb("scb1");
    for (let j = 0; j < K; j++) expect(all.find((e) => e.address === mac(N + 1000 + j))?.port).toBe("p2");
    const rt = await routes("scr1");
    for (let j = 0; j < K; j++) expect(rt).toContain(`${net(ROUTES + j)} 10.2.0.${2 + (j % 200)} p2 3`);
  }, 120_000);
});
