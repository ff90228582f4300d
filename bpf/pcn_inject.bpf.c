// Packet-out from the slow path. User space writes a frame on the control-plane veth pair; this
// program, on the receiving end, sends it along the hop the frame was tagged with:
//   TC:  the hop is encoded in skb->mark (set with SO_MARK on the packet socket);
//   XDP: the hop precedes the frame as a struct pcn_inject_hdr, stripped here.
// Frames without a tag are not ours (the kernel's own chatter) and are dropped.
#define PCN_NO_SERVICE
#include <polycube.h>

#define PCN_INJECT_MAGIC 0x70636e69 /* "pcni", shared with src/lib/cube/injector.ts */
#define PCN_MARK_FLAG 0x80000000u

#ifdef PCN_XDP
struct pcn_inject_hdr {
  __u32 magic;
  struct pcn_hop hop;
};

SEC("xdp") int pcn_inject(struct xdp_md *ctx) {
  struct pcn_inject_hdr *h = pcn_ptr(ctx, 0, sizeof(*h));
  if (!h) return XDP_PASS;
  if (h->magic != PCN_INJECT_MAGIC) return XDP_PASS; /* a TC injection: the TC hook takes it */
  struct pcn_hop hop = h->hop;
  if (bpf_xdp_adjust_head(ctx, sizeof(*h))) return XDP_DROP;
  return pcn_follow_hop(ctx, &hop, 0);
}
#else
/* mark: flag | kind << 28 | (CUBE: index << 16 | port) or (NETDEV: ifindex) or (PASS: ifindex,
 * into that netdev's own stack, past its ingress chain) */
#define PCN_MARK_BYPASS (PCN_MARK_FLAG | (PCN_HOP_PASS << 28)) /* as pcn_entry.bpf.c */
SEC("tc") int pcn_inject(struct __sk_buff *skb) {
  __u32 mark = skb->mark;
  if (!(mark & PCN_MARK_FLAG)) return TC_ACT_SHOT;
  skb->mark = 0;
  struct pcn_hop hop = {.kind = (mark >> 28) & 0x7};
  if (hop.kind == PCN_HOP_CUBE) {
    hop.index = (mark >> 16) & 0x3ff;
    hop.port = mark & 0xffff;
  } else {
    hop.ifindex = mark & 0x0fffffff;
  }
  if (hop.kind == PCN_HOP_PASS && hop.ifindex) {
    /* The netdev's entry program lets a frame with this mark through untouched. */
    skb->mark = PCN_MARK_BYPASS;
    return bpf_redirect(hop.ifindex, BPF_F_INGRESS);
  }
  return pcn_follow_hop(skb, &hop, 0);
}
#endif
