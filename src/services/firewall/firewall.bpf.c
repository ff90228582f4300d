// firewall datapath: a transparent IPv4 ACL with one chain of rules per direction and a
// connection tracker shared by both, as the original's firewall.
//
// Classification is a tuple space search. A rule is a conjunction of conditions on the packet:
// a source and a destination prefix, protocol, ports, TCP flags under a mask, connection state.
// Rules that constrain the same fields in the same way (same prefix lengths, same flag mask...)
// form a "tuple"; inside a tuple, a rule is one exact-match key: the packet's fields, masked as
// the tuple says. A packet costs one hash lookup per tuple, whatever the number of rules: 10,000
// rules that differ only in addresses and ports are one or two tuples. Each entry carries the
// rank of the best rule with that key (ranks grow with the position in the chain); the packet
// keeps the lowest rank it finds. Tuples are kept sorted by the lowest rank they may hold, so
// the search stops as soon as no later tuple can beat the match in hand. The original scanned
// bit vectors whose length grows with the rules (linear cost; about 5,000 rules at most).
//
// Atomic updates: every key carries a slot = generation << 1 | chain. The control plane edits
// the idle generation (entries and tuple list), then flips fw_active[chain] in one write; a
// packet reads the generation once, so it sees the rule set before a change or after it, never
// a mix. The other generation is brought up to date with the same edits before the next change.
//
// Connection tracking follows the original's state machine (SYN_SENT, SYN_RECV, ESTABLISHED,
// FIN_WAIT, LAST_ACK, TIME_WAIT for TCP; NEW/ESTABLISHED for UDP and ICMP echo; ICMP errors
// about a live session are RELATED), with its timeouts kept in fw_config so that they can be
// changed without reloading. A session expires in the datapath: an entry whose deadline has
// passed is treated as absent and overwritten; the LRU map bounds the memory.
#define PCN_TRANSPARENT
#include <polycube.h>
#include <linux/in.h>

#define FW_RULES_MAX 16384
#define FW_TUPLES_MAX 128
#define FW_SLOTS 4 /* 2 generations x 2 chains */
#define FW_COUNTERS (2 * (FW_RULES_MAX + 1)) /* per chain: one per rule slot, then the default */

/* Actions (the model's typedef action). */
#define FW_DROP 0
#define FW_ACCEPT 1
#define FW_LOG 2

/* Slow path reason of a LOG copy. */
#define FW_REASON_LOG 1

/* Which packet fields a tuple's key uses (struct fw_tuple.use). */
#define FW_USE_PROTO 0x01
#define FW_USE_SPORT 0x02
#define FW_USE_DPORT 0x04
#define FW_USE_CT 0x08
#define FW_NEED_PORTS 0x10 /* only TCP and UDP packets (with their header) can match */
#define FW_NEED_TCP 0x20   /* only TCP packets can match (the rule looks at flags) */

/* Connection labels, as the model's conntrackstatus; 0 when tracking is off. */
#define CT_NONE 0
#define CT_NEW 1
#define CT_ESTABLISHED 2
#define CT_RELATED 3
#define CT_INVALID 4

/* Session states, shared with conntrack.ts. */
#define S_SYN_SENT 1
#define S_SYN_RECV 2
#define S_ESTABLISHED 3
#define S_FIN_WAIT 4
#define S_LAST_ACK 5
#define S_TIME_WAIT 6
#define S_NEW 7

/* Timeouts in fw_config, shared with conntrack.ts. */
#define T_SYN_SENT 0
#define T_SYN_RECV 1
#define T_ESTABLISHED 2
#define T_FIN_WAIT 3
#define T_LAST_ACK 4
#define T_TIME_WAIT 5
#define T_UDP_NEW 6
#define T_UDP_ESTABLISHED 7
#define T_ICMP 8
#define T_COUNT 9

/* Conntrack modes (fw_config.mode), as the original's. */
#define MODE_DISABLED 0
#define MODE_MANUAL 1
#define MODE_AUTOMATIC 2

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

struct fw_tuple {
  __be32 src_mask;
  __be32 dst_mask;
  __u32 best; /* no rule of this tuple has a lower rank */
  __u16 id;
  __u8 flags_mask;
  __u8 use;
};

struct fw_tupleset {
  __u32 n;
  __u32 pad;
  struct fw_tuple t[FW_TUPLES_MAX];
};

struct fw_rule_key {
  __u8 slot;
  __u8 proto;
  __u8 flags;
  __u8 ct;
  __u16 tuple;
  __be16 sport;
  __be16 dport;
  __u16 pad;
  __be32 src;
  __be32 dst;
};

struct fw_rule_value {
  __u32 rank;
  __u32 counter; /* the rule's slot in its chain's part of fw_counters */
  __u32 action;
};

struct fw_chain {
  __u32 gen;
  __u32 default_action;
};

struct fw_counter {
  __u64 pkts;
  __u64 bytes;
};

struct fw_config {
  __u32 mode;
  __u32 pad;
  __u64 timeout[T_COUNT]; /* ns */
};

/* A session, keyed as its first packet went (initiator -> responder). */
struct ct_key {
  __be32 src;
  __be32 dst;
  __be16 sport;
  __be16 dport;
  __u8 proto;
  __u8 pad[3];
};

struct ct_value {
  __u64 expires; /* bpf_ktime_get_boot_ns() deadline */
  __u32 seq;     /* TCP: the acknowledgement number that moves the session on */
  __u8 state;
  __u8 closer; /* TCP: who sent the first FIN (0 initiator, 1 responder) */
  __u8 pad[2];
};

PCN_ARRAY(fw_active, struct fw_chain, 2);
PCN_ARRAY(fw_tuples, struct fw_tupleset, FW_SLOTS);
PCN_ARRAY(fw_config, struct fw_config, 1);
PCN_PERCPU_ARRAY(fw_counters, struct fw_counter, FW_COUNTERS);
PCN_HASH_NOPREALLOC(fw_rules, struct fw_rule_key, struct fw_rule_value, FW_SLOTS * FW_RULES_MAX);
PCN_LRU_HASH(fw_sessions, struct ct_key, struct ct_value, 65536);

/* What a packet does to its session once it is accepted. */
#define PLAN_NONE 0
#define PLAN_CREATE 1 /* a new session under the packet's own key */
#define PLAN_SET 2    /* the found session takes state/seq/timeout */
#define PLAN_DELETE 3

struct ct_plan {
  __u32 op;
  __u32 state;
  __u32 timeout;
  __u32 seq;
  __u32 closer;
};

struct pkt {
  __be32 src;
  __be32 dst;
  __be16 sport;
  __be16 dport;
  __u32 seq;    /* host order */
  __u32 ack;    /* host order */
  __u32 seq_end; /* host order: seq + payload + FIN */
  __u8 proto;
  __u8 flags;
  __u8 has_ports;
  __u8 icmp_type;
};

static __always_inline void count(__u32 index, __u32 len) {
  struct fw_counter *c = bpf_map_lookup_elem(&fw_counters, &index);
  if (!c) return;
  c->pkts++;
  c->bytes += len;
}

static __always_inline __u64 ct_timeout(struct fw_config *cfg, __u32 t) {
  if (t >= T_COUNT) return 0;
  return cfg->timeout[t];
}

static __always_inline struct ct_value *ct_live(struct ct_key *k, __u64 now) {
  struct ct_value *v = bpf_map_lookup_elem(&fw_sessions, k);
  if (v && v->expires > now) return v;
  return 0;
}

static __always_inline void ct_reverse(struct ct_key *r, const struct ct_key *k) {
  r->src = k->dst;
  r->dst = k->src;
  r->sport = k->dport;
  r->dport = k->sport;
  r->proto = k->proto;
}

/* The session a key belongs to, either way; *dir = 1 when the key runs responder -> initiator. */
static __always_inline struct ct_value *ct_find(struct ct_key *k, struct ct_key *found, __u32 *dir, __u64 now) {
  struct ct_value *v = ct_live(k, now);
  if (v) {
    *found = *k;
    *dir = 0;
    return v;
  }
  struct ct_key r = {};
  ct_reverse(&r, k);
  v = ct_live(&r, now);
  if (v) {
    *found = r;
    *dir = 1;
  }
  return v;
}

/* ICMP errors carry the IP header and 8 bytes of the packet they answer: RELATED when that
 * packet belongs to a live session. */
static __always_inline __u32 ct_icmp_error(void *inner, void *data_end, __u64 now) {
  struct iphdr *ip = inner;
  if ((void *)(ip + 1) > data_end) return CT_INVALID;
  __u32 ihl = ip->ihl * 4;
  if (ihl < sizeof(*ip)) return CT_INVALID;
  void *l4 = inner + ihl;
  if (l4 + 8 > data_end) return CT_INVALID;
  struct ct_key k = {.src = ip->saddr, .dst = ip->daddr, .proto = ip->protocol};
  if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
    k.sport = *(__be16 *)l4;
    k.dport = *(__be16 *)(l4 + 2);
  } else if (ip->protocol == IPPROTO_ICMP) {
    __u8 type = *(__u8 *)l4;
    __be16 id = *(__be16 *)(l4 + 4);
    if (type == 8) k.sport = id;
    else if (type == 0) k.dport = id;
    else return CT_INVALID;
  } else {
    return CT_INVALID;
  }
  struct ct_key found = {};
  __u32 dir = 0;
  return ct_find(&k, &found, &dir, now) ? CT_RELATED : CT_INVALID;
}

/* A SYN that opens a session (a new one, or one that takes over a closed session's ports). */
static __always_inline __u32 ct_open(struct pkt *p, struct ct_plan *plan) {
  plan->op = PLAN_CREATE;
  plan->state = S_SYN_SENT;
  plan->timeout = T_SYN_SENT;
  plan->seq = p->seq + 1;
  plan->closer = 0;
  return CT_NEW;
}

/* A packet of a session that is past its handshake: the session moves on to `state` when
 * `move`, else stays where it is with the timeout `stay`. */
static __always_inline __u32 ct_next(struct ct_plan *plan, int move, __u32 state, __u32 timeout, __u32 stay) {
  if (move) {
    plan->state = state;
    plan->timeout = timeout;
  } else {
    plan->timeout = stay;
  }
  return CT_ESTABLISHED;
}

static __always_inline __u32 ct_tcp(struct pkt *p, struct ct_value *v, __u32 dir, struct ct_plan *plan) {
  __u32 f = p->flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN);
  int syn_only = f == TCP_SYN;
  int syn_ack = f == (TCP_SYN | TCP_ACK);
  if (!v) return syn_only ? ct_open(p, plan) : CT_INVALID;
  if (f & TCP_RST) {
    plan->op = PLAN_DELETE;
    return CT_ESTABLISHED;
  }
  plan->op = PLAN_SET;
  plan->state = v->state;
  plan->seq = v->seq;
  plan->closer = v->closer;
  switch (v->state) {
  case S_SYN_SENT:
    if (dir == 0 && syn_only) { /* the SYN again */
      plan->timeout = T_SYN_SENT;
      return CT_NEW;
    }
    if (dir == 1 && syn_ack && p->ack == v->seq) {
      plan->state = S_SYN_RECV;
      plan->timeout = T_SYN_RECV;
      plan->seq = p->seq + 1;
      return CT_ESTABLISHED;
    }
    break;
  case S_SYN_RECV:
    if (dir == 0 && (f & TCP_ACK) && !(f & TCP_SYN) && p->ack == v->seq) {
      plan->state = (f & TCP_FIN) ? S_FIN_WAIT : S_ESTABLISHED;
      plan->timeout = (f & TCP_FIN) ? T_FIN_WAIT : T_ESTABLISHED;
      plan->closer = 0;
      return CT_ESTABLISHED;
    }
    if (dir == 0 && syn_only) {
      plan->timeout = T_SYN_RECV;
      return CT_NEW;
    }
    if (dir == 1 && syn_ack) { /* the SYN+ACK again */
      plan->timeout = T_SYN_RECV;
      return CT_ESTABLISHED;
    }
    break;
  case S_ESTABLISHED:
    if (f & TCP_FIN) plan->closer = dir;
    return ct_next(plan, f & TCP_FIN, S_FIN_WAIT, T_FIN_WAIT, T_ESTABLISHED);
  case S_FIN_WAIT: {
    int fin = (f & TCP_FIN) && dir != v->closer; /* the other side's FIN */
    if (fin) plan->seq = p->seq_end;
    return ct_next(plan, fin, S_LAST_ACK, T_LAST_ACK, T_FIN_WAIT);
  }
  case S_LAST_ACK:
    return ct_next(plan, dir == v->closer && (f & TCP_ACK) && p->ack == v->seq, S_TIME_WAIT, T_TIME_WAIT, T_LAST_ACK);
  case S_TIME_WAIT:
    if (dir == 0 && syn_only) return ct_open(p, plan); /* the same ports again: a new connection */
    plan->op = PLAN_NONE; /* the timer is not refreshed */
    return CT_ESTABLISHED;
  }
  plan->op = PLAN_NONE;
  return CT_INVALID;
}

/* Labels the packet and says what accepting it does to its session. */
static __always_inline __u32 ct_label(struct pkt *p, void *l4, void *data_end, __u64 now, struct ct_key *key,
                                      struct ct_value **sess, struct ct_plan *plan) {
  struct ct_key k = {.src = p->src, .dst = p->dst, .sport = p->sport, .dport = p->dport, .proto = p->proto};
  __u32 dir = 0;
  struct ct_value *v = 0;
  *key = k;
  if (p->proto == IPPROTO_ICMP) {
    if (p->icmp_type == 3 || p->icmp_type == 4 || p->icmp_type == 5 || p->icmp_type == 11 || p->icmp_type == 12)
      return ct_icmp_error(l4 + 8, data_end, now);
    if (p->icmp_type != 8 && p->icmp_type != 0) return CT_INVALID;
  } else if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP) {
    return CT_INVALID;
  }
  if (!p->has_ports) return CT_INVALID; /* a later fragment: no L4 header to track */
  v = ct_find(&k, key, &dir, now);
  *sess = v;
  if (p->proto == IPPROTO_TCP) return ct_tcp(p, v, dir, plan);
  if (p->proto == IPPROTO_UDP) {
    if (!v) {
      plan->op = PLAN_CREATE;
      plan->state = S_NEW;
      plan->timeout = T_UDP_NEW;
      return CT_NEW;
    }
    plan->op = PLAN_SET;
    if (dir == 1 || v->state == S_ESTABLISHED) {
      plan->state = S_ESTABLISHED;
      plan->timeout = T_UDP_ESTABLISHED;
      return CT_ESTABLISHED;
    }
    plan->state = S_NEW;
    plan->timeout = T_UDP_NEW;
    return CT_NEW;
  }
  /* ICMP echo: the request's key has the id as source "port", the reply's as destination. */
  if (p->icmp_type == 8) {
    plan->op = v ? PLAN_SET : PLAN_CREATE;
    plan->state = v ? v->state : S_NEW;
    plan->timeout = T_ICMP;
    return CT_NEW; /* as the original: every request opens (or renews) an exchange */
  }
  if (!v || dir != 1) {
    *sess = 0;
    return CT_INVALID;
  }
  plan->op = PLAN_SET;
  plan->state = S_ESTABLISHED;
  plan->timeout = T_ICMP;
  return CT_ESTABLISHED;
}

static __always_inline void ct_apply(struct fw_config *cfg, struct ct_key *key, struct ct_value *v, struct ct_plan *plan,
                                     __u64 now) {
  if (plan->op == PLAN_CREATE) {
    struct ct_value nv = {.expires = now + ct_timeout(cfg, plan->timeout), .seq = plan->seq, .state = plan->state};
    bpf_map_update_elem(&fw_sessions, key, &nv, BPF_ANY);
  } else if (plan->op == PLAN_SET && v) {
    v->state = plan->state;
    v->seq = plan->seq;
    v->closer = plan->closer;
    v->expires = now + ct_timeout(cfg, plan->timeout);
  } else if (plan->op == PLAN_DELETE) {
    bpf_map_delete_elem(&fw_sessions, key);
  }
}

/* The search over one chain's tuples, run by bpf_loop: the verifier checks the body once
 * instead of once per tuple and per path that led to it. */
struct fw_search {
  struct pkt p;
  __u32 slot;
  __u32 n;
  __u32 ct;
  __u32 best;
  __u32 action;
  __u32 counter;
  __u32 found;
};

static long search_tuple(__u32 i, void *arg) {
  struct fw_search *s = arg;
  struct fw_tuple *t = pcn_tuple_at(&fw_tuples, &s->slot, i, s->n, struct fw_tupleset);
  if (!t) return 1;
  if (t->best >= s->best) return 1; /* sorted: no later tuple can do better */
  __u8 use = t->use;
  if ((use & FW_NEED_PORTS) && !s->p.has_ports) return 0;
  if ((use & FW_NEED_TCP) && s->p.proto != IPPROTO_TCP) return 0;
  struct fw_rule_key k = {
      .slot = s->slot,
      .tuple = t->id,
      .src = s->p.src & t->src_mask,
      .dst = s->p.dst & t->dst_mask,
      .proto = (use & FW_USE_PROTO) ? s->p.proto : 0,
      .sport = (use & FW_USE_SPORT) ? s->p.sport : 0,
      .dport = (use & FW_USE_DPORT) ? s->p.dport : 0,
      .flags = s->p.flags & t->flags_mask,
      .ct = (use & FW_USE_CT) ? s->ct : 0,
  };
  struct fw_rule_value *v = bpf_map_lookup_elem(&fw_rules, &k);
  if (v && v->rank < s->best) {
    s->best = v->rank;
    s->action = v->action;
    s->counter = v->counter;
    s->found = 1;
  }
  return 0;
}

/* The first matching rule of the chain's active generation: its action and counter. */
static __always_inline int classify(__u32 slot, struct pkt *p, __u32 ct, __u32 *action, __u32 *counter) {
  struct fw_tupleset *ts = bpf_map_lookup_elem(&fw_tuples, &slot);
  if (!ts || !ts->n) return 0;
  struct fw_search s = {.p = *p, .slot = slot, .n = ts->n, .ct = ct, .best = 0xffffffff};
  bpf_loop(FW_TUPLES_MAX, search_tuple, &s, 0);
  if (!s.found) return 0;
  *action = s.action;
  *counter = s.counter;
  return 1;
}

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  __u32 chain = md->in_port == PCN_EGRESS ? 1 : 0;
  __u32 len = md->packet_len;
  /* Room for IP options, an ICMP header, and the IP header plus 8 bytes an ICMP error quotes;
   * what a failed pull leaves is checked as any short packet. */
  pcn_pull(ctx, sizeof(struct ethhdr) + 60 + 8 + 60 + 8);
  /* Like the original, only IPv4 is filtered: ARP and the rest go on. */
  struct iphdr *ip = pcn_eth_ipv4(ctx);
  if (!ip) return RX_OK;
  void *data_end = pcn_data_end(ctx);
  __u32 ihl = ip->ihl * 4;
  if (ihl < sizeof(struct iphdr)) return RX_DROP;

  struct pkt p = {.src = ip->saddr, .dst = ip->daddr, .proto = ip->protocol};
  int first = !(ip->frag_off & bpf_htons(0x1fff)); /* the L4 header is in this fragment */
  void *l4 = (void *)ip + ihl;
  if (first && p.proto == IPPROTO_TCP) {
    if (l4 + 20 > data_end) return RX_DROP;
    p.sport = *(__be16 *)l4;
    p.dport = *(__be16 *)(l4 + 2);
    p.seq = bpf_ntohl(*(__be32 *)(l4 + 4));
    p.ack = bpf_ntohl(*(__be32 *)(l4 + 8));
    p.flags = *(__u8 *)(l4 + 13);
    __u32 doff = (*(__u8 *)(l4 + 12) >> 4) * 4;
    __u32 payload = bpf_ntohs(ip->tot_len) - ihl - doff;
    p.seq_end = p.seq + payload + ((p.flags & TCP_FIN) ? 1 : 0);
    p.has_ports = 1;
  } else if (first && p.proto == IPPROTO_UDP) {
    if (l4 + 8 > data_end) return RX_DROP;
    p.sport = *(__be16 *)l4;
    p.dport = *(__be16 *)(l4 + 2);
    p.has_ports = 1;
  } else if (first && p.proto == IPPROTO_ICMP) {
    if (l4 + 8 > data_end) return RX_DROP;
    p.icmp_type = *(__u8 *)l4;
    __be16 id = *(__be16 *)(l4 + 4);
    if (p.icmp_type == 8) p.sport = id;
    else if (p.icmp_type == 0) p.dport = id;
    /* ports of ICMP are the conntrack key's business only: rules with ports need TCP/UDP */
  }
  int l4_known = first && (p.proto == IPPROTO_ICMP);

  struct fw_config *cfg = pcn_lookup0(&fw_config);
  __u32 ct = CT_NONE;
  struct ct_key ckey = {};
  struct ct_value *sess = 0;
  struct ct_plan plan = {};
  __u64 now = 0;
  if (cfg && cfg->mode != MODE_DISABLED) {
    now = bpf_ktime_get_boot_ns();
    struct pkt q = p;
    if (l4_known) q.has_ports = 1; /* ICMP echo ids act as ports for the session key */
    ct = ct_label(&q, l4, data_end, now, &ckey, &sess, &plan);
    if (ct == CT_ESTABLISHED && cfg->mode == MODE_AUTOMATIC) {
      ct_apply(cfg, &ckey, sess, &plan, now);
      return RX_OK;
    }
  }

  struct fw_chain *ch = bpf_map_lookup_elem(&fw_active, &chain);
  if (!ch) return RX_OK;
  __u32 slot = (ch->gen & 1) << 1 | chain;
  __u32 action = ch->default_action;
  __u32 counter = chain * (FW_RULES_MAX + 1) + FW_RULES_MAX;
  int matched = classify(slot, &p, ct, &action, &counter);
  if (matched) counter += chain * (FW_RULES_MAX + 1); /* rules name their slot in the chain's counters */
  count(counter, len);
  if (matched) pcn_log(ctx, LOG_DEBUG, "chain %u: rule counter %u matched, action %u", chain, counter, action);
  else pcn_log(ctx, LOG_DEBUG, "chain %u: no rule matched, default action %u", chain, action);

  if (action == FW_LOG) {
    __u32 meta[3] = {chain, counter, 0};
    pcn_pkt_controller_with_metadata(ctx, md, FW_REASON_LOG, meta); /* a copy; the packet goes on */
  } else if (action != FW_ACCEPT) {
    return RX_DROP;
  }
  if (cfg && cfg->mode != MODE_DISABLED) ct_apply(cfg, &ckey, sess, &plan, now);
  return RX_OK;
}
