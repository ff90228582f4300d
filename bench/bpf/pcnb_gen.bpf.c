// Benchmark traffic source, run by BPF_PROG_TEST_RUN in XDP live-frames mode
// (BPF_F_TEST_XDP_LIVE_FRAMES). The kernel recycles the same pages between sends and does not
// restore their contents, and a forwarding path (bridge, router) rewrites headers in place, so
// the program writes the whole frame from the configuration map on every run, then redirects
// it to a netdev (or drops it, to measure the source alone).
#include "pcnb.h"

#define FRAME_LEN 60 /* smallest Ethernet frame without FCS */

enum { GEN_REDIRECT = 0, GEN_DROP = 1 };

struct gen_cfg {
  __u32 ifindex; /* redirect target, in the namespace the test run is made from */
  __u32 action;  /* GEN_REDIRECT or GEN_DROP */
  __u64 frame[8]; /* FRAME_LEN bytes used: Ethernet + IPv4 + UDP + padding */
};

PCNB_ONE_SLOT_MAP(gen_cfg, BPF_MAP_TYPE_ARRAY, struct gen_cfg);

SEC("xdp") int pcnb_gen(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  __u32 key = 0;
  struct gen_cfg *c = bpf_map_lookup_elem(&gen_cfg, &key);
  if (!c || data + FRAME_LEN > end) return XDP_ABORTED;
  __u64 *w = data;
#pragma unroll
  for (int i = 0; i < 7; i++) w[i] = c->frame[i];
  *(__u32 *)(data + 56) = (__u32)c->frame[7];
  if (c->action == GEN_DROP) return XDP_DROP;
  return bpf_redirect(c->ifindex, 0);
}

char _license[] SEC("license") = "GPL";
