// transparenthelloworld datapath: one action per direction, as the control plane sets it in
// `config`: let the packet go on along the chain (PASS), drop it, or hand it to the slow path,
// which logs it and sends it on along the chain itself. Built as a transparent service: the
// same handle_rx runs for both directions, with the direction in md->in_port.
#define PCN_TRANSPARENT
#include <polycube.h>

#define ACTION_DROP 0
#define ACTION_PASS 1
#define ACTION_SLOWPATH 2

#define REASON_SLOWPATH 0

struct thw_config {
  __u32 action[2]; /* by direction: PCN_INGRESS, PCN_EGRESS */
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct thw_config);
} config SEC(".maps");

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  __u32 zero = 0;
  struct thw_config *cfg = bpf_map_lookup_elem(&config, &zero);
  __u32 action = ACTION_PASS;
  if (cfg) action = md->in_port == PCN_EGRESS ? cfg->action[1] : cfg->action[0];

  /* pcn_log takes a literal format, so each direction has its own lines. */
  if (md->in_port == PCN_EGRESS) {
    switch (action) {
    case ACTION_DROP:
      pcn_log(ctx, LOG_DEBUG, "[EGRESS] dropping packet");
      return RX_DROP;
    case ACTION_SLOWPATH:
      pcn_log(ctx, LOG_DEBUG, "[EGRESS] sending packet to slow path");
      return pcn_pkt_controller(ctx, md, REASON_SLOWPATH);
    default:
      pcn_log(ctx, LOG_DEBUG, "[EGRESS] passing packet");
      return RX_OK;
    }
  }
  switch (action) {
  case ACTION_DROP:
    pcn_log(ctx, LOG_DEBUG, "[INGRESS] dropping packet");
    return RX_DROP;
  case ACTION_SLOWPATH:
    pcn_log(ctx, LOG_DEBUG, "[INGRESS] sending packet to slow path");
    return pcn_pkt_controller(ctx, md, REASON_SLOWPATH);
  default:
    pcn_log(ctx, LOG_DEBUG, "[INGRESS] passing packet");
    return RX_OK;
  }
}
