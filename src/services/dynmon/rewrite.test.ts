// The BCC-dialect rewriter: declarations become libbpf maps with tagged names, method calls the
// compat macros, both paths one translation unit that clang builds (these tests run clang), and
// code it cannot take is refused naming the path, the line and why.
import { describe, expect, test } from "bun:test";
import { compile } from "./compile.ts";
import { ICMP_MONITOR, ORIGINAL_PACKET_COUNTER, counterCode } from "./fixtures.ts";
import { DEFAULT_CODE, fileScopeNames, rewrite, RewriteError, type PathCode } from "./rewrite.ts";
import { tokenize } from "./ctokens.ts";

const paths = (ingress: string, egress = DEFAULT_CODE, swap: { ingress?: string[]; egress?: string[] } = {}): Record<"ingress" | "egress", PathCode> => ({
  ingress: { code: ingress, swap: new Set(swap.ingress ?? []) },
  egress: { code: egress, swap: new Set(swap.egress ?? []) },
});

function refused(fn: () => unknown): RewriteError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RewriteError);
    return e as RewriteError;
  }
  throw new Error("not refused");
}

describe("tokens", () => {
  test("joining the tokens gives the text back, comments, strings and directives included", () => {
    const src = '#define X(a) \\\n  (a + 1)\n/* c */ int s = "a\\"b"; // d\nchar c = \'\\\'\';\n#include <uapi/linux/ip.h>\n';
    const toks = tokenize(src);
    expect(toks.map((t) => t.text).join("")).toBe(src);
    expect(toks.find((t) => t.text === "a" && t.line === 2)?.pp).toBe("define");
    expect(toks.find((t) => t.text === "<uapi/linux/ip.h>")).toMatchObject({ kind: "str", pp: "include" });
    expect(toks.find((t) => t.text === "int")?.pp).toBeUndefined();
  });

  test("file-scope names: tags, typedefs, functions, variables, enumerators and macros, not locals or members", () => {
    const { names, macros } = fileScopeNames(tokenize(`#define LIMIT 4
struct a { int inner; } __attribute__((packed));
typedef struct { int x; } b_t;
typedef int (*cb_t)(int arg);
enum colour { RED, GREEN = 2 };
static const int limit = 3, other[2];
static int helper(int p) { int local = p; return local; }
int proto(void);
`));
    expect([...names].sort()).toEqual(["GREEN", "RED", "a", "b_t", "cb_t", "colour", "helper", "limit", "other", "proto"]);
    expect([...macros]).toEqual(["LIMIT"]);
  });
});

describe("rewrite", () => {
  test("the original's packet counter: a tagged array map, a lookup macro, handle_rx per path", () => {
    const r = rewrite(paths(ORIGINAL_PACKET_COUNTER["ingress-path"].code));
    const place = r.maps.ingress.get("PKT_COUNTER")!;
    expect(place.type).toBe(2);
    expect(place.object).toMatch(/^PKT_COUNTER_[0-9a-f]{6}$/);
    expect(place.swap).toBeUndefined();
    expect(r.maps.egress.size).toBe(0);
    const v = place.object;
    expect(r.source).toContain(`struct dynmon_map_${v} { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, int); __type(value, uint64_t); } ${v} SEC(".maps");`);
    expect(r.source).toContain(`uint64_t *pkt_counter = dynmon_lookup(${v}, &${v}, &key);`);
    expect(r.source).toContain("static __always_inline int dynmon_ingress_rx( CTXTYPE *ctx, struct pkt_metadata *md)");
    expect(r.source).toContain("return dynmon_egress_rx(ctx, md);");
    expect(r.source).toContain('#line 1 "ingress-path"');
  });

  test("BCC's optional arguments get BCC's defaults; BPF_TABLE takes its type by name", () => {
    const code = `BPF_HASH(H); BPF_ARRAY(A, u32); BPF_PERCPU_HASH(P, u32); BPF_HISTOGRAM(D); BPF_STACK(S, u64, 8);
BPF_TABLE("lru_hash", u32, u64, L, 100); BPF_QUEUESTACK("queue", Q, u32, 4, 0);
static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) { return RX_OK; }`;
    const r = rewrite(paths(code));
    const def = (n: string) => r.source.match(new RegExp(`struct dynmon_map_${r.maps.ingress.get(n)!.object} \\{([^}]*)\\}`))![1];
    expect(def("H")).toBe(" __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u64); __type(value, u64); ");
    expect(def("A")).toBe(" __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 10240); __type(key, int); __type(value, u32); ");
    expect(def("P")).toBe(" __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __uint(max_entries, 10240); __type(key, u32); __type(value, u64); ");
    expect(def("D")).toBe(" __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 64); __type(key, int); __type(value, u64); ");
    expect(def("S")).toBe(" __uint(type, BPF_MAP_TYPE_STACK); __uint(max_entries, 8); __type(value, u64); ");
    expect(def("L")).toBe(" __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 100); __type(key, u32); __type(value, u64); ");
    expect(def("Q")).toBe(" __uint(type, BPF_MAP_TYPE_QUEUE); __uint(max_entries, 4); __type(value, u32); ");
    expect([...r.maps.ingress.values()].map((p) => p.type)).toEqual([1, 2, 5, 2, 23, 9, 22]);
  });

  test("a swap-on-read map has two copies chosen through the path's swap map; a bare reference too", () => {
    const code = `BPF_ARRAY(C, u64, 1);
BPF_HASH(H, u32, u64, 8);
static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) {
  int k = 0;
  u64 *c = bpf_map_lookup_elem(&C, &k);
  if (c) *c += 1;
  H.increment(1);
  return RX_OK;
}`;
    const r = rewrite(paths(code, DEFAULT_CODE, { ingress: ["C", "H"] }));
    const c = r.maps.ingress.get("C")!;
    const h = r.maps.ingress.get("H")!;
    expect(c.swap!.index).toMatch(/^dynmon_swap_[0-9a-f]{6}$/);
    expect(c.swap).toEqual({ slot: 0, copies: [`${c.object}__0`, `${c.object}__1`], index: c.swap!.index });
    expect(h.swap?.slot).toBe(1);
    expect(r.source).toContain(`__type(value, __u32); } ${c.swap!.index} SEC(".maps");`);
    expect(r.source).toContain(`${c.object}__0 SEC(".maps"); struct dynmon_map_${c.object} ${c.object}__1 SEC(".maps");`);
    expect(r.source).toContain(`bpf_map_lookup_elem(&(*(struct dynmon_map_${c.object} *)dynmon_swap_ptr(&${c.swap!.index}, 0, &${c.object}__0, &${c.object}__1)), &k)`);
    expect(r.source).toContain(`dynmon_increment(${h.object}__0, dynmon_swap_ptr(&${h.swap!.index}, 1, &${h.object}__0, &${h.object}__1), 1)`);
  });

  test("tags: the same code keeps its map names, other code or other swap maps give new ones", () => {
    const a = rewrite(paths(counterCode())).maps.ingress.get("COUNTER")!.object;
    expect(rewrite(paths(counterCode())).maps.ingress.get("COUNTER")!.object).toBe(a);
    expect(rewrite(paths(counterCode("COUNTER", 2))).maps.ingress.get("COUNTER")!.object).not.toBe(a);
    expect(rewrite(paths(counterCode(), DEFAULT_CODE, { ingress: ["COUNTER"] })).maps.ingress.get("COUNTER")!.object).not.toBe(a);
    // the same code on the other path is another map
    expect(rewrite(paths(DEFAULT_CODE, counterCode())).maps.egress.get("COUNTER")!.object).not.toBe(a);
  });

  test("BPF_TABLE_SHARED in one path and BPF_TABLE(\"extern\") in the other are one map, whichever path shares it", () => {
    const shared = `BPF_TABLE_SHARED("array", int, u64, BOTH, 1);
static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) { int k = 0; BOTH.increment(k); return RX_OK; }`;
    const ext = `BPF_TABLE("extern", int, u64, BOTH, 1);
static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) { int k = 0; BOTH.increment(k, 10); return RX_OK; }`;
    for (const [ing, eg] of [[shared, ext], [ext, shared]] as const) {
      const r = rewrite(paths(ing, eg));
      expect(r.maps.ingress.get("BOTH")).toBe(r.maps.egress.get("BOTH")!);
      const sharer = ing === shared ? "ingress" : "egress";
      expect(r.source.indexOf(`#line 1 "${sharer}-path"`)).toBeLessThan(r.source.indexOf(`#line 1 "${sharer === "ingress" ? "egress" : "ingress"}-path"`));
    }
    expect(refused(() => rewrite(paths(ext))).message).toBe("ingress code, line 1: map BOTH is declared extern, but the egress code does not declare it with BPF_TABLE_SHARED or BPF_TABLE_PUBLIC");
    expect(refused(() => rewrite(paths(shared, shared))).message).toBe("ingress code, line 1: map BOTH is declared shared by both paths: declare it extern in one of them");
  });

  test("refusals name the path, the line and what is wrong", () => {
    const rx = "static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) { return RX_OK; }";
    expect(refused(() => rewrite(paths("BPF_ARRAY(C, u64, 1);"))).message).toBe("ingress code: it has no handle_rx() function");
    expect(refused(() => rewrite(paths(DEFAULT_CODE, `\nBPF_PERF_OUTPUT(events);\n${rx}`))).message).toBe(
      "egress code, line 2: BPF_PERF_OUTPUT: perf buffers have no reader in dynmon (dynmon supports hash, array, LRU, per-CPU, LPM trie, queue and stack maps)",
    );
    expect(refused(() => rewrite(paths(`BPF_TABLE("hashish", u32, u32, T, 4);\n${rx}`))).message).toMatch(/^ingress code, line 1: BPF_TABLE: unknown table type "hashish" \(known: hash, array/);
    expect(refused(() => rewrite(paths(`BPF_ARRAY(C);\nstatic __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) { C.call(ctx, 0); return RX_OK; }`))).message).toBe(
      "ingress code, line 2: C.call(): dynmon supports the map methods lookup, lookup_or_init, lookup_or_try_init, update, insert, delete, increment, atomic_increment, push, pop, peek",
    );
    expect(refused(() => rewrite(paths(`BPF_ARRAY(C);\nBPF_HASH(C);\n${rx}`))).message).toBe("ingress code, line 2: map C is declared twice");
    expect(refused(() => rewrite(paths(`BPF_TABLE_PINNED("hash", u32, u32, P, 4, "/sys/fs/bpf/p");\n${rx}`))).message).toBe("ingress code, line 1: BPF_TABLE_PINNED: pinned maps are not supported");
    expect(refused(() => rewrite(paths(`BPF_QUEUE(Q, u32);\n${rx}`))).message).toBe("ingress code, line 1: BPF_QUEUE takes (name, value, size, flags): size is missing");
  });
});

describe("clang builds what the rewriter writes", () => {
  test("the original's packet counter, for TC and XDP", async () => {
    const objs = await compile(rewrite(paths(ORIGINAL_PACKET_COUNTER["ingress-path"].code)).source, ["tc", "xdp"]);
    for (const f of ["tc", "xdp"] as const) expect(objs.get(f)!.subarray(0, 4)).toEqual(new Uint8Array([0x7f, 0x45, 0x4c, 0x46]));
  });

  test("the same monitor on both paths, swap-on-read maps, a queue, includes through uapi/", async () => {
    const r = rewrite(paths(ICMP_MONITOR, ICMP_MONITOR, { ingress: ["ECHO_BY_SOURCE"], egress: ["IPV4_PACKETS"] }));
    // both paths declare struct eth_hdr, src_key, pkt_info: the second path's are renamed
    expect(r.source).toContain("struct dynmon_egress_eth_hdr {");
    expect(r.source).toContain("#undef PROTO_ICMP");
    expect(r.source).not.toContain("uapi/");
    await compile(r.source, ["tc", "xdp"]);
  });

  test("a compile error is clang's, on the path's own line", async () => {
    const code = `BPF_ARRAY(C, u64, 1);

static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) {
  return undeclared_thing;
}`;
    const err = await compile(rewrite(paths(DEFAULT_CODE, code)).source, ["tc"]).catch((e) => e);
    expect(err.message).toContain("the code does not compile");
    expect(err.message).toContain("egress-path:4:10: error: use of undeclared identifier 'undeclared_thing'");
    expect(err.missingTool).toBe(false);
  });

  test("names both paths declare are renamed in the second only, members and fields left alone", () => {
    const code = `struct s { int count; };
static int count;
static __always_inline int bump(struct s *x) { return x->count + count; }
static __always_inline int handle_rx(struct CTXTYPE *ctx, struct pkt_metadata *md) { struct s v = {.count = 1}; return bump(&v) ? RX_OK : RX_OK; }`;
    const r = rewrite(paths(code, code));
    const egress = r.source.slice(r.source.indexOf('#line 1 "egress-path"'));
    const ingress = r.source.slice(0, r.source.indexOf('#line 1 "egress-path"'));
    expect(ingress).toContain("struct s { int count; };");
    expect(egress).toContain("struct dynmon_egress_s { int count; };");
    expect(egress).toContain("static int dynmon_egress_count;");
    expect(egress).toContain("return x->count + dynmon_egress_count;");
    expect(egress).toContain("struct dynmon_egress_s v = {.count = 1}; return dynmon_egress_bump(&v)");
  });
});
