// SPDX-License-Identifier: Apache-2.0
/*
 * policy.c - zerohop-policy: zerohop-tc whose server pod is selected by a
 * NetworkPolicy that allows the client pod, so that every flow between
 * them is judged (the server's ingress, at the client's hop) and tracked
 * in zh_pol_ct4 (zh_pol_ct for IPv6), against zerohop-tc's pods that no
 * policy selects.
 *
 * The policy goes into the maps the way zerohopd --network-policy=on puts
 * it there: the objects as the API server returns them (a Namespace, the
 * three Pods with the addresses the plugin gave them, the NetworkPolicy),
 * through the agent's own compiler and writer (zh_pol_compile(),
 * zh_pol_diff(), zh_pol_maps_apply() and zh_pol_maps_sweep() under the pin
 * lock). No API server and no agent process: xdpbench measures the
 * datapath, as zerohop-svc programs its Services with zh_svc_apply().
 *
 * The mode goes on before the first ADD, so the pods start pending as on
 * a real node, and the compile replaces that: the third pod ("other",
 * app=other) is the one the policy does not allow, which run.c uses to
 * show that the path really enforces (it gets no reply, and the drops
 * are counted as drop_policy_ingress).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <jansson.h>

#include "xdpbench.h"
#include "maps.h"
#include "pin.h"
#include "pol_maps.h"
#include "policy.h"
#include "zerohop.h"

int xb_policy_mode_on(struct zh_objs *objs, const char *pin, char *why,
		      size_t why_len)
{
	int lock, ret;

	if (objs->pol_state_fd < 0 || objs->tc_to_pod_fd < 0)
		return zh_errf(
			why, why_len, -EOPNOTSUPP,
			"NetworkPolicy needs %s, which this kernel did not load (zerohopctl features)",
			ZH_PROG_TC_TO_POD);
	lock = zh_pin_lock(pin);
	if (lock < 0)
		return zh_errf(why, why_len, -EIO, "zh_pin_lock %s: %s", pin,
			       strerror(-lock));
	ret = zh_pol_maps_mode(objs, ZH_POL_MODE_ON);
	zh_pin_unlock(lock);
	if (ret)
		return zh_errf(why, why_len, -EIO,
			       "NetworkPolicy mode on in %s: %s", pin,
			       strerror(-ret));
	return 0;
}

/* A Pod of XB_POL_NODE as the API server has it, with one IPv4 address. */
static json_t *xb_pol_pod(const char *name, const char *app, struct in_addr ip)
{
	char addr[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &ip, addr, sizeof(addr));
	return json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:[{s:s}]}, s:{s:s, s:s, s:[{s:s}]}}",
		"apiVersion", "v1", "kind", "Pod", "metadata", "namespace",
		XB_POL_NS, "name", name, "labels", "app", app, "spec",
		"nodeName", XB_POL_NODE, "containers", "name", "bench",
		"status", "phase", "Running", "podIP", addr, "podIPs", "ip",
		addr);
}

/* The stores the compiler reads: Pods, Namespaces, NetworkPolicies. */
static int xb_pol_stores(const struct xb_path *p, json_t **pods, json_t **nss,
			 json_t **pols)
{
	*pods = json_object();
	*nss = json_object();
	*pols = json_object();
	if (!*pods || !*nss || !*pols ||
	    json_object_set_new(*pods, XB_POL_NS "/client",
				xb_pol_pod("client", "client", p->cli_ip)) ||
	    json_object_set_new(*pods, XB_POL_NS "/server",
				xb_pol_pod("server", "server", p->srv_ip)) ||
	    json_object_set_new(*pods, XB_POL_NS "/other",
				xb_pol_pod("other", "other", p->other_ip)) ||
	    json_object_set_new(*nss, XB_POL_NS,
				json_pack("{s:s, s:s, s:{s:s}}", "apiVersion",
					  "v1", "kind", "Namespace", "metadata",
					  "name", XB_POL_NS)) ||
	    json_object_set_new(
		    *pols, XB_POL_NS "/" XB_POL_NAME,
		    json_pack(
			    "{s:s, s:s, s:{s:s, s:s}, s:{s:{s:{s:s}}, s:[s], s:[{s:[{s:{s:{s:s}}}], s:[{s:s, s:i}, {s:s, s:i}]}]}}",
			    "apiVersion", "networking.k8s.io/v1", "kind",
			    "NetworkPolicy", "metadata", "namespace", XB_POL_NS,
			    "name", XB_POL_NAME, "spec", "podSelector",
			    "matchLabels", "app", "server", "policyTypes",
			    "Ingress", "ingress", "from", "podSelector",
			    "matchLabels", "app", "client", "ports", "protocol",
			    "UDP", "port", XB_DEFAULT_PORT, "protocol", "TCP",
			    "port", XB_DEFAULT_PORT))) {
		json_decref(*pods);
		json_decref(*nss);
		json_decref(*pols);
		return -ENOMEM;
	}
	return 0;
}

static struct zh_ep_key xb_pol_key(struct in_addr ip)
{
	struct zh_ep_key k;

	memset(&k, 0, sizeof(k));
	k.family = ZH_AF_INET;
	k.addr[0] = ip.s_addr;
	return k;
}

int xb_policy_apply(struct zh_objs *objs, const char *pin,
		    const struct xb_path *p, char *info_buf, size_t info_len,
		    char *why, size_t why_len)
{
	struct zh_pol_opts opts = { .node = XB_POL_NODE };
	struct zh_pol_apply_stats st = { 0 };
	struct zh_pol_model *m = NULL;
	struct zh_pol_op *ops = NULL;
	struct zh_pol_why pw[2];
	struct zh_ep_key cli = xb_pol_key(p->cli_ip),
			 srv = xb_pol_key(p->srv_ip),
			 other = xb_pol_key(p->other_ip);
	json_t *pods, *nss, *pols;
	size_t n_ops = 0;
	int lock, ret, v_cli, v_other;

	ret = xb_pol_stores(p, &pods, &nss, &pols);
	if (ret)
		return zh_errf(why, why_len, -EIO, "out of memory");
	ret = zh_pol_compile(pods, nss, pols, &opts, NULL, &m);
	if (!ret)
		ret = zh_pol_diff(NULL, m, &ops, &n_ops);
	json_decref(pods);
	json_decref(nss);
	json_decref(pols);
	if (ret) {
		ret = zh_errf(why, why_len, -EIO,
			      "compiling the NetworkPolicy: %s",
			      strerror(-ret));
		goto out;
	}
	if (m->n_rejects || m->sum.failed_classes) {
		ret = zh_errf(
			why, why_len, -EIO,
			"the NetworkPolicy did not compile whole: %s %s: %s",
			m->n_rejects ? m->rejects[0].kind : "class",
			m->n_rejects ? m->rejects[0].key : "",
			m->n_rejects ? m->rejects[0].reason :
				       "its cells do not fit");
		goto out;
	}
	lock = zh_pin_lock(pin);
	if (lock < 0) {
		ret = zh_errf(why, why_len, -EIO, "zh_pin_lock %s: %s", pin,
			      strerror(-lock));
		goto out;
	}
	ret = zh_pol_maps_apply(objs, ops, n_ops, &st);
	if (!ret)
		ret = zh_pol_maps_sweep(objs, m, &st);
	zh_pin_unlock(lock);
	if (ret || st.failed) {
		ret = zh_errf(
			why, why_len, -EIO,
			"writing the NetworkPolicy: %zu of %zu writes failed: %s",
			st.failed, st.writes, strerror(ret ? -ret : EIO));
		goto out;
	}
	/* What the maps now decide, read as the datapath reads them. */
	v_cli = zh_pol_maps_verdict(objs, &cli, &srv, IPPROTO_UDP,
				    XB_DEFAULT_PORT, pw);
	if (v_cli || !pw[0].judged || !pw[0].class) {
		ret = zh_errf(
			why, why_len, -EIO,
			"the maps do not judge the client to the server as allowed (%d, judged %d, class %u)",
			v_cli, pw[0].judged, pw[0].class);
		goto out;
	}
	v_other = zh_pol_maps_verdict(objs, &other, &srv, IPPROTO_UDP,
				      XB_DEFAULT_PORT, pw);
	if (v_other != ZH_STAT_DROP_POLICY_INGRESS) {
		ret = zh_errf(
			why, why_len, -EIO,
			"the maps do not deny the other pod the server's ingress (%d)",
			v_other);
		goto out;
	}
	snprintf(
		info_buf, info_len,
		"NetworkPolicy %s/%s compiled and written by zerohopd's code: %zu identities, %zu classes, %zu cells, %zu map writes",
		XB_POL_NS, XB_POL_NAME, m->sum.identities, m->sum.classes,
		m->sum.cells, st.writes);
	ret = 0;
out:
	free(ops);
	zh_pol_model_free(m);
	return ret;
}

long xb_policy_ct_count(const struct zh_objs *objs)
{
	/* Policy conntrack: IPv4 flows in zh_pol_ct4, IPv6 in zh_pol_ct. */
	const int fds[2] = { objs->pol_ct4_fd, objs->pol_ct_fd };
	long total = 0;

	for (int i = 0; i < 2; i++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		__u64 n;
		int err;

		if (fds[i] < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fds[i], &info, &len))
			return -errno;
		err = zh_map_count(fds[i], &info, &n);
		if (err)
			return err;
		total += (long)n;
	}
	return total;
}

int xb_policy_ct_flush(const struct zh_objs *objs)
{
	const int fds[2] = { objs->pol_ct4_fd, objs->pol_ct_fd };

	for (int i = 0; i < 2; i++) {
		__u64 k[8]; /* any key, aligned */
		long n = 0;

		/* Always the first key: deleting while walking would
		 * restart. */
		while (fds[i] >= 0 && !bpf_map_get_next_key(fds[i], NULL, k)) {
			if (bpf_map_delete_elem(fds[i], k) && errno != ENOENT)
				return -errno;
			if (++n > 2 * ZH_MAX_POL_CT)
				return -EBUSY;
		}
		if (fds[i] >= 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}
