// SPDX-License-Identifier: Apache-2.0
/*
 * test_kfeatures.c - the logic over a probed feature set (user/lib/
 * kfeatures.c): names, ZEROHOP_DISABLE_FEATURES lists, what each use of
 * zerohop needs and which feature it reports missing, and the CNI plugin's
 * refusal of a mode the kernel cannot run (cni/conf.c). The probes
 * themselves load programs: the BPF tier tests them against the kernel.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cni.h"
#include "kfeatures.h"
#include "util.h"

static struct zh_kfeat all(void)
{
	return (struct zh_kfeat){ .present = ZH_FEAT_ALL,
				  .probed = ZH_FEAT_ALL,
				  .kernel = "6.99.0-test" };
}

static struct zh_kfeat without(__u64 bits)
{
	struct zh_kfeat f = all();

	f.present &= ~bits;
	return f;
}

static void test_names(void **state)
{
	(void)state;
	for (int id = 0; id < ZH_FEAT_MAX; id++) {
		const char *n = zh_feat_name(id);
		const struct zh_feat_doc *d = zh_feat_doc(id);

		assert_non_null(n);
		assert_int_equal(zh_feat_by_name(n, strlen(n)), id);
		/* Every row of `zerohopctl features` has its columns. */
		assert_non_null(d);
		assert_non_null(d->what);
		assert_non_null(d->used_by);
		assert_non_null(d->since);
		for (int j = 0; j < id; j++)
			assert_string_not_equal(n, zh_feat_name(j));
	}
	assert_null(zh_feat_name(ZH_FEAT_MAX));
	assert_null(zh_feat_name(-1));
	assert_int_equal(zh_feat_by_name("tcxx", 4), -ENOENT);
	assert_int_equal(zh_feat_by_name("tcx", 2), -ENOENT); /* "tc" */
	assert_int_equal(zh_feat_by_name("tcxx", 3), ZH_FEAT_TCX);
	/* The names the issue and the docs use. */
	assert_string_equal(zh_feat_name(ZH_FEAT_XDP_META), "xdp_meta");
	assert_string_equal(zh_feat_name(ZH_FEAT_TCX), "tcx");
	assert_string_equal(zh_feat_name(ZH_FEAT_XDP_VETH), "xdp_veth_native");
}

static void test_parse_list(void **state)
{
	static const struct {
		const char *list;
		int rc;
		__u64 mask;
	} cases[] = {
		{ "", 0, 0 },
		{ ",,", 0, 0 },
		{ "xdp_meta", 0, ZH_FEAT_BIT(XDP_META) },
		{ "xdp_meta,tcx", 0, ZH_FEAT_BIT(XDP_META) | ZH_FEAT_BIT(TCX) },
		{ " xdp_meta , , tcx\t", 0,
		  ZH_FEAT_BIT(XDP_META) | ZH_FEAT_BIT(TCX) },
		{ "tcx,tcx", 0, ZH_FEAT_BIT(TCX) },
		{ "xdp_veth_native,tc_redirect_peer", 0,
		  ZH_FEAT_BIT(XDP_VETH) | ZH_FEAT_BIT(TC_REDIRECT_PEER) },
		{ "bogus", -EINVAL, 0 },
		{ "xdp_meta,xdp", -EINVAL, 0 },
		{ "XDP_META", -EINVAL, 0 }, /* names are exact */
		{ "tcx;xdp_meta", -EINVAL, 0 },
		/* No bit: the loader leaves zh_sock_release out. */
		{ "cgroup_sock_release", 0, 0 },
		{ " tcx, cgroup_sock_release ", 0, ZH_FEAT_BIT(TCX) },
		{ "cgroup_sock_releasex", -EINVAL, 0 },
	};
	char err[256];
	__u64 mask;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		err[0] = '\0';
		mask = 12345;
		assert_int_equal(zh_feat_parse_list(cases[i].list, &mask, err,
						    sizeof(err)),
				 cases[i].rc);
		if (cases[i].rc) {
			assert_contains(err, "unknown kernel feature");
			continue;
		}
		assert_int_equal(mask, cases[i].mask);
	}
	assert_int_equal(zh_feat_parse_list("bogus,tcx", &mask, err,
					    sizeof(err)),
			 -EINVAL);
	assert_contains(err, "\"bogus\"");
	/* ... as zh_feat_sock_release_disabled() reads the variable. */
	unsetenv(ZH_DISABLE_FEATURES_ENV);
	assert_false(zh_feat_sock_release_disabled());
	setenv(ZH_DISABLE_FEATURES_ENV, "tcx, cgroup_sock_release\t,x", 1);
	assert_true(zh_feat_sock_release_disabled());
	setenv(ZH_DISABLE_FEATURES_ENV, "cgroup_sock_releasex,tcx", 1);
	assert_false(zh_feat_sock_release_disabled());
	setenv(ZH_DISABLE_FEATURES_ENV, "cgroup_sock_release", 1);
	assert_true(zh_feat_sock_release_disabled());
	assert_false(zh_feat_sock_release());
	unsetenv(ZH_DISABLE_FEATURES_ENV);
}

/* For each feature taken away: which uses fail, and on what. */
static void test_use_missing(void **state)
{
	static const struct {
		__u64 gone;
		int want[ZH_USE_MAX]; /* -1: works */
	} cases[] = {
		/* Uses: tc, xdp, afxdp, nodeport, sampling, socket LB, the
		 * cross-node fast path native and vxlan. */
		{ 0, { -1, -1, -1, -1, -1, -1, -1, -1 } },
		/* Fallbacks: everything keeps working. */
		{ ZH_FEAT_BIT(XDP_META), { -1, -1, -1, -1, -1, -1, -1, -1 } },
		{ ZH_FEAT_BIT(TCX), { -1, -1, -1, -1, -1, -1, -1, -1 } },
		{ ZH_FEAT_BIT(TC_REDIRECT_PEER),
		  { -1, -1, -1, -1, -1, -1, -1, -1 } },
		{ ZH_FEAT_BIT(TC_SKB_CHANGE_TAIL) |
			  ZH_FEAT_BIT(XDP_ADJUST_TAIL),
		  { -1, -1, -1, -1, -1, -1, -1, -1 } },
		{ ZH_FEAT_BIT(TC_FIB_LOOKUP),
		  { -1, -1, -1, -1, -1, -1, -1, -1 } },
		/* Socket LB without getpeername() or bpf_set_retval(). */
		{ ZH_FEAT_BIT(SOCK_GETPEERNAME) | ZH_FEAT_BIT(SOCK_SET_RETVAL),
		  { -1, -1, -1, -1, -1, -1, -1, -1 } },
		/* No way to attach tc programs at all. */
		{ ZH_FEAT_BIT(TCX) | ZH_FEAT_BIT(TC_CLSACT),
		  { ZH_FEAT_TC_CLSACT, ZH_FEAT_TC_CLSACT, ZH_FEAT_TC_CLSACT,
		    ZH_FEAT_TC_CLSACT, -1, -1, ZH_FEAT_TC_CLSACT,
		    ZH_FEAT_TC_CLSACT } },
		{ ZH_FEAT_BIT(XDP_VETH),
		  { -1, ZH_FEAT_XDP_VETH, ZH_FEAT_XDP_VETH, -1, -1, -1, -1,
		    -1 } },
		{ ZH_FEAT_BIT(AFXDP),
		  { -1, -1, ZH_FEAT_AFXDP, -1, -1, -1, -1, -1 } },
		{ ZH_FEAT_BIT(XDP_REDIRECT_MAP),
		  { -1, -1, ZH_FEAT_XDP_REDIRECT_MAP, -1, -1, -1, -1, -1 } },
		{ ZH_FEAT_BIT(TC_REDIRECT_NEIGH),
		  { -1, -1, -1, ZH_FEAT_TC_REDIRECT_NEIGH, -1, -1,
		    ZH_FEAT_TC_REDIRECT_NEIGH, -1 } },
		{ ZH_FEAT_BIT(TC_SET_TUNNEL_KEY),
		  { -1, -1, -1, -1, -1, -1, -1, ZH_FEAT_TC_SET_TUNNEL_KEY } },
		{ ZH_FEAT_BIT(PROG_TC_TUNNEL),
		  { -1, -1, -1, -1, -1, -1, -1, ZH_FEAT_PROG_TC_TUNNEL } },
		{ ZH_FEAT_BIT(XDP_GET_PRANDOM_U32),
		  { -1, -1, -1, -1, ZH_FEAT_XDP_GET_PRANDOM_U32, -1, -1, -1 } },
		/* A helper every tc program calls: every use with one. */
		{ ZH_FEAT_BIT(TC_MAP_LOOKUP_ELEM),
		  { ZH_FEAT_TC_MAP_LOOKUP_ELEM, ZH_FEAT_TC_MAP_LOOKUP_ELEM,
		    ZH_FEAT_TC_MAP_LOOKUP_ELEM, ZH_FEAT_TC_MAP_LOOKUP_ELEM, -1,
		    -1, ZH_FEAT_TC_MAP_LOOKUP_ELEM,
		    ZH_FEAT_TC_MAP_LOOKUP_ELEM } },
		{ ZH_FEAT_BIT(XDP_REDIRECT),
		  { -1, ZH_FEAT_XDP_REDIRECT, -1, -1, -1, -1, -1, -1 } },
		/* A hook of socket LB, or its helpers: socket LB alone. */
		{ ZH_FEAT_BIT(SOCK_RECVMSG),
		  { -1, -1, -1, -1, -1, ZH_FEAT_SOCK_RECVMSG, -1, -1 } },
		{ ZH_FEAT_BIT(SOCK_HELPERS),
		  { -1, -1, -1, -1, -1, ZH_FEAT_SOCK_HELPERS, -1, -1 } },
		{ ZH_FEAT_BIT(MAPS),
		  { ZH_FEAT_MAPS, ZH_FEAT_MAPS, ZH_FEAT_MAPS, ZH_FEAT_MAPS, -1,
		    ZH_FEAT_MAPS, ZH_FEAT_MAPS, ZH_FEAT_MAPS } },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct zh_kfeat f = without(cases[i].gone);
		struct zh_kfeat d = all();

		/* Disabled counts as absent, the same way. */
		d.disabled = cases[i].gone;
		for (int u = 0; u < ZH_USE_MAX; u++) {
			if (zh_use_missing(&f, u) != cases[i].want[u] ||
			    zh_use_missing(&d, u) != cases[i].want[u])
				fail_msg(
					"case %zu, %s: missing %d (disabled: %d), want %d",
					i, zh_use_name(u),
					zh_use_missing(&f, u),
					zh_use_missing(&d, u),
					cases[i].want[u]);
		}
	}
}

/* NodePort DSR: the agent's and xdpbench's one check, each missing
 * helper named; disabled counts as absent. */
static void test_dsr_missing(void **state)
{
	struct zh_kfeat f = all();

	(void)state;
	assert_null(zh_dsr_missing(&f));
	f = without(ZH_FEAT_BIT(TC_FIB_LOOKUP) | ZH_FEAT_BIT(XDP_META));
	assert_null(zh_dsr_missing(&f));
	f = without(ZH_FEAT_BIT(TC_CHECK_MTU));
	assert_string_equal(zh_dsr_missing(&f), "no bpf_check_mtu in tc");
	f = without(ZH_FEAT_BIT(TC_REDIRECT_NEIGH));
	assert_string_equal(zh_dsr_missing(&f), "no bpf_redirect_neigh in tc");
	f = all();
	f.disabled = ZH_FEAT_BIT(TC_CHECK_MTU);
	assert_string_equal(zh_dsr_missing(&f), "no bpf_check_mtu in tc");
}

static void test_programs(void **state)
{
	struct zh_kfeat f = all();

	(void)state;
	for (size_t i = 0; i < zh_prog_defs_n; i++) {
		/* A variant feature never keeps a program from loading. */
		f = without(zh_prog_defs[i].variant);
		assert_int_equal(zh_prog_missing(&f, zh_prog_defs[i].name), -1);
		assert_false(zh_prog_defs[i].needs & zh_prog_defs[i].variant);
	}
	f = without(ZH_FEAT_BIT(XDP_META));
	assert_int_equal(zh_prog_missing(&f, ZH_PROG_XDP_FROM_POD), -1);
	f = without(ZH_FEAT_BIT(AFXDP));
	assert_int_equal(zh_prog_missing(&f, ZH_PROG_XDP_POD_XSK),
			 ZH_FEAT_AFXDP);
	assert_int_equal(zh_prog_missing(&f, ZH_PROG_XDP_POD), -1);
	f = all();
	assert_int_equal(zh_prog_missing(&f, "no_such_prog"), ZH_FEAT_MAPS);
}

static void test_summary(void **state)
{
	struct zh_kfeat f = without(ZH_FEAT_BIT(XDP_META));
	char buf[1024], want[64];

	(void)state;
	f.disabled = ZH_FEAT_BIT(TCX);
	zh_feat_summary(&f, buf, sizeof(buf));
	snprintf(want, sizeof(want), "kernel 6.99.0-test: %d of %d features",
		 ZH_FEAT_MAX - 2, ZH_FEAT_MAX);
	assert_contains(buf, want);
	assert_contains(buf, "xdp_meta absent (fallback: ");
	assert_contains(buf, "tcx disabled (fallback: ");
	f = without(ZH_FEAT_BIT(XDP_VETH));
	zh_feat_summary(&f, buf, sizeof(buf));
	assert_contains(buf, "xdp_veth_native absent (refused: ");
	/* Cut short, never overrun. */
	f = without(ZH_FEAT_ALL);
	zh_feat_summary(&f, buf, 40);
	assert_int_equal(strlen(buf), 39);
}

static int conf_of(const char *extra, struct zh_netconf *conf)
{
	struct zh_cni_err err;
	char doc[1024];

	snprintf(
		doc, sizeof(doc),
		"{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"zerohop\","
		"\"ipam\":{\"type\":\"host-local\"}%s}",
		extra);
	return zh_netconf_parse(doc, strlen(doc), conf, &err);
}

/* The plugin's refusal: the spec's code, the field, the feature. */
static void test_netconf_kernel_check(void **state)
{
	static const struct {
		const char *extra;
		__u64 gone;
		const char *msg, *feature; /* NULL: accepted */
	} cases[] = {
		{ "", 0, NULL, NULL },
		{ ",\"datapath\":\"xdp\"", ZH_FEAT_BIT(XDP_META), NULL, NULL },
		{ ",\"datapath\":\"xdp\"", ZH_FEAT_BIT(XDP_VETH),
		  "\"datapath\": \"xdp\"", "xdp_veth_native" },
		{ ",\"datapath\":\"tc\"", ZH_FEAT_BIT(XDP_VETH), NULL, NULL },
		{ ",\"datapath\":\"tc\"", ZH_FEAT_BIT(TCX), NULL, NULL },
		{ ",\"datapath\":\"tc\"",
		  ZH_FEAT_BIT(TCX) | ZH_FEAT_BIT(TC_CLSACT),
		  "\"datapath\": \"tc\"", "tc_clsact" },
		{ ",\"afxdp\":{\"steer\":[{\"proto\":\"udp\",\"port\":7}]}",
		  ZH_FEAT_BIT(XDP_VETH), "\"afxdp\"", "xdp_veth_native" },
		{ ",\"afxdp\":{\"steer\":[{\"proto\":\"udp\",\"port\":7}]}",
		  ZH_FEAT_BIT(AFXDP), "\"afxdp\"", "afxdp" },
		{ ",\"afxdp\":{\"steer\":[{\"proto\":\"udp\",\"port\":7}]}",
		  ZH_FEAT_BIT(XDP_META), NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct zh_kfeat f = without(cases[i].gone);
		struct zh_netconf conf;
		struct zh_cni_err err = {};
		int rc;

		assert_int_equal(conf_of(cases[i].extra, &conf), 0);
		rc = zh_netconf_kernel_check(
			&conf, &f, ZH_CNI_ERR_UNSUPPORTED_FIELD, &err);
		zh_netconf_free(&conf);
		if (!cases[i].msg) {
			if (rc)
				fail_msg("case %zu refused: %s: %s", i, err.msg,
					 err.details);
			continue;
		}
		assert_int_equal(rc, -1);
		assert_int_equal(err.code, ZH_CNI_ERR_UNSUPPORTED_FIELD);
		assert_contains(err.msg, cases[i].msg);
		assert_contains(err.msg, "cannot work on this node's kernel");
		assert_contains(err.details, cases[i].feature);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_use_missing),
		cmocka_unit_test(test_dsr_missing),
		cmocka_unit_test(test_programs),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_netconf_kernel_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
