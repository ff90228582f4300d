// The datapath contract every service is built against (see docs/datapath.md).
//
// A service source includes this header, defines PCN_TRANSPARENT first if it is a transparent
// service, and then defines
//     static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md);
// It is compiled twice: with -DPCN_TC (struct __sk_buff) and with -DPCN_XDP (struct xdp_md).
//
// Packets move between cubes by tail calls through one program array per flavour
// (pcn_nodes). Where a packet goes when it leaves a port is a "hop" that the control plane
// writes into the cube's pcn_peers map: another cube's entry (tail call with the input port in
// the packet's metadata), a netdev (bpf_redirect), the Linux stack, or nothing (drop).
// Metadata travels in the packet context: skb->cb[] for TC, the XDP metadata area for XDP.
#pragma once

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* ---- map declarations ------------------------------------------------------------------- */

/* One line per map, e.g. PCN_HASH(arp_table, __u32, struct arp_entry, 16384). Each expands to
 * libbpf's BTF-defined map, members in libbpf's order (type, max_entries, map_flags, key,
 * value): the same BTF as the struct written out, which the control plane checks its codecs
 * against (src/lib/sdk/maps.ts) and which decides whether a pinned map is adopted after a
 * restart (src/lib/cube/pins.ts). */
#define PCN_MAP(_name, _map_type, _key_t, _value_t, _max)                                       \
  struct {                                                                                    \
    __uint(type, _map_type);                                                                  \
    __uint(max_entries, _max);                                                                \
    __type(key, _key_t);                                                                      \
    __type(value, _value_t);                                                                  \
  } _name SEC(".maps")

#define PCN_MAP_FLAGS(_name, _map_type, _key_t, _value_t, _max, _flags)                          \
  struct {                                                                                    \
    __uint(type, _map_type);                                                                  \
    __uint(max_entries, _max);                                                                \
    __uint(map_flags, _flags);                                                                \
    __type(key, _key_t);                                                                      \
    __type(value, _value_t);                                                                  \
  } _name SEC(".maps")

/* Arrays: keys are __u32 indexes. */
#define PCN_ARRAY(_name, _value_t, _max) PCN_MAP(_name, BPF_MAP_TYPE_ARRAY, __u32, _value_t, _max)
#define PCN_PERCPU_ARRAY(_name, _value_t, _max) PCN_MAP(_name, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, _value_t, _max)
#define PCN_PROG_ARRAY(_name, _max) PCN_MAP(_name, BPF_MAP_TYPE_PROG_ARRAY, __u32, __u32, _max)

#define PCN_HASH(_name, _key_t, _value_t, _max) PCN_MAP(_name, BPF_MAP_TYPE_HASH, _key_t, _value_t, _max)
/* Entries allocated as they are added: a cube pays for what it holds, not for _max. */
#define PCN_HASH_NOPREALLOC(_name, _key_t, _value_t, _max)                                      \
  PCN_MAP_FLAGS(_name, BPF_MAP_TYPE_HASH, _key_t, _value_t, _max, BPF_F_NO_PREALLOC)
#define PCN_PERCPU_HASH(_name, _key_t, _value_t, _max) PCN_MAP(_name, BPF_MAP_TYPE_PERCPU_HASH, _key_t, _value_t, _max)
/* Full: the least recently used entry makes room (sessions, flows). */
#define PCN_LRU_HASH(_name, _key_t, _value_t, _max) PCN_MAP(_name, BPF_MAP_TYPE_LRU_HASH, _key_t, _value_t, _max)
/* Longest-prefix match: the key starts with a __u32 prefix length (the kernel wants
 * BPF_F_NO_PREALLOC for these). */
#define PCN_LPM(_name, _key_t, _value_t, _max)                                                  \
  PCN_MAP_FLAGS(_name, BPF_MAP_TYPE_LPM_TRIE, _key_t, _value_t, _max, BPF_F_NO_PREALLOC)

/* A ring buffer of _bytes (a power of two, a multiple of the page size). */
#define PCN_RINGBUF(_name, _bytes)                                                              \
  struct {                                                                                    \
    __uint(type, BPF_MAP_TYPE_RINGBUF);                                                       \
    __uint(max_entries, _bytes);                                                              \
  } _name SEC(".maps")

/* A plain libbpf object (bpf/test_counter.bpf.c) takes the macros above and nothing else. */
#ifndef PCN_MAPS_ONLY

#define PCN_MAX_NODES 1024
#define PCN_MAX_PORTS 128
/* Bytes of a packet copied to the slow path; longer packets arrive truncated (len < pkt_len). */
#define PCN_MAX_PKT 2048
#define PCN_LOG_FMT_MAX 120

#define LOG_TRACE 0
#define LOG_DEBUG 1
#define LOG_INFO 2
#define LOG_WARN 3
#define LOG_ERR 4
#define LOG_CRITICAL 5
#define LOG_OFF 6

/* Hop kinds, shared with src/lib/cube/hops.ts. */
#define PCN_HOP_DROP 0
#define PCN_HOP_CUBE 1   /* tail call to pcn_nodes[index] with in_port = port */
#define PCN_HOP_NETDEV 2 /* bpf_redirect to ifindex */
#define PCN_HOP_PASS 3   /* on to the Linux stack (ingress) or the wire (egress) */

/* Ring buffer record types, shared with src/lib/slowpath/events.ts. */
#define PCN_EV_PACKET 1
#define PCN_EV_LOG 2
#define PCN_EV_SPAN 3 /* span mode (XDP): a copy of a packet for a port's shadow interface */

/* pcn_cfg flags, shared with src/lib/cube/fabric.ts. */
#define PCN_CFG_SHADOW 1 /* the cube has a namespace: port ids are even, each port's twin is id + 1 */
#define PCN_CFG_SPAN 2   /* shadow cubes: every packet on a port is also copied into the namespace */

/* Directions of transparent cubes; a transparent cube's md->in_port holds one of these. */
#define PCN_INGRESS 0
#define PCN_EGRESS 1

#ifdef PCN_XDP
#define CTXTYPE struct xdp_md
#define RX_OK XDP_PASS
#define RX_DROP XDP_DROP
#define RX_REDIRECT XDP_REDIRECT
#else
#define CTXTYPE struct __sk_buff
#define RX_OK TC_ACT_OK
#define RX_DROP TC_ACT_SHOT
#define RX_REDIRECT TC_ACT_REDIRECT
#endif

struct pkt_metadata {
  __u16 cube_id;
  __u16 in_port;
  __u32 packet_len;
  __u32 traffic_class;
  __u16 reason;
  __u32 md[3];
};

struct pcn_hop {
  __u32 kind;
  __u32 index;
  __u32 port;
  __u32 ifindex;
};

struct pcn_cube_cfg {
  __u32 log_level;
  __u32 flags;
};

/* Header of a packet sent to the slow path; the frame follows. */
struct pcn_pkt_event {
  __u16 type;
  __u16 cube_id;
  __u16 port;
  __u16 reason;
  __u32 len;     /* bytes of data that follow */
  __u32 pkt_len; /* length of the whole packet */
  __u32 traffic_class;
  __u32 md[3];
  __u16 vlan_tci;   /* TC: a VLAN tag the kernel keeps out of the frame (vlan_present) */
  __u16 vlan_proto; /* network byte order; 0 when there is none */
  __u8 data[PCN_MAX_PKT];
};

struct pcn_log_event {
  __u16 type;
  __u16 cube_id;
  __u16 level;
  __u16 nargs;
  __u64 args[4];
  char fmt[PCN_LOG_FMT_MAX];
};

/* Shared by every object of one flavour: the runtime makes all of them use the same maps. */
PCN_PROG_ARRAY(pcn_nodes, PCN_MAX_NODES);
PCN_RINGBUF(pcn_events, 1 << 22);

/* Per cube: where each port leads (standard cubes), or the next hop per direction (transparent). */
PCN_ARRAY(pcn_peers, struct pcn_hop, PCN_MAX_PORTS);
PCN_ARRAY(pcn_cfg, struct pcn_cube_cfg, 1);

/* Set by the runtime before load. */
const volatile __u32 pcn_cube_id = 0;

/* ---- metadata in the packet context ----------------------------------------------------- */

#ifdef PCN_XDP
struct pcn_xdp_md {
  __u32 in_port;
  __u32 traffic_class;
};

static __always_inline struct pcn_xdp_md *pcn_xdp_md(struct xdp_md *ctx) {
  void *meta = (void *)(long)ctx->data_meta;
  void *data = (void *)(long)ctx->data;
  struct pcn_xdp_md *m = meta;
  if ((void *)(m + 1) > data) return 0;
  return m;
}

/* Entry programs call this once: it makes room for the metadata in front of the frame. */
static __always_inline int pcn_md_init(struct xdp_md *ctx, __u32 in_port) {
  struct pcn_xdp_md *m = pcn_xdp_md(ctx);
  if (!m) {
    if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct pcn_xdp_md))) return -1;
    m = pcn_xdp_md(ctx);
    if (!m) return -1;
    m->traffic_class = 0;
  }
  m->in_port = in_port;
  return 0;
}

static __always_inline void pcn_md_load(struct xdp_md *ctx, struct pkt_metadata *md) {
  struct pcn_xdp_md *m = pcn_xdp_md(ctx);
  md->in_port = m ? m->in_port : 0;
  md->traffic_class = m ? m->traffic_class : 0;
  md->packet_len = ctx->data_end - ctx->data;
}

static __always_inline int pcn_md_store(struct xdp_md *ctx, __u32 in_port, __u32 traffic_class) {
  struct pcn_xdp_md *m = pcn_xdp_md(ctx);
  if (!m) return pcn_md_init(ctx, in_port);
  m->in_port = in_port;
  m->traffic_class = traffic_class;
  return 0;
}

static __always_inline __u32 pcn_ctx_len(struct xdp_md *ctx) {
  return ctx->data_end - ctx->data;
}
#else
static __always_inline int pcn_md_init(struct __sk_buff *ctx, __u32 in_port) {
  ctx->cb[0] = in_port;
  ctx->cb[1] = 0;
  return 0;
}

static __always_inline void pcn_md_load(struct __sk_buff *ctx, struct pkt_metadata *md) {
  md->in_port = ctx->cb[0];
  md->traffic_class = ctx->cb[1];
  md->packet_len = ctx->len;
}

static __always_inline int pcn_md_store(struct __sk_buff *ctx, __u32 in_port, __u32 traffic_class) {
  ctx->cb[0] = in_port;
  ctx->cb[1] = traffic_class;
  return 0;
}

static __always_inline __u32 pcn_ctx_len(struct __sk_buff *ctx) {
  return ctx->len;
}
#endif

/* Entry 0 of an array map (a cube's configuration, a total): a pointer to it, or NULL. */
static __always_inline void *pcn_lookup0(void *map) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(map, &zero);
}

/* ---- moving packets --------------------------------------------------------------------- */

static __always_inline __u32 pcn_cfg_flags(void) {
  struct pcn_cube_cfg *cfg = pcn_lookup0(&pcn_cfg);
  return cfg ? cfg->flags : 0;
}

/* Copies the packet into the ring buffer as a record of `type`: the slow path (PCN_EV_PACKET)
 * or span mode (PCN_EV_SPAN). Returns 0 when the copy was made. */
static __always_inline int pcn_ring_copy(CTXTYPE *ctx, __u16 type, __u16 port, __u16 reason, __u32 traffic_class,
                                         __u32 metadata[3]) {
  struct pcn_pkt_event *e = bpf_ringbuf_reserve(&pcn_events, sizeof(*e), 0);
  if (!e) return -1;
  __u32 len = pcn_ctx_len(ctx);
  if (len == 0) {
    bpf_ringbuf_discard(e, 0);
    return -1;
  }
  __u32 n = len > PCN_MAX_PKT ? PCN_MAX_PKT : len;
  /* Hide n's range from the compiler so that the mask below stays: it is what proves
   * 1 <= n <= PCN_MAX_PKT to the verifier. */
  asm volatile("" : "+r"(n));
  n = ((n - 1) & (PCN_MAX_PKT - 1)) + 1;
  e->type = type;
  e->cube_id = pcn_cube_id;
  e->port = port;
  e->reason = reason;
  e->pkt_len = len;
  e->traffic_class = traffic_class;
  e->md[0] = metadata[0];
  e->md[1] = metadata[1];
  e->md[2] = metadata[2];
  e->vlan_tci = 0;
  e->vlan_proto = 0;
#ifdef PCN_XDP
  int rc = bpf_xdp_load_bytes(ctx, 0, e->data, n);
#else
  if (ctx->vlan_present) {
    e->vlan_tci = ctx->vlan_tci;
    e->vlan_proto = ctx->vlan_proto;
  }
  int rc = bpf_skb_load_bytes(ctx, 0, e->data, n);
#endif
  if (rc < 0) {
    bpf_ringbuf_discard(e, 0);
    return -1;
  }
  e->len = n;
  bpf_ringbuf_submit(e, 0);
  return 0;
}

#ifndef PCN_TRANSPARENT
/* Span mode: a copy of the packet to the shadow interface of (even) port `port`. TC clones it
 * there; XDP cannot clone, so the copy goes up the ring buffer and the daemon writes it. */
static __always_inline void pcn_span(CTXTYPE *ctx, __u32 port) {
  __u32 twin = port | 1;
  struct pcn_hop *hop = bpf_map_lookup_elem(&pcn_peers, &twin);
  if (!hop || hop->kind != PCN_HOP_NETDEV) return;
#ifdef PCN_XDP
  __u32 none[3] = {0, 0, 0};
  pcn_ring_copy(ctx, PCN_EV_SPAN, port, 0, 0, none);
#else
  bpf_clone_redirect(ctx, hop->ifindex, 0);
#endif
}
#endif

/* Sends a packet along a hop. Returns the program's verdict when it does not tail call. */
static __always_inline int pcn_follow_hop(CTXTYPE *ctx, struct pcn_hop *hop, __u32 traffic_class) {
  if (!hop) return RX_DROP;
  switch (hop->kind) {
  case PCN_HOP_CUBE:
    if (pcn_md_store(ctx, hop->port, traffic_class)) return RX_DROP;
    bpf_tail_call(ctx, &pcn_nodes, hop->index);
    return RX_DROP; /* the target is gone */
  case PCN_HOP_NETDEV:
    return bpf_redirect(hop->ifindex, 0);
  case PCN_HOP_PASS:
    return RX_OK;
  default:
    return RX_DROP;
  }
}

static __always_inline int pcn_pkt_drop(CTXTYPE *ctx, struct pkt_metadata *md) {
  return RX_DROP;
}

/* Sends the packet out of one of this cube's ports, to whatever is linked to it. */
static __always_inline int pcn_pkt_redirect(CTXTYPE *ctx, struct pkt_metadata *md, __u32 out_port) {
#ifndef PCN_TRANSPARENT
  if (!(out_port & 1) && (pcn_cfg_flags() & PCN_CFG_SPAN)) pcn_span(ctx, out_port);
#endif
  struct pcn_hop *hop = bpf_map_lookup_elem(&pcn_peers, &out_port);
  return pcn_follow_hop(ctx, hop, md->traffic_class);
}

#ifndef PCN_TRANSPARENT
/* Shadow cubes: hands the packet to Linux, on the namespace's interface of port `port`, as if
 * it arrived there. Drops it when the cube is not shadow, or in span mode (the namespace has
 * had its copy already), as the original does. */
static __always_inline int pcn_pkt_redirect_ns(CTXTYPE *ctx, struct pkt_metadata *md, __u32 port) {
  __u32 flags = pcn_cfg_flags();
  if (!(flags & PCN_CFG_SHADOW) || (flags & PCN_CFG_SPAN)) return RX_DROP;
  __u32 twin = port | 1;
  struct pcn_hop *hop = bpf_map_lookup_elem(&pcn_peers, &twin);
  return pcn_follow_hop(ctx, hop, md->traffic_class);
}

/* True when the cube runs in shadow mode. */
static __always_inline int pcn_is_shadow(void) {
  return (pcn_cfg_flags() & PCN_CFG_SHADOW) != 0;
}
#endif

static __always_inline __u32 pcn_log_level(void) {
  struct pcn_cube_cfg *cfg = pcn_lookup0(&pcn_cfg);
  return cfg ? cfg->log_level : LOG_INFO;
}

/* A copy of the packet to the slow path, with a reason and three words of metadata.
 * The packet itself is dropped: the slow path re-injects what it wants to send on. */
static __always_inline int pcn_pkt_controller_with_metadata(CTXTYPE *ctx, struct pkt_metadata *md, __u16 reason,
                                                            __u32 metadata[3]) {
  pcn_ring_copy(ctx, PCN_EV_PACKET, md->in_port, reason, md->traffic_class, metadata);
  return RX_DROP;
}

static __always_inline int pcn_pkt_controller(CTXTYPE *ctx, struct pkt_metadata *md, __u16 reason) {
  __u32 none[3] = {0, 0, 0};
  return pcn_pkt_controller_with_metadata(ctx, md, reason, none);
}

/* pcn_log(ctx, LOG_DEBUG, "fmt", up to 4 integer args): reaches the daemon log as
 * "[time] [service] [cube] [level] message". Besides the printf integer forms (%d %u %x %llu
 * ...), %I prints an IPv4 address, %P an L4 port (both in network byte order) and %M a MAC
 * passed as pcn_mac_u64(pointer to its 6 bytes). */
#define pcn_log(ctx, ___level, ___fmt, ___va...)                                                       \
  do {                                                                                          \
    if ((___level) >= pcn_log_level()) {                                                          \
      struct pcn_log_event *___e = bpf_ringbuf_reserve(&pcn_events, sizeof(*___e), 0);        \
      if (___e) {                                                                               \
        __u64 ___a[] = {0, ##___va};                                                             \
        const int ___n = sizeof(___a) / sizeof(___a[0]) - 1;                                    \
        _Static_assert(sizeof(___a) / sizeof(___a[0]) - 1 <= 4, "pcn_log takes 4 args at most"); \
        ___e->type = PCN_EV_LOG;                                                                \
        ___e->cube_id = pcn_cube_id;                                                            \
        ___e->level = (___level);                                                                  \
        ___e->nargs = ___n;                                                                     \
        ___e->args[0] = ___n > 0 ? ___a[1 % (___n + 1)] : 0;                                    \
        ___e->args[1] = ___n > 1 ? ___a[2 % (___n + 1)] : 0;                                    \
        ___e->args[2] = ___n > 2 ? ___a[3 % (___n + 1)] : 0;                                    \
        ___e->args[3] = ___n > 3 ? ___a[4 % (___n + 1)] : 0;                                    \
        _Static_assert(sizeof(___fmt) <= PCN_LOG_FMT_MAX, "pcn_log format too long");              \
        __builtin_memcpy(___e->fmt, ___fmt, sizeof(___fmt));                                          \
        bpf_ringbuf_submit(___e, 0);                                                            \
      }                                                                                         \
    }                                                                                           \
  } while (0)

/* pcn_log with the direction of a transparent cube's packet (md->in_port) before the message:
 * "[INGRESS] fmt" or "[EGRESS] fmt" (pcn_log takes a literal format). */
#define pcn_log_dir(ctx, ___level, ___dir, ___fmt, ___va...)                                      \
  do {                                                                                          \
    if ((___dir) == PCN_EGRESS)                                                                 \
      pcn_log(ctx, ___level, "[EGRESS] " ___fmt, ##___va);                                      \
    else                                                                                        \
      pcn_log(ctx, ___level, "[INGRESS] " ___fmt, ##___va);                                     \
  } while (0)

/* A MAC address as a u64 for pcn_log's %M (the six bytes in their wire order). */
static __always_inline __u64 pcn_mac_u64(const __u8 *mac) {
  __u64 v = 0;
  __builtin_memcpy(&v, mac, 6);
  return v;
}

/* An index into an array of `size` entries (a power of two) that the verifier can bound: the
 * value's range is hidden from the compiler so that it keeps the mask, which is the bound. */
static __always_inline __u32 pcn_index(__u32 i, __u32 size) {
  asm volatile("" : "+r"(i));
  return i & (size - 1);
}

/* Tuple space search (firewall, pbforwarder: one tuple per bpf_loop step): a pointer to tuple
 * `i` of the `n` of a tuple set, NULL from the n-th on. The set is entry *slot of array map
 * `sets`, of type `set_t`, which holds its tuples in an array `t` (of a power-of-two length). */
#define pcn_tuple_at(___sets, ___slot, ___i, ___n, ___set_t)                                       \
  ({                                                                                            \
    ___set_t *___ts = (___i) < (___n) ? bpf_map_lookup_elem(___sets, ___slot) : 0;              \
    const __u32 ___len = sizeof(___ts->t) / sizeof(___ts->t[0]);                                \
    _Static_assert(!(___len & (___len - 1)), "pcn_tuple_at: t[] must have a power-of-two length"); \
    ___ts ? &___ts->t[pcn_index(___i, ___len)] : 0;                                             \
  })

/* ---- packet headers --------------------------------------------------------------------- */

/* Direct packet access. Every helper reads ctx->data and ctx->data_end afresh, so that a pointer
 * it returns is bounds-checked against the packet as it is now: after anything that moves or
 * resizes the packet (pcn_pull, bpf_skb_vlan_pop, bpf_xdp_adjust_head...) take it again. On TC
 * only the linear part of the packet is directly accessible (see pcn_pull). */
static __always_inline void *pcn_data(CTXTYPE *ctx) {
  return (void *)(long)ctx->data;
}

static __always_inline void *pcn_data_end(CTXTYPE *ctx) {
  return (void *)(long)ctx->data_end;
}

/* `len` bytes at offset `off` of the packet, or NULL when the packet ends before. */
static __always_inline void *pcn_ptr(CTXTYPE *ctx, __u32 off, __u32 len) {
  void *p = pcn_data(ctx) + off;
  if (p + len > pcn_data_end(ctx)) return 0;
  return p;
}

/* The Ethernet header, or NULL for a frame shorter than one. */
static __always_inline struct ethhdr *pcn_eth(CTXTYPE *ctx) {
  return pcn_ptr(ctx, 0, sizeof(struct ethhdr));
}

/* The IPv4 header (its fixed 20 bytes) at offset `off`, or NULL when the packet ends before.
 * Neither the EtherType nor the header's fields are checked: that is the caller's business. */
static __always_inline struct iphdr *pcn_ipv4(CTXTYPE *ctx, __u32 off) {
  return pcn_ptr(ctx, off, sizeof(struct iphdr));
}

/* The IPv4 header of an untagged IPv4 frame (EtherType ETH_P_IP, the header after the Ethernet
 * one), or NULL when the frame is something else or too short. */
static __always_inline struct iphdr *pcn_eth_ipv4(CTXTYPE *ctx) {
  struct ethhdr *eth = pcn_eth(ctx);
  if (!eth || eth->h_proto != bpf_htons(ETH_P_IP)) return 0;
  return pcn_ipv4(ctx, sizeof(struct ethhdr));
}

/* The L4 header that follows IPv4 header `ip` (after its options), if `len` bytes of it are in
 * the packet; NULL when they are not, or when the header's length (ihl) is below 20 bytes. */
static __always_inline void *pcn_l4(CTXTYPE *ctx, struct iphdr *ip, __u32 len) {
  __u32 ihl = ip->ihl * 4;
  if (ihl < sizeof(struct iphdr)) return 0;
  void *l4 = (void *)ip + (ihl & 0x3f);
  if (l4 + len > pcn_data_end(ctx)) return 0;
  return l4;
}

/* The VLAN of a frame, as pcn_vlan finds it. */
struct pcn_vlan {
  __u16 tagged; /* 1: the frame carries a tag */
  __u16 vid;    /* its VLAN id (12 bits); 0 when untagged */
  __be16 proto; /* the EtherType of what follows the Ethernet header and the tag, if any */
  __u16 l3;     /* where that starts: 14, or 18 behind a tag in the frame */
};

/* Finds the frame's VLAN tag: on TC the one the kernel holds beside the frame (vlan_present),
 * else an 802.1Q or 802.1ad tag right after the MAC addresses (XDP, frames injected by the slow
 * path, TC without VLAN offload). Returns 0, or -1 for a frame that ends inside its tag. */
static __always_inline int pcn_vlan(CTXTYPE *ctx, struct ethhdr *eth, struct pcn_vlan *v) {
  v->tagged = 0;
  v->vid = 0;
  v->proto = eth->h_proto;
  v->l3 = sizeof(struct ethhdr);
#ifdef PCN_TC
  if (ctx->vlan_present) {
    v->tagged = 1;
    v->vid = ctx->vlan_tci & 0x0fff;
    return 0;
  }
#endif
  if (v->proto != bpf_htons(ETH_P_8021Q) && v->proto != bpf_htons(ETH_P_8021AD)) return 0;
  __be16 *tag = pcn_ptr(ctx, sizeof(struct ethhdr), 4); /* TCI, then the EtherType */
  if (!tag) return -1;
  v->tagged = 1;
  v->vid = bpf_ntohs(tag[0]) & 0x0fff;
  v->proto = tag[1];
  v->l3 += 4;
  return 0;
}

/* TC: makes the first `len` bytes of the packet (all of it, when shorter) directly accessible,
 * pulling them into the linear part when the kernel left some outside (GSO packets, some
 * drivers). Costs nothing when they are there already. XDP: nothing to do. Returns 0, or the
 * pull's negative error (the packet is then as it was). Take packet pointers after it. */
static __always_inline int pcn_pull(CTXTYPE *ctx, __u32 len) {
#ifdef PCN_TC
  void *data = pcn_data(ctx);
  void *data_end = pcn_data_end(ctx);
  if (data + len <= data_end || data_end - data >= ctx->len) return 0;
  return bpf_skb_pull_data(ctx, ctx->len < len ? ctx->len : len);
#else
  return 0;
#endif
}

/* Writes `len` bytes (a constant) at offset `off` of the packet. Returns 0 or a negative error. */
static __always_inline int pcn_store_bytes(CTXTYPE *ctx, __u32 off, void *from, __u32 len) {
#ifdef PCN_TC
  return bpf_skb_store_bytes(ctx, off, from, len, 0);
#else
  return bpf_xdp_store_bytes(ctx, off, from, len);
#endif
}

/* ---- checksums -------------------------------------------------------------------------- */

static __always_inline __u16 pcn_csum_fold(__u32 sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)~sum;
}

/* Incremental update of an Internet checksum (RFC 1624, eqn. 3) for a 32-bit or 16-bit field of
 * the data it covers that changed from `from` to `to`; all in network byte order. Returns the new
 * checksum. For checksums held outside the packet's headers, or that bpf_l3/l4_csum_replace
 * cannot reach in place (the headers an ICMP error quotes); it knows nothing of
 * CHECKSUM_PARTIAL packets, which TC code leaves to pcn_l3/l4_csum_replace. A UDP checksum that
 * comes out 0 must be sent as 0xffff (0 means "none"): the caller's business. */
static __always_inline __u16 pcn_csum_update32(__u16 check, __u32 from, __u32 to) {
  __u32 sum = (__u16)~check;
  sum += (__u16)~(from & 0xffff);
  sum += (__u16)~(from >> 16);
  sum += to & 0xffff;
  sum += to >> 16;
  return pcn_csum_fold(sum);
}

static __always_inline __u16 pcn_csum_update16(__u16 check, __u16 from, __u16 to) {
  __u32 sum = (__u16)~check;
  sum += (__u16)~from;
  sum += to;
  return pcn_csum_fold(sum);
}

/* The checksum at offset `off` of the packet updated for a field of `size` bytes (2 or 4,
 * BPF_F_HDR_FIELD_MASK of `flags`) that changes from `from` to `to`, network byte order: the
 * kernel's bpf_l3_csum_replace and bpf_l4_csum_replace on TC, the same arithmetic on XDP. L4
 * flags: BPF_F_PSEUDO_HDR (the field is in the pseudo-header: an address; matters to
 * CHECKSUM_PARTIAL packets only) and BPF_F_MARK_MANGLED_0 (UDP: a checksum of 0, "none", stays 0,
 * and one that comes out 0 is written 0xffff). Return 0, or a negative error (the checksum is
 * not in the packet, or `size` is neither 2 nor 4). */
#ifdef PCN_TC
static __always_inline int pcn_l3_csum_replace(CTXTYPE *ctx, __u32 off, __u32 from, __u32 to, __u32 size) {
  return bpf_l3_csum_replace(ctx, off, from, to, size);
}
static __always_inline int pcn_l4_csum_replace(CTXTYPE *ctx, __u32 off, __u32 from, __u32 to, __u32 flags) {
  return bpf_l4_csum_replace(ctx, off, from, to, flags);
}
#else
static __always_inline int pcn_csum_replace(CTXTYPE *ctx, __u32 off, __u32 from, __u32 to, __u32 flags) {
  __u16 *sum = pcn_ptr(ctx, off, 2);
  if (!sum) return -14; /* EFAULT */
  __u32 size = flags & BPF_F_HDR_FIELD_MASK;
  int mangled0 = (flags & BPF_F_MARK_MANGLED_0) != 0;
  if (mangled0 && !*sum) return 0;
  if (size == 4) *sum = pcn_csum_update32(*sum, from, to);
  else if (size == 2) *sum = pcn_csum_update16(*sum, from, to);
  else return -22; /* EINVAL */
  if (mangled0 && !*sum) *sum = 0xffff;
  return 0;
}
static __always_inline int pcn_l3_csum_replace(CTXTYPE *ctx, __u32 off, __u32 from, __u32 to, __u32 size) {
  return pcn_csum_replace(ctx, off, from, to, size & BPF_F_HDR_FIELD_MASK);
}
static __always_inline int pcn_l4_csum_replace(CTXTYPE *ctx, __u32 off, __u32 from, __u32 to, __u32 flags) {
  return pcn_csum_replace(ctx, off, from, to, flags);
}
#endif

/* Where a TCP, UDP or ICMP header holds its checksum; 0 for other protocols. */
static __always_inline __u32 pcn_l4_csum_off(__u8 proto) {
  return proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : proto == IPPROTO_ICMP ? 2 : 0;
}

/* Rewrites the source (`field` offsetof(struct iphdr, saddr)) or destination address (daddr)
 * of the IPv4 header at `ip_off` from `from` to `to`, with its checksum and, for TCP and UDP,
 * the L4 checksum of the header at `l4_off` (the address is in its pseudo-header; a UDP datagram
 * without a checksum keeps none). The caller has checked that the headers are there. Returns 0,
 * or a negative error: the packet may then be half rewritten, drop it. */
static __always_inline int pcn_set_ipv4_addr(CTXTYPE *ctx, __u32 ip_off, __u32 l4_off, __u8 proto, __u32 field, __be32 from,
                                             __be32 to) {
  if (from == to) return 0;
  if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
    __u32 flags = BPF_F_PSEUDO_HDR | (proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0) | 4;
    if (pcn_l4_csum_replace(ctx, l4_off + pcn_l4_csum_off(proto), from, to, flags)) return -1;
  }
  if (pcn_l3_csum_replace(ctx, ip_off + offsetof(struct iphdr, check), from, to, 4)) return -1;
  return pcn_store_bytes(ctx, ip_off + field, &to, 4) ? -1 : 0;
}

/* Rewrites the 16 bits at `off` (0: source port, 2: destination port, 4: ICMP echo id) of the
 * TCP, UDP or ICMP header at `l4_off` from `from` to `to`, with its checksum. Other protocols
 * are left alone. Returns as pcn_set_ipv4_addr. */
static __always_inline int pcn_set_l4_port(CTXTYPE *ctx, __u32 l4_off, __u8 proto, __u32 off, __be16 from, __be16 to) {
  __u32 csum = pcn_l4_csum_off(proto);
  if (from == to || !csum) return 0;
  __u32 flags = (proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0) | 2;
  if (pcn_l4_csum_replace(ctx, l4_off + csum, from, to, flags)) return -1;
  return pcn_store_bytes(ctx, l4_off + off, &to, 2) ? -1 : 0;
}

/* ---- learning bridges ------------------------------------------------------------------- */

/* CLOCK_BOOTTIME in seconds, the clock of the control plane's src/lib/sdk/clock.ts. */
static __always_inline __u64 pcn_boot_seconds(void) {
  return bpf_ktime_get_boot_ns() / 1000000000ULL;
}

#define PCN_FDB_STATIC 1

/* A filtering database entry of the bridges (simplebridge, bridge): fdbValue in
 * src/lib/sdk/fdb.ts. Keys are the bridge's own. */
struct fdb_entry {
  /** CLOCK_BOOTTIME seconds of the last frame from this address (0 for static entries). */
  __u64 timestamp;
  __u32 port;
  __u32 flags; /* PCN_FDB_STATIC */
};

/* Learns that the frames of (source) address `key` come from `port` at second `now`: writes the
 * entry unless it is static or says so already (one write per address and second at most). */
static __always_inline void pcn_fdb_learn(void *fdb, void *key, __u32 port, __u64 now) {
  struct fdb_entry *e = bpf_map_lookup_elem(fdb, key);
  if (e && ((e->flags & PCN_FDB_STATIC) || (e->port == port && e->timestamp == now))) return;
  struct fdb_entry n = {.timestamp = now, .port = port, .flags = 0};
  bpf_map_update_elem(fdb, key, &n, BPF_ANY);
}

/* The entry of (destination) address `key` when it is to be used: static, or learned at most
 * `aging` seconds before `now`; NULL otherwise. */
static __always_inline struct fdb_entry *pcn_fdb_lookup(void *fdb, void *key, __u64 now, __u64 aging) {
  struct fdb_entry *e = bpf_map_lookup_elem(fdb, key);
  if (e && ((e->flags & PCN_FDB_STATIC) || now - e->timestamp <= aging)) return e;
  return 0;
}

/* ---- entry programs --------------------------------------------------------------------- */

#ifdef PCN_XDP
#define PCN_SEC "xdp"
#else
#define PCN_SEC "tc"
#endif

char _license[] SEC("license") = "GPL";

/* The framework's own objects (netdev entry, packet injector) stop here. */
#ifndef PCN_NO_SERVICE

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md);

static __always_inline int pcn_run(CTXTYPE *ctx, __u32 direction) {
  struct pkt_metadata md = {};
  pcn_md_load(ctx, &md);
  md.cube_id = pcn_cube_id;
#ifdef PCN_TRANSPARENT
  /* A transparent cube sees its direction as the input port; RX_OK means "go on". */
  md.in_port = direction;
  int rc = handle_rx(ctx, &md);
  if (rc != RX_OK) return rc;
  struct pcn_hop *next = bpf_map_lookup_elem(&pcn_peers, &direction);
  return pcn_follow_hop(ctx, next, md.traffic_class);
#else
  __u32 flags = pcn_cfg_flags();
  __u32 in_port = md.in_port;
  if (flags & PCN_CFG_SHADOW) {
    /* From the namespace (a twin, odd id): straight out of the port it shadows. */
    if (in_port & 1) {
      __u32 out = in_port - 1;
      struct pcn_hop *hop = bpf_map_lookup_elem(&pcn_peers, &out);
      return pcn_follow_hop(ctx, hop, md.traffic_class);
    }
    if (flags & PCN_CFG_SPAN) pcn_span(ctx, in_port);
  }
  int rc = handle_rx(ctx, &md);
  /* A shadow cube's "pass to the stack" is its namespace's stack. */
  if (rc == RX_OK && (flags & PCN_CFG_SHADOW)) return pcn_pkt_redirect_ns(ctx, &md, in_port);
  return rc;
#endif
}

/* Standard cubes have one entry; transparent cubes one per direction. */
#ifdef PCN_TRANSPARENT
SEC(PCN_SEC) int pcn_ingress(CTXTYPE *ctx) { return pcn_run(ctx, PCN_INGRESS); }
SEC(PCN_SEC) int pcn_egress(CTXTYPE *ctx) { return pcn_run(ctx, PCN_EGRESS); }
#else
SEC(PCN_SEC) int pcn_ingress(CTXTYPE *ctx) { return pcn_run(ctx, 0); }

#ifdef PCN_STANDARD_EGRESS
/* A standard cube that defines PCN_STANDARD_EGRESS also defines
 *     static __always_inline int handle_tx(CTXTYPE *ctx, struct pkt_metadata *md);
 * which sees every packet leaving one of its ports (md->in_port is that port) before the
 * port's peer; RX_OK sends it on. pcn_peers then leads into this program, and
 * pcn_egress_next holds what lies beyond each port. */
PCN_ARRAY(pcn_egress_next, struct pcn_hop, PCN_MAX_PORTS);

static __always_inline int handle_tx(CTXTYPE *ctx, struct pkt_metadata *md);

SEC(PCN_SEC) int pcn_egress(CTXTYPE *ctx) {
  struct pkt_metadata md = {};
  pcn_md_load(ctx, &md);
  md.cube_id = pcn_cube_id;
  __u32 port = md.in_port;
  int rc = handle_tx(ctx, &md);
  if (rc != RX_OK) return rc;
  struct pcn_hop *next = bpf_map_lookup_elem(&pcn_egress_next, &port);
  return pcn_follow_hop(ctx, next, md.traffic_class);
}
#endif
#endif
#endif /* PCN_NO_SERVICE */
#endif /* PCN_MAPS_ONLY */
