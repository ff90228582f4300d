// The smallest program of each kind: the baseline for benchmarks and a load test for the build.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifdef PCN_XDP
SEC("xdp") int pcn_empty(struct xdp_md *ctx) { return XDP_PASS; }
#else
SEC("tc") int pcn_empty(struct __sk_buff *skb) { return 0; /* TC_ACT_OK */ }
#endif

char _license[] SEC("license") = "GPL";
