// Benchmark sink: counts every frame that reaches the device and, apart, those of the test flow
// (IPv4/UDP to want_daddr:want_dport, as the generator sends them), then drops them all.
// Per CPU, no atomics.
#include "pcnb.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/in.h>

const volatile __u32 want_daddr = 0; /* network byte order */
const volatile __u16 want_dport = 0; /* network byte order */

struct sink_count {
  __u64 packets;
  __u64 flow;
};

PCNB_ONE_SLOT_MAP(sink_count, BPF_MAP_TYPE_PERCPU_ARRAY, struct sink_count);

static __always_inline int is_flow(void *data, void *end) {
  struct ethhdr *eth = data;
  struct iphdr *ip = data + sizeof(*eth);
  struct udphdr *udp = (void *)ip + sizeof(*ip);
  if ((void *)(udp + 1) > end) return 0;
  return eth->h_proto == __builtin_bswap16(ETH_P_IP) && ip->ihl == 5 && ip->protocol == IPPROTO_UDP &&
         ip->daddr == want_daddr && udp->dest == want_dport;
}

SEC("xdp") int pcnb_sink(struct xdp_md *ctx) {
  __u32 key = 0;
  struct sink_count *c = bpf_map_lookup_elem(&sink_count, &key);
  if (c) {
    c->packets++;
    c->flow += is_flow((void *)(long)ctx->data, (void *)(long)ctx->data_end);
  }
  return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
