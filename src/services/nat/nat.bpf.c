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
// costs one lookup. Checksums are updated incrementally (pcn_set_ipv4_addr and pcn_set_l4_port:
// bpf_l3/l4_csum_replace in TC, which also handle CHECKSUM_PARTIAL packets, RFC 1624 arithmetic
// in XDP).
//
// Sessions expire: each entry has a deadline (bpf_ktime_get_boot_ns), pushed on by every packet
// that uses it by the timeout of the session's state (nat_cfg.timeout: TCP new / established /
// closing / closed, UDP new / established, ICMP). A session lives while either entry's deadline
// is ahead (a one-way stream refreshes one entry only); a packet that finds a dead session
// deletes both entries and is treated as if there were none. State changes (a first reply, FIN,
// RST) are written to both entries.
//
// ICMP errors (destination unreachable, time exceeded, parameter problem) about a NATed flow are
// translated as the flow's replies: the session is found from the header the error quotes, whose
// address and port (echo id) are translated back, and so is the outer address that is the same
// as the quoted one. Checksums: outer IP, quoted IP, the quoted TCP/UDP/ICMP checksum when the
// error quotes it (UDP: unless 0), and the ICMP checksum over all the changed bytes. Errors do
// not refresh sessions.
#define PCN_TRANSPARENT
#include <polycube.h>

#define NAT_SESSIONS 65536
#define NAT_RULES 1024

/* Rule kinds, as the model's originating-rule (index.ts has the same numbers). */
#define K_SNAT 0
#define K_DNAT 1
#define K_MASQ 2
#define K_PF 3

#define IP_OFF ETH_HLEN
#define L4_OFF (ETH_HLEN + 20)
/* An ICMP error (header at L4_OFF) quotes an IP header (without options) and its L4 header. */
#define Q_IP_OFF (L4_OFF + 8)
#define Q_L4_OFF (Q_IP_OFF + 20)

/* Session states (sessions.ts has the same numbers). */
#define S_NEW 0         /* only the direction that made it seen */
#define S_ESTABLISHED 1 /* a reply seen */
#define S_CLOSING 2     /* TCP: a FIN seen */
#define S_CLOSED 3      /* TCP: a RST seen */

/* Timeouts, in the order of TIMEOUTS in sessions.ts. */
#define T_TCP_NEW 0
#define T_TCP_ESTABLISHED 1
#define T_TCP_CLOSING 2
#define T_TCP_CLOSED 3
#define T_UDP_NEW 4
#define T_UDP_ESTABLISHED 5
#define T_ICMP 6
#define T_COUNT 7

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

struct nat_cfg {
  __u32 masq_ip; /* network byte order; 0: masquerade has no address */
  __u32 masq_on;
  __u32 snat_rules;
  __u32 dnat_rules; /* DNAT + port forwarding */
  __u64 timeout[T_COUNT]; /* ns */
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
  __u64 expires;  /* bpf_ktime_get_boot_ns() deadline */
  __u8 state;     /* S_* */
  __u8 orig;      /* 1: the entry of the direction that made the session */
  __u8 pad[6];
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

PCN_ARRAY(nat_config, struct nat_cfg, 1);
PCN_LRU_HASH(nat_sessions, struct nat_key, struct nat_val, NAT_SESSIONS);
PCN_LPM(nat_snat, struct snat_key, struct snat_val, NAT_RULES);
PCN_HASH(nat_dnat, __u32, __u32, NAT_RULES);
PCN_HASH(nat_pf, struct pf_key, struct pf_val, 2 * NAT_RULES);

/* Rewrites the source or destination address and port (ICMP: echo id) of a packet whose
 * headers the caller has checked (ihl 5, L4 header present). Returns 0, or -1 when the packet
 * is gone. */
static __always_inline int rewrite(CTXTYPE *ctx, __u8 proto, int src, __u32 old_ip, __u32 new_ip, __u16 old_port, __u16 new_port) {
  __u32 field = src ? offsetof(struct iphdr, saddr) : offsetof(struct iphdr, daddr);
  __u32 port_off = proto == IPPROTO_ICMP ? 4 : src ? 0 : 2;
  if (pcn_set_ipv4_addr(ctx, IP_OFF, L4_OFF, proto, field, old_ip, new_ip)) return -1;
  return pcn_set_l4_port(ctx, L4_OFF, proto, port_off, old_port, new_port);
}

/* What an entry changes in the packet its key describes: the source address and port (echo
 * id) when it rewrites the source, else the destination ones. */
static __always_inline void changed(const struct nat_key *k, int rsrc, __u32 *ip, __u16 *port) {
  /* Scalars first: a select between the key's fields would become pointer arithmetic. */
  __u32 src = k->src, dst = k->dst;
  __u16 sport = k->sport, dport = k->dport;
  barrier_var(src);
  barrier_var(dst);
  *ip = rsrc ? src : dst;
  *port = rsrc ? sport : dport;
}

static __always_inline int apply(CTXTYPE *ctx, struct nat_key *k, struct nat_val *v) {
  __u32 old_ip;
  __u16 old_port;
  int rsrc = v->rewrite_src;
  changed(k, rsrc, &old_ip, &old_port);
  if (rewrite(ctx, k->proto, rsrc, old_ip, v->ip, old_port, v->port)) return RX_DROP;
  return RX_OK;
}

/* ---- session lifetime ------------------------------------------------------------------- */

static __always_inline __u64 timeout_of(struct nat_cfg *cfg, __u8 proto, __u8 state) {
  __u32 t = T_ICMP;
  if (proto == IPPROTO_TCP)
    t = state == S_ESTABLISHED ? T_TCP_ESTABLISHED : state == S_CLOSING ? T_TCP_CLOSING : state == S_CLOSED ? T_TCP_CLOSED : T_TCP_NEW;
  else if (proto == IPPROTO_UDP)
    t = state == S_ESTABLISHED ? T_UDP_ESTABLISHED : T_UDP_NEW;
  if (t >= T_COUNT) return 0;
  return cfg->timeout[t];
}

/* The key of the session's other entry: the packet as this entry translates it, turned round. */
static __always_inline void partner_key(const struct nat_key *k, const struct nat_val *v, struct nat_key *p) {
  __u32 s = k->src, d = k->dst;
  __u16 sp = k->sport, dp = k->dport;
  if (v->rewrite_src) {
    s = v->ip;
    sp = v->port;
  } else {
    d = v->ip;
    dp = v->port;
  }
  if (k->proto == IPPROTO_ICMP) sp = dp = v->port; /* echo: the id stands for both ports */
  p->src = d;
  p->dst = s;
  p->sport = dp;
  p->dport = sp;
  p->proto = k->proto;
  p->dir = k->dir ^ 1;
  p->pad = 0;
}

static __always_inline int same_key(const struct nat_key *a, const struct nat_key *b) {
  return a->src == b->src && a->dst == b->dst && a->sport == b->sport && a->dport == b->dport && a->proto == b->proto && a->dir == b->dir;
}

/* The entry for k if its session is live (either entry's deadline ahead). A dead session's
 * entries are deleted: it is as good as absent. */
static __always_inline struct nat_val *lookup_live(struct nat_key *k, __u64 now) {
  struct nat_val *v = bpf_map_lookup_elem(&nat_sessions, k);
  if (!v || v->expires > now) return v;
  struct nat_key pk, back;
  partner_key(k, v, &pk);
  struct nat_val *pv = bpf_map_lookup_elem(&nat_sessions, &pk);
  int mine = 0;
  if (pv) {
    partner_key(&pk, pv, &back);
    mine = same_key(&back, k); /* the partner entry may since belong to another session */
  }
  if (mine && pv->expires > now) return v;
  if (mine) bpf_map_delete_elem(&nat_sessions, &pk);
  bpf_map_delete_elem(&nat_sessions, k);
  return 0;
}

/* A packet that uses a session: the session's state moves on (written to both entries when it
 * changes) and the entry's deadline with it; then the packet is translated. */
static __always_inline int hit(CTXTYPE *ctx, struct nat_key *k, struct nat_val *v, struct nat_cfg *cfg, __u64 now, __u8 flags) {
  __u8 state = v->state, next = state;
  if (k->proto == IPPROTO_TCP) {
    if (flags & TCP_RST) next = S_CLOSED;
    else if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN && v->orig && state >= S_CLOSING) next = S_NEW; /* the tuple reused */
    else if (flags & TCP_FIN) next = state == S_CLOSED ? S_CLOSED : S_CLOSING;
    else if (state == S_NEW && !v->orig) next = S_ESTABLISHED;
  } else if (state == S_NEW && !v->orig) {
    next = S_ESTABLISHED;
  }
  __u64 expires = now + timeout_of(cfg, k->proto, next);
  v->expires = expires;
  if (next != state) {
    v->state = next;
    struct nat_key pk;
    partner_key(k, v, &pk);
    struct nat_val *pv = bpf_map_lookup_elem(&nat_sessions, &pk);
    if (pv) {
      pv->state = next;
      pv->expires = expires;
    }
  }
  return apply(ctx, k, v);
}

/* ---- new sessions ----------------------------------------------------------------------- */

/* A new source-NAT session for a packet leaving: picks the port (the packet's own if free). */
static __always_inline int new_snat(CTXTYPE *ctx, struct nat_key *k, __u32 ext_ip, __u8 kind, struct nat_cfg *cfg, __u64 now) {
  if (k->proto == IPPROTO_ICMP && k->dport != 0xffff) return RX_OK; /* only echo requests start sessions */
  struct nat_key rev = {.src = k->dst, .dst = ext_ip, .proto = k->proto, .dir = PCN_INGRESS};
  __u16 port = k->sport;
  int found = 0;
#pragma clang loop unroll(disable)
  for (int i = 0; i < 16; i++) {
    rev.sport = k->proto == IPPROTO_ICMP ? port : k->dport;
    rev.dport = port;
    if (!lookup_live(&rev, now)) {
      found = 1;
      break;
    }
    port = bpf_htons(1024 + bpf_get_prandom_u32() % 64512);
  }
  if (!found) return RX_DROP;
  __u64 expires = now + timeout_of(cfg, k->proto, S_NEW);
  struct nat_val back = {.ip = k->src, .port = k->sport, .rewrite_src = 0, .kind = kind, .expires = expires, .state = S_NEW, .orig = 0};
  struct nat_val fwd = {.ip = ext_ip, .port = port, .rewrite_src = 1, .kind = kind, .expires = expires, .state = S_NEW, .orig = 1};
  struct nat_key fk = *k;
  if (k->proto == IPPROTO_ICMP) fk.dport = fk.sport;
  bpf_map_update_elem(&nat_sessions, &rev, &back, BPF_ANY);
  bpf_map_update_elem(&nat_sessions, &fk, &fwd, BPF_ANY);
  pcn_log(ctx, LOG_DEBUG, "new session: source %I:%P -> %I:%P", k->src, k->sport, ext_ip, port);
  return apply(ctx, &fk, &fwd);
}

/* A new destination-NAT session for a packet arriving. */
static __always_inline int new_dnat(CTXTYPE *ctx, struct nat_key *k, __u32 int_ip, __u16 int_port, __u8 kind, struct nat_cfg *cfg, __u64 now) {
  if (k->proto == IPPROTO_ICMP && k->dport != 0xffff) return RX_OK;
  struct nat_key fk = *k;
  if (k->proto == IPPROTO_ICMP) fk.dport = fk.sport;
  __u64 expires = now + timeout_of(cfg, k->proto, S_NEW);
  struct nat_val fwd = {.ip = int_ip, .port = int_port, .rewrite_src = 0, .kind = kind, .expires = expires, .state = S_NEW, .orig = 1};
  struct nat_key rev = {.src = int_ip, .dst = k->src, .sport = int_port, .dport = k->sport, .proto = k->proto, .dir = PCN_EGRESS};
  struct nat_val back = {.ip = k->dst, .port = fk.dport, .rewrite_src = 1, .kind = kind, .expires = expires, .state = S_NEW, .orig = 0};
  bpf_map_update_elem(&nat_sessions, &rev, &back, BPF_ANY);
  bpf_map_update_elem(&nat_sessions, &fk, &fwd, BPF_ANY);
  pcn_log(ctx, LOG_DEBUG, "new session: destination %I:%P -> %I:%P", k->dst, fk.dport, int_ip, int_port);
  return apply(ctx, &fk, &fwd);
}

/* ---- ICMP errors ------------------------------------------------------------------------ */

/* An ICMP error travelling in direction dir: the header it quotes is a packet of a session going
 * the other way, so the session entry for dir is the quoted tuple turned round. That entry's
 * source becomes the quoted destination's (or its destination the quoted source's), and the
 * outer address that equals the quoted one changes with it (the outer destination always does;
 * the outer source only when the error comes from the quoted destination itself). The checksums
 * are computed in registers and written with the bytes (every change inside the ICMP message is
 * folded into its checksum, so the packet's total sum, skb->csum, stays right). */
static __always_inline int icmp_error(CTXTYPE *ctx, __u8 dir, __u64 now) {
  if (pcn_pull(ctx, Q_L4_OFF + 20)) return RX_OK;
  void *data = pcn_ptr(ctx, 0, Q_L4_OFF + 8);
  if (!data) return RX_OK;
  void *data_end = pcn_data_end(ctx);
  struct iphdr *outer = data + IP_OFF;
  struct iphdr *q = data + Q_IP_OFF;
  if (q->ihl != 5 || (q->frag_off & bpf_htons(0x1fff))) return RX_OK; /* NAT never translated those */
  __u8 proto = q->protocol;
  void *ql4 = data + Q_L4_OFF;
  struct nat_key k = {.src = q->daddr, .dst = q->saddr, .proto = proto, .dir = dir};
  __u32 l4sum_off; /* the quoted L4 checksum; 0: not there (or UDP without one) */
  __u16 l4sum = 0;
  if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
    k.sport = *(__u16 *)(ql4 + 2);
    k.dport = *(__u16 *)ql4;
    if (proto == IPPROTO_UDP) {
      l4sum_off = Q_L4_OFF + 6;
      l4sum = *(__u16 *)(ql4 + 6);
      if (!l4sum) l4sum_off = 0;
    } else if (data + Q_L4_OFF + 18 <= data_end) {
      l4sum_off = Q_L4_OFF + 16;
      l4sum = *(__u16 *)(ql4 + 16);
    } else {
      l4sum_off = 0; /* an error that quotes only 8 bytes of TCP */
    }
  } else if (proto == IPPROTO_ICMP) {
    __u8 type = *(__u8 *)ql4;
    if (type != 8 && type != 0) return RX_OK;
    k.sport = *(__u16 *)(ql4 + 4);
    k.dport = k.sport;
    l4sum_off = Q_L4_OFF + 2;
    l4sum = *(__u16 *)(ql4 + 2);
  } else {
    return RX_OK;
  }
  __u32 o_saddr = outer->saddr, o_daddr = outer->daddr;
  __u16 q_check = q->check, o_check = outer->check, icmp_sum = *(__u16 *)(data + L4_OFF + 2);

  struct nat_val *v = lookup_live(&k, now);
  if (!v) return RX_OK;
  __u32 new_ip = v->ip, old_ip;
  __u16 new_port = v->port, old_port;
  int rsrc = v->rewrite_src;
  /* The key's source is the quoted destination, its destination the quoted source. */
  changed(&k, rsrc, &old_ip, &old_port);
  __u32 addr_off = rsrc ? Q_IP_OFF + 16 : Q_IP_OFF + 12;
  __u32 port_off = proto == IPPROTO_ICMP ? Q_L4_OFF + 4 : rsrc ? Q_L4_OFF + 2 : Q_L4_OFF;
  __u32 outer_off = 0;
  if (rsrc && o_saddr == old_ip) outer_off = IP_OFF + 12;
  if (!rsrc && o_daddr == old_ip) outer_off = IP_OFF + 16;

  __u16 new_q_check = pcn_csum_update32(q_check, old_ip, new_ip);
  __u16 new_l4sum = l4sum;
  if (l4sum_off) {
    if (proto != IPPROTO_ICMP) new_l4sum = pcn_csum_update32(new_l4sum, old_ip, new_ip); /* the pseudo-header */
    new_l4sum = pcn_csum_update16(new_l4sum, old_port, new_port);
    if (proto == IPPROTO_UDP && !new_l4sum) new_l4sum = 0xffff;
  }
  __u16 new_icmp_sum = pcn_csum_update32(icmp_sum, old_ip, new_ip);
  new_icmp_sum = pcn_csum_update16(new_icmp_sum, q_check, new_q_check);
  new_icmp_sum = pcn_csum_update16(new_icmp_sum, old_port, new_port);
  if (l4sum_off) new_icmp_sum = pcn_csum_update16(new_icmp_sum, l4sum, new_l4sum);

  if (pcn_store_bytes(ctx, addr_off, &new_ip, 4) || pcn_store_bytes(ctx, Q_IP_OFF + 10, &new_q_check, 2) || pcn_store_bytes(ctx, port_off, &new_port, 2)) return RX_DROP;
  if (l4sum_off && pcn_store_bytes(ctx, l4sum_off, &new_l4sum, 2)) return RX_DROP;
  if (pcn_store_bytes(ctx, L4_OFF + 2, &new_icmp_sum, 2)) return RX_DROP;
  if (outer_off) {
    __u16 new_o_check = pcn_csum_update32(o_check, old_ip, new_ip);
    if (pcn_store_bytes(ctx, outer_off, &new_ip, 4) || pcn_store_bytes(ctx, IP_OFF + 10, &new_o_check, 2)) return RX_DROP;
  }
  pcn_log(ctx, LOG_DEBUG, "ICMP error about %I:%P: quoted as %I:%P", old_ip, old_port, new_ip, new_port);
  return RX_OK;
}

/* ---- the packet ------------------------------------------------------------------------- */

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  if (pcn_pull(ctx, L4_OFF + 20)) return RX_OK;
  struct iphdr *ip = pcn_eth_ipv4(ctx);
  if (!ip || ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff))) return RX_OK; /* options, fragments: untouched */
  void *l4 = pcn_l4(ctx, ip, 8);
  if (!l4) return RX_OK;
  struct nat_cfg *cfg = pcn_lookup0(&nat_config);
  if (!cfg) return RX_OK;
  __u64 now = bpf_ktime_get_boot_ns();

  struct nat_key k = {.src = ip->saddr, .dst = ip->daddr, .proto = ip->protocol, .dir = md->in_port ? PCN_EGRESS : PCN_INGRESS};
  __u8 flags = 0;
  struct nat_val *v;
  if (ip->protocol == IPPROTO_TCP) {
    l4 = pcn_l4(ctx, ip, 20);
    if (!l4) return RX_OK;
    k.sport = *(__u16 *)l4;
    k.dport = *(__u16 *)(l4 + 2);
    flags = *(__u8 *)(l4 + 13);
  } else if (ip->protocol == IPPROTO_UDP) {
    k.sport = *(__u16 *)l4;
    k.dport = *(__u16 *)(l4 + 2);
  } else if (ip->protocol == IPPROTO_ICMP) {
    __u8 type = *(__u8 *)l4;
    if (type == 3 || type == 11 || type == 12) return icmp_error(ctx, k.dir, now);
    if (type != 8 && type != 0) return RX_OK; /* echo only */
    k.sport = *(__u16 *)(l4 + 4);
    k.dport = k.sport;
    v = lookup_live(&k, now);
    if (v) return hit(ctx, &k, v, cfg, now, 0);
    if (type != 8) return RX_OK;
    k.dport = 0xffff; /* marks an echo request for new_snat/new_dnat */
    goto miss;
  } else {
    return RX_OK;
  }

  v = lookup_live(&k, now);
  if (v) return hit(ctx, &k, v, cfg, now, flags);

miss:
  if (k.dir == PCN_EGRESS) {
    if (cfg->snat_rules) {
      struct snat_key sk = {.prefixlen = 32, .addr = k.src};
      struct snat_val *r = bpf_map_lookup_elem(&nat_snat, &sk);
      if (r) return new_snat(ctx, &k, r->external_ip, K_SNAT, cfg, now);
    }
    if (cfg->masq_on && cfg->masq_ip && k.src != cfg->masq_ip) return new_snat(ctx, &k, cfg->masq_ip, K_MASQ, cfg, now);
    return RX_OK;
  }
  if (!cfg->dnat_rules) return RX_OK;
  if (k.proto != IPPROTO_ICMP) {
    struct pf_key pk = {.ip = k.dst, .port = k.dport, .proto = k.proto};
    struct pf_val *p = bpf_map_lookup_elem(&nat_pf, &pk);
    if (p) return new_dnat(ctx, &k, p->ip, p->port, K_PF, cfg, now);
  }
  __u32 *internal = bpf_map_lookup_elem(&nat_dnat, &k.dst);
  if (internal) return new_dnat(ctx, &k, *internal, k.proto == IPPROTO_ICMP ? k.sport : k.dport, K_DNAT, cfg, now);
  return RX_OK;
}
