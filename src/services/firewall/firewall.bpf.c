// firewall datapath: a transparent IPv4 ACL with one chain per direction.
//
// Classification (why not a linear scan): a rule is a conjunction of per-field conditions
// (source prefix, destination prefix, protocol, source port, destination port, TCP flags,
// connection state). For each field the control plane precomputes, for every value that can
// make a difference, the bitmap of the rules that field admits: a longest-prefix-match trie
// for the addresses (each stored prefix carries the rules whose prefix contains it, so the
// longest match alone is enough), a hash for protocols, ports and connection states with a
// wildcard entry for values no rule names, and all 256 TCP flag combinations when a rule looks
// at flags. A packet costs one lookup per field that some rule uses, then a bounded loop over
// ceil(rules/64) words ANDing the bitmaps; the lowest set bit is the first matching rule. This
// is the original's linear bit-vector search, done in one program instead of 13 tail-called
// ones: the cost grows with rules/64 (16 words for 1000 rules), the verifier sees one loop of
// at most FW_WORDS iterations, and there is no per-rule branch.
//
// Atomic updates: every map key carries a slot = generation << 1 | chain. The control plane
// writes a whole new rule set under the chain's idle generation, then flips fw_active[chain]
// (one word); a packet reads the generation once, so it sees the old set or the new one,
// never half of each. The old generation is cleared afterwards and reused by the next update.
#define PCN_TRANSPARENT
#include <polycube.h>
#include <linux/in.h>

#define FW_RULES_MAX 4096
#define FW_WORDS (FW_RULES_MAX / 64)
#define FW_SLOTS 4 /* 2 generations x 2 chains */
#define FW_WILDCARD 0x10000

/* Fields of fw_fields keys (slot | field << 8) and bits of fw_gen.fields. */
#define FW_F_PROTO 0
#define FW_F_SPORT 1
#define FW_F_DPORT 2
#define FW_F_FLAGS 3
#define FW_F_CT 4
#define FW_USE_SRC (1 << 8)
#define FW_USE_DST (1 << 9)

#define FW_DROP 0
#define FW_FORWARD 1

/* Connection states, as the model's conntrackstatus. */
#define CT_NEW 0
#define CT_ESTABLISHED 1
#define CT_RELATED 2
#define CT_INVALID 3

struct fw_bitmap {
  __u64 w[FW_WORDS];
};

struct fw_lpm_key {
  __u32 prefixlen; /* 32 (slot) + prefix length */
  __u32 slot;
  __u32 addr; /* network byte order */
};

struct fw_key {
  __u32 slot_field;
  __u32 value;
};

/* Per chain: the active generation and the default action. */
struct fw_chain {
  __u32 gen;
  __u32 default_action;
};

/* Per slot: words to scan and which fields some rule uses. */
struct fw_gen {
  __u32 nwords;
  __u32 fields;
};

struct fw_counter {
  __u64 pkts;
  __u64 bytes;
};

/* Global switches. */
struct fw_config {
  __u32 conntrack;
  __u32 accept_established;
};

struct ct_key {
  __u32 ip_lo;
  __u32 ip_hi;
  __u16 port_lo;
  __u16 port_hi;
  __u32 proto;
};

struct ct_value {
  __u64 last_seen; /* bpf_ktime_get_ns */
  __u32 initiator; /* source address of the flow's first packet */
  __u16 initiator_port;
  __u8 established;
  __u8 pad;
};

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, struct fw_chain); } fw_active SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, FW_SLOTS); __type(key, __u32); __type(value, struct fw_gen); } fw_gens SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct fw_config); } fw_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, FW_SLOTS * (FW_RULES_MAX + 1));
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct fw_lpm_key);
  __type(value, struct fw_bitmap);
} fw_src SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, FW_SLOTS * (FW_RULES_MAX + 1));
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct fw_lpm_key);
  __type(value, struct fw_bitmap);
} fw_dst SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, FW_SLOTS * (2 * (FW_RULES_MAX + 1) + 4 + 257 + 5));
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct fw_key);
  __type(value, struct fw_bitmap);
} fw_fields SEC(".maps");

/* Per slot and rule position: the rule's action. */
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, FW_SLOTS * FW_RULES_MAX); __type(key, __u32); __type(value, __u32); } fw_actions SEC(".maps");

/* Per slot and rule position, then the two defaults (FW_SLOTS * FW_RULES_MAX + chain). */
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, FW_SLOTS * FW_RULES_MAX + 2); __type(key, __u32); __type(value, struct fw_counter); } fw_counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct ct_key);
  __type(value, struct ct_value);
} fw_sessions SEC(".maps");

/* Seconds an idle flow is kept: not yet answered, and established by protocol. */
#define CT_TIMEOUT_NEW 30ULL
#define CT_TIMEOUT_TCP 432000ULL
#define CT_TIMEOUT_UDP 180ULL
#define CT_TIMEOUT_ICMP 30ULL

static __always_inline __u64 ct_timeout(__u32 proto, __u8 established) {
  if (!established) return CT_TIMEOUT_NEW;
  if (proto == IPPROTO_TCP) return CT_TIMEOUT_TCP;
  if (proto == IPPROTO_UDP) return CT_TIMEOUT_UDP;
  return CT_TIMEOUT_ICMP;
}

/* Index of the lowest set bit of x (x != 0), without branches: isolate the bit, then a de
 * Bruijn multiplication names it. Branches here would multiply the verifier's paths. */
static const __u8 fw_debruijn[64] = {
    0,  1,  48, 2,  57, 49, 28, 3,  61, 58, 50, 42, 38, 29, 17, 4,  62, 55, 59, 36, 53, 51,
    43, 22, 45, 39, 33, 30, 24, 18, 12, 5,  63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21,
    44, 32, 23, 11, 46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,  13, 8,  7,  6};

static __always_inline __u32 ctz64(__u64 x) {
  return fw_debruijn[((x & -x) * 0x03f79d71b4ca8b09ULL) >> 58];
}

static __always_inline struct fw_bitmap *field_lookup(__u32 slot, __u32 field, __u32 value) {
  struct fw_key k = {.slot_field = slot | (field << 8), .value = value};
  struct fw_bitmap *b = bpf_map_lookup_elem(&fw_fields, &k);
  if (b) return b;
  k.value = FW_WILDCARD;
  return bpf_map_lookup_elem(&fw_fields, &k);
}

static __always_inline void count(__u32 index, __u32 len) {
  struct fw_counter *c = bpf_map_lookup_elem(&fw_counters, &index);
  if (!c) return;
  __sync_fetch_and_add(&c->pkts, 1);
  __sync_fetch_and_add(&c->bytes, len);
}

static __always_inline int verdict(__u32 action) {
  return action == FW_FORWARD ? RX_OK : RX_DROP;
}

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  __u32 chain = md->in_port == PCN_EGRESS ? 1 : 0;
  __u32 len = md->packet_len;
  const __u32 need = sizeof(struct ethhdr) + sizeof(struct iphdr);
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
#ifdef PCN_TC
  const __u32 want = need + 40 + 20; /* room for IP options and a TCP header */
  if (data + want > data_end && data_end - data < ctx->len) {
    /* Headers outside the linear area: pull in what there is of them. */
    bpf_skb_pull_data(ctx, ctx->len < want ? ctx->len : want);
    data = (void *)(long)ctx->data;
    data_end = (void *)(long)ctx->data_end;
  }
#endif
  if (data + need > data_end) return RX_OK;
  struct ethhdr *eth = data;
  /* Like the original, only IPv4 is filtered: ARP and the rest go on. */
  if (eth->h_proto != bpf_htons(ETH_P_IP)) return RX_OK;
  struct iphdr *ip = data + sizeof(*eth);
  __u32 ihl = ip->ihl * 4;
  if (ihl < sizeof(struct iphdr)) return RX_DROP;

  __u32 proto = ip->protocol;
  __u32 sport = FW_WILDCARD, dport = FW_WILDCARD, flags = FW_WILDCARD;
  __u16 ct_sport = 0, ct_dport = 0;
  int l4 = !(ip->frag_off & bpf_htons(0x1fff)); /* first fragment (or none): L4 header present */
  void *l4h = (void *)ip + ihl;
  if (l4 && proto == IPPROTO_TCP) {
    if (l4h + 14 > data_end) return RX_DROP;
    ct_sport = *(__u16 *)l4h;
    ct_dport = *(__u16 *)(l4h + 2);
    sport = bpf_ntohs(ct_sport);
    dport = bpf_ntohs(ct_dport);
    flags = *(__u8 *)(l4h + 13);
  } else if (l4 && proto == IPPROTO_UDP) {
    if (l4h + 4 > data_end) return RX_DROP;
    ct_sport = *(__u16 *)l4h;
    ct_dport = *(__u16 *)(l4h + 2);
    sport = bpf_ntohs(ct_sport);
    dport = bpf_ntohs(ct_dport);
  } else if (l4 && proto == IPPROTO_ICMP) {
    if (l4h + 8 > data_end) return RX_DROP;
    __u8 type = *(__u8 *)l4h;
    if (type == 8 || type == 0) { /* echo: the identifier names the flow both ways */
      ct_sport = *(__u16 *)(l4h + 4);
      ct_dport = ct_sport;
    }
  }

  __u32 zero = 0;
  struct fw_config *cfg = bpf_map_lookup_elem(&fw_config, &zero);
  __u32 ct_state = FW_WILDCARD;
  struct ct_key ck = {};
  struct ct_value *cv = 0;
  __u64 now = 0;
  if (cfg && cfg->conntrack) {
    __u32 s = ip->saddr, d = ip->daddr;
    if (s < d || (s == d && ct_sport <= ct_dport)) {
      ck.ip_lo = s; ck.ip_hi = d; ck.port_lo = ct_sport; ck.port_hi = ct_dport;
    } else {
      ck.ip_lo = d; ck.ip_hi = s; ck.port_lo = ct_dport; ck.port_hi = ct_sport;
    }
    ck.proto = proto;
    now = bpf_ktime_get_ns();
    cv = bpf_map_lookup_elem(&fw_sessions, &ck);
    if (cv && now - cv->last_seen > ct_timeout(proto, cv->established) * 1000000000ULL) {
      bpf_map_delete_elem(&fw_sessions, &ck);
      cv = 0;
    }
    if (cv) {
      int reply = cv->initiator != s || cv->initiator_port != ct_sport;
      if (reply || cv->established) ct_state = CT_ESTABLISHED;
      else ct_state = CT_NEW;
      if (reply && !cv->established) cv->established = 1;
      if (ct_state == CT_ESTABLISHED) cv->last_seen = now;
    } else if (proto == IPPROTO_TCP && l4 && (flags & 0x12) != 0x02) {
      ct_state = CT_INVALID; /* TCP that does not open a connection, for a flow we never saw */
    } else {
      ct_state = CT_NEW;
    }
    if (ct_state == CT_ESTABLISHED && cfg->accept_established) return RX_OK;
  }

  struct fw_chain *ch = bpf_map_lookup_elem(&fw_active, &chain);
  if (!ch) return RX_OK;
  __u32 slot = (ch->gen & 1) << 1 | chain;
  __u32 default_action = ch->default_action;
  struct fw_gen *g = bpf_map_lookup_elem(&fw_gens, &slot);
  __u32 nwords = g ? g->nwords : 0;
  __u32 match = FW_RULES_MAX;

  if (nwords) {
    /* Every field is looked up, used by a rule or not (an unused one finds its all-ones
     * wildcard): one path into the scan, which keeps the verifier's work small. */
    struct fw_lpm_key ks = {.prefixlen = 64, .slot = slot, .addr = ip->saddr};
    struct fw_bitmap *bsrc = bpf_map_lookup_elem(&fw_src, &ks);
    if (!bsrc) goto nomatch;
    struct fw_lpm_key kd = {.prefixlen = 64, .slot = slot, .addr = ip->daddr};
    struct fw_bitmap *bdst = bpf_map_lookup_elem(&fw_dst, &kd);
    if (!bdst) goto nomatch;
    struct fw_bitmap *bproto = field_lookup(slot, FW_F_PROTO, proto);
    if (!bproto) goto nomatch;
    struct fw_bitmap *bsport = field_lookup(slot, FW_F_SPORT, sport);
    if (!bsport) goto nomatch;
    struct fw_bitmap *bdport = field_lookup(slot, FW_F_DPORT, dport);
    if (!bdport) goto nomatch;
    struct fw_bitmap *bflags = field_lookup(slot, FW_F_FLAGS, flags);
    if (!bflags) goto nomatch;
    struct fw_bitmap *bct = field_lookup(slot, FW_F_CT, ct_state);
    if (!bct) goto nomatch;

    __u64 hit = 0;
    __u32 word = 0;
#pragma clang loop unroll(disable)
    for (__u32 i = 0; i < FW_WORDS; i++) {
      if (i >= nwords) break;
      __u64 x = bsrc->w[i] & bdst->w[i] & bproto->w[i] & bsport->w[i] & bdport->w[i] & bflags->w[i] & bct->w[i];
      if (x) {
        hit = x;
        word = i;
        break;
      }
    }
    if (hit) match = word * 64 + ctz64(hit);
  }
nomatch:;

  __u32 action;
  if (match < FW_RULES_MAX) {
    __u32 index = slot * FW_RULES_MAX + match;
    __u32 *a = bpf_map_lookup_elem(&fw_actions, &index);
    action = a ? *a : FW_DROP;
    count(index, len);
    pcn_log(ctx, LOG_DEBUG, "chain %u (0 INGRESS, 1 EGRESS): rule %u matched, action %u (0 DROP, 1 FORWARD)", chain, match, action);
  } else {
    action = default_action;
    count(FW_SLOTS * FW_RULES_MAX + chain, len);
    pcn_log(ctx, LOG_DEBUG, "chain %u (0 INGRESS, 1 EGRESS): no rule matched, default action %u", chain, action);
  }

  if (action == FW_FORWARD && cfg && cfg->conntrack && !cv && ct_state == CT_NEW) {
    struct ct_value nv = {.last_seen = now, .initiator = ip->saddr, .initiator_port = ct_sport};
    bpf_map_update_elem(&fw_sessions, &ck, &nv, BPF_NOEXIST);
  } else if (action == FW_FORWARD && cv && ct_state == CT_NEW) {
    cv->last_seen = now;
  }
  return verdict(action);
}
