// Test program for src/lib/bpf: counts packets in an array map, returns a configurable
// verdict (a const volatile global), and writes a record per packet to a ring buffer.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 verdict = 0;
const volatile __u64 cookie = 0;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} percpu_counter SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} records SEC(".maps");

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
