// Test program for src/lib/bpf: counts packets in an array map, returns a configurable
// verdict (a const volatile global), and writes a record per packet to a ring buffer.
#define PCN_MAPS_ONLY
#include <polycube.h>

const volatile __u32 verdict = 0;
const volatile __u64 cookie = 0;

PCN_ARRAY(counters, __u64, 2);
PCN_PERCPU_ARRAY(percpu_counter, __u64, 1);
PCN_RINGBUF(records, 4096);

struct record {
  __u64 cookie;
  __u32 len;
  __u32 seq;
};

static __always_inline void count(__u32 len) {
  __u32 k = 0;
  __u64 *c = bpf_map_lookup_elem(&counters, &k);
  if (c) __sync_fetch_and_add(c, 1);
  k = 1;
  c = bpf_map_lookup_elem(&counters, &k);
  if (c) __sync_fetch_and_add(c, len);
  k = 0;
  c = bpf_map_lookup_elem(&percpu_counter, &k);
  if (c) *c += 1;
  struct record *r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
  if (r) {
    r->cookie = cookie;
    r->len = len;
    r->seq = 0;
    bpf_ringbuf_submit(r, 0);
  }
}

#ifdef PCN_XDP
SEC("xdp") int test_counter(struct xdp_md *ctx) {
  count(ctx->data_end - ctx->data);
  return verdict;
}
#else
SEC("tc") int test_counter(struct __sk_buff *skb) {
  count(skb->len);
  return verdict;
}
#endif

char _license[] SEC("license") = "GPL";
