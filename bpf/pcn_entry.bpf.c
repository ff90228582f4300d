// The entry of a netdev into a chain: attached at a netdev's TC ingress (or egress) hook or as
// its XDP program, it follows the one hop the control plane keeps in pcn_peers[0]: into the
// cube port or transparent cube the netdev is linked to, or on to the stack.
#define PCN_NO_SERVICE
#include <polycube.h>

/* Frames the slow path writes past a netdev's egress chain (src/lib/cube/injector.ts). */
#define PCN_MARK_BYPASS (0x80000000u | (PCN_HOP_PASS << 28))

SEC(PCN_SEC) int pcn_entry(CTXTYPE *ctx) {
#ifdef PCN_TC
  if (ctx->mark == PCN_MARK_BYPASS) {
    ctx->mark = 0;
    return TC_ACT_OK;
  }
#endif
  struct pcn_hop *hop = pcn_lookup0(&pcn_peers);
  if (hop && hop->kind == PCN_HOP_CUBE && pcn_md_init(ctx, hop->port)) return RX_DROP;
  return pcn_follow_hop(ctx, hop, 0);
}
