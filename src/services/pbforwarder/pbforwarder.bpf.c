// pbforwarder datapath: policy-based forwarding. Each rule tests any of nine fields for an exact
// value (input port, source and destination MAC, VLAN id, source and destination IPv4 address,
// L4 protocol, source and destination TCP/UDP port) and says DROP, SLOWPATH or FORWARD to a
// port; the rule with the lowest id that matches decides, and a packet no rule matches drops.
//
// Classification is a tuple space search (the firewall's design, src/lib/classifier): rules
// that name the same set of fields form a tuple, and inside a tuple a rule is one exact-match
// key of pbf_rules. A packet costs one hash lookup per tuple in use, whatever the number of
// rules. Tuples are searched in order of the lowest id they hold, and the search stops as soon
// as no later tuple can beat the match in hand. The original generated code with one unrolled
// comparison per rule, and recompiled it on every change.
//
// Updates: entries are written before the tuple list that makes them reachable; the tuple list
// lives in two slots of pbf_tuples and pbf_active names the one packets read, so a new list is
// written into the idle slot and switched to with one word. Stale entries are deleted after.
#include <polycube.h>

#define PBF_TUPLES_MAX 64 /* a power of two: indexes are masked with it */
#define PBF_RULES_MAX 16384

#define PBF_USE_SRC_MAC 0x001
#define PBF_USE_DST_MAC 0x002
#define PBF_USE_VLAN 0x004
#define PBF_USE_SRC_IP 0x008
#define PBF_USE_DST_IP 0x010
#define PBF_USE_PROTO 0x020
#define PBF_USE_SPORT 0x040
#define PBF_USE_DPORT 0x080
#define PBF_USE_IN_PORT 0x100
#define PBF_NEED_IP (PBF_USE_SRC_IP | PBF_USE_DST_IP | PBF_USE_PROTO)
#define PBF_NEED_PORTS (PBF_USE_SPORT | PBF_USE_DPORT)

#define ACTION_DROP 0
#define ACTION_SLOWPATH 1
#define ACTION_FORWARD 2

#define REASON_SLOWPATH 1

struct pbf_key {
  __u16 tuple;
  __u16 in_port;
  __u16 vlan;
  __u8 proto;
  __u8 pad;
  __u8 src_mac[6];
  __u8 dst_mac[6];
  __be32 src_ip;
  __be32 dst_ip;
  __be16 sport;
  __be16 dport;
};

struct pbf_value {
  __u32 rank; /* the rule's id */
  __u16 action;
  __u16 out_port;
};

struct pbf_tuple {
  __u32 best; /* no rule of this tuple has a lower id */
  __u16 id;
  __u16 use;
};

struct pbf_tupleset {
  __u32 n;
  __u32 pad;
  struct pbf_tuple t[PBF_TUPLES_MAX];
};

PCN_HASH(pbf_rules, struct pbf_key, struct pbf_value, PBF_RULES_MAX);
PCN_ARRAY(pbf_tuples, struct pbf_tupleset, 2);
PCN_ARRAY(pbf_active, __u32, 1);

/* What the parser found; fields a packet lacks are flagged in `has`. */
struct pbf_pkt {
  __u8 src_mac[6];
  __u8 dst_mac[6];
  __u16 vlan;
  __u16 in_port;
  __u8 proto;
  __u8 has; /* PBF_HAS_* */
  __be32 src_ip;
  __be32 dst_ip;
  __be16 sport;
  __be16 dport;
};

#define PBF_HAS_VLAN 1
#define PBF_HAS_IP 2
#define PBF_HAS_PORTS 4

struct pbf_search {
  struct pbf_pkt p;
  __u32 slot;
  __u32 n;
  __u32 best;
  __u32 found;
  __u32 action;
  __u32 out_port;
};

static __always_inline void copy_mac(__u8 *to, const __u8 *from, int use) {
  if (use) {
    __builtin_memcpy(to, from, 6);
  } else {
    __builtin_memset(to, 0, 6);
  }
}

/* One tuple of the search, run by bpf_loop: the verifier checks the body once. */
static long search_tuple(__u32 i, void *arg) {
  struct pbf_search *s = arg;
  struct pbf_tuple *t = pcn_tuple_at(&pbf_tuples, &s->slot, i, s->n, struct pbf_tupleset);
  if (!t) return 1;
  if (s->found && t->best >= s->best) return 1; /* sorted: no later tuple can do better */
  __u16 use = t->use;
  if ((use & PBF_USE_VLAN) && !(s->p.has & PBF_HAS_VLAN)) return 0;
  if ((use & PBF_NEED_IP) && !(s->p.has & PBF_HAS_IP)) return 0;
  if ((use & PBF_NEED_PORTS) && !(s->p.has & PBF_HAS_PORTS)) return 0;
  struct pbf_key k = {
      .tuple = t->id,
      .in_port = (use & PBF_USE_IN_PORT) ? s->p.in_port : 0,
      .vlan = (use & PBF_USE_VLAN) ? s->p.vlan : 0,
      .proto = (use & PBF_USE_PROTO) ? s->p.proto : 0,
      .src_ip = (use & PBF_USE_SRC_IP) ? s->p.src_ip : 0,
      .dst_ip = (use & PBF_USE_DST_IP) ? s->p.dst_ip : 0,
      .sport = (use & PBF_USE_SPORT) ? s->p.sport : 0,
      .dport = (use & PBF_USE_DPORT) ? s->p.dport : 0,
  };
  copy_mac(k.src_mac, s->p.src_mac, use & PBF_USE_SRC_MAC);
  copy_mac(k.dst_mac, s->p.dst_mac, use & PBF_USE_DST_MAC);
  struct pbf_value *v = bpf_map_lookup_elem(&pbf_rules, &k);
  if (v && (!s->found || v->rank < s->best)) {
    s->best = v->rank;
    s->action = v->action;
    s->out_port = v->out_port;
    s->found = 1;
  }
  return 0;
}

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  pcn_log(ctx, LOG_TRACE, "Parser receiving packet from port %d", md->in_port);
  struct ethhdr *eth = pcn_eth(ctx);
  if (!eth) return pcn_pkt_drop(ctx, md);

  struct pbf_search s = {.best = 0xffffffff};
  __builtin_memcpy(s.p.src_mac, eth->h_source, 6);
  __builtin_memcpy(s.p.dst_mac, eth->h_dest, 6);
  s.p.in_port = md->in_port;
  struct pcn_vlan tag;
  if (pcn_vlan(ctx, eth, &tag)) return pcn_pkt_drop(ctx, md);
  if (tag.tagged) {
    s.p.has |= PBF_HAS_VLAN;
    s.p.vlan = tag.vid;
  }
  if (tag.proto == bpf_htons(ETH_P_IP)) {
    struct iphdr *ip = pcn_ipv4(ctx, tag.l3);
    if (!ip) return pcn_pkt_drop(ctx, md);
    s.p.has |= PBF_HAS_IP;
    s.p.src_ip = ip->saddr;
    s.p.dst_ip = ip->daddr;
    s.p.proto = ip->protocol;
    int first = !(ip->frag_off & bpf_htons(0x1fff)); /* the L4 header is in this fragment */
    __be16 *l4 = first && (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) ? pcn_l4(ctx, ip, 4) : 0;
    if (l4) {
      s.p.has |= PBF_HAS_PORTS;
      s.p.sport = l4[0];
      s.p.dport = l4[1];
    }
  }

  pcn_log(ctx, LOG_TRACE, "Matching module receiving packet");
  __u32 *active = pcn_lookup0(&pbf_active);
  if (!active) return pcn_pkt_drop(ctx, md);
  s.slot = *active & 1;
  struct pbf_tupleset *ts = bpf_map_lookup_elem(&pbf_tuples, &s.slot);
  if (!ts || !ts->n) {
    pcn_log(ctx, LOG_DEBUG, "No rules. Dropping.");
    return pcn_pkt_drop(ctx, md);
  }
  s.n = ts->n;
  bpf_loop(PBF_TUPLES_MAX, search_tuple, &s, 0);
  if (!s.found) {
    pcn_log(ctx, LOG_DEBUG, "No rule matched. Dropping.");
    return pcn_pkt_drop(ctx, md);
  }

  switch (s.action) {
  case ACTION_SLOWPATH:
    pcn_log(ctx, LOG_DEBUG, "rule %u: SLOWPATH", s.best);
    return pcn_pkt_controller(ctx, md, REASON_SLOWPATH);
  case ACTION_FORWARD:
    pcn_log(ctx, LOG_DEBUG, "rule %u: FORWARD to %d", s.best, s.out_port);
    return pcn_pkt_redirect(ctx, md, s.out_port);
  default:
    pcn_log(ctx, LOG_DEBUG, "rule %u: DROP", s.best);
    return pcn_pkt_drop(ctx, md);
  }
}
