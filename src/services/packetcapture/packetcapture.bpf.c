// packetcapture datapath: for each direction the control plane turned on in `config`, a copy of
// the packet (its first 2048 bytes at most) goes to the slow path, with the packet's real length
// in the metadata; the packet itself always goes on along the chain (RX_OK).
//
// pcn_pkt_controller_with_metadata() copies the packet into the ring buffer and returns RX_DROP
// for services that re-inject it themselves; the copy is made whatever this function returns,
// so returning RX_OK instead lets the original continue untouched.
#define PCN_TRANSPARENT
#include <polycube.h>

#define REASON_CAPTURE 0

struct pc_config {
  __u32 on[2]; /* by direction: PCN_INGRESS, PCN_EGRESS; 1 = capture */
};

PCN_ARRAY(config, struct pc_config, 1);

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  struct pc_config *cfg = pcn_lookup0(&config);
  if (!cfg) return RX_OK;
  __u32 on = md->in_port == PCN_EGRESS ? cfg->on[1] : cfg->on[0];
  if (on) {
    __u32 meta[3] = {md->packet_len, 0, 0};
    pcn_pkt_controller_with_metadata(ctx, md, REASON_CAPTURE, meta); /* a copy: the verdict is ours */
  }
  return RX_OK;
}
