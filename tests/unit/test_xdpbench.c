// SPDX-License-Identifier: Apache-2.0
/*
 * test_xdpbench.c - xdpbench's pure logic: nearest-rank percentiles and the
 * reservoir past the memory cap, option parsing for `xdpbench run`, the
 * kube-proxy rules for iptables and nftables, the size of the plot, and
 * the zerohop-afxdp path's rules: TCP is not its to carry, its network
 * configs, and which frames its client takes for its reply.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>
#include <jansson.h>

#include "log.h"
#include "xdpbench.h"
#include "zh_xsk.h"
#include "util.h"

/* --- samples --------------------------------------------------------------- */

static void test_rank_nearest(void **state)
{
	uint64_t v[1000];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(v); i++)
		v[i] = (i + 1) * 1000; /* 1..1000 µs */
	assert_true(xb_rank_us(v, 1000, 50) == 500);
	assert_true(xb_rank_us(v, 1000, 90) == 900);
	assert_true(xb_rank_us(v, 1000, 99) == 990);
	/* 0.999 * 1000 is 999.0000000000001 in doubles: still rank 999 */
	assert_true(xb_rank_us(v, 1000, 99.9) == 999);
	assert_true(xb_rank_us(v, 1000, 100) == 1000);
	assert_true(xb_rank_us(v, 1000, 0) == 1);
	assert_true(xb_rank_us(v, 1, 99.9) == 1);
	assert_true(xb_rank_us(v, 3, 50) == 2);
	assert_true(xb_rank_us(v, 0, 50) == 0);
}

static void test_summary_exact(void **state)
{
	struct xb_samples s = { 0 };
	struct xb_summary sm;
	uint64_t i;

	(void)state;
	/* 1..10000 µs, added backwards: xb_summarise sorts */
	for (i = 10000; i >= 1; i--)
		assert_int_equal(xb_samples_add(&s, i * 1000), 0);
	s.lost = 3;
	xb_summarise(&s, &sm);
	assert_true(sm.exact);
	assert_int_equal(sm.count, 10000);
	assert_int_equal(sm.lost, 3);
	assert_true(sm.min == 1 && sm.max == 10000);
	assert_true(sm.p50 == 5000 && sm.p99 == 9900 && sm.p999 == 9990);
	assert_true(sm.mean > 5000.49 && sm.mean < 5000.51);
	xb_samples_free(&s);
}

static void test_reservoir(void **state)
{
	struct xb_samples s = { .limit = 1000, .rng = 42 };
	struct xb_summary sm;
	uint64_t i;

	(void)state;
	for (i = 1; i <= 100000; i++)
		assert_int_equal(xb_samples_add(&s, i * 1000), 0);
	assert_int_equal(s.n, 1000);
	assert_true(s.cap <= 1000);
	xb_summarise(&s, &sm);
	assert_false(sm.exact);
	assert_int_equal(sm.count, 100000);
	/* min, max and mean stay exact; the median of a uniform sample of
	 * 1000 out of 1..100000 is within a few percent of 50000. */
	assert_true(sm.min == 1 && sm.max == 100000);
	assert_true(sm.mean > 50000 && sm.mean < 50001);
	assert_true(sm.p50 > 45000 && sm.p50 < 55000);
	/* free keeps the limit: a cell is reused across runs of a test */
	xb_samples_free(&s);
	assert_int_equal(s.limit, 1000);
}

/* --- options --------------------------------------------------------------- */

static int parse(struct xb_run_opts *o, ...)
{
	char *argv[32] = { "xdpbench" };
	int argc = 1;
	va_list ap;

	va_start(ap, o);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	return xb_run_parse(argc, argv, o);
}

static void test_parse_defaults(void **state)
{
	struct xb_run_opts o;
	int i;

	(void)state;
	assert_int_equal(parse(&o, NULL), 0);
	/* Every path but the cross-node ones (opt-in: -P). */
	assert_int_equal(o.n_paths, XB_P_DEFAULT_MAX);
	for (i = 0; i < XB_P_DEFAULT_MAX; i++)
		assert_int_equal(o.paths[i], i);
	assert_int_equal(o.n_wls, 2);
	assert_int_equal(o.wls[0], XB_WL_UDP_RR);
	assert_int_equal(o.wls[1], XB_WL_UDP_NEWFLOW);
	assert_int_equal(o.services, XB_DEFAULT_SERVICES);
	assert_int_equal(o.baseline, XB_P_VETH);
	assert_int_equal(o.size, 64);
	assert_int_equal(o.rounds, 5);
	assert_int_equal(o.warmup, 100);
	assert_true(o.duration == 1.0);
	assert_int_equal(o.cpu_client, -1);
	assert_false(o.json || o.busy_poll || o.quiet);
	assert_string_equal(o.cni_path, "/usr/lib/cni:/opt/cni/bin");
	/* ... which -P names. */
	assert_int_equal(parse(&o, "-P", "kubeproxy-nodeport,zerohop-nodeport",
			       NULL),
			 0);
	assert_int_equal(o.n_paths, 2);
	assert_int_equal(o.paths[0], XB_P_KP_NODEPORT);
	assert_int_equal(o.paths[1], XB_P_ZH_NODEPORT);
	/* DSR: opt-in as well, every workload on it. */
	assert_true(XB_P_ZH_NODEPORT_DSR >= XB_P_DEFAULT_MAX);
	assert_int_equal(parse(&o, "-P",
			       "zerohop-nodeport-dsr,zerohop-nodeport", NULL),
			 0);
	assert_int_equal(o.n_paths, 2);
	assert_int_equal(o.paths[0], XB_P_ZH_NODEPORT_DSR);
	assert_int_equal(o.paths[1], XB_P_ZH_NODEPORT);
	for (i = 0; i < XB_WL_MAX; i++)
		assert_null(xb_path_wl_skip(XB_P_ZH_NODEPORT_DSR, i));
}

/* udp-crr: a workload of its own, UDP (its server echoes datagrams),
 * that the AF_XDP path leaves out; its reply check compares addresses. */
static void test_udp_crr(void **state)
{
	struct sockaddr_storage a, b;
	struct xb_run_opts o;
	socklen_t len;

	(void)state;
	assert_int_equal(parse(&o, "--workload", "udp-crr,tcp-crr", NULL), 0);
	assert_int_equal(o.n_wls, 2);
	assert_int_equal(o.wls[0], XB_WL_UDP_CRR);
	assert_string_equal(xb_workload_names[XB_WL_UDP_CRR], "udp-crr");
	assert_false(xb_workload_is_tcp(XB_WL_UDP_CRR));
	assert_non_null(xb_path_wl_skip(XB_P_ZH_AFXDP, XB_WL_UDP_CRR));
	assert_null(xb_path_wl_skip(XB_P_ZH_SOCK, XB_WL_UDP_CRR));
	assert_int_equal(xb_resolve("10.96.0.10", 53, false, &a, &len), 0);
	assert_int_equal(xb_resolve("10.96.0.10", 53, false, &b, &len), 0);
	assert_true(xb_sockaddr_eq(&a, &b));
	assert_int_equal(xb_resolve("10.0.0.2", 53, false, &b, &len), 0);
	assert_false(xb_sockaddr_eq(&a, &b));
	assert_int_equal(xb_resolve("10.96.0.10", 5353, false, &b, &len), 0);
	assert_false(xb_sockaddr_eq(&a, &b));
	assert_int_equal(xb_resolve("fd00:96::10", 53, false, &b, &len), 0);
	assert_false(xb_sockaddr_eq(&a, &b));
	assert_int_equal(xb_resolve("fd00:96::10", 53, false, &a, &len), 0);
	assert_true(xb_sockaddr_eq(&a, &b));
}

static void test_parse_lists(void **state)
{
	struct xb_run_opts o;

	(void)state;
	assert_int_equal(parse(&o, "--paths", "zerohop-xdp,bridge,zerohop-xdp",
			       "--workload", "tcp-crr,udp-rr", NULL),
			 0);
	assert_int_equal(o.n_paths, 2);
	assert_int_equal(o.paths[0], XB_P_ZH_XDP);
	assert_int_equal(o.paths[1], XB_P_BRIDGE);
	assert_int_equal(o.n_wls, 2);
	assert_int_equal(o.wls[0], XB_WL_TCP_CRR);
	assert_true(xb_path_wl_skip(XB_P_ZH_AFXDP, XB_WL_TCP_CRR) != NULL);
	/* no veth: the first path is the baseline; no Services path */
	assert_int_equal(o.baseline, XB_P_ZH_XDP);
	assert_int_equal(o.services, 0);

	assert_int_equal(parse(&o, "--paths", "kubeproxy", "--services", "7",
			       "-b", "kubeproxy", "-o", "json", "-B", "-q",
			       NULL),
			 0);
	assert_int_equal(o.services, 7);
	assert_true(o.json && o.busy_poll && o.quiet);
}

static void test_parse_errors(void **state)
{
	static const char *const bad[][3] = {
		{ "--paths", "nope" },
		{ "--paths", "veth," },
		{ "--paths", "" },
		{ "--workload", "udp" },
		{ "--size", "1" },
		{ "--size", "15" },
		{ "--size", "65508" },
		{ "--duration", "0" },
		{ "--duration", "x" },
		{ "--rounds", "0" },
		{ "--services", "0" },
		{ "--warmup", "-1" },
		{ "--cpu-client", "100000" },
		{ "-o", "yaml" },
		{ "--baseline", "bridge" }, /* with --paths veth below */
		{ "stray" },
	};
	struct xb_run_opts o;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int ret = parse(&o, "--paths", i == 14 ? "veth" : "host,veth",
				bad[i][0], bad[i][1], NULL);

		if (ret != -EINVAL)
			fail_msg("'%s %s' parsed (%d)", bad[i][0],
				 bad[i][1] ? bad[i][1] : "", ret);
	}
	assert_int_equal(parse(&o, "--size", "16", NULL), 0);
	assert_int_equal(parse(&o, "-h", NULL), 1);
}

/* --- socket-level LB: zerohop-sock, host-svc, and kubeproxy-host ------------ */

static void test_parse_socklb(void **state)
{
	static struct xb_env e;
	struct xb_run_opts o;
	int id;

	(void)state;
	assert_string_equal(xb_path_names[XB_P_ZH_SOCK], "zerohop-sock");
	assert_string_equal(xb_path_names[XB_P_HOST_SVC], "host-svc");
	assert_string_equal(xb_path_names[XB_P_KUBEPROXY_HOST],
			    "kubeproxy-host");
	assert_int_equal(
		parse(&o, "--paths",
		      "zerohop-tc,zerohop-svc,zerohop-sock,host-svc,kubeproxy-host",
		      "--services", "10000", "-b", "zerohop-tc", "--workload",
		      "udp-rr,udp-newflow,tcp-crr", NULL),
		0);
	assert_int_equal(o.n_paths, 5);
	assert_int_equal(o.paths[2], XB_P_ZH_SOCK);
	assert_int_equal(o.paths[3], XB_P_HOST_SVC);
	assert_int_equal(o.paths[4], XB_P_KUBEPROXY_HOST);
	assert_int_equal(o.baseline, XB_P_ZH_TC);
	assert_int_equal(o.services, 10000);
	assert_int_equal(o.n_wls, 3);
	assert_int_equal(o.wls[2], XB_WL_TCP_CRR);
	/* Each of the three alone is a Services path: --services stays. */
	assert_int_equal(parse(&o, "--paths", "host-svc", "-N", "3", NULL), 0);
	assert_int_equal(o.services, 3);
	assert_int_equal(parse(&o, "--paths", "kubeproxy-host", NULL), 0);
	assert_int_equal(o.services, XB_DEFAULT_SERVICES);
	assert_int_equal(parse(&o, "--paths", "zerohop-sock", NULL), 0);
	assert_int_equal(o.services, XB_DEFAULT_SERVICES);
	assert_int_equal(o.baseline, XB_P_ZH_SOCK);
	/* a prefix is not a name */
	assert_int_equal(parse(&o, "--paths", "zerohop-so", NULL), -EINVAL);
	assert_int_equal(parse(&o, "--paths", "host-", NULL), -EINVAL);
	/* Only the socket-LB paths get a cgroup (zerohop-sock-pod: the
	 * same node, the pod's own address); they and kubeproxy's, Services. */
	for (id = 0; id < XB_P_MAX; id++) {
		bool sock = id == XB_P_ZH_SOCK || id == XB_P_HOST_SVC ||
			    id == XB_P_ZH_SOCK_POD;
		bool svc = sock || id == XB_P_KUBEPROXY ||
			   id == XB_P_NFTABLES || id == XB_P_ZH_SVC ||
			   id == XB_P_KUBEPROXY_HOST;

		if (xb_path_is_socklb(id) != sock)
			fail_msg("%s: xb_path_is_socklb %d", xb_path_names[id],
				 !sock);
		if (xb_path_has_services(id) != svc)
			fail_msg("%s: xb_path_has_services %d",
				 xb_path_names[id], !svc);
	}
	/* No cgroup known to go back to, or none there: an error, and
	 * this process stays where it is. */
	memset(&e, 0, sizeof(e));
	assert_int_equal(xb_cgroup_enter(&e, NULL), -ENOENT);
	assert_int_equal(xb_cgroup_enter(&e, "/nonexistent/xb-cgroup"),
			 -ENOENT);
}

/* --- zerohop-afxdp ------------------------------------------------------------ */

/* --- zerohop-policy ------------------------------------------------------------ */

static void test_parse_policy(void **state)
{
	struct xb_run_opts o;
	int i;

	(void)state;
	assert_string_equal(xb_path_names[XB_P_ZH_POLICY], "zerohop-policy");
	/* opt-in: not in the default set */
	assert_int_equal(parse(&o, NULL), 0);
	for (i = 0; i < o.n_paths; i++)
		assert_int_not_equal(o.paths[i], XB_P_ZH_POLICY);
	assert_int_equal(parse(&o, "--paths", "zerohop-tc,zerohop-policy", "-b",
			       "zerohop-tc", NULL),
			 0);
	assert_int_equal(o.n_paths, 2);
	assert_int_equal(o.paths[1], XB_P_ZH_POLICY);
	assert_int_equal(o.baseline, XB_P_ZH_TC);
	/* no Services, no cgroup, every workload */
	assert_int_equal(o.services, 0);
	assert_false(xb_path_has_services(XB_P_ZH_POLICY));
	assert_false(xb_path_is_socklb(XB_P_ZH_POLICY));
	for (i = 0; i < XB_WL_MAX; i++)
		assert_null(xb_path_wl_skip(XB_P_ZH_POLICY, i));
	assert_int_equal(parse(&o, "--paths", "zerohop-pol", NULL), -EINVAL);
}

static void test_parse_afxdp(void **state)
{
	struct xb_run_opts o;

	(void)state;
	assert_string_equal(xb_path_names[XB_P_ZH_AFXDP], "zerohop-afxdp");
	assert_int_equal(parse(&o, "--paths", "host,zerohop-tc,zerohop-afxdp",
			       "--baseline", "host", "--busy-poll", NULL),
			 0);
	assert_int_equal(o.n_paths, 3);
	assert_int_equal(o.paths[2], XB_P_ZH_AFXDP);
	assert_int_equal(o.baseline, XB_P_HOST);
	assert_true(o.busy_poll);
	/* not a Services path */
	assert_int_equal(o.services, 0);
	assert_int_equal(parse(&o, "--paths", "zerohop-afxdp", NULL), 0);
	assert_int_equal(o.baseline, XB_P_ZH_AFXDP);
	/* a prefix is not a name */
	assert_int_equal(parse(&o, "--paths", "zerohop-af", NULL), -EINVAL);
}

static void test_afxdp_tcp_skip(void **state)
{
	int p, w;

	(void)state;
	for (p = 0; p < XB_P_MAX; p++) {
		for (w = 0; w < XB_WL_MAX; w++) {
			const char *why = xb_path_wl_skip(p, w);

			if (p == XB_P_ZH_AFXDP && xb_workload_is_tcp(w))
				assert_string_equal(
					why, "AF_XDP path: UDP workloads only");
			else if (p == XB_P_ZH_AFXDP && w == XB_WL_UDP_CRR)
				assert_non_null(why);
			else if (why)
				fail_msg("%s %s skipped: %s", xb_path_names[p],
					 xb_workload_names[w], why);
		}
	}
}

static json_t *conf_json(const char *sock, bool every_port)
{
	char *text = xb_zh_conf("zerohop-afxdp", "tc", "10.247.0.0/24",
				"/tmp/ipam", sock, every_port);
	json_t *j, *range;

	assert_non_null(text);
	assert_int_equal(text[strlen(text) - 1], '\n');
	j = json_loads(text, 0, NULL);
	free(text);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "datapath")),
			    "tc");
	range = json_array_get(
		json_array_get(json_object_get(json_object_get(j, "ipam"),
					       "ranges"),
			       0),
		0);
	assert_string_equal(json_string_value(json_object_get(range, "subnet")),
			    "10.247.0.0/24");
	return j;
}

static void test_afxdp_conf(void **state)
{
	json_t *j, *a, *steer;

	(void)state;
	/* no socket: a plain pod, 1.0.0 */
	j = conf_json(NULL, false);
	assert_string_equal(json_string_value(json_object_get(j, "cniVersion")),
			    "1.0.0");
	assert_null(json_object_get(j, "afxdp"));
	json_decref(j);

	/* the server's pod: the bench's port, the socket; 1.1.0 so that
	 * the result names it */
	j = conf_json("/tmp/xb1.x/xsk.sock", false);
	assert_string_equal(json_string_value(json_object_get(j, "cniVersion")),
			    "1.1.0");
	a = json_object_get(j, "afxdp");
	assert_string_equal(json_string_value(json_object_get(a, "socketPath")),
			    "/tmp/xb1.x/xsk.sock");
	steer = json_object_get(a, "steer");
	assert_int_equal(json_array_size(steer), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(steer, 0), "proto")),
			    "udp");
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(steer, 0), "port")),
			 XB_DEFAULT_PORT);
	json_decref(j);

	/* the client's pod: every UDP port too (a rule without a port), for
	 * udp-newflow's replies */
	j = conf_json("/tmp/xb1.x/xsk.sock", true);
	steer = json_object_get(json_object_get(j, "afxdp"), "steer");
	assert_int_equal(json_array_size(steer), 2);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(steer, 0), "port")),
			 XB_DEFAULT_PORT);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(steer, 1), "proto")),
			    "udp");
	assert_null(json_object_get(json_array_get(steer, 1), "port"));
	json_decref(j);
}

/* Frames the client may see: is each its reply, and to which port? */
static void test_afxdp_frames(void **state)
{
	static const struct {
		const char *desc;
		int family;
		size_t size; /* the payload built */
		uint32_t seq; /* in its probe */
		size_t want_size; /* what the client asks for */
		int cut; /* bytes cut off the end */
		int proto; /* overwrite the protocol byte (0: leave it) */
		bool reply;
		int dport;
	} cases[] = {
		{ "the reply", 4, 64, 7, 64, 0, 0, true, 7777 },
		{ "IPv6 too", 6, 64, 7, 64, 0, 0, true, 7777 },
		{ "a big one", 4, 1400, 7, 1400, 0, 0, true, 7777 },
		{ "an earlier request's reply", 4, 64, 6, 64, 0, 0, false,
		  7777 },
		{ "another size", 4, 80, 7, 64, 0, 0, false, 7777 },
		{ "cut short", 4, 64, 7, 64, 10, 0, false, -EINVAL },
		{ "TCP, not UDP", 4, 64, 7, 64, 0, 6, false, -EINVAL },
		{ "no probe at all", 4, 16, 7, 16, 0, 0, false, 7777 },
	};
	struct zh_xsk_addrs self = {
		.mac = { 2, 0, 0, 0, 0, 1 },
		.gw_mac = { 2, 0, 0, 0, 0, 2 },
		.addr_flags = ZH_XSK_ADDR_V4 | ZH_XSK_ADDR_V6,
	};
	uint8_t dst[16] = { 0xfd, 0, [15] = 3 };
	size_t i;

	(void)state;
	inet_pton(AF_INET, "10.247.0.2", &self.ipv4);
	inet_pton(AF_INET6, "fd00::2", self.ipv6);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t frame[2048];
		char payload[1500];
		int len, n;
		size_t j;

		for (j = 0; j < cases[i].size; j++)
			payload[j] = (char)('a' + j % 26);
		/* "no probe": the filler where the magic would be */
		if (strcmp(cases[i].desc, "no probe at all"))
			xb_probe_fill(payload, cases[i].seq, 1);
		if (cases[i].family == 4)
			inet_pton(AF_INET, "10.247.0.3", dst);
		else
			inet_pton(AF_INET6, "fd00::3", dst);
		len = zh_xsk_udp_build(frame, sizeof(frame), &self, dst,
				       cases[i].family, 40000, 7777, payload,
				       (uint32_t)cases[i].size);
		assert_true(len > 0);
		if (cases[i].proto)
			frame[14 + (cases[i].family == 4 ? 9 : 6)] =
				(uint8_t)cases[i].proto;
		n = len - cases[i].cut;
		if (xb_xsk_is_reply(frame, (uint32_t)n, cases[i].want_size,
				    7) != cases[i].reply)
			fail_msg("%s: %s a reply", cases[i].desc,
				 cases[i].reply ? "not" : "taken for");
		if (xb_xsk_dport(frame, (uint32_t)n) != cases[i].dport)
			fail_msg("%s: port %d, want %d", cases[i].desc,
				 xb_xsk_dport(frame, (uint32_t)n),
				 cases[i].dport);
		/* The server's echo keeps the payload where it was and
		 * sends it back to the request's source port. */
		if (cases[i].reply) {
			assert_int_equal(zh_xsk_udp_swap(frame, (uint32_t)n),
					 0);
			assert_true(xb_xsk_is_reply(frame, (uint32_t)n,
						    cases[i].want_size, 7));
			assert_int_equal(xb_xsk_dport(frame, (uint32_t)n),
					 40000);
		}
	}
}

/* --- Service rules --------------------------------------------------------- */

static char *generate(int (*fn)(FILE *, const struct xb_svc_cfg *), uint32_t n)
{
	struct xb_svc_cfg c = { .n = n, .target_port = 7777 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	inet_pton(AF_INET, "10.242.0.3", &c.target_ip);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(fn(f, &c), 0);
	fclose(f);
	return buf;
}

static int count(const char *text, const char *needle)
{
	int n = 0;

	for (; (text = strstr(text, needle)); text++)
		n++;
	return n;
}

static void test_iptables_rules(void **state)
{
	char *r = generate(xb_svc_iptables, 10);
	const char *last_svc, *tcp, *udp, *nodeports;

	(void)state;
	/* 10 Services, the last with a UDP and a TCP port */
	assert_int_equal(count(r, "-A KUBE-SERVICES -d "), 11);
	assert_int_equal(count(r, "-j DNAT --to-destination"), 9 * 2 + 2);
	assert_int_equal(count(r, "--to-destination 10.242.0.3:7777"), 2);
	/* one statistic rule per dummy Service (2 endpoints), none for
	 * the target's single endpoint */
	assert_int_equal(
		count(r,
		      "-m statistic --mode random --probability 0.50000000000"),
		9);
	/* the target's rules are the last ones in KUBE-SERVICES, then the
	 * node ports rule kube-proxy always ends with */
	udp = strstr(r, "-A KUBE-SERVICES -d 10.96.0.19/32 -p udp");
	tcp = strstr(r, "-A KUBE-SERVICES -d 10.96.0.19/32 -p tcp");
	last_svc = strstr(r, "-A KUBE-SERVICES -d 10.96.0.18/32");
	nodeports = strstr(r, "-j KUBE-NODEPORTS");
	assert_non_null(udp);
	assert_non_null(tcp);
	assert_true(last_svc && last_svc < udp && udp < tcp);
	assert_true(nodeports > tcp);
	assert_non_null(strstr(r, "-j MASQUERADE --random-fully"));
	assert_int_equal(strncmp(r, "*nat\n", 5), 0);
	assert_int_equal(strcmp(r + strlen(r) - 7, "COMMIT\n"), 0);
	free(r);
}

static void test_nft_rules(void **state)
{
	char *r = generate(xb_svc_nft, 10);

	(void)state;
	assert_non_null(
		strstr(r, "ip daddr . meta l4proto . th dport vmap @svc"));
	assert_int_equal(count(r, " dnat to "), 9 * 2 + 2);
	assert_int_equal(count(r, "dnat to 10.242.0.3:7777"), 2);
	assert_int_equal(count(r, "numgen random mod 2 == 0 goto"), 9);
	/* one map element per Service port */
	assert_int_equal(count(r, " . 80 : goto service-"), 11);
	assert_non_null(strstr(r, "10.96.0.19 . udp . 80 : goto"));
	assert_non_null(strstr(r, "10.96.0.19 . tcp . 80 : goto"));
	free(r);
}

static void test_chain_names(void **state)
{
	char a[32], b[32], c[32];

	(void)state;
	xb_svc_chain(a, sizeof(a), "KUBE-SVC-", 1, 17, -1);
	xb_svc_chain(b, sizeof(b), "KUBE-SVC-", 2, 17, -1);
	xb_svc_chain(c, sizeof(c), "KUBE-SVC-", 1, 6, -1);
	/* iptables allows 28 characters, kube-proxy uses 9 + 16 */
	assert_int_equal(strlen(a), 25);
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
	xb_svc_chain(b, sizeof(b), "KUBE-SVC-", 1, 17, -1);
	assert_string_equal(a, b);
}

/* --- plot -------------------------------------------------------------------- */

static void test_plot_small(void **state)
{
	static struct xb_cell cells[XB_WL_MAX][XB_P_MAX];
	const char *skip[2] = { NULL, NULL };
	int paths[2] = { XB_P_VETH, XB_P_ZH_TC };
	struct xb_run_opts o;
	struct xb_result_set rs = {
		.o = &o,
		.command = "xdpbench --plot <a&b>.svg",
		.paths = paths,
		.n_paths = 2,
		.path_skip = skip,
		.cells = cells,
	};
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f;
	int w, p;

	(void)state;
	assert_int_equal(parse(&o, "--workload", "udp-rr,tcp-crr", NULL), 0);
	/* 4 x 200000 samples of a long-tailed distribution */
	for (w = 0; w < 2; w++) {
		for (p = 0; p < 2; p++) {
			struct xb_cell *c = &cells[o.wls[w]][paths[p]];

			for (i = 0; i < 200000; i++)
				xb_samples_add(&c->s,
					       20000 + (i * i) % 977 * 7 +
						       (i % 1000 == 0 ? i * 3 :
									0));
			xb_summarise(&c->s, &c->sm);
		}
	}
	f = open_memstream(&buf, &len);
	assert_int_equal(xb_plot_svg(f, &rs), 0);
	fclose(f);
	assert_true(len < 300 * 1024 / 4);
	assert_int_equal(count(buf, "<path "), 4);
	assert_int_equal(count(buf, "data-path=\"veth\""), 2);
	assert_non_null(strstr(buf, "&lt;a&amp;b&gt;.svg"));
	assert_int_equal(strcmp(buf + len - 7, "</svg>\n"), 0);
	free(buf);
	for (w = 0; w < XB_WL_MAX; w++) {
		for (p = 0; p < XB_P_MAX; p++)
			xb_samples_free(&cells[w][p].s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rank_nearest),
		cmocka_unit_test(test_summary_exact),
		cmocka_unit_test(test_reservoir),
		cmocka_unit_test(test_parse_defaults),
		cmocka_unit_test(test_udp_crr),
		cmocka_unit_test(test_parse_policy),
		cmocka_unit_test(test_parse_lists),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_socklb),
		cmocka_unit_test(test_parse_afxdp),
		cmocka_unit_test(test_afxdp_tcp_skip),
		cmocka_unit_test(test_afxdp_conf),
		cmocka_unit_test(test_afxdp_frames),
		cmocka_unit_test(test_iptables_rules),
		cmocka_unit_test(test_nft_rules),
		cmocka_unit_test(test_chain_names),
		cmocka_unit_test(test_plot_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
