// nat datapath: a transparent IPv4 NAT, meant to sit on a router port.
//
// EGRESS (leaving the router): an existing session is applied; otherwise a source NAT rule
// (longest internal-net match) or masquerade (the parent port's address) makes a session that
// rewrites the source address and, when the source port is taken, the port (ICMP echo: the
// echo id). INGRESS (arriving): an existing session is applied (replies to the above, or a
// flow a DNAT/port-forwarding rule admitted); otherwise a port-forwarding rule, then a DNAT
// rule, makes a session that rewrites the destination.
//
// A session is two entries of one LRU hash, keyed by the packet's tuple and its direction:
// the forward one (the packet that made it) and the reverse one (its replies), so that a reply
// costs one lookup. Checksums are updated incrementally: with bpf_l3/l4_csum_replace in TC
// (which also handles CHECKSUM_PARTIAL packets), by RFC 1624 arithmetic in XDP.
#define PCN_TRANSPARENT
#include <polycube.h>
#include <linux/in.h>

#define NAT_SESSIONS 65536
#define NAT_RULES 1024

/* Rule kinds, as the model's originating-rule (index.ts has the same numbers). */
#define K_SNAT 0
#define K_DNAT 1
#define K_MASQ 2
#define K_PF 3

#define ETH_LEN 14
#define IP_OFF ETH_LEN
#define L4_OFF (ETH_LEN + 20)

struct nat_cfg {
  __u32 masq_ip; /* network byte order; 0: masquerade has no address */
  __u32 masq_on;
  __u32 snat_rules;
  __u32 dnat_rules; /* DNAT + port forwarding */
};

struct nat_key {
  __u32 src;
  __u32 dst;
  __u16 sport; /* ICMP echo: the id, in both */
  __u16 dport;
  __u8 proto;
  __u8 dir;
  __u16 pad;
};

struct nat_val {
  __u32 ip;       /* the address the packet gets */
  __u16 port;     /* the port (echo id) it gets */
  __u8 rewrite_src; /* 1: source address/port; 0: destination */
  __u8 kind;
};

struct snat_key {
  __u32 prefixlen;
  __u32 addr;
};

struct snat_val {
  __u32 external_ip;
  __u32 id;
};

struct pf_key {
  __u32 ip;
  __u16 port;
  __u8 proto;
  __u8 pad;
};

struct pf_val {
  __u32 ip;
  __u16 port;
  __u16 pad;
};

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct nat_cfg); } nat_config SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, NAT_SESSIONS); __type(key, struct nat_key); __type(value, struct nat_val); } nat_sessions SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, NAT_RULES);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct snat_key);
  __type(value, struct snat_val);
} nat_snat SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, NAT_RULES); __type(key, __u32); __type(value, __u32); } nat_dnat SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 2 * NAT_RULES); __type(key, struct pf_key); __type(value, struct pf_val); } nat_pf SEC(".maps");

#ifdef PCN_XDP
static __always_inline void csum_replace4(__u16 *sum, __u32 from, __u32 to) {
  __u32 s = (__u16)~*sum;
  s += (~from & 0xffff) + (~from >> 16) + (to & 0xffff) + (to >> 16);
  *sum = pcn_csum_fold(s);
}

static __always_inline void csum_replace2(__u16 *sum, __u16 from, __u16 to) {
  __u32 s = (__u16)~*sum;
  s += (__u16)~from + to;
  *sum = pcn_csum_fold(s);
}
#endif

/* Rewrites the source or destination address and port of a packet whose headers the caller
 * has checked (ihl 5, L4 header present). Returns 0, or -1 when the packet is gone. */
static __always_inline int rewrite(CTXTYPE *ctx, __u8 proto, int src, __u32 old_ip, __u32 new_ip, __u16 old_port, __u16 new_port) {
  __u32 port_off = proto == IPPROTO_ICMP ? L4_OFF + 4 : L4_OFF + (src ? 0 : 2);
  __u32 csum_off = proto == IPPROTO_TCP ? L4_OFF + 16 : proto == IPPROTO_UDP ? L4_OFF + 6 : L4_OFF + 2;
#ifdef PCN_TC
  __u32 ip_off = IP_OFF + (src ? 12 : 16);
  __u32 mangled = proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
  if (old_ip != new_ip) {
    if (proto != IPPROTO_ICMP && bpf_l4_csum_replace(ctx, csum_off, old_ip, new_ip, BPF_F_PSEUDO_HDR | mangled | 4)) return -1;
    if (bpf_l3_csum_replace(ctx, IP_OFF + 10, old_ip, new_ip, 4)) return -1;
    if (bpf_skb_store_bytes(ctx, ip_off, &new_ip, 4, 0)) return -1;
  }
  if (old_port != new_port) {
    if (bpf_l4_csum_replace(ctx, csum_off, old_port, new_port, mangled | 2)) return -1;
    if (bpf_skb_store_bytes(ctx, port_off, &new_port, 2, 0)) return -1;
  }
  return 0;
#else
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  if (data + L4_OFF + 20 > data_end && proto == IPPROTO_TCP) return -1;
  if (data + L4_OFF + 8 > data_end) return -1;
  struct iphdr *ip = data + IP_OFF;
  __u16 *l4sum = data + csum_off;
  if ((void *)(l4sum + 1) > data_end) return -1;
  __u16 *port = data + port_off;
  if ((void *)(port + 1) > data_end) return -1;
  int keep_zero = proto == IPPROTO_UDP && *l4sum == 0; /* UDP without a checksum */
  if (old_ip != new_ip) {
    if (proto != IPPROTO_ICMP && !keep_zero) csum_replace4(l4sum, old_ip, new_ip);
    csum_replace4(&ip->check, old_ip, new_ip);
    if (src) ip->saddr = new_ip;
    else ip->daddr = new_ip;
  }
  if (old_port != new_port) {
    if (!keep_zero) csum_replace2(l4sum, old_port, new_port);
    *port = new_port;
  }
  if (proto == IPPROTO_UDP && !keep_zero && *l4sum == 0) *l4sum = 0xffff;
  return 0;
#endif
}

static __always_inline int apply(CTXTYPE *ctx, struct nat_key *k, struct nat_val *v) {
  /* Scalars first: a select between the key's fields would become pointer arithmetic. */
  __u32 src = k->src, dst = k->dst;
  __u16 sport = k->sport, dport = k->dport;
  __u32 new_ip = v->ip;
  __u16 new_port = v->port;
  int rsrc = v->rewrite_src;
  barrier_var(src);
  barrier_var(dst);
  __u32 old_ip = rsrc ? src : dst;
  __u16 old_port = rsrc ? sport : dport;
  if (rewrite(ctx, k->proto, rsrc, old_ip, new_ip, old_port, new_port)) return RX_DROP;
  return RX_OK;
}

/* A new source-NAT session for a packet leaving: picks the port (the packet's own if free). */
static __always_inline int new_snat(CTXTYPE *ctx, struct nat_key *k, __u32 ext_ip, __u8 kind) {
  if (k->proto == IPPROTO_ICMP && k->dport != 0xffff) return RX_OK; /* only echo requests start sessions */
  struct nat_key rev = {.src = k->dst, .dst = ext_ip, .proto = k->proto, .dir = PCN_INGRESS};
  __u16 port = k->sport;
  int found = 0;
#pragma clang loop unroll(disable)
  for (int i = 0; i < 16; i++) {
    rev.sport = k->proto == IPPROTO_ICMP ? port : k->dport;
    rev.dport = port;
    if (!bpf_map_lookup_elem(&nat_sessions, &rev)) {
      found = 1;
      break;
    }
    port = bpf_htons(1024 + bpf_get_prandom_u32() % 64512);
  }
  if (!found) return RX_DROP;
  struct nat_val back = {.ip = k->src, .port = k->sport, .rewrite_src = 0, .kind = kind};
  struct nat_val fwd = {.ip = ext_ip, .port = port, .rewrite_src = 1, .kind = kind};
  struct nat_key fk = *k;
  if (k->proto == IPPROTO_ICMP) fk.dport = fk.sport;
  bpf_map_update_elem(&nat_sessions, &rev, &back, BPF_ANY);
  bpf_map_update_elem(&nat_sessions, &fk, &fwd, BPF_ANY);
  pcn_log(ctx, LOG_DEBUG, "new session: source %I:%P -> %I:%P", k->src, k->sport, ext_ip, port);
  return apply(ctx, &fk, &fwd);
}

/* A new destination-NAT session for a packet arriving. */
static __always_inline int new_dnat(CTXTYPE *ctx, struct nat_key *k, __u32 int_ip, __u16 int_port, __u8 kind) {
  if (k->proto == IPPROTO_ICMP && k->dport != 0xffff) return RX_OK;
  struct nat_key fk = *k;
  if (k->proto == IPPROTO_ICMP) fk.dport = fk.sport;
  struct nat_val fwd = {.ip = int_ip, .port = int_port, .rewrite_src = 0, .kind = kind};
  struct nat_key rev = {.src = int_ip, .dst = k->src, .sport = int_port, .dport = k->sport, .proto = k->proto, .dir = PCN_EGRESS};
  struct nat_val back = {.ip = k->dst, .port = fk.dport, .rewrite_src = 1, .kind = kind};
  bpf_map_update_elem(&nat_sessions, &rev, &back, BPF_ANY);
  bpf_map_update_elem(&nat_sessions, &fk, &fwd, BPF_ANY);
  pcn_log(ctx, LOG_DEBUG, "new session: destination %I:%P -> %I:%P", k->dst, fk.dport, int_ip, int_port);
  return apply(ctx, &fk, &fwd);
}

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
#ifdef PCN_TC
  const __u32 need = L4_OFF + 20;
  if (data + need > data_end && ctx->len >= L4_OFF + 8) {
    if (bpf_skb_pull_data(ctx, ctx->len < need ? ctx->len : need)) return RX_OK;
    data = (void *)(long)ctx->data;
    data_end = (void *)(long)ctx->data_end;
  }
#endif
  if (data + L4_OFF + 8 > data_end) return RX_OK;
  struct ethhdr *eth = data;
  if (eth->h_proto != bpf_htons(ETH_P_IP)) return RX_OK;
  struct iphdr *ip = data + IP_OFF;
  if (ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff))) return RX_OK; /* options, fragments: untouched */

  struct nat_key k = {.src = ip->saddr, .dst = ip->daddr, .proto = ip->protocol, .dir = md->in_port ? PCN_EGRESS : PCN_INGRESS};
  void *l4 = data + L4_OFF;
  if (ip->protocol == IPPROTO_TCP) {
    if (l4 + 20 > data_end) return RX_OK;
    k.sport = *(__u16 *)l4;
    k.dport = *(__u16 *)(l4 + 2);
  } else if (ip->protocol == IPPROTO_UDP) {
    k.sport = *(__u16 *)l4;
    k.dport = *(__u16 *)(l4 + 2);
  } else if (ip->protocol == IPPROTO_ICMP) {
    __u8 type = *(__u8 *)l4;
    if (type != 8 && type != 0) return RX_OK; /* echo only */
    k.sport = *(__u16 *)(l4 + 4);
    k.dport = k.sport;
    struct nat_val *v = bpf_map_lookup_elem(&nat_sessions, &k);
    if (v) return apply(ctx, &k, v);
    if (type != 8) return RX_OK;
    k.dport = 0xffff; /* marks an echo request for new_snat/new_dnat */
    goto miss;
  } else {
    return RX_OK;
  }

  struct nat_val *v = bpf_map_lookup_elem(&nat_sessions, &k);
  if (v) return apply(ctx, &k, v);

miss:;
  __u32 zero = 0;
  struct nat_cfg *cfg = bpf_map_lookup_elem(&nat_config, &zero);
  if (!cfg) return RX_OK;
  if (k.dir == PCN_EGRESS) {
    if (cfg->snat_rules) {
      struct snat_key sk = {.prefixlen = 32, .addr = k.src};
      struct snat_val *r = bpf_map_lookup_elem(&nat_snat, &sk);
      if (r) return new_snat(ctx, &k, r->external_ip, K_SNAT);
    }
    if (cfg->masq_on && cfg->masq_ip && k.src != cfg->masq_ip) return new_snat(ctx, &k, cfg->masq_ip, K_MASQ);
    return RX_OK;
  }
  if (!cfg->dnat_rules) return RX_OK;
  if (k.proto != IPPROTO_ICMP) {
    struct pf_key pk = {.ip = k.dst, .port = k.dport, .proto = k.proto};
    struct pf_val *p = bpf_map_lookup_elem(&nat_pf, &pk);
    if (p) return new_dnat(ctx, &k, p->ip, p->port, K_PF);
  }
  __u32 *internal = bpf_map_lookup_elem(&nat_dnat, &k.dst);
  if (internal) return new_dnat(ctx, &k, *internal, k.proto == IPPROTO_ICMP ? k.sport : k.dport, K_DNAT);
  return RX_OK;
}
