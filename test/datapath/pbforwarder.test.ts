// pbforwarder through the real daemon, in TC and XDP_SKB: three hosts on three ports, each also
// on VLAN 10 (eth0.10). Rules written with the original's CLI forms (`pbforwarder add`, `rules
// add <id> ...`) and REST; 2, 10 and 100 rules with the deciding ones last; untagged and tagged
// traffic; FORWARD, DROP and SLOWPATH (logged as the original); rule order by id; updates and
// deletes followed by the datapath; bad input refused naming the field, nothing changed.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { Daemon } from "../lib/daemon.ts";
import { daemonAround, hooksOn, logSince, okRequester } from "../lib/datapath.ts";
import { Topology, sh, type Host } from "../lib/netns.ts";

const topo = new Topology("tpb");
const daemon = new Daemon();
const ok = okRequester(daemon);
let h1: Host;
let h2: Host;
let h3: Host;

function ping(from: Host, to: string, count = 2): boolean {
  for (const h of [h1, h2, h3]) sh(`ip -n ${h.ns} neigh flush all`);
  return topo.ping(from, to, count);
}

/** UDP datagrams from one host to another's port: true if one arrived. */
async function udp(from: Host, to: Host, port: number): Promise<boolean> {
  for (const h of [h1, h2, h3]) sh(`ip -n ${h.ns} neigh flush all`);
  topo.ping(from, to.ip, 1); // resolves the neighbour (ARP goes by the tests' MAC rules)
  const rx = Bun.spawn(["ip", "netns", "exec", to.ns, "/usr/bin/python3", "-c",
    `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(("0.0.0.0",${port}))\ns.settimeout(2)\ntry:\n  s.recv(100); print("got")\nexcept Exception: print("none")`], { stdout: "pipe" });
  await Bun.sleep(300);
  for (let i = 0; i < 3; i++) {
    spawnSync(["ip", "netns", "exec", from.ns, "/usr/bin/python3", "-c", `import socket\nsocket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto(b"x",("${to.ip}",${port}))`]);
    await Bun.sleep(100);
  }
  await rx.exited;
  return (await new Response(rx.stdout).text()).includes("got");
}

let seq = 0;

/**
 * One UDP frame written raw on `from`'s eth0, 802.1Q-tagged when `vid` is given (the kernel here
 * has no VLAN devices), to `to`'s MAC and `dstIp`; true if a host listening raw on `at`'s eth0
 * saw it.
 */
async function frame(from: Host, to: Host, at: Host, opts: { vid?: number; dstIp?: string } = {}): Promise<boolean> {
  const marker = `pbf-${process.pid}-${++seq}`;
  const rx = Bun.spawn(["ip", "netns", "exec", at.ns, "/usr/bin/python3", "-c",
    `import socket,time\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.htons(3))\ns.bind(("eth0",0))\ns.settimeout(0.2)\nprint("ready",flush=True)\nend=time.time()+2\nwhile time.time()<end:\n  try:\n    d=s.recv(2048)\n  except Exception: continue\n  if b"${marker}" in d:\n    print("got"); break`], { stdout: "pipe" });
  const reader = rx.stdout.getReader();
  await reader.read(); // "ready"
  const mac = (m: string) => m.split(":").map((x) => `\\x${x}`).join("");
  const ip = (a: string) => a.split(".").map((x) => `\\x${Number(x).toString(16).padStart(2, "0")}`).join("");
  const tag = opts.vid === undefined ? "" : `b"\\x81\\x00"+(${opts.vid}).to_bytes(2,"big")+`;
  const payload = `b"${marker}"`;
  const py = `import socket\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\ns.bind(("eth0",0))\n` +
    `pl=${payload}\nudp=(4000).to_bytes(2,"big")+(4001).to_bytes(2,"big")+(8+len(pl)).to_bytes(2,"big")+b"\\0\\0"+pl\n` +
    `iph=b"\\x45\\0"+(20+len(udp)).to_bytes(2,"big")+b"\\0\\0\\0\\0\\x40\\x11\\0\\0"+b"${ip(from.ip)}"+b"${ip(opts.dstIp ?? to.ip)}"\n` +
    `f=b"${mac(to.mac)}"+b"${mac(from.mac)}"+${tag}b"\\x08\\x00"+iph+udp\nfor _ in range(3): s.send(f)`;
  spawnSync(["ip", "netns", "exec", from.ns, "/usr/bin/python3", "-c", py]);
  await rx.exited;
  let out = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  return out.includes("got");
}

async function cli(words: string[]): Promise<void> {
  const r = await daemon.cli(words);
  if (r.code !== 0) throw new Error(`polycubectl ${words.join(" ")}: ${r.err}`);
}

async function rules(pb: string): Promise<unknown[]> {
  const r = await daemon.request("GET", `/pbforwarder/${pb}/rules/`);
  return r.status === 200 ? (r.json() as unknown[]).filter((e) => !Array.isArray(e)) : [];
}

async function cube(pb: string, type: string): Promise<void> {
  await cli(["pbforwarder", "add", pb, `type=${type}`, "loglevel=DEBUG"]);
  await cli([pb, "ports", "add", "p1", `peer=${h1.outer}`]);
  await cli([pb, "ports", "add", "p2", `peer=${h2.outer}`]);
  await cli([pb, "ports", "add", "p3", `peer=${h3.outer}`]);
}

daemonAround(daemon, topo, () => {
  h1 = topo.host(1, "10.246.0.1/24");
  h2 = topo.host(2, "10.246.0.2/24");
  h3 = topo.host(3, "10.246.0.3/24");
});

for (const type of ["TC", "XDP_SKB"]) {
  describe(`pbforwarder in ${type}`, () => {
    const pb = type === "TC" ? "pbt" : "pbx";

    test("2 rules by in_port; no rule drops; SLOWPATH logged; rules in id order; update and delete", async () => {
      await cube(pb, type);
      try {
        expect(hooksOn([h1.outer, h2.outer, h3.outer]).length).toBe(3);
        expect(ping(h1, h2.ip, 1)).toBe(false);
        await cli([pb, "rules", "add", "1", "in_port=p1", "action=FORWARD", "out_port=p2"]);
        await cli([pb, "rules", "add", "2", "in_port=p2", "action=FORWARD", "out_port=p1"]);
        expect(ping(h1, h2.ip)).toBe(true);
        expect(ping(h1, h3.ip, 1)).toBe(false);
        expect(await rules(pb)).toEqual([
          { id: 1, in_port: "p1", action: "FORWARD", out_port: "p2" },
          { id: 2, in_port: "p2", action: "FORWARD", out_port: "p1" },
        ]);

        // A lower id wins: DROP for IPv4 to h2 (ARP, not IPv4, still passes).
        await cli([pb, "rules", "add", "0", `dst_ip=${h2.ip}`, "action=DROP"]);
        expect(ping(h1, h2.ip, 1)).toBe(false);
        // A higher id does not: the same rule as id 3 leaves rule 1 in charge.
        await ok("DELETE", `/pbforwarder/${pb}/rules/0/`);
        await cli([pb, "rules", "add", "3", `dst_ip=${h2.ip}`, "action=DROP"]);
        expect(ping(h1, h2.ip)).toBe(true);

        // Update: rule 2 to SLOWPATH; the control plane logs h2's packets and sends nothing on.
        await cli([pb, "rules", "2", "set", "action=SLOWPATH"]);
        const mark = daemon.log().length;
        expect(ping(h1, h2.ip, 1)).toBe(false);
        const log = await logSince(daemon, mark);
        expect(log).toMatch(new RegExp(`\\[Pbforwarder\\] \\[${pb}\\] \\[info\\] Packet received from port p2$`, "m"));
        await ok("PATCH", `/pbforwarder/${pb}/rules/2/action/`, "FORWARD");
        expect(ping(h1, h2.ip)).toBe(true);
        // Update of a match field: rule 1 now takes p3's packets, and h1's go nowhere.
        await ok("PATCH", `/pbforwarder/${pb}/rules/1/`, { in_port: "p3" });
        expect(ping(h1, h2.ip, 1)).toBe(false);
        await ok("PATCH", `/pbforwarder/${pb}/rules/1/`, { in_port: "p1" });
        expect(ping(h1, h2.ip)).toBe(true);

        // Delete one, then all.
        await cli([pb, "rules", "del", "2"]);
        expect(ping(h1, h2.ip, 1)).toBe(false);
        await cli([pb, "rules", "add", "2", "in_port=p2", "action=FORWARD", "out_port=p1"]);
        expect(ping(h1, h2.ip)).toBe(true);
        await cli([pb, "rules", "del"]);
        expect(await rules(pb)).toEqual([]);
        expect(ping(h1, h2.ip, 1)).toBe(false);
      } finally {
        await cli(["pbforwarder", "del", pb]);
      }
      expect(hooksOn([h1.outer, h2.outer, h3.outer])).toEqual([]);
    });

    test("10 rules by MAC (the original's test2_10), then 100 rules with the deciding ones last; UDP ports", async () => {
      await cube(pb, type);
      try {
        // Meaningless L2 rules first, as the original's script adds them.
        for (let i = 0; i < 7; i++) await cli([pb, "rules", "add", String(i), `src_mac=02:00:00:00:00:0${i}`, "action=DROP"]);
        // The original's words: `polycubectl pbforwarder pbf1 rules add 7 ...`.
        await cli(["pbforwarder", pb, "set", "loglevel=TRACE"]);
        await cli(["pbforwarder", pb, "rules", "add", "7", "dst_mac=FF:FF:FF:FF:FF:FF", "in_port=p1", "action=FORWARD", "out_port=p2"]);
        await cli(["pbforwarder", pb, "rules", "add", "8", `dst_mac=${h1.mac}`, "action=FORWARD", "out_port=p1"]);
        await cli(["pbforwarder", pb, "rules", "add", "9", `dst_mac=${h2.mac}`, "action=FORWARD", "out_port=p2"]);
        expect((await rules(pb)).length).toBe(10);
        expect(ping(h1, h2.ip)).toBe(true);
        expect(ping(h3, h1.ip, 1)).toBe(false); // h3's ARP broadcast comes in on p3: no rule
        await cli(["pbforwarder", pb, "set", "loglevel=DEBUG"]);

        // 100: 90 more rules of other shapes in front (ids 10..99 are free; the MAC rules move to the end).
        const many = [];
        for (let i = 0; i < 90; i++) {
          const id = i < 45 ? 100 + i : 200 + i;
          many.push(i % 3 === 0 ? { id, dst_ip: `10.246.9.${i}`, l4_proto: "UDP", dst_port: 9000 + i, action: "DROP" }
            : i % 3 === 1 ? { id, src_ip: `10.246.8.${i}`, action: "FORWARD", out_port: "p3" }
            : { id, vlan: 100 + i, action: "SLOWPATH" });
        }
        await ok("PATCH", `/pbforwarder/${pb}/`, { rules: many });
        await ok("DELETE", `/pbforwarder/${pb}/rules/7/`);
        await ok("DELETE", `/pbforwarder/${pb}/rules/8/`);
        await ok("DELETE", `/pbforwarder/${pb}/rules/9/`);
        await ok("POST", `/pbforwarder/${pb}/rules/400/`, { dst_mac: "ff:ff:ff:ff:ff:ff", in_port: "p1", action: "FORWARD", out_port: "p2" });
        await ok("POST", `/pbforwarder/${pb}/rules/401/`, { dst_mac: h1.mac, action: "FORWARD", out_port: "p1" });
        await ok("POST", `/pbforwarder/${pb}/rules/402/`, { dst_mac: h2.mac, action: "FORWARD", out_port: "p2" });
        expect((await rules(pb)).length).toBe(100);
        expect((await daemon.request("GET", "/metrics")).text).toContain(`pbforwarder_rules_number_rules{cubeName="${pb}"} 100.000000`);
        expect(ping(h1, h2.ip)).toBe(true);

        // UDP: a port rule in front drops that port only.
        expect(await udp(h1, h2, 7777)).toBe(true);
        await cli([pb, "rules", "add", "300", "l4_proto=UDP", "dst_port=7777", `dst_ip=${h2.ip}`, "action=DROP"]);
        expect(await udp(h1, h2, 7777)).toBe(false);
        expect(await udp(h1, h2, 7778)).toBe(true);
        expect(ping(h1, h2.ip)).toBe(true);
      } finally {
        await cli(["pbforwarder", "del", pb]);
      }
    });

    test("VLAN-tagged and untagged traffic: vlan rules match tagged frames only; others match both", async () => {
      await cube(pb, type);
      try {
        await cli([pb, "rules", "add", "10", "vlan=10", "in_port=p1", "action=FORWARD", "out_port=p2"]);
        expect(await frame(h1, h2, h2, { vid: 10 })).toBe(true);
        expect(await frame(h1, h2, h2)).toBe(false);
        expect(await frame(h1, h2, h2, { vid: 20 })).toBe(false);
        // A tagged DROP by address in front: other addresses still go.
        await cli([pb, "rules", "add", "5", "vlan=10", "dst_ip=10.246.5.5", "action=DROP"]);
        expect(await frame(h1, h2, h2, { vid: 10, dstIp: "10.246.5.5" })).toBe(false);
        expect(await frame(h1, h2, h2, { vid: 10, dstIp: "10.246.5.6" })).toBe(true);
        await cli([pb, "rules", "5", "set", "vlan=20"]);
        expect(await frame(h1, h2, h2, { vid: 10, dstIp: "10.246.5.5" })).toBe(true);
        expect(await frame(h1, h2, h2, { vid: 20, dstIp: "10.246.5.5" })).toBe(false);
        // A rule without vlan matches tagged and untagged frames alike, after the vlan rules.
        await cli([pb, "rules", "add", "20", "in_port=p1", "action=FORWARD", "out_port=p3"]);
        expect(await frame(h1, h2, h3)).toBe(true);
        expect(await frame(h1, h2, h3, { vid: 30 })).toBe(true);
        expect(await frame(h1, h2, h2, { vid: 10 })).toBe(true);
        expect(await frame(h1, h2, h3, { vid: 10 })).toBe(false);
        await cli([pb, "rules", "del", "10"]);
        expect(await frame(h1, h2, h3, { vid: 10 })).toBe(true);
        // Untagged traffic by IP rules keeps working beside them: ping both ways.
        await cli([pb, "rules", "add", "1", "in_port=p1", `dst_ip=${h2.ip}`, "action=FORWARD", "out_port=p2"]);
        await cli([pb, "rules", "add", "2", "in_port=p1", "dst_mac=ff:ff:ff:ff:ff:ff", "action=FORWARD", "out_port=p2"]);
        await cli([pb, "rules", "add", "3", "in_port=p2", "action=FORWARD", "out_port=p1"]);
        expect(ping(h1, h2.ip)).toBe(true);
      } finally {
        await cli(["pbforwarder", "del", pb]);
      }
    });

    test("bad input is refused naming the field; the rules and the datapath stay as they were", async () => {
      await cube(pb, type);
      try {
        await cli([pb, "rules", "add", "1", "in_port=p1", "action=FORWARD", "out_port=p2"]);
        await cli([pb, "rules", "add", "2", "in_port=p2", "action=FORWARD", "out_port=p1"]);
        expect(ping(h1, h2.ip)).toBe(true);
        const before = await rules(pb);
        const refused = async (method: string, path: string, body: unknown, field: string) => {
          const r = await daemon.request(method, `/pbforwarder/${pb}/${path}`, body);
          expect(r.status).toBeGreaterThanOrEqual(400);
          expect(r.status).toBeLessThan(500);
          expect(r.text).toContain(field);
        };
        await refused("POST", "rules/3/", { in_port: "nosuch", action: "DROP" }, "in_port");
        await refused("POST", "rules/3/", { action: "FORWARD", out_port: "nosuch" }, "out_port");
        await refused("POST", "rules/3/", { action: "FORWARD" }, "out_port");
        await refused("POST", "rules/3/", { src_mac: "aa:bb:cc", action: "DROP" }, "src_mac");
        await refused("POST", "rules/3/", { dst_mac: "zz:bb:cc:dd:ee:ff", action: "DROP" }, "dst_mac");
        await refused("POST", "rules/3/", { dst_ip: "10.0.0.300", action: "DROP" }, "dst_ip");
        await refused("POST", "rules/3/", { src_ip: "10.0.0", action: "DROP" }, "src_ip");
        await refused("POST", "rules/3/", { dst_port: 80, action: "DROP" }, "l4_proto");
        await refused("POST", "rules/3/", { vlan: 5000, action: "DROP" }, "vlan");
        await refused("POST", "rules/3/", { action: "EXPLODE" }, "action");
        await refused("PATCH", "rules/1/", { out_port: "nosuch" }, "out_port");
        await refused("PATCH", "rules/1/in_port/", "nosuch", "in_port");
        await refused("POST", "rules/1/", { action: "DROP" }, "1"); // exists
        const r = await daemon.cli([pb, "rules", "add", "3", "src_mac=bad", "action=DROP"]);
        expect(r.code).not.toBe(0);
        expect(r.err).toContain("src_mac");
        expect(await rules(pb)).toEqual(before);
        expect(ping(h1, h2.ip)).toBe(true);

        // A port named by rules may be deleted: rules naming it stay and are inert; others still change.
        await cli([pb, "rules", "add", "0", "in_port=p3", "action=FORWARD", "out_port=p1"]);
        await ok("DELETE", `/pbforwarder/${pb}/ports/p3/`);
        await cli([pb, "rules", "2", "set", "action=DROP"]);
        expect(ping(h1, h2.ip, 1)).toBe(false);
        await cli([pb, "rules", "2", "set", "action=FORWARD"]);
        expect(ping(h1, h2.ip)).toBe(true);
        expect((await rules(pb)).length).toBe(3);
      } finally {
        await cli(["pbforwarder", "del", pb]);
      }
    });
  });
}
