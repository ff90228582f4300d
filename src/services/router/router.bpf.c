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

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, PCN_MAX_PORTS);
  __type(key, __u32);
  __type(value, struct r_port);
} router_port SEC(".maps");

/* Every address of every port (primary and secondary), network byte order -> port. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __type(key, __u32);
  __type(value, __u32);
} router_ips SEC(".maps");

/* ROUTES_SIZE in index.ts. */
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 65536);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct rt_key);
  __type(value, struct rt_entry);
} routing_table SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, __u32);
  __type(value, struct arp_entry);
} arp_table SEC(".maps");

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if (data + sizeof(*eth) > data_end) return pcn_pkt_drop(ctx, md);

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
  if (eth->h_proto != bpf_htons(ETH_P_IP) || bcast) return pcn_pkt_drop(ctx, md);

  struct iphdr *ip = data + sizeof(*eth);
  if ((void *)(ip + 1) > data_end || ip->ihl < 5) return pcn_pkt_drop(ctx, md);

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

  /* TTL decrement with an incremental header checksum update (RFC 1624): the TTL is the
   * high byte of its 16-bit word, so the word drops by 0x0100. */
  __u32 sum = (__u32)bpf_ntohs(ip->check) + 0x0100;
  sum = (sum & 0xffff) + (sum >> 16);
  ip->check = bpf_htons((__u16)sum);
  ip->ttl -= 1;

  __builtin_memcpy(eth->h_dest, arp->mac, 6);
  __builtin_memcpy(eth->h_source, oport->mac, 6);
  pcn_log(ctx, LOG_TRACE, "forward %I via port %d", daddr, out);
  return pcn_pkt_redirect(ctx, md, out);
}
