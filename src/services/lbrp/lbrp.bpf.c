// lbrp datapath: a reverse-proxy load balancer sitting in L2 between its FRONTEND ports
// (clients) and a BACKEND port (servers). A frame from a frontend to a service (vip, vport,
// proto) gets the destination of a backend picked by a hash of its flow (DNAT, weights as slots);
// the backend's replies get the vip back (SNAT), found in a table of the flows DNATed so far.
// Everything else (ARP, other addresses, other protocols) crosses unchanged.
// SINGLE port_mode: one frontend port, all the backend's frames go out of it. MULTI: several
// frontend ports, each with the address of its client (frontend_ports); a frame from the backend
// goes out of the port of its destination (ARP: of its target address), and is dropped when none
// has it; frames that are neither IPv4 nor ARP are flooded to the frontends by the slow path.
#include <polycube.h>

/* The head of an ICMP echo message (linux/icmp.h pulls in libc headers). */
struct icmp_echo {
  __u8 type;
  __u8 code;
  __u16 checksum;
  __u16 id;
  __u16 seq;
};
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8

#define NO_PORT 0xffffffff
#define REASON_FLOODING 1

/* Shared with index.ts. */
struct lb_conf {
  __u32 frontend; /* port id, NO_PORT when there is none */
  __u32 backend;
  __u32 rw_from;  /* src-ip-rewrite: client range (network order), mask, new range; mask 0: off */
  __u32 rw_mask;
  __u32 rw_to;
  __u32 multi;    /* port_mode MULTI: the frontend port of a frame is found in frontend_ports */
};

struct svc_key {
  __u32 vip;    /* network order */
  __u16 vport;  /* network order; 0 for ICMP */
  __u8 proto;
  __u8 pad;
};

struct svc_value {
  __u32 slots; /* how many backend slots the service has; 0: no backend */
};

struct slot_key {
  struct svc_key svc;
  __u32 slot;
};

struct backend {
  __u32 ip;    /* network order */
  __u16 port;  /* network order */
  __u16 pad;
};

/* A DNATed flow as the backend's replies show it. */
struct flow_key {
  __u32 backend_ip;
  __u32 client_ip;   /* as the backend sees it (after src-ip-rewrite) */
  __u16 backend_port;
  __u16 client_port;
  __u8 proto;
  __u8 pad[3];
};

struct flow_value {
  __u32 vip;
  __u32 client_ip;   /* the client's own address */
  __u16 vport;
  __u16 pad;
};

PCN_ARRAY(lb_config, struct lb_conf, 1);
PCN_HASH(services, struct svc_key, struct svc_value, 1024);
PCN_HASH(backends, struct slot_key, struct backend, 65536);
/* MULTI: the address of a FRONTEND port's client (network order) -> the port's id. */
PCN_HASH(frontend_ports, __u32, __u32, 1024);
PCN_LRU_HASH(flows, struct flow_key, struct flow_value, 65536);

#define ETH_LEN sizeof(struct ethhdr)
#define SADDR offsetof(struct iphdr, saddr)
#define DADDR offsetof(struct iphdr, daddr)

static __always_inline __u32 flow_hash(__u32 saddr, __u16 sport, __u8 proto) {
  __u32 h = bpf_ntohl(saddr) * 0x9e3779b1u;
  h ^= ((__u32)bpf_ntohs(sport) << 8) ^ proto;
  h ^= h >> 15;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

/* The L4 ports of a flow: TCP/UDP source and destination, or the ICMP echo id as the source. */
struct l4_info {
  __u32 off;
  __u16 sport;
  __u16 dport;
  __u8 ok;
};

static __always_inline struct l4_info l4_of(CTXTYPE *ctx, struct iphdr *ip, int request) {
  struct l4_info r = {};
  r.off = ETH_LEN + ip->ihl * 4;
  if (r.off > 60 + ETH_LEN) return r;
  if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
    __u16 *p = pcn_l4(ctx, ip, 4);
    if (!p) return r;
    r.sport = p[0];
    r.dport = p[1];
    r.ok = 1;
  } else if (ip->protocol == IPPROTO_ICMP) {
    struct icmp_echo *icmp = pcn_l4(ctx, ip, sizeof(struct icmp_echo));
    if (!icmp) return r;
    if (icmp->type != (request ? ICMP_ECHO : ICMP_ECHOREPLY)) return r;
    r.ok = 1; /* ICMP flows are keyed by address only: ids stay as they are */
  }
  return r;
}

static __always_inline int from_frontend(CTXTYPE *ctx, struct pkt_metadata *md, struct lb_conf *conf) {
  struct iphdr *ip = pcn_eth_ipv4(ctx); /* handle_rx has seen the Ethernet header */
  if (!ip || ip->ihl < 5) return pcn_pkt_redirect(ctx, md, conf->backend);
  if (ip->frag_off & bpf_htons(0x1fff)) return pcn_pkt_redirect(ctx, md, conf->backend);
  struct l4_info l4 = l4_of(ctx, ip, 1);
  if (!l4.ok) return pcn_pkt_redirect(ctx, md, conf->backend);

  __u8 proto = ip->protocol;
  __u32 saddr = ip->saddr, daddr = ip->daddr;
  struct svc_key sk = {.vip = daddr, .vport = l4.dport, .proto = proto};
  struct svc_value *sv = bpf_map_lookup_elem(&services, &sk);
  if (!sv || !sv->slots) return pcn_pkt_redirect(ctx, md, conf->backend);

  struct slot_key slk = {.svc = sk, .slot = flow_hash(saddr, l4.sport, proto) % sv->slots};
  struct backend *be = bpf_map_lookup_elem(&backends, &slk);
  if (!be) return pcn_pkt_redirect(ctx, md, conf->backend);
  __u32 bip = be->ip;
  __u16 bport = proto == IPPROTO_ICMP ? 0 : be->port;

  __u32 client = saddr;
  if (conf->rw_mask && (saddr & conf->rw_mask) == conf->rw_from) client = conf->rw_to | (saddr & ~conf->rw_mask);

  struct flow_key fk = {.backend_ip = bip, .client_ip = client, .backend_port = bport, .client_port = l4.sport, .proto = proto};
  struct flow_value fv = {.vip = daddr, .client_ip = saddr, .vport = l4.dport};
  bpf_map_update_elem(&flows, &fk, &fv, BPF_ANY);

  /* Checksums: bpf/polycube.h; a packet they fail on is dropped (it may be half rewritten). */
  if (pcn_set_ipv4_addr(ctx, ETH_LEN, l4.off, proto, DADDR, daddr, bip)) return pcn_pkt_drop(ctx, md);
  if (pcn_set_ipv4_addr(ctx, ETH_LEN, l4.off, proto, SADDR, saddr, client)) return pcn_pkt_drop(ctx, md);
  if (proto != IPPROTO_ICMP && pcn_set_l4_port(ctx, l4.off, proto, 2, l4.dport, bport)) return pcn_pkt_drop(ctx, md);
  pcn_log(ctx, LOG_TRACE, "DNAT %I -> %I:%P", daddr, bip, bport);
  return pcn_pkt_redirect(ctx, md, conf->backend);
}

/* A frame from the backend out of the frontend port of `dst`: the only one (SINGLE), or the one
 * whose client has that address (MULTI); dropped when there is none. */
static __always_inline int to_frontend(CTXTYPE *ctx, struct pkt_metadata *md, struct lb_conf *conf, __u32 dst) {
  if (!conf->multi) return pcn_pkt_redirect(ctx, md, conf->frontend);
  __u32 *port = bpf_map_lookup_elem(&frontend_ports, &dst);
  if (!port) {
    pcn_log(ctx, LOG_TRACE, "no FRONTEND port for %I: dropped", dst);
    return pcn_pkt_drop(ctx, md);
  }
  return pcn_pkt_redirect(ctx, md, *port);
}

/* A frame from the backend that is not IPv4: ARP goes to the frontend of its target address;
 * in MULTI mode the rest is flooded to the frontends by the slow path. */
static __always_inline int non_ip_from_backend(CTXTYPE *ctx, struct pkt_metadata *md, struct lb_conf *conf, struct ethhdr *eth) {
  if (!conf->multi) return pcn_pkt_redirect(ctx, md, conf->frontend);
  if (eth->h_proto != bpf_htons(ETH_P_ARP)) return pcn_pkt_controller(ctx, md, REASON_FLOODING);
  /* Ethernet/IPv4 ARP: 8 bytes of header, sender MAC and address, target MAC, target address. */
  __u8 *arp = pcn_ptr(ctx, ETH_LEN, 28);
  if (!arp) return pcn_pkt_drop(ctx, md);
  __u32 tip;
  __builtin_memcpy(&tip, arp + 24, 4);
  return to_frontend(ctx, md, conf, tip);
}

static __always_inline int from_backend(CTXTYPE *ctx, struct pkt_metadata *md, struct lb_conf *conf) {
  struct ethhdr *eth = pcn_eth(ctx);
  if (!eth) return pcn_pkt_drop(ctx, md);
  if (eth->h_proto != bpf_htons(ETH_P_IP)) return non_ip_from_backend(ctx, md, conf, eth);
  struct iphdr *ip = pcn_ipv4(ctx, ETH_LEN);
  if (!ip) return conf->multi ? pcn_pkt_drop(ctx, md) : pcn_pkt_redirect(ctx, md, conf->frontend);
  if (ip->ihl < 5 || (ip->frag_off & bpf_htons(0x1fff))) return to_frontend(ctx, md, conf, ip->daddr);
  struct l4_info l4 = l4_of(ctx, ip, 0);
  if (!l4.ok) return to_frontend(ctx, md, conf, ip->daddr);

  __u8 proto = ip->protocol;
  __u32 saddr = ip->saddr, daddr = ip->daddr;
  struct flow_key fk = {.backend_ip = saddr, .client_ip = daddr, .backend_port = l4.sport, .client_port = l4.dport, .proto = proto};
  struct flow_value *fv = bpf_map_lookup_elem(&flows, &fk);
  if (!fv) return to_frontend(ctx, md, conf, daddr);
  __u32 vip = fv->vip, client = fv->client_ip;
  __u16 vport = fv->vport;

  if (pcn_set_ipv4_addr(ctx, ETH_LEN, l4.off, proto, SADDR, saddr, vip)) return pcn_pkt_drop(ctx, md);
  if (pcn_set_ipv4_addr(ctx, ETH_LEN, l4.off, proto, DADDR, daddr, client)) return pcn_pkt_drop(ctx, md);
  if (proto != IPPROTO_ICMP && pcn_set_l4_port(ctx, l4.off, proto, 0, l4.sport, vport)) return pcn_pkt_drop(ctx, md);
  pcn_log(ctx, LOG_TRACE, "SNAT %I -> %I:%P", saddr, vip, vport);
  return to_frontend(ctx, md, conf, client);
}

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  if (!pcn_eth(ctx)) return pcn_pkt_drop(ctx, md);
  struct lb_conf *conf = pcn_lookup0(&lb_config);
  if (!conf || conf->backend == NO_PORT || (!conf->multi && conf->frontend == NO_PORT)) return pcn_pkt_drop(ctx, md);
  if (md->in_port == conf->backend) return from_backend(ctx, md, conf);
  /* MULTI: every other port is a FRONTEND port */
  if (conf->multi || md->in_port == conf->frontend) return from_frontend(ctx, md, conf);
  return pcn_pkt_drop(ctx, md);
}
