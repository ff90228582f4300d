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

PCN_ARRAY(config, struct thw_config, 1);

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  struct thw_config *cfg = pcn_lookup0(&config);
  __u32 action = ACTION_PASS;
  if (cfg) action = md->in_port == PCN_EGRESS ? cfg->action[1] : cfg->action[0];

  switch (action) {
  case ACTION_DROP:
    pcn_log_dir(ctx, LOG_DEBUG, md->in_port, "dropping packet");
    return RX_DROP;
  case ACTION_SLOWPATH:
    pcn_log_dir(ctx, LOG_DEBUG, md->in_port, "sending packet to slow path");
    return pcn_pkt_controller(ctx, md, REASON_SLOWPATH);
  default:
    pcn_log_dir(ctx, LOG_DEBUG, md->in_port, "passing packet");
    return RX_OK;
  }
}
