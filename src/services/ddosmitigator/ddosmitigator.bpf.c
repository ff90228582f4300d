// ddosmitigator datapath: drops IPv4 packets whose source or destination address is in a
// blacklist, counting the drops per address and in total. Like the original, it filters only
// the INGRESS direction (toward the netdev's stack or into the cube the port belongs to);
// EGRESS packets and everything that is not IPv4 go on untouched.
#define PCN_TRANSPARENT
#include <polycube.h>

#define BLACKLIST_MAX 1024

/* Which blacklists have entries: an empty list costs no hash lookup (the original reloaded
 * its code without the lookup instead). */
struct ddos_config {
  __u32 match_src;
  __u32 match_dst;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct ddos_config);
} config SEC(".maps");

/* Total drops, per CPU. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} dropcnt SEC(".maps");

/* Address (network byte order) -> packets dropped because of it, per CPU. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, BLACKLIST_MAX);
  __type(key, __u32);
  __type(value, __u64);
} srcblacklist SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, BLACKLIST_MAX);
  __type(key, __u32);
  __type(value, __u64);
} dstblacklist SEC(".maps");

static __always_inline int drop(CTXTYPE *ctx, __u64 *hits) {
  *hits += 1;
  __u32 zero = 0;
  __u64 *total = bpf_map_lookup_elem(&dropcnt, &zero);
  if (total) *total += 1;
  return RX_DROP;
}

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  if (md->in_port != PCN_INGRESS) return RX_OK;

  const __u32 need = sizeof(struct ethhdr) + sizeof(struct iphdr);
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
#ifdef PCN_TC
  if (data + need > data_end && ctx->len >= need) {
    /* Headers outside the linear area: pull them in. */
    if (bpf_skb_pull_data(ctx, need)) return RX_OK;
    data = (void *)(long)ctx->data;
    data_end = (void *)(long)ctx->data_end;
  }
#endif
  if (data + need > data_end) return RX_OK;
  struct ethhdr *eth = data;
  if (eth->h_proto != bpf_htons(ETH_P_IP)) return RX_OK;
  struct iphdr *ip = data + sizeof(*eth);

  __u32 zero = 0;
  struct ddos_config *cfg = bpf_map_lookup_elem(&config, &zero);
  if (!cfg) return RX_OK;

  if (cfg->match_src) {
    __u32 src = ip->saddr;
    __u64 *hits = bpf_map_lookup_elem(&srcblacklist, &src);
    if (hits) {
      pcn_log(ctx, LOG_DEBUG, "dropping packet from blacklisted source %I", src);
      return drop(ctx, hits);
    }
  }
  if (cfg->match_dst) {
    __u32 dst = ip->daddr;
    __u64 *hits = bpf_map_lookup_elem(&dstblacklist, &dst);
    if (hits) {
      pcn_log(ctx, LOG_DEBUG, "dropping packet to blacklisted destination %I", dst);
      return drop(ctx, hits);
    }
  }
  return RX_OK;
}
