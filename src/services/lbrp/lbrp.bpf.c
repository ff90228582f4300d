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
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>

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

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct lb_conf);
} lb_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct svc_key);
  __type(value, struct svc_value);
} services SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, struct slot_key);
  __type(value, struct backend);
} backends SEC(".maps");

/* MULTI: the address of a FRONTEND port's client (network order) -> the port's id. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u32);
  __type(value, __u32);
} frontend_ports SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct flow_key);
  __type(value, struct flow_value);
} flows SEC(".maps");

#define ETH_LEN sizeof(struct ethhdr)

/* Rewrites the IPv4 address at ip_off+addr_off, fixing the IP checksum and the L4 one. */
static __always_inline int rewrite_addr(CTXTYPE *ctx, __u32 addr_off, __u32 from, __u32 to, __u8 proto, __u32 l4_off) {
  if (from == to) return 0;
#ifdef PCN_TC
  if (proto == IPPROTO_TCP)
    bpf_l4_csum_replace(ctx, l4_off + offsetof(struct tcphdr, check), from, to, BPF_F_PSEUDO_HDR | 4);
  else if (proto == IPPROTO_UDP)
    bpf_l4_csum_replace(ctx, l4_off + offsetof(struct udphdr, check), from, to, BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | 4);
  bpf_l3_csum_replace(ctx, ETH_LEN + offsetof(struct iphdr, check), from, to, 4);
  bpf_skb_store_bytes(ctx, ETH_LEN + addr_off, &to, 4, 0);
#else
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct iphdr *ip = data + ETH_LEN;
  if ((void *)(ip + 1) > data_end) return -1;
  if (proto == IPPROTO_TCP) {
    struct tcphdr *tcp = data + l4_off;
    if ((void *)(tcp + 1) > data_end) return -1;
    tcp->check = pcn_csum_update32(tcp->check, from, to);
  } else if (proto == IPPROTO_UDP) {
    struct udphdr *udp = data + l4_off;
    if ((void *)(udp + 1) > data_end) return -1;
    if (udp->check) {
      udp->check = pcn_csum_update32(udp->check, from, to);
      if (!udp->check) udp->check = 0xffff;
    }
  }
  ip->check = pcn_csum_update32(ip->check, from, to);
  if (addr_off == offsetof(struct iphdr, saddr)) ip->saddr = to;
  else ip->daddr = to;
#endif
  return 0;
}

/* Rewrites the TCP/UDP port at l4_off+port_off (0: source, 2: destination). */
static __always_inline int rewrite_port(CTXTYPE *ctx, __u32 l4_off, __u32 port_off, __u16 from, __u16 to, __u8 proto) {
  if (from == to || (proto != IPPROTO_TCP && proto != IPPROTO_UDP)) return 0;
#ifdef PCN_TC
  __u32 check = proto == IPPROTO_TCP ? offsetof(struct tcphdr, check) : offsetof(struct udphdr, check);
  __u64 flags = proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 | 2 : 2;
  bpf_l4_csum_replace(ctx, l4_off + check, from, to, flags);
  bpf_skb_store_bytes(ctx, l4_off + port_off, &to, 2, 0);
#else
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  __u16 *ports = data + l4_off;
  if ((void *)(ports + 2) > data_end) return -1;
  if (proto == IPPROTO_TCP) {
    struct tcphdr *tcp = data + l4_off;
    if ((void *)(tcp + 1) > data_end) return -1;
    tcp->check = pcn_csum_update16(tcp->check, from, to);
  } else {
    struct udphdr *udp = data + l4_off;
    if ((void *)(udp + 1) > data_end) return -1;
    if (udp->check) {
      udp->check = pcn_csum_update16(udp->check, from, to);
      if (!udp->check) udp->check = 0xffff;
    }
  }
  if (port_off == 0) ports[0] = to;
  else ports[1] = to;
#endif
  return 0;
}

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

static __always_inline struct l4_info l4_of(void *data, void *data_end, struct iphdr *ip, int request) {
  struct l4_info r = {};
  r.off = ETH_LEN + ip->ihl * 4;
  if (r.off > 60 + ETH_LEN) return r;
  void *l4 = data + r.off;
  if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
    __u16 *p = l4;
    if ((void *)(p + 2) > data_end) return r;
    r.sport = p[0];
    r.dport = p[1];
    r.ok = 1;
  } else if (ip->protocol == IPPROTO_ICMP) {
    struct icmp_echo *icmp = l4;
    if ((void *)(icmp + 1) > data_end) return r;
    if (icmp->type != (request ? ICMP_ECHO : ICMP_ECHOREPLY)) return r;
    r.ok = 1; /* ICMP flows are keyed by address only: ids stay as they are */
  }
  return r;
}

static __always_inline int from_frontend(CTXTYPE *ctx, struct pkt_metadata *md, struct lb_conf *conf) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return pcn_pkt_drop(ctx, md);
  if (eth->h_proto != bpf_htons(ETH_P_IP)) return pcn_pkt_redirect(ctx, md, conf->backend);
  struct iphdr *ip = data + ETH_LEN;
  if ((void *)(ip + 1) > data_end || ip->ihl < 5) return pcn_pkt_redirect(ctx, md, conf->backend);
  if (ip->frag_off & bpf_htons(0x1fff)) return pcn_pkt_redirect(ctx, md, conf->backend);
  struct l4_info l4 = l4_of(data, data_end, ip, 1);
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

  if (rewrite_addr(ctx, offsetof(struct iphdr, daddr), daddr, bip, proto, l4.off) < 0) return pcn_pkt_drop(ctx, md);
  if (rewrite_addr(ctx, offsetof(struct iphdr, saddr), saddr, client, proto, l4.off) < 0) return pcn_pkt_drop(ctx, md);
  if (proto != IPPROTO_ICMP && rewrite_port(ctx, l4.off, 2, l4.dport, bport, proto) < 0) return pcn_pkt_drop(ctx, md);
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
static __always_inline int non_ip_from_backend(CTXTYPE *ctx, struct pkt_metadata *md, struct lb_conf *conf, struct ethhdr *eth, void *data_end) {
  if (!conf->multi) return pcn_pkt_redirect(ctx, md, conf->frontend);
  if (eth->h_proto != bpf_htons(ETH_P_ARP)) return pcn_pkt_controller(ctx, md, REASON_FLOODING);
  /* Ethernet/IPv4 ARP: 8 bytes of header, sender MAC and address, target MAC, target address. */
  __u8 *arp = (__u8 *)(eth + 1);
  if ((void *)(arp + 28) > data_end) return pcn_pkt_drop(ctx, md);
  __u32 tip;
  __builtin_memcpy(&tip, arp + 24, 4);
  return to_frontend(ctx, md, conf, tip);
}

static __always_inline int from_backend(CTXTYPE *ctx, struct pkt_metadata *md, struct lb_conf *conf) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return pcn_pkt_drop(ctx, md);
  if (eth->h_proto != bpf_htons(ETH_P_IP)) return non_ip_from_backend(ctx, md, conf, eth, data_end);
  struct iphdr *ip = data + ETH_LEN;
  if ((void *)(ip + 1) > data_end) return conf->multi ? pcn_pkt_drop(ctx, md) : pcn_pkt_redirect(ctx, md, conf->frontend);
  if (ip->ihl < 5 || (ip->frag_off & bpf_htons(0x1fff))) return to_frontend(ctx, md, conf, ip->daddr);
  struct l4_info l4 = l4_of(data, data_end, ip, 0);
  if (!l4.ok) return to_frontend(ctx, md, conf, ip->daddr);

  __u8 proto = ip->protocol;
  __u32 saddr = ip->saddr, daddr = ip->daddr;
  struct flow_key fk = {.backend_ip = saddr, .client_ip = daddr, .backend_port = l4.sport, .client_port = l4.dport, .proto = proto};
  struct flow_value *fv = bpf_map_lookup_elem(&flows, &fk);
  if (!fv) return to_frontend(ctx, md, conf, daddr);
  __u32 vip = fv->vip, client = fv->client_ip;
  __u16 vport = fv->vport;

  if (rewrite_addr(ctx, offsetof(struct iphdr, saddr), saddr, vip, proto, l4.off) < 0) return pcn_pkt_drop(ctx, md);
  if (rewrite_addr(ctx, offsetof(struct iphdr, daddr), daddr, client, proto, l4.off) < 0) return pcn_pkt_drop(ctx, md);
  if (proto != IPPROTO_ICMP && rewrite_port(ctx, l4.off, 0, l4.sport, vport, proto) < 0) return pcn_pkt_drop(ctx, md);
  pcn_log(ctx, LOG_TRACE, "SNAT %I -> %I:%P", saddr, vip, vport);
  return to_frontend(ctx, md, conf, client);
}

static __always_inline int handle_rx(CTXTYPE *ctx, struct pkt_metadata *md) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  if (data + ETH_LEN > data_end) return pcn_pkt_drop(ctx, md);
  __u32 zero = 0;
  struct lb_conf *conf = bpf_map_lookup_elem(&lb_config, &zero);
  if (!conf || conf->backend == NO_PORT || (!conf->multi && conf->frontend == NO_PORT)) return pcn_pkt_drop(ctx, md);
  if (md->in_port == conf->backend) return from_backend(ctx, md, conf);
  /* MULTI: every other port is a FRONTEND port */
  if (conf->multi || md->in_port == conf->frontend) return from_frontend(ctx, md, conf);
  return pcn_pkt_drop(ctx, md);
}
