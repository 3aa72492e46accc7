// SPDX-License-Identifier: Apache-2.0
/*
 * zerohopctl - inspect and drive the zerohop dataplane through its pins.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <bpf/bpf.h>

#include "zerohop.h"
#include "upgrade.h"
#include "params.h"
#include "zh_xsk_proto.h"
#include "hist.h"
#include "svc_maps.h"
#include "sockdiag.h"
#include "nodes.h"
#include "pol_maps.h"
#include "podstate.h"
#include "ctgc.h"

/* Exit codes: only main() returns them. */
#define EXIT_FAIL 1
#define EXIT_USAGE 2
/* A command that printed its own message returns this (main: exit 1). */
#define CMD_FAILED 1

#define MAX_BACKENDS 1024
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct ctl {
	const char *root; /* the pin root */
	bool json;
	bool reset;
	const char *probes; /* latency --probes on|off */
	const char *sample; /* latency --sample N|off */
	const char *sub; /* service add|del|list|apply, conntrack list|flush|gc */
	/* service add/del */
	const char *vip, *proto, *affinity, *file;
	__u16 port, nodeport; /* 0: not given */
	const char *backends[MAX_BACKENDS];
	int n_backends;
	struct zh_service svc; /* made from them by svc_prepare() */
	struct zh_svc_backend svc_be[MAX_BACKENDS];
	struct zh_svc_set file_set; /* service apply */
	const char *cni_dir; /* uninstall */
	/* node add/del/list */
	const char *node_name, *state_dir;
	const char *node_addrs[ZH_NODE_ADDRS_MAX + 1];
	int n_node_addrs;
	const char *node_cidrs[ZH_NODE_CIDRS_MAX + 1];
	int n_node_cidrs;
	const char *pod, *peer; /* policy */
	struct zh_objs objs;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: zerohopctl [-p DIR] COMMAND [-o json]\n"
		"\n"
		"Commands:\n"
		"  endpoints [-o json]       pods on the fast path: IPs, MAC, host veth, netns, container\n"
		"  stats [-o json] [--reset] packets redirected, passed to the kernel, dropped by reason;\n"
		"                            zerohopd's conntrack GC (its record in the state dir)\n"
		"  latency [-o json] [--reset] [--probes on|off] [--sample N|off]\n"
		"                            per-hop latency: count, p50, p90, p99, p99.9, max per\n"
		"                            hop and source; --probes times xdpbench's probe\n"
		"                            datagrams, --sample times 1 in N packets from pods\n"
		"  features [-o json]        kernel features the probes found (each one loaded or\n"
		"                            attached a minimal program), what uses each, and\n"
		"                            what zerohop does without it; and whether pods can\n"
		"                            have netkit devices (a userspace probe, per boot)\n"
		"  abi [-f OBJECT]           what this build pins (or the BPF object file OBJECT\n"
		"                            of another): maps, their layouts, programs; two\n"
		"                            builds share pins only where this is the same\n"
		"  uninstall [--cni-conf-dir DIR]\n"
		"                            remove the CNI configuration zerohopd --kubernetes\n"
		"                            wrote (DIR/%s, default %s): kubelet then\n"
		"                            calls the node NotReady; stop the agent first\n"
		"  unpin                     remove the pins of this version (uninstall; attached\n"
		"                            programs keep running until their interfaces go)\n"
		"  service add --vip IP --port P [--proto tcp|udp] --backend IP:PORT [--backend ...]\n"
		"              [--affinity clientip[:SECONDS]|none] [--nodeport N]\n"
		"                            add a service, or replace the one with that VIP, port\n"
		"                            and protocol; the other services stay as they are\n"
		"  service del --vip IP --port P [--proto tcp|udp]\n"
		"                            remove that service (an error when there is none)\n"
		"  service list [-o json]    services: VIP:port/proto, node port, affinity, id,\n"
		"                            Maglev table, backends with id, state and slots\n"
		"  service apply -f FILE     make the services exactly those of FILE (- = stdin):\n"
		"                            ours or kubectl's JSON (README); all or nothing.\n"
		"                            service add/del/apply: the connected UDP sockets\n"
		"                            socket-LB gave a backend they remove are destroyed\n"
		"                            (this netns and every pod's; features: sock_destroy)\n"
		"  node add --name NAME --address IP [--address IP] [--pod-cidr CIDR ...]\n"
		"                            add a node to this node's table, or replace the one\n"
		"                            of that name: routes and map entries toward it now\n"
		"  node del --name NAME      remove it: its routes and map entries go\n"
		"  node list [-o json]       the node table as applied, and how it is routed\n"
		"                            (zerohopd --nodes FILE wins again on SIGHUP; both\n"
		"                            keep it in --state-dir, default $%s or %s)\n"
		"  conntrack list [-o json]  Service flows, both directions: addresses, state, age\n"
		"  conntrack flush           remove every Service flow entry\n"
		"  conntrack gc [-o json]    one sweep now of the entries the datapath holds\n"
		"                            dead (idle past their timeout), as zerohopd's GC\n"
		"  policy [--pod IP [--peer IP [--port P] [--proto tcp|udp|sctp|icmp]]] [-o json]\n"
		"                            NetworkPolicy for the pod of this node with address\n"
		"                            IP: its state, the policies that select it (from\n"
		"                            zerohopd's state dir), and with --peer the verdict\n"
		"                            the maps give a new flow each way, pod -> peer and\n"
		"                            peer -> pod (port: the destination's)\n"
		"\n"
		"Options:\n"
		"  -p, --pin-root DIR  pin root (default %s; env ZEROHOP_PIN_ROOT)\n"
		"  -o, --output FMT    table (default) or json\n"
		"  -h, --help          this help (also after a command)\n"
		"\n"
		"Exit status: 0 done, 1 failed, 2 bad usage.\n",
		ZH_STATE_DIR_ENV, ZH_STATE_DIR, ZH_CNI_CONFLIST,
		ZH_CNI_CONF_DIR, ZH_PIN_ROOT);
}

static void mac_str(const __u8 *m, char *out, size_t len)
{
	snprintf(out, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
}

static void iface_ips(const struct zh_iface *ifc, char *v4, char *v6)
{
	v4[0] = v6[0] = '\0';
	if (ifc->flags & ZH_IFACE_F_V4)
		inet_ntop(AF_INET, &ifc->ipv4, v4, INET6_ADDRSTRLEN);
	if (ifc->flags & ZH_IFACE_F_V6)
		inet_ntop(AF_INET6, ifc->ipv6, v6, INET6_ADDRSTRLEN);
}

static const char *xsk_xdp_mode(const struct zh_iface *ifc)
{
	return ifc->xsk.xdp_mode == ZH_XSK_XDP_NATIVE ? "native" : "generic";
}

/* The bind mode of the newest live registration; "-" while none. */
static const char *xsk_bind_mode(const struct zh_iface *ifc)
{
	if (!ifc->xsk.registered)
		return "-";
	return ifc->xsk.bind_mode == ZH_XSK_MODE_ZEROCOPY ? "zero-copy" :
							    "copy";
}

/* "generic,copy,1/2": XDP mode, bind mode, queues registered / queues. */
static void xsk_summary(const struct zh_iface *ifc, char *buf, size_t len)
{
	if (!ifc->xsk.queues) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "%s,%s,%d/%u", xsk_xdp_mode(ifc), xsk_bind_mode(ifc),
		 __builtin_popcount(ifc->xsk.registered), ifc->xsk.queues);
}

static int ep_table_cb(__u32 ifindex, const struct zh_iface *ifc, void *arg)
{
	char v4[INET6_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], mac[18], xsk[40];

	iface_ips(ifc, v4, v6);
	mac_str(ifc->mac, mac, sizeof(mac));
	xsk_summary(ifc, xsk, sizeof(xsk));
	printf("%-15s %-25s %-17s %-7u %-15s %-4s %-5s %-19s %-12.12s %s\n",
	       v4[0] ? v4 : "-", v6[0] ? v6 : "-", mac, ifindex,
	       ifc->host_ifname, ifc->pod_ifname,
	       ifc->datapath == ZH_DATAPATH_XDP ? "xdp" : "tc", xsk,
	       ifc->container_id, ifc->netns);
	return 0;
}

static json_t *xsk_json(const struct zh_iface *ifc)
{
	json_t *steer = json_array(), *queues = json_array();

	if (!ifc->xsk.queues)
		return json_null();
	for (int i = 0; i < ifc->xsk.nsteer && i < ZH_XSK_MAX_STEER; i++) {
		const struct zh_steer_rule *r = &ifc->xsk.steer[i];

		json_array_append_new(
			steer,
			json_pack("{s:s, s:i}", "proto",
				  r->proto == IPPROTO_TCP ? "tcp" : "udp",
				  "port", (int)ntohs(r->port)));
	}
	for (int q = 0; q < ifc->xsk.queues; q++)
		if (ifc->xsk.registered & (1U << q))
			json_array_append_new(queues, json_integer(q));
	return json_pack("{s:i, s:i, s:s, s:s?, s:o, s:o}", "queues",
			 (int)ifc->xsk.queues, "slot", (int)ifc->xsk.slot,
			 "xdpMode", xsk_xdp_mode(ifc), "bindMode",
			 ifc->xsk.registered ? xsk_bind_mode(ifc) : NULL,
			 "registeredQueues", queues, "steer", steer);
}

static int ep_json_cb(__u32 ifindex, const struct zh_iface *ifc, void *arg)
{
	char v4[INET6_ADDRSTRLEN], v6[INET6_ADDRSTRLEN], mac[18];
	json_t *arr = arg, *ips = json_array();

	iface_ips(ifc, v4, v6);
	mac_str(ifc->mac, mac, sizeof(mac));
	if (v4[0])
		json_array_append_new(ips, json_string(v4));
	if (v6[0])
		json_array_append_new(ips, json_string(v6));
	json_array_append_new(
		arr,
		json_pack(
			"{s:o, s:s, s:i, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:o}",
			"ips", ips, "mac", mac, "hostIfindex", (int)ifindex,
			"hostIfname", ifc->host_ifname, "podIfname",
			ifc->pod_ifname, "podIfindex", (int)ifc->pod_ifindex,
			"datapath",
			ifc->datapath == ZH_DATAPATH_XDP ? "xdp" : "tc",
			"netns", ifc->netns, "containerID", ifc->container_id,
			"network", ifc->network, "afxdp", xsk_json(ifc)));
	return 0;
}

static int print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));

	json_decref(j);
	if (!s)
		return -ENOMEM;
	puts(s);
	free(s);
	return 0;
}

static int cmd_endpoints(struct ctl *c)
{
	json_t *arr;
	int err;

	if (!c->json) {
		printf("%-15s %-25s %-17s %-7s %-15s %-4s %-5s %-19s %-12s %s\n",
		       "IPV4", "IPV6", "MAC", "IFINDEX", "HOST-IFNAME", "IF",
		       "MODE", "AFXDP", "CONTAINER", "NETNS");
		return zh_iface_foreach(&c->objs, ep_table_cb, NULL);
	}
	arr = json_array();
	err = zh_iface_foreach(&c->objs, ep_json_cb, arr);
	if (err) {
		json_decref(arr);
		return err;
	}
	return print_json(arr);
}

static void gc_print(const struct zh_ctgc_stats *g)
{
	const struct zh_ctgc_result *l = &g->last;
	char when[32] = "never";
	time_t t = (time_t)g->last_time;
	struct tm tm;

	printf("\nconntrack GC (zerohopd --ct-gc-interval): ");
	if (!g->on) {
		printf("off\n");
		return;
	}
	printf("every %u s%s\n", g->interval_s,
	       g->auto_interval ? " (auto)" : "");
	if (g->last_time > 0 && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-22s %14llu\n%-22s %14llu\n%-22s %14llu\n%-22s %14llu\n",
	       "sweeps", (unsigned long long)g->sweeps, "deleted",
	       (unsigned long long)g->deleted_total, "kept for their flow",
	       (unsigned long long)g->kept_total, "failed sweeps",
	       (unsigned long long)g->errors);
	printf("last sweep %s: %llu of %u entries read, %llu live, %llu kept, %llu deleted; %.1f ms (CPU %.1f ms)%s\n",
	       when, (unsigned long long)l->seen, g->max_entries,
	       (unsigned long long)l->live, (unsigned long long)l->kept,
	       (unsigned long long)l->deleted,
	       (double)g->last_duration_ns / 1e6, (double)g->last_cpu_ns / 1e6,
	       l->per_key ? ", per key" : "");
}

static int cmd_stats(struct ctl *c)
{
	struct zh_ctgc_stats gc;
	bool has_gc;
	struct zh_counter st[ZH_STAT_MAX];
	__u64 passed = 0, dropped = 0, sk[ZH_SOCK_STAT_MAX];
	__u64 vx[ZH_VXLAN_STAT_MAX];
	json_t *j, *drops, *passes, *sj;
	unsigned int mask;
	int err;

	err = zh_stats_read(&c->objs, st);
	if (!err)
		err = zh_sock_stats_read(&c->objs, sk, false);
	if (!err)
		err = zh_vxlan_stats_read(&c->objs, vx, false);
	if (err)
		return err;
	mask = zh_socklb_attached(c->objs.dir, NULL);
	has_gc = !zh_ctgc_stats_load(c->state_dir, &gc);
	for (int s = ZH_STAT_PASS_NOT_IP; s < ZH_STAT_MAX; s++) {
		if (s == ZH_STAT_XSK_REDIRECT)
			continue;
		if (zh_stat_is_drop(s))
			dropped += st[s].packets;
		else
			passed += st[s].packets;
	}
	if (c->json) {
		drops = json_object();
		passes = json_object();
		for (int s = ZH_STAT_PASS_NOT_IP; s < ZH_STAT_MAX; s++)
			if (s != ZH_STAT_XSK_REDIRECT)
				json_object_set_new(
					zh_stat_is_drop(s) ? drops : passes,
					zh_stat_name(s),
					json_pack("{s:I, s:I}", "packets",
						  (json_int_t)st[s].packets,
						  "bytes",
						  (json_int_t)st[s].bytes));
		j = json_pack(
			"{s:{s:I, s:I}, s:{s:I, s:I}, s:I, s:o, s:I, s:o}",
			"redirected", "packets",
			(json_int_t)st[ZH_STAT_REDIRECT].packets, "bytes",
			(json_int_t)st[ZH_STAT_REDIRECT].bytes, "xskRedirected",
			"packets", (json_int_t)st[ZH_STAT_XSK_REDIRECT].packets,
			"bytes", (json_int_t)st[ZH_STAT_XSK_REDIRECT].bytes,
			"passed", (json_int_t)passed, "passReasons", passes,
			"dropped", (json_int_t)dropped, "dropReasons", drops);
		sj = json_object();
		for (int s = 0; s < ZH_SOCK_STAT_UDP_DESTROYED; s++)
			json_object_set_new(sj, zh_sock_stat_name(s),
					    json_integer((json_int_t)sk[s]));
		json_object_set_new(
			j, "socketLB",
			json_pack("{s:b, s:o, s:{s:I, s:I}}", "attached",
				  mask != 0, "translations", sj,
				  "connectedUdpDestroyed", "destroyed",
				  (json_int_t)sk[ZH_SOCK_STAT_UDP_DESTROYED],
				  "failed",
				  (json_int_t)
					  sk[ZH_SOCK_STAT_UDP_DESTROY_FAILED]));
		sj = json_object();
		for (int s = 0; s < ZH_VXLAN_STAT_MAX; s++)
			json_object_set_new(sj, zh_vxlan_stat_name(s),
					    json_integer((json_int_t)vx[s]));
		json_object_set_new(j, "vxlan", sj);
		json_object_set_new(j, "conntrackGC",
				    has_gc ? zh_ctgc_stats_json(&gc) :
					     json_null());
		err = print_json(j);
	} else {
		printf("%-22s %14s %16s\n", "COUNTER", "PACKETS", "BYTES");
		for (int s = 0; s < ZH_STAT_MAX; s++)
			printf("%-22s %14llu %16llu\n", zh_stat_name(s),
			       (unsigned long long)st[s].packets,
			       (unsigned long long)st[s].bytes);
		printf("%-22s %14llu\n%-22s %14llu\n", "total passed",
		       (unsigned long long)passed, "total dropped",
		       (unsigned long long)dropped);
		printf("\nsocket-level load balancing: %s\n%-22s %14s\n",
		       mask ? "attached" : "not attached", "SOCKET HOOK",
		       "CALLS");
		for (int s = 0; s < ZH_SOCK_STAT_MAX; s++)
			printf("%-22s %14llu\n", zh_sock_stat_name(s),
			       (unsigned long long)sk[s]);
		printf("\nVXLAN (routing vxlan)\n%-22s %14s\n", "TUNNEL",
		       "PACKETS");
		for (int s = 0; s < ZH_VXLAN_STAT_MAX; s++)
			printf("%-22s %14llu\n", zh_vxlan_stat_name(s),
			       (unsigned long long)vx[s]);
		if (has_gc)
			gc_print(&gc);
	}
	if (!err && c->reset)
		err = zh_stats_reset(&c->objs);
	if (!err && c->reset)
		err = zh_sock_stats_read(&c->objs, sk, true);
	if (!err && c->reset)
		err = zh_vxlan_stats_read(&c->objs, vx, true);
	return err;
}

static double ns_us(__u64 ns)
{
	return (double)ns / 1000.0;
}

static json_t *lat_json(int hop, int src, const struct zh_hist_summary *sm)
{
	return json_pack("{s:s, s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "hop",
			 zh_hop_name(hop), "source", zh_lat_src_name(src),
			 "count", (json_int_t)sm->count, "mean_us",
			 ns_us(sm->mean_ns), "p50_us", ns_us(sm->p50_ns),
			 "p90_us", ns_us(sm->p90_ns), "p99_us",
			 ns_us(sm->p99_ns), "p999_us", ns_us(sm->p999_ns),
			 "max_us", ns_us(sm->max_ns));
}

/* Apply --probes / --sample to the datapath's configuration. */
static int lat_configure(struct ctl *c, struct zh_config *cfg)
{
	int err = zh_config_get(&c->objs, cfg);

	if (err || (!c->probes && !c->sample))
		return err;
	if (c->probes) {
		if (!strcmp(c->probes, "on"))
			cfg->flags |= ZH_CFG_F_PROBES;
		else if (!strcmp(c->probes, "off"))
			cfg->flags &= ~ZH_CFG_F_PROBES;
		else
			return -EINVAL;
	}
	if (c->sample && zh_sample_parse(c->sample, &cfg->sample_every))
		return -EINVAL;
	if (cfg->sample_every) {
		int missing = zh_use_missing(&c->objs.feat, ZH_USE_SAMPLING);

		if (missing >= 0) {
			fprintf(stderr,
				"zerohopctl: latency: --sample cannot work on this kernel: it lacks %s (%s)\n",
				zh_feat_name(missing),
				zh_feat_doc(missing)->what);
			return -EOPNOTSUPP;
		}
	}
	return zh_config_set(&c->objs, cfg);
}

static int cmd_latency(struct ctl *c)
{
	struct zh_hist *h = malloc(sizeof(*h));
	struct zh_hist_summary sm;
	struct zh_config cfg;
	json_t *hops = NULL;
	bool any = false;
	int err;

	if (!h)
		return -ENOMEM;
	err = lat_configure(c, &cfg);
	if (err == -EINVAL)
		fprintf(stderr,
			"zerohopctl: latency: --probes takes on or off, --sample a count 1..%u or off\n",
			ZH_SAMPLE_MAX);
	if (err == -EINVAL || err == -EOPNOTSUPP)
		err = CMD_FAILED; /* said why */
	if (err)
		goto out;
	if (c->json) {
		hops = json_array();
	} else {
		printf("probes %s, sampling %s",
		       cfg.flags & ZH_CFG_F_PROBES ? "on" : "off",
		       cfg.sample_every ? "1 in " : "off");
		if (cfg.sample_every)
			printf("%u", cfg.sample_every);
		printf("\n%-8s %-7s %10s %10s %10s %10s %10s %10s\n", "HOP",
		       "SOURCE", "COUNT", "P50(us)", "P90(us)", "P99(us)",
		       "P99.9(us)", "MAX(us)");
	}
	for (int hop = 0; hop < ZH_HOP_MAX && !err; hop++) {
		for (int src = 0; src < ZH_LAT_SRC_MAX && !err; src++) {
			err = zh_lat_read(&c->objs, hop, src, h);
			if (err)
				break;
			zh_hist_summary(h, &sm);
			if (hops) {
				json_array_append_new(hops,
						      lat_json(hop, src, &sm));
				continue;
			}
			if (!sm.count)
				continue;
			any = true;
			printf("%-8s %-7s %10llu %10.2f %10.2f %10.2f %10.2f %10.2f\n",
			       zh_hop_name(hop), zh_lat_src_name(src),
			       (unsigned long long)sm.count, ns_us(sm.p50_ns),
			       ns_us(sm.p90_ns), ns_us(sm.p99_ns),
			       ns_us(sm.p999_ns), ns_us(sm.max_ns));
		}
	}
	if (err)
		goto out;
	if (hops) {
		err = print_json(json_pack("{s:b, s:i, s:o}", "probes",
					   !!(cfg.flags & ZH_CFG_F_PROBES),
					   "sampleEvery", (int)cfg.sample_every,
					   "hops", hops));
		hops = NULL;
	} else if (!any) {
		printf("(nothing recorded yet)\n");
	}
	if (!err && c->reset)
		err = zh_lat_reset(&c->objs);
out:
	json_decref(hops);
	free(h);
	return err;
}

/* The conflist the agent wrote; absent is no error (it may be gone). */
static int cmd_uninstall(struct ctl *c)
{
	const char *dir = c->cni_dir ? c->cni_dir : ZH_CNI_CONF_DIR;
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
			     ZH_CNI_CONFLIST) >= sizeof(path))
		return -ENAMETOOLONG;
	if (unlink(path)) {
		if (errno != ENOENT)
			return -errno;
		printf("%s: not there\n", path);
		return 0;
	}
	printf("%s: removed\n", path);
	return 0;
}

static int cmd_unpin(struct ctl *c)
{
	int lock = zh_pin_lock(c->root), err;

	if (lock < 0)
		return lock;
	err = zh_objs_unpin(c->root);
	zh_pin_unlock(lock);
	return err;
}

/* --- the ABI ---------------------------------------------------------------- */

static int cmd_abi(struct ctl *c)
{
	return zh_upgrade_abi(stdout, c->file);
}

/* --- kernel features ------------------------------------------------------ */

static const char *feat_state(const struct zh_kfeat *f, int id)
{
	if (!(f->present >> id & 1))
		return "no";
	return f->disabled >> id & 1 ? "disabled" : "yes";
}

static json_t *feat_json(const struct zh_kfeat *f, bool stored)
{
	json_t *arr = json_array();

	for (int id = 0; id < ZH_FEAT_MAX; id++) {
		const struct zh_feat_doc *d = zh_feat_doc(id);

		json_array_append_new(
			arr,
			json_pack("{s:s, s:b, s:b, s:b, s:s, s:s, s:s?, s:s}",
				  "name", zh_feat_name(id), "present",
				  zh_kfeat_has(f, id), "kernel",
				  (int)(f->present >> id & 1), "disabled",
				  (int)(f->disabled >> id & 1), "what", d->what,
				  "used_by", d->used_by, "fallback",
				  d->fallback, "since", d->since));
	}
	return json_pack("{s:s, s:I, s:b, s:o}", "kernel", f->kernel,
			 "probed_at", (json_int_t)f->probed_at, "stored",
			 stored, "features", arr);
}

/*
 * The feature set pinned under the pin root, as the agent and the plugin
 * use it; with nothing pinned, the kernel is probed now (not stored: the
 * first agent or plugin run pins its own).
 */
static int cmd_features(struct ctl *c)
{
	struct zh_netkit_probe nk;
	char nkstr[96], sdstr[256], path[PATH_MAX];
	struct zh_kfeat f;
	char err[256];
	bool stored = true, rel, rel_pinned;
	int rc, sd;

	/* No lock: the set is pinned whole, once, after it was filled. */
	rc = zh_feat_get(c->root, 0, &f, NULL, NULL, 0);
	if (rc == -ENOENT) {
		stored = false;
		rc = zh_feat_probe(&f, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "zerohopctl: features: %s\n", err);
			return CMD_FAILED;
		}
	}
	if (rc)
		return rc;
	/* Not a zh_kfeat bit (no program depends on it): what the plugin's
	 * "device": "auto" would find, from its per-boot cache. */
	if (zh_netkit_usable(zh_state_dir(), &nk)) {
		nk.ok = false;
		nk.step = "probe";
		nk.err = -EIO;
	}
	zh_netkit_probe_str(&nk, nkstr, sizeof(nkstr));
	/* Not a zh_kfeat bit either: the kernel asked now, and whether the
	 * loader pinned zh_sock_release (it loads it apart, pin.c). */
	rel = zh_feat_sock_release();
	snprintf(path, sizeof(path), "%s/%s/%s", c->root, ZH_PIN_VERSION,
		 ZH_PROG_SOCK_RELEASE);
	rel_pinned = !access(path, F_OK);
	/* Nor is this one: the agent acts on it, no program does. */
	sd = zh_sockdiag_probe(sdstr, sizeof(sdstr));
	if (c->json) {
		json_t *j = feat_json(&f, stored);

		json_object_set_new(j, "netkit",
				    json_pack("{s:b, s:s}", "usable", nk.ok,
					      "detail", nkstr));
		json_object_set_new(j, "sock_release",
				    json_pack("{s:b, s:b}", "present", rel,
					      "pinned", rel_pinned));
		json_object_set_new(j, "sock_destroy",
				    json_pack("{s:b, s:s}", "present", !sd,
					      "detail", sdstr));
		return print_json(j);
	}
	printf("kernel %s, %s\n", f.kernel,
	       stored ? "as probed when the pins were made" :
			"probed now (nothing pinned yet)");
	printf("%-20s %-8s %-6s %-52s %s\n", "FEATURE", "PRESENT", "SINCE",
	       "USED BY", "WITHOUT IT");
	for (int id = 0; id < ZH_FEAT_MAX; id++) {
		const struct zh_feat_doc *d = zh_feat_doc(id);

		printf("%-20s %-8s %-6s %-52s %s\n", zh_feat_name(id),
		       feat_state(&f, id), d->since, d->used_by,
		       d->fallback ? d->fallback : "refused");
	}
	printf("cgroup sock_release with BPF_CMPXCHG (socket-LB: no zh_sock_rev insert per connected socket; probed in userspace, 5.12): %s; %s %s\n",
	       rel ? "yes" : "no", ZH_PROG_SOCK_RELEASE,
	       rel_pinned ?
		       "pinned" :
		       "not pinned (without it: the record copied at each connected socket's first read)");
	printf("netkit pod devices (CNI \"device\"; probed in userspace): %s\n",
	       nkstr);
	printf("sock_destroy (connected UDP sockets of a removed backend destroyed; probed in userspace): %s: %s\n",
	       sd ? "no" : "yes", sdstr);
	return 0;
}

/* --- services ----------------------------------------------------------- */

static int usage_err(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* A bad command line: the message, then exit status 2. */
static int usage_err(const char *fmt, ...)
{
	va_list ap;

	fputs("zerohopctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (zerohopctl --help)\n", stderr);
	return EXIT_USAGE;
}

/* A plain address: no prefix. */
static int parse_ip(const char *s, struct zh_addr *a)
{
	return strchr(s, '/') || zh_addr_parse(s, false, a) ? -EINVAL : 0;
}

/* "10.1.0.5:8080", "[fd00::5]:8080"; no port: @def_port. */
static int parse_backend(const char *s, uint16_t def_port,
			 struct zh_svc_backend *b)
{
	char ip[INET6_ADDRSTRLEN + 2];
	const char *colon, *port = NULL;
	uint64_t n;
	size_t len;

	memset(b, 0, sizeof(*b));
	if (s[0] == '[') {
		colon = strchr(s, ']');
		if (!colon || (colon[1] && colon[1] != ':'))
			return -EINVAL;
		len = (size_t)(colon - s - 1);
		s++;
		port = colon[1] ? colon + 2 : NULL;
	} else if ((colon = strchr(s, ':')) && !strchr(colon + 1, ':')) {
		len = (size_t)(colon - s);
		port = colon + 1;
	} else {
		len = strlen(s); /* an address alone, IPv6 too */
	}
	if (len >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, len);
	ip[len] = '\0';
	if (parse_ip(ip, &b->addr))
		return -EINVAL;
	b->port = def_port;
	if (port) {
		if (zh_params_parse_uint(NULL, port, 1, 65535, NULL, &n, NULL,
					 0))
			return -EINVAL;
		b->port = (uint16_t)n;
	}
	b->weight = 1;
	b->state = ZH_EP_READY;
	return 0;
}

/* "clientip" (10800 s), "clientip:SECONDS", "none". */
static int parse_affinity(const char *s, uint32_t *timeout)
{
	uint64_t n;

	if (!strcasecmp(s, "none")) {
		*timeout = 0;
		return 0;
	}
	if (strncasecmp(s, "clientip", 8))
		return -EINVAL;
	if (!s[8]) {
		*timeout = ZH_SVC_AFFINITY_DEFAULT;
		return 0;
	}
	if (s[8] != ':' ||
	    zh_params_parse_uint(NULL, s + 9, 1, ZH_SVC_AFFINITY_MAX, NULL, &n,
				 NULL, 0))
		return -EINVAL;
	*timeout = (uint32_t)n;
	return 0;
}

/* service add/del: the service the options name, checked. */
static int svc_prepare(struct ctl *c, bool add)
{
	const char *what = add ? "service add" : "service del";
	struct zh_service *s = &c->svc;
	char msg[256];

	memset(s, 0, sizeof(*s));
	if (!c->vip || !c->port)
		return usage_err("%s: --vip and --port are required", what);
	if (parse_ip(c->vip, &s->vip))
		return usage_err("%s: --vip '%s': not an IP address", what,
				 c->vip);
	s->port = c->port; /* 1..65535: the option's range */
	s->proto = IPPROTO_TCP;
	if (c->proto && !strcasecmp(c->proto, "udp"))
		s->proto = IPPROTO_UDP;
	else if (c->proto && strcasecmp(c->proto, "tcp"))
		return usage_err("%s: --proto '%s': tcp or udp", what,
				 c->proto);
	zh_svc_addr_str(&s->vip, s->port, s->proto, s->name, sizeof(s->name));
	if (!add)
		return 0;

	if (!c->n_backends)
		return usage_err("%s: at least one --backend IP:PORT", what);
	for (int i = 0; i < c->n_backends; i++)
		if (parse_backend(c->backends[i], s->port, &c->svc_be[i]))
			return usage_err(
				"%s: --backend '%s': not IP:PORT (IPv6: [IP]:PORT)",
				what, c->backends[i]);
	s->backends = c->svc_be;
	s->n_backends = (size_t)c->n_backends;
	if (c->affinity && parse_affinity(c->affinity, &s->affinity_timeout))
		return usage_err(
			"%s: --affinity '%s': clientip, clientip:SECONDS (1-%u) or none",
			what, c->affinity, ZH_SVC_AFFINITY_MAX);
	s->nodeport = c->nodeport;
	if (zh_svc_validate(s, msg, sizeof(msg)))
		return usage_err("%s: %s: %s", what, s->name, msg);
	return 0;
}

static int prep_add(struct ctl *c)
{
	return svc_prepare(c, true);
}

static int prep_del(struct ctl *c)
{
	return svc_prepare(c, false);
}

/* service apply: the file, parsed before any pin is opened. */
static int prep_apply(struct ctl *c)
{
	char err[ZH_SVC_ERR_MAX];

	if (!c->file)
		return usage_err(
			"service apply: -f FILE is required (- = stdin)");
	if (zh_svc_load(c->file, &c->file_set, err, sizeof(err))) {
		fprintf(stderr, "zerohopctl: service apply: %s\n", err);
		return EXIT_FAIL;
	}
	return 0;
}

static double secs_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * The UDP backends an edit or apply removed (svc_maps.h's hook), swept
 * after the pin lock is let go, as zerohopd does for its own applies: the
 * connected UDP sockets socket-LB gave them are destroyed (sockdiag.h).
 */
static struct {
	struct zh_sockdiag_target *t;
	size_t n, cap;
	struct zh_sockdiag_result res;
	bool swept;
	char why[256]; /* the probe's, when the kernel cannot */
} gone;

static void gone_hook(const struct zh_svc_gone *g, size_t n, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < n; i++) {
		struct zh_sockdiag_target *t;

		if (g[i].proto != IPPROTO_UDP)
			continue;
		if (gone.n == gone.cap) {
			size_t cap = gone.cap ? gone.cap * 2 : 16;
			void *p = realloc(gone.t, cap * sizeof(*gone.t));

			if (!p)
				return; /* their sockets stay: said below */
			gone.t = p;
			gone.cap = cap;
		}
		t = &gone.t[gone.n++];
		memset(t, 0, sizeof(*t));
		t->family = g[i].be.family;
		t->port = g[i].be.port;
		memcpy(t->addr, g[i].be.addr, sizeof(t->addr));
		t->svc_id = g[i].be.svc_id;
	}
}

/* After the lock: the sweep, where the kernel can destroy sockets. */
static void gone_sweep(struct ctl *c)
{
	if (!gone.n)
		return;
	if (zh_sockdiag_probe(gone.why, sizeof(gone.why))) {
		fprintf(stderr,
			"zerohopctl: connected UDP sockets keep the removed backends: %s\n",
			gone.why);
	} else {
		zh_sockdiag_sweep(&c->objs, gone.t, gone.n, &gone.res);
		gone.swept = true;
		if (gone.res.err)
			fprintf(stderr,
				"zerohopctl: socket sweep: %s (%u netns not swept, %u sockets not destroyed)\n",
				strerror(-gone.res.err), gone.res.netns_failed,
				gone.res.failed);
	}
	free(gone.t);
	gone.t = NULL;
	gone.n = gone.cap = 0;
}

/* The sweep's line, where there was one. */
static void gone_print(void)
{
	if (gone.swept)
		printf("connected UDP sockets of removed backends: %u destroyed, %u not socket-LB's left alone (%u netns)\n",
		       gone.res.destroyed, gone.res.untranslated,
		       gone.res.netns);
}

/* zh_svc_edit() under the pin lock: every writer of the maps holds it. */
static int locked_edit(struct ctl *c, const struct zh_service *put,
		       const struct zh_service *del,
		       struct zh_svc_apply_result *r)
{
	int lock = zh_pin_lock(c->root), err;

	if (lock < 0)
		return lock;
	zh_svc_set_gone_hook(gone_hook, NULL);
	err = zh_svc_edit(&c->objs, put, del, r);
	zh_pin_unlock(lock);
	gone_sweep(c);
	return err;
}

static int cmd_service_add(struct ctl *c)
{
	struct zh_svc_apply_result r;
	int err = locked_edit(c, &c->svc, NULL, &r);

	if (err) {
		fprintf(stderr, "zerohopctl: service add: %s\n",
			r.err[0] ? r.err : strerror(-err));
		return CMD_FAILED;
	}
	printf("%s: %s; backends: %zu added, %zu changed, %zu removed; %u Maglev slots written\n",
	       c->svc.name,
	       r.added	   ? "added" :
	       r.unchanged ? "unchanged" :
			     "replaced",
	       r.be_added, r.be_updated, r.be_removed, r.slots_written);
	gone_print();
	return 0;
}

static int cmd_service_del(struct ctl *c)
{
	struct zh_svc_apply_result r;
	int err = locked_edit(c, NULL, &c->svc, &r);

	if (err) {
		fprintf(stderr, "zerohopctl: service del: %s\n",
			r.err[0] ? r.err : strerror(-err));
		return CMD_FAILED;
	}
	printf("%s: removed; %zu backends, %zu conntrack and %zu affinity entries removed\n",
	       c->svc.name, r.be_removed, r.ct_removed, r.affinity_removed);
	gone_print();
	return 0;
}

static int cmd_service_apply(struct ctl *c)
{
	struct zh_svc_apply_result r;
	struct timespec t0;
	double secs;
	int lock, err;

	lock = zh_pin_lock(c->root);
	if (lock < 0)
		return lock;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	zh_svc_set_gone_hook(gone_hook, NULL);
	err = zh_svc_apply(&c->objs, &c->file_set, &r);
	secs = secs_since(&t0);
	zh_pin_unlock(lock);
	gone_sweep(c);
	if (err) {
		fprintf(stderr, "zerohopctl: service apply: %s: %s\n", c->file,
			r.err[0] ? r.err : strerror(-err));
		return CMD_FAILED;
	}
	if (c->json)
		return print_json(json_pack(
			"{s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I}, s:I, s:I, s:{s:I, s:I, s:I}, s:f, s:I}",
			"added", (json_int_t)r.added, "updated",
			(json_int_t)r.updated, "removed", (json_int_t)r.removed,
			"unchanged", (json_int_t)r.unchanged, "backends",
			"added", (json_int_t)r.be_added, "updated",
			(json_int_t)r.be_updated, "removed",
			(json_int_t)r.be_removed, "conntrackRemoved",
			(json_int_t)r.ct_removed, "affinityRemoved",
			(json_int_t)r.affinity_removed, "slots", "written",
			(json_int_t)r.slots_written, "used",
			(json_int_t)r.slots_used, "total",
			(json_int_t)r.slots_total, "seconds", secs,
			"udpSocketsDestroyed", (json_int_t)gone.res.destroyed));
	printf("%s: %zu services: %zu added, %zu updated, %zu removed, %zu unchanged\n"
	       "backends: %zu added, %zu updated, %zu removed; conntrack: %zu removed, affinity: %zu removed\n"
	       "Maglev slots: %u written, %u of %u in use; %.3f s\n",
	       c->file, c->file_set.n, r.added, r.updated, r.removed,
	       r.unchanged, r.be_added, r.be_updated, r.be_removed,
	       r.ct_removed, r.affinity_removed, r.slots_written, r.slots_used,
	       r.slots_total, secs);
	gone_print();
	return 0;
}

static const char *state_str(const struct zh_svc_backend *b)
{
	return b->state == ZH_EP_TERMINATING ? "terminating" : "ready";
}

/* The hooks socket-level LB has attached (zh_socklb_attached()), for
 * the service list. */
static unsigned int sock_mask;

static bool svc_sock(const struct zh_service *s)
{
	return zh_sock_serves(sock_mask, s->vip.family, s->proto);
}

static json_t *svc_json(const struct zh_service *s,
			const struct zh_svc_info *in)
{
	char ip[64];
	json_t *j, *bes = json_array();

	for (size_t i = 0; i < s->n_backends; i++) {
		const struct zh_svc_backend *b = &s->backends[i];

		json_array_append_new(
			bes,
			json_pack("{s:s, s:i, s:i, s:s, s:I, s:I}", "ip",
				  zh_addr_str(&b->addr, false, ip, sizeof(ip)),
				  "port", b->port, "weight", b->weight, "state",
				  state_str(b), "id",
				  (json_int_t)in->backend_id[i], "slots",
				  (json_int_t)in->backend_slots[i]));
	}
	j = json_pack("{s:s, s:s, s:i, s:s, s:I, s:{s:I, s:I}, s:o}", "name",
		      s->name, "vip",
		      zh_addr_str(&s->vip, false, ip, sizeof(ip)), "port",
		      s->port, "proto", zh_svc_proto_str(s->proto), "id",
		      (json_int_t)in->id, "table", "offset",
		      (json_int_t)in->table_off, "size",
		      (json_int_t)in->table_size, "backends", bes);
	json_object_set_new(j, "socketLB", json_boolean(svc_sock(s)));
	if (s->nodeport)
		json_object_set_new(j, "nodePort", json_integer(s->nodeport));
	if (s->affinity_timeout)
		json_object_set_new(j, "affinity",
				    json_pack("{s:I}", "clientIP",
					      (json_int_t)s->affinity_timeout));
	return j;
}

static void svc_table(const struct zh_service *s, const struct zh_svc_info *in)
{
	char np[8] = "-", aff[16] = "-", be[64];

	if (s->nodeport)
		snprintf(np, sizeof(np), "%u", s->nodeport);
	if (s->affinity_timeout)
		snprintf(aff, sizeof(aff), "%us", s->affinity_timeout);
	printf("%-28s %7u %8s %8s %7u %4s", s->name, in->id, np, aff,
	       in->table_size, svc_sock(s) ? "yes" : "no");
	if (!s->n_backends)
		printf("  (no backends)\n");
	for (size_t i = 0; i < s->n_backends; i++) {
		const struct zh_svc_backend *b = &s->backends[i];

		if (i)
			printf("%-28s %7s %8s %8s %7s %4s", "", "", "", "", "",
			       "");
		printf("  %-28s %7u %-11s %6u %6u\n",
		       zh_svc_addr_str(&b->addr, b->port, 0, be, sizeof(be)),
		       in->backend_id[i], state_str(b), b->weight,
		       in->backend_slots[i]);
	}
}

static int cmd_service_list(struct ctl *c)
{
	struct zh_svc_info *info = NULL;
	struct zh_svc_set set;
	json_t *arr;
	__u32 used = 0;
	int err;

	err = zh_svc_dump_info(&c->objs, &set, &info);
	if (err)
		return err;
	sock_mask = zh_socklb_attached(c->objs.dir, NULL);
	/* A table is shared by a service and its NodePort entry. */
	for (size_t i = 0; i < set.n; i++)
		used += info[i].table_size;
	if (c->json) {
		arr = json_array();
		for (size_t i = 0; i < set.n; i++)
			json_array_append_new(arr,
					      svc_json(&set.svcs[i], &info[i]));
		err = print_json(json_pack("{s:o, s:{s:I}}", "services", arr,
					   "maglev", "slotsUsed",
					   (json_int_t)used));
	} else {
		printf("%-28s %7s %8s %8s %7s %4s  %-28s %7s %-11s %6s %6s\n",
		       "SERVICE", "ID", "NODEPORT", "AFFINITY", "TABLE", "SOCK",
		       "BACKEND", "ID", "STATE", "WEIGHT", "SLOTS");
		for (size_t i = 0; i < set.n; i++)
			svc_table(&set.svcs[i], &info[i]);
	}
	zh_svc_info_free(info, set.n);
	zh_svc_set_free(&set);
	return err;
}

/* --- conntrack ------------------------------------------------------------ */

static const char *proto_name(__u8 proto, char *buf, size_t len)
{
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP)
		return zh_svc_proto_str(proto);
	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
		return "icmp";
	snprintf(buf, len, "%u", proto);
	return buf;
}

static void ct_addr(__u8 family, const __u32 *a, struct zh_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->family = family == ZH_AF_INET6 ? AF_INET6 : AF_INET;
	memcpy(out->raw, a, (size_t)zh_addr_len(out->family));
}

struct ct_walk {
	json_t *arr;
	__u64 now_ns;
	size_t n;
};

static int ct_cb(const struct zh_ct_key *k, const struct zh_ct *v, void *arg)
{
	struct ct_walk *w = arg;
	struct zh_addr src, dst, vip;
	char sa[64], da[64], va[64] = "-", pb[8], ip1[64], ip2[64];
	double age = w->now_ns > v->last_seen_ns ?
			     (double)(w->now_ns - v->last_seen_ns) / 1e9 :
			     0;
	/* Service entries (fwd, rev) and source NAT ones (snat: the flow
	 * before it, vip its new source; snat-rev: the reply, vip its
	 * destination back). */
	static const char *const dirs[] = { "fwd", "rev", "snat", "snat-rev" };
	const char *dir = k->dir < 4 ? dirs[k->dir] : "?";
	bool rev = k->dir != ZH_CT_FWD;
	json_t *j;

	w->n++;
	ct_addr(k->family, k->saddr, &src);
	ct_addr(k->family, k->daddr, &dst);
	ct_addr(k->family, v->vip, &vip);
	if (rev)
		zh_svc_addr_str(&vip, ntohs(v->vport), 0, va, sizeof(va));
	if (!w->arr) {
		printf("%-4s %-5s %-28s %-28s %-11s %9.1f %7u %7u %s%s\n", dir,
		       proto_name(k->proto, pb, sizeof(pb)),
		       zh_svc_addr_str(&src, ntohs(k->sport), 0, sa,
				       sizeof(sa)),
		       zh_svc_addr_str(&dst, ntohs(k->dport), 0, da,
				       sizeof(da)),
		       zh_ct_state_name(v->state), age, v->svc_id,
		       v->backend_id, va,
		       v->flags & ZH_CT_F_DSR ? " (dsr)" : "");
		return 0;
	}
	j = json_pack("{s:s, s:s, s:s, s:i, s:s, s:i, s:s, s:f, s:I, s:I}",
		      "dir", dir, "proto", proto_name(k->proto, pb, sizeof(pb)),
		      "src", zh_addr_str(&src, false, ip1, sizeof(ip1)),
		      "sport", ntohs(k->sport), "dst",
		      zh_addr_str(&dst, false, ip2, sizeof(ip2)), "dport",
		      ntohs(k->dport), "state", zh_ct_state_name(v->state),
		      "ageSeconds", age, "serviceId", (json_int_t)v->svc_id,
		      "backendId", (json_int_t)v->backend_id);
	if (rev) {
		json_object_set_new(j, "vip",
				    json_string(zh_addr_str(&vip, false, ip1,
							    sizeof(ip1))));
		json_object_set_new(j, "vport", json_integer(ntohs(v->vport)));
	}
	/* Written by NodePort DSR on the backend's node (lb_dsr.h). */
	if (v->flags & ZH_CT_F_DSR)
		json_object_set_new(j, "dsr", json_true());
	json_array_append_new(w->arr, j);
	return 0;
}

static int cmd_conntrack_list(struct ctl *c)
{
	struct ct_walk w = { 0 };
	struct timespec now;
	int err;

	/* The datapath stamps with bpf_ktime_get_ns(): CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	w.now_ns = (__u64)now.tv_sec * 1000000000ULL + (__u64)now.tv_nsec;
	if (c->json)
		w.arr = json_array();
	else
		printf("%-4s %-5s %-28s %-28s %-11s %9s %7s %7s %s\n", "DIR",
		       "PROTO", "SOURCE", "DESTINATION", "STATE", "AGE(s)",
		       "SERVICE", "BACKEND", "VIP (rev)");
	err = zh_ct_foreach(&c->objs, ct_cb, &w);
	if (err) {
		json_decref(w.arr);
		return err;
	}
	return w.arr ? print_json(w.arr) : 0;
}

static int cmd_conntrack_flush(struct ctl *c)
{
	int lock = zh_pin_lock(c->root), n;

	if (lock < 0)
		return lock;
	n = zh_ct_flush(&c->objs);
	zh_pin_unlock(lock);
	if (n < 0)
		return n;
	printf("%d conntrack entries removed\n", n);
	return 0;
}

/* One sweep of zh_ct (ctgc.h), as zerohopd's GC; no pin lock (gc.h). */
static int cmd_conntrack_gc(struct ctl *c)
{
	struct zh_ctgc *gc =
		zh_ctgc_new(c->objs.ct_fd, c->objs.backends_fd, 0, 0);
	struct zh_ctgc_result r;
	struct timespec t0, t1;
	double ms;
	int err;

	if (!gc)
		return -errno;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = zh_ctgc_sweep(gc, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (!err && c->json) {
		json_t *j = zh_ctgc_result_json(&r);

		json_object_set_new(j, "maxEntries",
				    json_integer(zh_ctgc_max_entries(gc)));
		json_object_set_new(j, "durationSeconds", json_real(ms / 1e3));
		err = print_json(j);
	} else if (!err)
		printf("%llu of %u entries read: %llu live, %llu dead kept with their flow, %llu deleted (%llu gone first); %.1f ms%s\n",
		       (unsigned long long)r.seen, zh_ctgc_max_entries(gc),
		       (unsigned long long)r.live, (unsigned long long)r.kept,
		       (unsigned long long)r.deleted,
		       (unsigned long long)r.gone, ms,
		       r.per_key ? ", per key" : "");
	zh_ctgc_free(gc);
	return err;
}

/* --- policy -------------------------------------------------------------- */

static __u8 proto_num(const char *p)
{
	if (!p || !strcmp(p, "tcp"))
		return IPPROTO_TCP;
	if (!strcmp(p, "udp"))
		return IPPROTO_UDP;
	if (!strcmp(p, "sctp"))
		return IPPROTO_SCTP;
	if (!strcmp(p, "icmp"))
		return IPPROTO_ICMP;
	return 0;
}

static json_t *why_json(const struct zh_pol_why *w)
{
	return json_pack("{s:b, s:i, s:I, s:s, s:b}", "judged", w->judged,
			 "class", (int)w->class, "peerIdentity",
			 (json_int_t)w->peer_identity, "result",
			 w->stat ? zh_stat_name(w->stat) : "allowed", "audit",
			 w->audit);
}

static json_t *flow_json(const struct ctl *c, const struct zh_ep_key *s,
			 const struct zh_ep_key *d, __u8 proto)
{
	struct zh_pol_why why[2];
	char a[64], b[64];
	int r = zh_pol_maps_verdict(&c->objs, s, d, proto, c->port, why);

	zh_addr_key_str(s, a, sizeof(a));
	zh_addr_key_str(d, b, sizeof(b));
	return json_pack("{s:s, s:s, s:i, s:i, s:s, s:o, s:o}", "src", a, "dst",
			 b, "proto", proto, "port", c->port, "verdict",
			 r ? zh_stat_name(r) : "allowed", "srcEgress",
			 why_json(&why[1]), "dstIngress", why_json(&why[0]));
}

static const char *pol_mode_name(__u32 mode)
{
	return mode == ZH_POL_MODE_ON	 ? "on" :
	       mode == ZH_POL_MODE_AUDIT ? "audit" :
					   "off";
}

/* The per-policy counters, named by policy.json (@names, may be NULL). */
static json_t *pol_counts(struct ctl *c, const json_t *names)
{
	json_t *idx = json_object_get(names, "policies");
	json_t *none = idx ? NULL : json_object(), *r;

	r = zh_pol_maps_counts(&c->objs, idx ? idx : none);
	json_decref(none);
	return r;
}

/* Without --pod: every NetworkPolicy compiled, with its counters (names
 * and numbers from policy.json, counts from the maps). */
static int policy_list(struct ctl *c, const struct zh_pol_state *st,
		       json_t *counts, const char *path)
{
	json_t *j = json_pack("{s:s, s:I, s:s, s:o}", "mode",
			      pol_mode_name(st->mode), "epoch",
			      (json_int_t)st->epoch, "namesFrom", path,
			      "policies",
			      counts ? json_incref(counts) : json_object());
	const char *key;
	json_t *v;

	if (!j)
		return -ENOMEM;
	if (c->json) {
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("\n");
	} else {
		printf("policy %s, epoch %llu\n", pol_mode_name(st->mode),
		       (unsigned long long)st->epoch);
		printf("%-48s %12s %12s %12s\n", "NETWORKPOLICY", "ALLOWED",
		       "DENIED", "AUDITED");
		for (void *it = json_object_iter(counts); it;
		     it = json_object_iter_next(counts, it)) {
			key = json_object_iter_key(it);
			v = json_object_iter_value(it);
			printf("%-48s %12lld %12lld %12lld\n", key,
			       (long long)json_integer_value(
				       json_object_get(v, "allowed")),
			       (long long)json_integer_value(
				       json_object_get(v, "denied")),
			       (long long)json_integer_value(
				       json_object_get(v, "audited")));
		}
	}
	json_decref(j);
	return 0;
}

static int cmd_policy(struct ctl *c)
{
	struct zh_ep_key pod, peer;
	struct zh_pol_state st;
	struct zh_pol_ep ep = { 0 };
	char path[PATH_MAX];
	json_t *j, *names, *mine = NULL, *flows, *counts, *mycounts;
	__u8 proto = proto_num(c->proto);
	bool has_ep;
	int rc;

	if (!c->pod) {
		if (c->peer)
			return usage_err("policy: --peer needs --pod");
		if (zh_pol_maps_state(&c->objs, &st))
			memset(&st, 0, sizeof(st));
		snprintf(path, sizeof(path), "%s/" ZH_POL_NAMES_FILE,
			 zh_state_dir());
		names = json_load_file(path, 0, NULL);
		counts = pol_counts(c, names);
		rc = policy_list(c, &st, counts, path);
		json_decref(counts);
		json_decref(names);
		return rc;
	}
	if (zh_pol_key_parse(c->pod, &pod))
		return usage_err("policy: --pod IP, an address of a pod");
	if (c->peer && zh_pol_key_parse(c->peer, &peer))
		return usage_err("policy: --peer IP, an address");
	if (!proto)
		return usage_err("policy: --proto tcp, udp, sctp or icmp");
	if (zh_pol_maps_state(&c->objs, &st))
		memset(&st, 0, sizeof(st));
	has_ep = !bpf_map_lookup_elem(c->objs.pol_eps_fd, &pod, &ep);
	snprintf(path, sizeof(path), "%s/" ZH_POL_NAMES_FILE, zh_state_dir());
	names = json_load_file(path, 0, NULL);
	mine = json_object_get(json_object_get(names, "endpoints"), c->pod);
	/* The counters of the policies that select it. */
	counts = pol_counts(c, names);
	mycounts = json_object();
	for (int d = 0; d < 2; d++) {
		json_t *pl = json_object_get(mine, d ? "egress" : "ingress"),
		       *x;
		size_t i;

		for (i = 0; i < json_array_size(pl); i++) {
			json_t *cnt;

			x = json_array_get(pl, i);
			cnt = json_object_get(counts,
					      json_string_value(x) ?
						      json_string_value(x) :
						      "");

			if (cnt && json_string_value(x))
				json_object_set(mycounts, json_string_value(x),
						cnt);
		}
	}
	json_decref(counts);
	flows = json_array();
	if (c->peer) {
		json_array_append_new(flows, flow_json(c, &pod, &peer, proto));
		json_array_append_new(flows, flow_json(c, &peer, &pod, proto));
	}
	j = json_pack(
		"{s:s, s:s, s:I, s:s, s:O, s:O, s:O, s:{s:b, s:I, s:i, s:i, s:b, s:b, s:b, s:b}, s:o}",
		"pod", c->pod, "mode",
		st.mode == ZH_POL_MODE_ON    ? "on" :
		st.mode == ZH_POL_MODE_AUDIT ? "audit" :
					       "off",
		"epoch", (json_int_t)st.epoch, "name",
		json_string_value(json_object_get(mine, "pod")) ?
			json_string_value(json_object_get(mine, "pod")) :
			"",
		"ingressPolicies",
		json_object_get(mine, "ingress") ?
			json_object_get(mine, "ingress") :
			json_array(),
		"egressPolicies",
		json_object_get(mine, "egress") ?
			json_object_get(mine, "egress") :
			json_array(),
		"namesFrom", json_string(path), "state", "known", has_ep,
		"identity", (json_int_t)ep.identity, "classIngress",
		(int)ep.class_in, "classEgress", (int)ep.class_eg,
		"isolatedIngress", !!(ep.flags & ZH_POL_EP_F_ISO_IN),
		"isolatedEgress", !!(ep.flags & ZH_POL_EP_F_ISO_EG), "pending",
		!!(ep.flags & ZH_POL_EP_F_PENDING), "audit",
		!!(ep.flags & ZH_POL_EP_F_AUDIT), "flows", flows);
	if (j)
		json_object_set(j, "policyCounters", mycounts);
	json_decref(mycounts);
	json_decref(names);
	if (!j)
		return -ENOMEM;
	if (c->json) {
		json_dumpf(j, stdout, JSON_INDENT(2));
		printf("\n");
	} else {
		json_t *f, *pols;
		size_t i, k;

		printf("pod %s %s (policy %s, epoch %llu)\n", c->pod,
		       json_string_value(json_object_get(j, "name")),
		       json_string_value(json_object_get(j, "mode")),
		       (unsigned long long)st.epoch);
		if (!has_ep)
			printf("  no policy state: not a pod of this node, or policy off\n");
		else
			printf("  identity %u, ingress class %u%s, egress class %u%s%s%s\n",
			       ep.identity, ep.class_in,
			       ep.flags & ZH_POL_EP_F_ISO_IN ? " (isolated)" :
							       "",
			       ep.class_eg,
			       ep.flags & ZH_POL_EP_F_ISO_EG ? " (isolated)" :
							       "",
			       ep.flags & ZH_POL_EP_F_PENDING ? ", pending" :
								"",
			       ep.flags & ZH_POL_EP_F_AUDIT ? ", audit" : "");
		for (int d = 0; d < 2; d++) {
			pols = json_object_get(j, d ? "egressPolicies" :
						      "ingressPolicies");
			printf("  %s:", d ? "egress " : "ingress");
			if (!json_array_size(pols))
				printf(" no policy selects it");
			for (k = 0; k < json_array_size(pols); k++) {
				const char *n = json_string_value(
					json_array_get(pols, k));
				json_t *cnt = json_object_get(
					json_object_get(j, "policyCounters"),
					n ? n : "");

				printf(" %s", n ? n : "?");
				if (cnt)
					printf(" (allowed %lld, denied %lld, audited %lld)",
					       (long long)json_integer_value(
						       json_object_get(
							       cnt, "allowed")),
					       (long long)json_integer_value(
						       json_object_get(
							       cnt, "denied")),
					       (long long)json_integer_value(
						       json_object_get(
							       cnt,
							       "audited")));
			}
			printf("\n");
		}
		for (i = 0; i < json_array_size(flows) &&
			    (f = json_array_get(flows, i));
		     i++)
			printf("  %s -> %s %s/%d: %s\n",
			       json_string_value(json_object_get(f, "src")),
			       json_string_value(json_object_get(f, "dst")),
			       c->proto ? c->proto : "tcp", c->port,
			       json_string_value(
				       json_object_get(f, "verdict")));
	}
	json_decref(j);
	return 0;
}

/* --- the command line ------------------------------------------------------ */

/* The options, in their table's order: a command's own ones first, as
 * the bits of cmds[].opts. */
enum {
	O_OUTPUT,
	O_RESET,
	O_PROBES,
	O_SAMPLE,
	O_VIP,
	O_PORT,
	O_PROTO,
	O_BACKEND,
	O_AFFINITY,
	O_NODEPORT,
	O_FILE,
	O_CNI_DIR,
	O_NAME,
	O_ADDRESS,
	O_POD_CIDR,
	O_STATE_DIR,
	O_POD,
	O_PEER,
	O_CMD_MAX, /* every command takes those below */
	O_PIN_ROOT = O_CMD_MAX,
	O_HELP,
	O_MAX,
};

enum {
	OPT_OUTPUT = 1 << O_OUTPUT,
	OPT_RESET = 1 << O_RESET,
	OPT_PROBES = 1 << O_PROBES,
	OPT_SAMPLE = 1 << O_SAMPLE,
	OPT_VIP = 1 << O_VIP,
	OPT_PORT = 1 << O_PORT,
	OPT_PROTO = 1 << O_PROTO,
	OPT_BACKEND = 1 << O_BACKEND,
	OPT_AFFINITY = 1 << O_AFFINITY,
	OPT_NODEPORT = 1 << O_NODEPORT,
	OPT_FILE = 1 << O_FILE,
	OPT_CNI_DIR = 1 << O_CNI_DIR,
	OPT_NAME = 1 << O_NAME,
	OPT_ADDRESS = 1 << O_ADDRESS,
	OPT_POD_CIDR = 1 << O_POD_CIDR,
	OPT_STATE_DIR = 1 << O_STATE_DIR,
	OPT_POD = 1 << O_POD,
	OPT_PEER = 1 << O_PEER,
};

#define SVC_KEY_OPTS (OPT_VIP | OPT_PORT | OPT_PROTO)

/* --- node ------------------------------------------------------------------ */

static int prep_node(struct ctl *c)
{
	if (!c->node_name)
		return usage_err("node %s: --name is required", c->sub);
	if (!strcmp(c->sub, "add") && !c->n_node_addrs)
		return usage_err("node add: at least one --address");
	return 0;
}

/* The table as last applied, changed by @change, applied again and kept. */
static int node_change(struct ctl *c, bool add)
{
	struct zh_cluster_conf conf;
	struct zh_cluster_result r;
	struct zh_node_set set;
	struct zh_node_info n;
	char err[512];
	json_t *o;
	int lock, rc;

	lock = zh_pin_lock(c->root);
	if (lock < 0)
		return lock;
	rc = zh_cluster_state_load(c->state_dir, &conf, &set, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "zerohopctl: %s\n", err);
		rc = CMD_FAILED;
		goto out;
	}
	if (add) {
		o = json_pack("{s:s, s:[], s:[]}", "name", c->node_name,
			      "addresses", "podCIDRs");
		for (int i = 0; o && i < c->n_node_addrs; i++)
			json_array_append_new(json_object_get(o, "addresses"),
					      json_string(c->node_addrs[i]));
		for (int i = 0; o && i < c->n_node_cidrs; i++)
			json_array_append_new(json_object_get(o, "podCIDRs"),
					      json_string(c->node_cidrs[i]));
		rc = o ? zh_node_from_json(o, &n, err, sizeof(err)) : -ENOMEM;
		json_decref(o);
		if (!rc)
			rc = zh_node_set_put(&set, &n);
	} else {
		rc = zh_node_set_del(&set, c->node_name);
		if (rc == -ENOENT)
			snprintf(err, sizeof(err), "no node %s in the table",
				 c->node_name);
	}
	if (rc) {
		fprintf(stderr, "zerohopctl: node %s: %s\n", c->sub,
			rc == -EINVAL || rc == -ENOENT ? err : strerror(-rc));
		rc = CMD_FAILED;
		goto out_set;
	}
	rc = zh_cluster_apply(&c->objs, &conf, &set, &r);
	if (rc) {
		fprintf(stderr, "zerohopctl: node %s: %s\n", c->sub, r.err);
		rc = CMD_FAILED;
		goto out_set;
	}
	rc = zh_cluster_state_save(c->state_dir, &conf, &set);
out_set:
	zh_node_set_free(&set);
out:
	zh_pin_unlock(lock);
	return rc;
}

static int cmd_node_add(struct ctl *c)
{
	return node_change(c, true);
}

static int cmd_node_del(struct ctl *c)
{
	return node_change(c, false);
}

static int cmd_node_list(struct ctl *c)
{
	struct zh_cluster_conf conf;
	struct zh_node_set set;
	char err[512], buf[64];
	json_t *j, *nodes;
	int rc;

	rc = zh_cluster_state_load(c->state_dir, &conf, &set, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "zerohopctl: %s\n", err);
		return CMD_FAILED;
	}
	if (c->json) {
		j = json_pack("{s:s, s:s, s:[]}", "self", conf.self, "routing",
			      zh_routing_name(conf.routing), "nodes");
		nodes = json_object_get(j, "nodes");
		for (size_t i = 0; j && i < set.n; i++)
			json_array_append_new(nodes,
					      zh_node_to_json(&set.v[i]));
		rc = j ? print_json(j) : -ENOMEM;
	} else {
		printf("routing %s; this node: %s\n",
		       zh_routing_name(conf.routing), conf.self);
		printf("%-24s %-40s %s\n", "NODE", "ADDRESSES", "POD CIDRS");
		for (size_t i = 0; i < set.n; i++) {
			char a[256] = "", p[256] = "";

			for (int k = 0; k < set.v[i].n_addrs; k++)
				snprintf(a + strlen(a), sizeof(a) - strlen(a),
					 "%s%s", k ? "," : "",
					 zh_addr_str(&set.v[i].addrs[k], false,
						     buf, sizeof(buf)));
			for (int k = 0; k < set.v[i].n_cidrs; k++)
				snprintf(p + strlen(p), sizeof(p) - strlen(p),
					 "%s%s", k ? "," : "",
					 zh_addr_str(&set.v[i].cidrs[k], true,
						     buf, sizeof(buf)));
			printf("%-24s %-40s %s\n", set.v[i].name, a,
			       p[0] ? p : "-");
		}
	}
	zh_node_set_free(&set);
	return rc;
}

static const struct {
	const char *name, *sub;
	int (*fn)(struct ctl *c);
	int (*prep)(struct ctl *c); /* before the pins: usage, input */
	bool needs_objs;
	unsigned int opts;
} cmds[] = {
	{ "endpoints", NULL, cmd_endpoints, NULL, true, OPT_OUTPUT },
	{ "stats", NULL, cmd_stats, NULL, true,
	  OPT_OUTPUT | OPT_RESET | OPT_STATE_DIR },
	{ "latency", NULL, cmd_latency, NULL, true,
	  OPT_OUTPUT | OPT_RESET | OPT_PROBES | OPT_SAMPLE },
	{ "unpin", NULL, cmd_unpin, NULL, false, 0 },
	{ "uninstall", NULL, cmd_uninstall, NULL, false, OPT_CNI_DIR },
	{ "features", NULL, cmd_features, NULL, false, OPT_OUTPUT },
	{ "abi", NULL, cmd_abi, NULL, false, OPT_FILE },
	{ "service", "add", cmd_service_add, prep_add, true,
	  SVC_KEY_OPTS | OPT_BACKEND | OPT_AFFINITY | OPT_NODEPORT },
	{ "service", "del", cmd_service_del, prep_del, true, SVC_KEY_OPTS },
	{ "service", "list", cmd_service_list, NULL, true, OPT_OUTPUT },
	{ "service", "apply", cmd_service_apply, prep_apply, true,
	  OPT_FILE | OPT_OUTPUT },
	{ "node", "add", cmd_node_add, prep_node, true,
	  OPT_NAME | OPT_ADDRESS | OPT_POD_CIDR | OPT_STATE_DIR },
	{ "node", "del", cmd_node_del, prep_node, true,
	  OPT_NAME | OPT_STATE_DIR },
	{ "node", "list", cmd_node_list, NULL, false,
	  OPT_OUTPUT | OPT_STATE_DIR },
	{ "conntrack", "list", cmd_conntrack_list, NULL, true, OPT_OUTPUT },
	{ "conntrack", "flush", cmd_conntrack_flush, NULL, true, 0 },
	{ "conntrack", "gc", cmd_conntrack_gc, NULL, true, OPT_OUTPUT },
	{ "policy", NULL, cmd_policy, NULL, true,
	  OPT_OUTPUT | OPT_POD | OPT_PEER | OPT_PORT | OPT_PROTO },
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static int run(struct ctl *c, size_t i, const char *cmd)
{
	int err, rc;

	if (cmds[i].prep) {
		rc = cmds[i].prep(c);
		if (rc)
			return rc;
	}
	if (cmds[i].needs_objs) {
		err = zh_objs_open(&c->objs, c->root, 0, NULL);
		if (err) {
			fprintf(stderr, "zerohopctl: %s%s\n", c->objs.err,
				err == -ENOENT ? ": is zerohopd running?" : "");
			return EXIT_FAIL;
		}
	}
	err = cmds[i].fn(c);
	if (cmds[i].needs_objs)
		zh_objs_close(&c->objs);
	if (err < 0)
		fprintf(stderr, "zerohopctl: %s%s%s: %s\n", cmd,
			cmds[i].sub ? " " : "", cmds[i].sub ? cmds[i].sub : "",
			strerror(-err));
	return err ? EXIT_FAIL : 0;
}

int main(int argc, char **argv)
{
	static const char *const outputs[] = { "table", "json" };
	static struct ctl c; /* large: the backends of service add */
	bool help = false;
	struct zh_param opts[O_MAX + 1] = {
		[O_OUTPUT] =
			ZH_OPT_ENUM("output", 'o', &c.json, outputs, NULL, 2),
		[O_RESET] = ZH_OPT_FLAG("reset", 0, &c.reset),
		[O_PROBES] = ZH_OPT_STR("probes", 0, &c.probes),
		[O_SAMPLE] = ZH_OPT_STR("sample", 0, &c.sample),
		[O_VIP] = ZH_OPT_STR("vip", 0, &c.vip),
		[O_PORT] = ZH_OPT_UINT("port", 0, &c.port, 1, 65535),
		[O_PROTO] = ZH_OPT_STR("proto", 0, &c.proto),
		[O_BACKEND] = ZH_OPT_STRS("backend", 0, c.backends,
					  &c.n_backends, MAX_BACKENDS),
		[O_AFFINITY] = ZH_OPT_STR("affinity", 0, &c.affinity),
		[O_NODEPORT] =
			ZH_OPT_UINT("nodeport", 0, &c.nodeport, 1, 65535),
		[O_FILE] = ZH_OPT_STR("file", 'f', &c.file),
		[O_CNI_DIR] = ZH_OPT_STR("cni-conf-dir", 0, &c.cni_dir),
		[O_NAME] = ZH_OPT_STR("name", 0, &c.node_name),
		[O_ADDRESS] = ZH_OPT_STRS("address", 0, c.node_addrs,
					  &c.n_node_addrs, ZH_NODE_ADDRS_MAX),
		[O_POD_CIDR] = ZH_OPT_STRS("pod-cidr", 0, c.node_cidrs,
					   &c.n_node_cidrs, ZH_NODE_CIDRS_MAX),
		[O_STATE_DIR] = ZH_OPT_STR("state-dir", 0, &c.state_dir),
		[O_POD] = ZH_OPT_STR("pod", 0, &c.pod),
		[O_PEER] = ZH_OPT_STR("peer", 0, &c.peer),
		[O_PIN_ROOT] = ZH_OPT_STR("pin-root", 'p', &c.root),
		[O_HELP] = ZH_OPT_HELP(&help),
	};
	char err[ZH_PARAMS_ERR_MAX];
	const char *cmd = NULL;
	unsigned int given = 0;
	int next, rc;

	c.root = zh_pin_root_default();
	c.state_dir = zh_state_dir();
	zh_log_set_prefix("zerohopctl");
	zh_log_set_level(ZH_LOG_WARN);
	zh_log_hook_libs();
	/* Options may come before or after the command (getopt permutes). */
	next = zh_params_parse(opts, argc, argv, err, sizeof(err));
	if (help) {
		usage(stdout);
		return 0;
	}
	if (next == -EINVAL)
		return usage_err("%s", err);
	if (next < 0) { /* getopt's complaint: the usage helps */
		fprintf(stderr, "zerohopctl: %s\n", err);
		usage(stderr);
		return EXIT_USAGE;
	}
	for (int o = 0; o < O_CMD_MAX; o++)
		if (opts[o].given)
			given |= 1U << o;
	if (next >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[next++];
	for (size_t i = 0; i < N_CMDS; i++) {
		if (strcmp(cmd, cmds[i].name))
			continue;
		if (cmds[i].sub) {
			if (next >= argc)
				return usage_err(
					"%s: which? (%s)", cmd,
					!strcmp(cmd, "service") ?
						"add, del, list, apply" :
					!strcmp(cmd, "node") ?
						"add, del, list" :
						"list, flush");
			for (; i < N_CMDS && !strcmp(cmd, cmds[i].name); i++)
				if (!strcmp(argv[next], cmds[i].sub))
					break;
			if (i == N_CMDS || strcmp(cmd, cmds[i].name))
				return usage_err("%s: unknown command '%s'",
						 cmd, argv[next]);
			c.sub = argv[next++];
		}
		if (next < argc)
			return usage_err("unexpected argument '%s'",
					 argv[next]);
		for (int o = 0; o < O_CMD_MAX; o++)
			if ((given & ~cmds[i].opts) & (1U << o))
				return usage_err(
					"%s%s%s: --%s is not one of its options",
					cmd, c.sub ? " " : "",
					c.sub ? c.sub : "", opts[o].name);
		rc = run(&c, i, cmd);
		zh_svc_set_free(&c.file_set);
		return rc;
	}
	fprintf(stderr, "zerohopctl: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
