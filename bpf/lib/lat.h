/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0) */
/*
 * lat.h - per-hop latency (zh_abi.h: enum zh_hop). Two calls, one per kind
 * of hop:
 *
 *   zh_lat_from_pod()  the egress hop, after the fast path decided: times a
 *                      probe from its sender's clock and stamps the flow
 *                      (probe or 1-in-N sample) with where it went.
 *   zh_lat_to_pod()    a pod's own interface: finds the flow's stamp and
 *                      records deliver or kernel (afxdp when the frame
 *                      goes into an AF_XDP socket).
 *
 * Both start with one read of zh_config (an array lookup the verifier
 * inlines): with probes and sampling off they return there. Only the linear
 * part of a packet is read; a probe whose payload is not in it goes untimed.
 */
#ifndef ZH_LAT_H
#define ZH_LAT_H

#include <linux/in.h>
#include <linux/udp.h>
#include "parse.h"
#include "maps.h"
#include "kfeat.h"

/* Sampling draws a random number in tc and XDP programs alike: without the
 * helper in both, only probes are timed (zerohopd refuses --sample). */
static __always_inline int zh_lat_can_sample(void)
{
	return zh_kernel_has(TC_GET_PRANDOM_U32) &&
	       zh_kernel_has(XDP_GET_PRANDOM_U32);
}

/* The settings, when probes or sampling are on; NULL: no latency work. */
static __always_inline struct zh_config *zh_lat_cfg(void)
{
	struct zh_config *cfg = zh_cfg();

	if (!cfg || !((cfg->flags & ZH_CFG_F_PROBES) | cfg->sample_every))
		return NULL;
	return cfg;
}

static __always_inline void zh_lat_record(__u32 hop, __u32 src, __u64 ns)
{
	__u32 slot = ZH_LAT_SLOT(hop, src);
	struct zh_hist *h;

	if (ns > ZH_LAT_MAX_NS)
		return;
	h = bpf_map_lookup_elem(&zh_lat, &slot);
	if (h)
		zh_hist_record(h, ns);
}

/*
 * Fill @key from an IPv4/IPv6 packet and, when it is a UDP probe, @tx_ns
 * with its send time (else 0). Returns 0, or -1 for anything else.
 */
static __always_inline int zh_lat_parse(void *data, void *data_end,
					struct zh_flow_key *key, __u64 *tx_ns)
{
	struct zh_probe *probe;
	struct zh_flow f = {};

	*tx_ns = 0;
	if (zh_flow_parse(data, data_end, &f))
		return -1;
	key->family = f.family;
	key->proto = f.proto;
	__builtin_memcpy(key->saddr, f.saddr, sizeof(key->saddr));
	__builtin_memcpy(key->daddr, f.daddr, sizeof(key->daddr));
	if (!(f.flags & ZH_FLOW_F_PORTS))
		return 0;
	key->sport = f.sport;
	key->dport = f.dport;
	if (f.proto != IPPROTO_UDP)
		return 0;
	probe = zh_hdr(data, data_end, f.l4_off + sizeof(struct udphdr),
		       sizeof(*probe));
	if (probe && probe->magic == ZH_PROBE_MAGIC)
		*tx_ns = probe->tx_ns;
	return 0;
}

/*
 * Only unicast IP that was routed, by us or by the kernel, can arrive at
 * another pod: link-local and multicast control traffic (ND, MLD, DAD, all
 * sharing addresses across pods) would only leave stale stamps behind.
 */
static __always_inline int zh_lat_routed(int stat)
{
	return stat == ZH_STAT_REDIRECT || stat == ZH_STAT_PASS_NO_ENDPOINT ||
	       stat == ZH_STAT_PASS_TTL || stat == ZH_STAT_PASS_IP_OPTIONS;
}

static __always_inline void zh_lat_from_pod(void *data, void *data_end,
					    int stat)
{
	struct zh_config *cfg = zh_lat_cfg();
	struct zh_flow_key key = {};
	struct zh_lat_stamp st = {};
	__u64 tx_ns, now;

	if (!cfg || !zh_lat_routed(stat))
		return;
	if (zh_lat_parse(data, data_end, &key, &tx_ns))
		return;
	st.hop = stat == ZH_STAT_REDIRECT ? ZH_HOP_DELIVER : ZH_HOP_KERNEL;
	/* The clock only for a packet timed: reading it costs more than
	 * everything else here. */
	if (tx_ns && (cfg->flags & ZH_CFG_F_PROBES)) {
		now = bpf_ktime_get_ns();
		if (tx_ns > now)
			return; /* not our clock: another host's probe */
		zh_lat_record(ZH_HOP_EGRESS, ZH_LAT_PROBE, now - tx_ns);
		st.src = ZH_LAT_PROBE;
		st.origin_ns = tx_ns;
	} else if (cfg->sample_every && zh_lat_can_sample() &&
		   bpf_get_prandom_u32() % cfg->sample_every == 0) {
		st.src = ZH_LAT_SAMPLE;
		st.origin_ns = bpf_ktime_get_ns();
	} else {
		return;
	}
	bpf_map_update_elem(&zh_lat_flows, &key, &st, BPF_ANY);
}

static __always_inline void zh_lat_to_pod(void *data, void *data_end, int xsk)
{
	struct zh_config *cfg = zh_lat_cfg();
	struct zh_flow_key key = {};
	struct zh_lat_stamp *st;
	__u64 tx_ns, now, origin;
	__u32 hop, src;

	if (!cfg || zh_lat_parse(data, data_end, &key, &tx_ns))
		return;
	if (!(cfg->flags & ZH_CFG_F_PROBES))
		tx_ns = 0;
	/* Probes only: the rest need no lookup. */
	if (!tx_ns && !cfg->sample_every)
		return;
	st = bpf_map_lookup_elem(&zh_lat_flows, &key);
	if (tx_ns) {
		/* A probe times itself; the stamp only says which way it
		 * came, and none means it never crossed the egress hop. */
		hop = st ? st->hop : ZH_HOP_KERNEL;
		src = ZH_LAT_PROBE;
		origin = tx_ns;
	} else if (st && st->src == ZH_LAT_SAMPLE) {
		hop = st->hop;
		src = ZH_LAT_SAMPLE;
		origin = st->origin_ns;
	} else {
		return;
	}
	if (xsk)
		hop = ZH_HOP_AFXDP;
	now = bpf_ktime_get_ns();
	if (origin <= now)
		zh_lat_record(hop, src, now - origin);
	if (st)
		bpf_map_delete_elem(&zh_lat_flows, &key);
}

#endif /* ZH_LAT_H */
