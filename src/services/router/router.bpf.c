// router datapath: IPv4 forwarding with an LPM routing table and an ARP table filled by the
// slow path. Everything the datapath cannot finish goes to the slow path with a reason:
// ARP traffic, packets for the router's own addresses, expiring TTLs, missing routes and
// next hops not yet resolved (the slow path queues those and re-injects them once resolved).
#include <polycube.h>

#define REASON_ARP 1
#define REASON_ARP_LOOKUP_MISS 2
#define REASON_TTL_EXCEEDED 3
#define REASON_PKT_FOR_ROUTER 4
#define REASON_NO_ROUTE 5

struct r_port {
  __u8 mac[6];
  __u16 pad;
};

struct rt_key {
  __u32 prefixlen;
  __u32 ip; /* network byte order */
};

struct rt_entry {
  __u32 nexthop; /* network byte order; 0 for a connected network */
  __u32 port;
};

struct arp_entry {
  __u8 mac[6];
  __u16 pad;
  __u32 port;
};

PCN_HASH(router_port, __u32, struct r_port, PCN_MAX_PORTS);
/* Every address of every port (primary and secondary), network byte order -> port. */
PCN_HASH(router_ips, __u32, __u32, 256);
/* ROUTES_SIZE in index.ts. */
PCN_LPM(routing_table, struct rt_key, struct rt_entry, 65536);
PCN_HASH_NOPREALLOC(arp_table, __u32, struct arp_entry, 16384);

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  struct ethhdr *eth = pcn_eth(ctx);
  if (!eth) return pcn_pkt_drop(ctx, md);

  __u32 in = md->in_port;
  struct r_port *port = bpf_map_lookup_elem(&router_port, &in);
  if (!port) return pcn_pkt_drop(ctx, md);

  /* Only frames for this port's MAC, or broadcast ones. */
  int bcast = (eth->h_dest[0] & 1);
  if (!bcast && __builtin_memcmp(eth->h_dest, port->mac, 6) != 0) return pcn_pkt_drop(ctx, md);

  if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
    /* Shadow: the namespace's Linux speaks ARP for the port; the slow path still learns. */
    pcn_pkt_controller(ctx, md, REASON_ARP);
    if (pcn_is_shadow()) return pcn_pkt_redirect_ns(ctx, md, md->in_port);
    return RX_DROP;
  }
  struct iphdr *ip = pcn_eth_ipv4(ctx);
  if (!ip || bcast || ip->ihl < 5) return pcn_pkt_drop(ctx, md);

  __u32 daddr = ip->daddr;
  if (bpf_map_lookup_elem(&router_ips, &daddr)) {
    /* Shadow: packets for the router go to its namespace, as in the original. */
    if (pcn_is_shadow()) return pcn_pkt_redirect_ns(ctx, md, md->in_port);
    return pcn_pkt_controller(ctx, md, REASON_PKT_FOR_ROUTER);
  }
  if (ip->ttl <= 1) return pcn_pkt_controller(ctx, md, REASON_TTL_EXCEEDED);

  struct rt_key key = {.prefixlen = 32, .ip = daddr};
  struct rt_entry *rt = bpf_map_lookup_elem(&routing_table, &key);
  if (!rt) return pcn_pkt_controller(ctx, md, REASON_NO_ROUTE);

  __u32 nh = rt->nexthop ? rt->nexthop : daddr;
  __u32 out = rt->port;
  struct arp_entry *arp = bpf_map_lookup_elem(&arp_table, &nh);
  if (!arp) return pcn_pkt_controller(ctx, md, REASON_ARP_LOOKUP_MISS);
  struct r_port *oport = bpf_map_lookup_elem(&router_port, &out);
  if (!oport) return pcn_pkt_drop(ctx, md);

  /* TTL decrement, with the header checksum updated for the 16-bit word the TTL shares with
   * the protocol. */
  __u16 *ttl_word = (__u16 *)&ip->ttl;
  __u16 before = *ttl_word;
  ip->ttl -= 1;
  ip->check = pcn_csum_update16(ip->check, before, *ttl_word);

  __builtin_memcpy(eth->h_dest, arp->mac, 6);
  __builtin_memcpy(eth->h_source, oport->mac, 6);
  pcn_log(ctx, LOG_TRACE, "forward %I via port %d", daddr, out);
  return pcn_pkt_redirect(ctx, md, out);
}
