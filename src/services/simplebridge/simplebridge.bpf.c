// simplebridge datapath: learns source MACs (MAC -> port, last-seen time), forwards known
// unicast destinations, and sends everything else to the slow path, which floods it on every
// other port (a tail call can go to one port only, and bpf_clone_redirect exists for TC only).
#include <polycube.h>

#define REASON_FLOODING 1

struct mac_key {
  __u8 addr[6];
  __u16 pad;
};

struct bridge_config {
  /** Seconds after which a learned entry is no longer used. */
  __u32 aging_time;
};

/* FDB_SIZE in fdb.ts (struct fdb_entry: bpf/polycube.h). */
PCN_HASH_NOPREALLOC(fwdtable, struct mac_key, struct fdb_entry, 65536);
PCN_ARRAY(config, struct bridge_config, 1);

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  struct ethhdr *eth = pcn_eth(ctx);
  if (!eth) return pcn_pkt_drop(ctx, md);

  struct bridge_config *cfg = pcn_lookup0(&config);
  __u64 aging = cfg ? cfg->aging_time : 300;
  __u64 now = pcn_boot_seconds();
  __u32 in = md->in_port;

  struct mac_key src = {};
  __builtin_memcpy(src.addr, eth->h_source, 6);
  if (!(src.addr[0] & 1)) pcn_fdb_learn(&fwdtable, &src, in, now);

  struct mac_key dst = {};
  __builtin_memcpy(dst.addr, eth->h_dest, 6);
  struct fdb_entry *d = pcn_fdb_lookup(&fwdtable, &dst, now, aging);
  if (d) {
    __u32 out = d->port;
    if (out == in) {
      pcn_log(ctx, LOG_TRACE, "destination is on the input port %d: drop", in);
      return pcn_pkt_drop(ctx, md);
    }
    pcn_log(ctx, LOG_TRACE, "port %d -> port %d", in, out);
    return pcn_pkt_redirect(ctx, md, out);
  }
  pcn_log(ctx, LOG_TRACE, "port %d: unknown destination, flooding", in);
  return pcn_pkt_controller(ctx, md, REASON_FLOODING);
}
