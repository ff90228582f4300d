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

PCN_ARRAY(config, struct ddos_config, 1);
/* Total drops, per CPU. */
PCN_PERCPU_ARRAY(dropcnt, __u64, 1);
/* Address (network byte order) -> packets dropped because of it, per CPU. */
PCN_PERCPU_HASH(srcblacklist, __u32, __u64, BLACKLIST_MAX);
PCN_PERCPU_HASH(dstblacklist, __u32, __u64, BLACKLIST_MAX);

/* The drop counter of `addr` in `list` when the list is in use and holds the address. */
static __always_inline __u64 *listed(void *list, __u32 in_use, __u32 addr) {
  if (!in_use) return 0;
  return bpf_map_lookup_elem(list, &addr);
}

static __always_inline int drop(__u64 *hits) {
  *hits += 1;
  __u64 *total = pcn_lookup0(&dropcnt);
  if (total) *total += 1;
  return RX_DROP;
}

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  if (md->in_port != PCN_INGRESS) return RX_OK;

  if (pcn_pull(ctx, sizeof(struct ethhdr) + sizeof(struct iphdr))) return RX_OK;
  struct iphdr *ip = pcn_eth_ipv4(ctx);
  if (!ip) return RX_OK;
  struct ddos_config *cfg = pcn_lookup0(&config);
  if (!cfg) return RX_OK;

  __u32 src = ip->saddr, dst = ip->daddr;
  __u64 *hits = listed(&srcblacklist, cfg->match_src, src);
  if (hits) {
    pcn_log(ctx, LOG_DEBUG, "dropping packet from blacklisted source %I", src);
    return drop(hits);
  }
  hits = listed(&dstblacklist, cfg->match_dst, dst);
  if (hits) {
    pcn_log(ctx, LOG_DEBUG, "dropping packet to blacklisted destination %I", dst);
    return drop(hits);
  }
  return RX_OK;
}
