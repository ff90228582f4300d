// bridge datapath: an 802.1Q learning bridge.
//
// Every frame is classified into one VLAN on the way in: its tag's VLAN id when it carries one
// (TC: the kernel keeps the tag in skb->vlan_*; XDP, and frames the slow path injects: in the
// frame), else the port's untagged VLAN (access VLAN, or a trunk's native VLAN). A frame whose
// VLAN the port does not carry is dropped. port_vlan holds, per (port, VLAN), the spanning-tree
// state and whether the VLAN leaves that port tagged; the control plane keeps it in sync.
//
// In XDP_SKB mode a tag must be in the frame to be seen: a device that hands the kernel its
// tag beside the frame (VLAN offload) makes tagged frames look untagged to generic XDP.
//
// Learning and forwarding follow the port's state in that VLAN: LEARNING learns only,
// FORWARDING learns and forwards; data never leaves through a port that is not FORWARDING.
// BPDUs (01:80:c2:00:00:00) go to the slow path when spanning tree is on, whatever the state.
// Unknown, multicast and broadcast destinations go to the slow path, which floods them within
// the VLAN (a tail call reaches one port only; bpf_clone_redirect exists for TC netdevs only).
#include <polycube.h>

#define REASON_FLOODING 1
#define REASON_BPDU 2

/* Spanning-tree port states, shared with stp.ts. */
#define PS_DISABLED 0
#define PS_BLOCKING 1
#define PS_LISTENING 2
#define PS_LEARNING 3
#define PS_FORWARDING 4

struct port_cfg {
  /** VLAN of untagged frames: the access VLAN or the trunk's native VLAN; 0: refused. */
  __u16 untagged_vlan;
  __u16 valid;
};

struct pv_key {
  __u32 port;
  __u32 vlan;
};

struct pv_val {
  __u32 state;
  /** The VLAN leaves this port tagged. */
  __u32 tagged;
};

struct fdb_key {
  __u32 vlan;
  __u8 mac[6];
  __u16 pad;
};

struct bridge_cfg {
  __u32 aging_time;
  __u32 stp_enabled;
};

PCN_ARRAY(ports_cfg, struct port_cfg, PCN_MAX_PORTS);
PCN_HASH(port_vlan, struct pv_key, struct pv_val, 16384);
/* struct fdb_entry: bpf/polycube.h. */
PCN_HASH(fwdtable, struct fdb_key, struct fdb_entry, 8192);
PCN_ARRAY(config, struct bridge_cfg, 1);

/* Removes the frame's tag (kept aside by the kernel, or in the frame). 0 on success. */
static __always_inline int vlan_pop(CTXTYPE *ctx) {
#ifdef PCN_TC
  return bpf_skb_vlan_pop(ctx);
#else
  void *data = pcn_ptr(ctx, 0, 16);
  if (!data) return -1;
  __u8 macs[12];
  __builtin_memcpy(macs, data, 12);
  if (bpf_xdp_adjust_head(ctx, 4)) return -1;
  data = pcn_ptr(ctx, 0, 12);
  if (!data) return -1;
  __builtin_memcpy(data, macs, 12);
  return 0;
#endif
}

/* Adds an 802.1Q tag with this VLAN id to an untagged frame. 0 on success. */
static __always_inline int vlan_push(CTXTYPE *ctx, __u16 vlan) {
#ifdef PCN_TC
  return bpf_skb_vlan_push(ctx, bpf_htons(ETH_P_8021Q), vlan);
#else
  if (bpf_xdp_adjust_head(ctx, -4)) return -1;
  void *data = pcn_ptr(ctx, 0, 18);
  if (!data) return -1;
  __u8 macs[12];
  __builtin_memcpy(macs, data + 4, 12);
  __builtin_memcpy(data, macs, 12);
  /* The TPID and the TCI; the original ethertype stays right behind them. */
  *(__be16 *)(data + 12) = bpf_htons(ETH_P_8021Q);
  *(__be16 *)(data + 14) = bpf_htons(vlan);
  return 0;
#endif
}

static __always_inline int is_bpdu(const __u8 *d) {
  return d[0] == 0x01 && d[1] == 0x80 && d[2] == 0xc2 && d[3] == 0 && d[4] == 0 && d[5] == 0;
}

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  struct ethhdr *eth = pcn_eth(ctx);
  if (!eth) return pcn_pkt_drop(ctx, md);

  __u32 in = md->in_port;
  struct port_cfg *pc = bpf_map_lookup_elem(&ports_cfg, &in);
  if (!pc || !pc->valid) return pcn_pkt_drop(ctx, md);
  struct bridge_cfg *cfg = pcn_lookup0(&config);
  if (!cfg) return pcn_pkt_drop(ctx, md);

  /* Classification. */
  struct pcn_vlan tag;
  if (pcn_vlan(ctx, eth, &tag)) return pcn_pkt_drop(ctx, md);
  int tagged = tag.tagged;
  if (tagged && tag.vid == 0) {
    /* Priority-tagged: an untagged frame for VLAN purposes. */
    if (vlan_pop(ctx)) return pcn_pkt_drop(ctx, md);
    tagged = 0;
    eth = pcn_eth(ctx);
    if (!eth) return pcn_pkt_drop(ctx, md);
  }
  __u32 vlan = tagged ? tag.vid : pc->untagged_vlan;
  if (!vlan) {
    pcn_log(ctx, LOG_TRACE, "port %d: untagged frame refused", in);
    return pcn_pkt_drop(ctx, md);
  }
  struct pv_key ik = {.port = in, .vlan = vlan};
  struct pv_val *ipv = bpf_map_lookup_elem(&port_vlan, &ik);
  if (!ipv) {
    pcn_log(ctx, LOG_TRACE, "port %d: vlan %d not allowed", in, vlan);
    return pcn_pkt_drop(ctx, md);
  }

  __u32 meta[3] = {vlan, tagged, 0};
  if (is_bpdu(eth->h_dest) && cfg->stp_enabled) {
    pcn_log(ctx, LOG_TRACE, "port %d: BPDU on vlan %d", in, vlan);
    return pcn_pkt_controller_with_metadata(ctx, md, REASON_BPDU, meta);
  }
  __u32 state = ipv->state;
  if (state != PS_FORWARDING && state != PS_LEARNING) return pcn_pkt_drop(ctx, md);

  __u64 now = pcn_boot_seconds();
  struct fdb_key src = {.vlan = vlan};
  __builtin_memcpy(src.mac, eth->h_source, 6);
  if (!(src.mac[0] & 1)) pcn_fdb_learn(&fwdtable, &src, in, now);
  if (state != PS_FORWARDING) return pcn_pkt_drop(ctx, md);

  struct fdb_key dst = {.vlan = vlan};
  __builtin_memcpy(dst.mac, eth->h_dest, 6);
  if (!(dst.mac[0] & 1)) {
    struct fdb_entry *d = pcn_fdb_lookup(&fwdtable, &dst, now, cfg->aging_time);
    if (d) {
      __u32 out = d->port;
      if (out == in) return pcn_pkt_drop(ctx, md);
      struct pv_key ok = {.port = out, .vlan = vlan};
      struct pv_val *opv = bpf_map_lookup_elem(&port_vlan, &ok);
      if (!opv || opv->state != PS_FORWARDING) return pcn_pkt_drop(ctx, md);
      if (tagged && !opv->tagged) {
        if (vlan_pop(ctx)) return pcn_pkt_drop(ctx, md);
      } else if (!tagged && opv->tagged) {
        if (vlan_push(ctx, vlan)) return pcn_pkt_drop(ctx, md);
      }
      pcn_log(ctx, LOG_TRACE, "vlan %d: port %d -> port %d", vlan, in, out);
      return pcn_pkt_redirect(ctx, md, out);
    }
  }
  pcn_log(ctx, LOG_TRACE, "vlan %d: port %d: flooding", vlan, in);
  return pcn_pkt_controller_with_metadata(ctx, md, REASON_FLOODING, meta);
}
