// A restart onto a build whose datapath changed (issue 16): a plug-in service (built out of tree
// with `polycube service build`) is replaced by a new build at the same path while the daemon
// restarts with --cubes-dump-enable. The new programs take over without a ping lost; a map of
// the same layout is kept (the same kernel map), one whose value struct changed is converted
// member by member (counts carried, the new member from 0), one whose key changed starts empty
// with a warning, a new map starts empty; afterwards the kernel holds none of the old build's
// programs or maps.
import { expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Daemon, polycube } from "../lib/daemon.ts";
import { daemonAround, okRequester, pingThrough } from "../lib/datapath.ts";
import { sh, Topology, type Host } from "../lib/netns.ts";

const work = mkdtempSync(join(tmpdir(), "opup-"));
const topo = new Topology("opu");
const daemon = new Daemon();
const opts = ["--cubes-dump-enable", "--cubes-dump-file", join(daemon.dir, "cubes.yaml")];
const pinDir = `/sys/fs/bpf/polycube/${daemon.port}`;
const maps = `${pinDir}/cubes/opupc/opup`;
const installed = join(work, "opup.pcn");
const ok = okRequester(daemon);
let h1: Host;
let h2: Host;

/** The datapath of each build: a two-port forwarder that counts what it forwards. */
const BUILDS = {
  v1: `
struct stats { __u64 packets; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, struct stats); } opup_stats SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } opup_total SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u32); } opup_last SEC(".maps");

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  __u32 port = md->in_port, zero = 0, len = md->packet_len;
  struct stats fresh = { 1 };
  struct stats *s = bpf_map_lookup_elem(&opup_stats, &port);
  if (s) __sync_fetch_and_add(&s->packets, 1); else bpf_map_update_elem(&opup_stats, &port, &fresh, BPF_ANY);
  __u64 *t = bpf_map_lookup_elem(&opup_total, &zero);
  if (t) __sync_fetch_and_add(t, 1);
  bpf_map_update_elem(&opup_last, &port, &len, BPF_ANY);
  return pcn_pkt_redirect(ctx, md, port ^ 1);
}
`,
  // stats: a member before the old one (it moves) and bytes; last: a wider key; seen: new.
  v2: `
struct stats { __u64 bytes; __u64 packets; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, struct stats); } opup_stats SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } opup_total SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u64); __type(value, __u32); } opup_last SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u32); } opup_seen SEC(".maps");

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  __u32 port = md->in_port, zero = 0, len = md->packet_len, one = 1;
  __u64 wide = port;
  struct stats fresh = { len, 1 };
  struct stats *s = bpf_map_lookup_elem(&opup_stats, &port);
  if (s) { __sync_fetch_and_add(&s->packets, 1); __sync_fetch_and_add(&s->bytes, len); } else bpf_map_update_elem(&opup_stats, &port, &fresh, BPF_ANY);
  __u64 *t = bpf_map_lookup_elem(&opup_total, &zero);
  if (t) __sync_fetch_and_add(t, 1);
  bpf_map_update_elem(&opup_last, &wide, &len, BPF_ANY);
  bpf_map_update_elem(&opup_seen, &port, &one, BPF_ANY);
  return pcn_pkt_redirect(ctx, md, port ^ 1);
}
`,
};

function run(argv: string[]): void {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
}

/** codegen's skeleton with this build's datapath, packaged. */
function build(version: keyof typeof BUILDS): string {
  const dir = join(work, version);
  const yang = join(work, "opup.yang");
  writeFileSync(yang, readFileSync(join(import.meta.dir, "../plugin/plugfwd.yang"), "utf8").replaceAll("plugfwd", "opup"));
  run([...polycube(), "codegen", "-i", yang, "-o", dir]);
  const c = join(dir, "opup.bpf.c");
  const skeleton = readFileSync(c, "utf8");
  writeFileSync(c, skeleton.slice(0, skeleton.indexOf("/* A packet received")) + BUILDS[version]);
  const out = join(work, `${version}.pcn`);
  run([...polycube(), "service", "build", dir, "-o", out]);
  return out;
}

type Dumped = { key: unknown; value?: unknown; formatted?: { key: unknown; value: unknown } };

/** A pinned map's entries as bpftool prints them with the map's BTF: [key, value] pairs. */
function dump(map: string): Array<[unknown, unknown]> {
  const rows = JSON.parse(sh(`bpftool -j map dump pinned ${maps}/${map}`)) as Dumped[];
  return rows.map((r) => (r.formatted ? [r.formatted.key, r.formatted.value] : [r.key, r.value]));
}

function mapId(map: string): number {
  return JSON.parse(sh(`bpftool -j map show pinned ${maps}/${map}`)).id as number;
}

daemonAround(daemon, topo, () => {
  h1 = topo.host(1, "10.185.21.1/24");
  h2 = topo.host(2, "10.185.21.2/24");
  copyFileSync(build("v1"), installed);
  build("v2");
}, { args: opts, cleanup: () => rmSync(work, { recursive: true, force: true }) });

test("a restart onto a changed datapath: no ping lost, maps kept, converted or rebuilt, nothing of the old build left", async () => {
  await ok("POST", "/services", { name: "opup", type: "lib", uri: installed });
  await ok("POST", "/opup/opupc/", { ports: [{ name: "p0", peer: h1.outer }, { name: "p1", peer: h2.outer }] });
  expect(topo.ping(h1, h2.ip, 3)).toBe(true);
  await Bun.sleep(300); // the dump is written

  const before = new Map(dump("opup_stats").map(([k, v]) => [k, (v as { packets: number }).packets]));
  expect(before.get(0)).toBeGreaterThan(0);
  // A count no new build would reach by itself: whatever it shows beyond it came from the old map.
  const BIG = 1_000_000_000;
  sh(`bpftool map update pinned ${maps}/opup_stats key 0 0 0 0 value 0x00 0xca 0x9a 0x3b 0 0 0 0`);
  before.set(0, BIG);
  expect(dump("opup_last").length).toBe(2);
  const totalId = mapId("opup_total");
  const oldIds = { stats: mapId("opup_stats"), last: mapId("opup_last") };

  const mark = daemon.log().length;
  const r = await pingThrough(h1.ns, h2.ip, async () => {
    expect(await daemon.stop()).toBe(0);
    copyFileSync(join(work, "v2.pcn"), installed); // the new build, where the old one was
    await daemon.start(opts);
  });
  expect(r.sent).toBeGreaterThan(300);
  expect(r.sent - r.received).toBe(0);
  // What the daemon said of the maps (warnings; the whole log is long).
  const log = daemon.log().slice(mark).split("\n").filter((l) => l.includes("changed layout")).join("\n");

  // Same layout: the very same map, its count going on.
  expect(mapId("opup_total")).toBe(totalId);
  // The value struct changed: every entry converted, packets carried, bytes counted from the switch on.
  expect(log).toContain("map opup_stats changed layout: 2 of 2 entries converted (value.bytes is new: starts at 0)");
  for (const [port, value] of dump("opup_stats")) {
    const v = value as { bytes: number; packets: number };
    expect(v.packets).toBeGreaterThan(before.get(port)!);
    expect(v.bytes).toBeGreaterThan(0);
    expect(v.bytes).toBeLessThan(BIG); // counted by the new build only
  }
  // The key changed: rebuilt, said why; the new map starts empty and fills.
  expect(log).toContain("map opup_last changed layout");
  expect(log).toContain("its key changed");
  expect(dump("opup_last").map(([k]) => k).sort()).toEqual([0, 1]);
  expect(dump("opup_seen").length).toBe(2);
  // The old build's maps are gone from the kernel (no program, no pin holds them).
  const live = new Set((JSON.parse(sh("bpftool -j map show")) as Array<{ id: number }>).map((m) => m.id));
  expect([live.has(oldIds.stats), live.has(oldIds.last)]).toEqual([false, false]);
  expect(existsSync(`${maps}/opup_seen`)).toBe(true);

  await ok("DELETE", "/opup/opupc/");
  expect(existsSync(`${pinDir}/cubes/opupc`)).toBe(false);
}, 90000);
