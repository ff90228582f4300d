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
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

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
struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, PCN_MAX_NODES);
  __type(key, __u32);
  __type(value, __u32);
} pcn_nodes SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 22);
} pcn_events SEC(".maps");

/* Per cube: where each port leads (standard cubes), or the next hop per direction (transparent). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, PCN_MAX_PORTS);
  __type(key, __u32);
  __type(value, struct pcn_hop);
} pcn_peers SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct pcn_cube_cfg);
} pcn_cfg SEC(".maps");

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

/* ---- moving packets --------------------------------------------------------------------- */

static __always_inline __u32 pcn_cfg_flags(void) {
  __u32 zero = 0;
  struct pcn_cube_cfg *cfg = bpf_map_lookup_elem(&pcn_cfg, &zero);
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
  __u32 zero = 0;
  struct pcn_cube_cfg *cfg = bpf_map_lookup_elem(&pcn_cfg, &zero);
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

/* ---- checksums and VLANs ---------------------------------------------------------------- */

#ifdef PCN_TC
static __always_inline int pcn_l3_csum_replace(CTXTYPE *ctx, __u32 offset, __u32 from, __u32 to, __u32 size) {
  return bpf_l3_csum_replace(ctx, offset, from, to, size);
}
static __always_inline int pcn_l4_csum_replace(CTXTYPE *ctx, __u32 offset, __u32 from, __u32 to, __u32 flags) {
  return bpf_l4_csum_replace(ctx, offset, from, to, flags);
}
#endif

static __always_inline __u16 pcn_csum_fold(__u32 sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)~sum;
}

/* Incremental update of an Internet checksum (RFC 1624, eqn. 3) for a 32-bit or 16-bit field of
 * the data it covers that changed from `from` to `to`; all in network byte order. Returns the new
 * checksum. For code that computes checksums itself (XDP, or fields the kernel's
 * bpf_l3/l4_csum_replace cannot reach in place, such as the headers an ICMP error quotes); it
 * knows nothing of CHECKSUM_PARTIAL packets, which TC code should leave to the kernel helpers. A
 * UDP checksum that comes out 0 must be sent as 0xffff (0 means "none"): the caller's business. */
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
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, PCN_MAX_PORTS);
  __type(key, __u32);
  __type(value, struct pcn_hop);
} pcn_egress_next SEC(".maps");

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
