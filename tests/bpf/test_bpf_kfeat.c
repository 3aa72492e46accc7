// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_kfeat.c - the kernel features the fast path depends on, against
 * this kernel: the helpers each program calls, read from its instructions
 * as loaded, are exactly those its feature list names (a helper added
 * without a probe fails here); a helper the probe finds absent is refused
 * by the kernel when the code is loaded; and the loader, given a feature
 * set that claims an absent helper present, loads the programs one by one,
 * records the one refused and runs the rest.
 *
 * These check the kernel's own features: they run once, with the programs
 * loaded for them (no second pass without XDP metadata).
 * Exit 77 (skipped) when not run as root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cmocka.h>

#include "fixture.h"

/* ------------------------------------------------------ kernel features */

/*
 * The helpers zh_fast calls, and the feature (zh_abi.h) that stands for
 * each in tc, XDP and cgroup sock_addr programs (-1: not called there;
 * the sock_addr programs' base helpers stand together as one).
 */
#define SOCK ZH_FEAT_SOCK_HELPERS
static const struct {
	int helper;
	int tc, xdp, sock;
} helper_feats[] = {
	{ BPF_FUNC_map_lookup_elem, ZH_FEAT_TC_MAP_LOOKUP_ELEM,
	  ZH_FEAT_XDP_MAP_LOOKUP_ELEM, SOCK },
	{ BPF_FUNC_map_update_elem, ZH_FEAT_TC_MAP_UPDATE_ELEM,
	  ZH_FEAT_XDP_MAP_UPDATE_ELEM, SOCK },
	{ BPF_FUNC_map_delete_elem, ZH_FEAT_TC_MAP_DELETE_ELEM,
	  ZH_FEAT_XDP_MAP_DELETE_ELEM, -1 },
	{ BPF_FUNC_ktime_get_ns, ZH_FEAT_TC_KTIME_GET_NS,
	  ZH_FEAT_XDP_KTIME_GET_NS, SOCK },
	{ BPF_FUNC_get_prandom_u32, ZH_FEAT_TC_GET_PRANDOM_U32,
	  ZH_FEAT_XDP_GET_PRANDOM_U32, -1 },
	{ BPF_FUNC_csum_diff, ZH_FEAT_TC_CSUM_DIFF, ZH_FEAT_XDP_CSUM_DIFF, -1 },
	{ BPF_FUNC_csum_update, ZH_FEAT_TC_CSUM_UPDATE, -1, -1 },
	{ BPF_FUNC_csum_level, ZH_FEAT_TC_CSUM_LEVEL, -1, -1 },
	{ BPF_FUNC_l3_csum_replace, ZH_FEAT_TC_L3_CSUM_REPLACE, -1, -1 },
	{ BPF_FUNC_l4_csum_replace, ZH_FEAT_TC_L4_CSUM_REPLACE, -1, -1 },
	{ BPF_FUNC_skb_store_bytes, ZH_FEAT_TC_SKB_STORE_BYTES, -1, -1 },
	{ BPF_FUNC_skb_load_bytes, ZH_FEAT_TC_SKB_LOAD_BYTES, -1, -1 },
	{ BPF_FUNC_skb_pull_data, ZH_FEAT_TC_SKB_PULL_DATA, -1, -1 },
	{ BPF_FUNC_skb_change_tail, ZH_FEAT_TC_SKB_CHANGE_TAIL, -1, -1 },
	{ BPF_FUNC_redirect, ZH_FEAT_TC_REDIRECT, ZH_FEAT_XDP_REDIRECT, -1 },
	{ BPF_FUNC_redirect_peer, ZH_FEAT_TC_REDIRECT_PEER, -1, -1 },
	{ BPF_FUNC_redirect_neigh, ZH_FEAT_TC_REDIRECT_NEIGH, -1, -1 },
	{ BPF_FUNC_redirect_map, -1, ZH_FEAT_XDP_REDIRECT_MAP, -1 },
	{ BPF_FUNC_xdp_adjust_tail, -1, ZH_FEAT_XDP_ADJUST_TAIL, -1 },
	{ BPF_FUNC_xdp_adjust_meta, -1, ZH_FEAT_XDP_META, -1 },
	{ BPF_FUNC_check_mtu, ZH_FEAT_TC_CHECK_MTU, ZH_FEAT_XDP_CHECK_MTU, -1 },
	{ BPF_FUNC_get_socket_cookie, -1, -1, SOCK },
	{ BPF_FUNC_get_netns_cookie, -1, -1, SOCK },
	{ BPF_FUNC_set_retval, -1, -1, ZH_FEAT_SOCK_SET_RETVAL },
	{ BPF_FUNC_fib_lookup, ZH_FEAT_TC_FIB_LOOKUP, -1, -1 },
	{ BPF_FUNC_skb_set_tunnel_key, ZH_FEAT_TC_SET_TUNNEL_KEY, -1, -1 },
	/* Its twin (one kernel commit, 4.3): NodePort DSR's tunnel end. */
	{ BPF_FUNC_skb_get_tunnel_key, ZH_FEAT_TC_SET_TUNNEL_KEY, -1, -1 },
	{ BPF_FUNC_sk_lookup_tcp, ZH_FEAT_TC_SK_LOOKUP, ZH_FEAT_XDP_SK_LOOKUP,
	  -1 },
	{ BPF_FUNC_sk_lookup_udp, ZH_FEAT_TC_SK_LOOKUP, ZH_FEAT_XDP_SK_LOOKUP,
	  -1 },
	{ BPF_FUNC_sk_release, ZH_FEAT_TC_SK_LOOKUP, ZH_FEAT_XDP_SK_LOOKUP,
	  -1 },
	/* VXLAN in BPF: the helpers are old, their flags are the feature
	 * (probed by a run, RUN_PROBED below). */
	{ BPF_FUNC_skb_adjust_room, ZH_FEAT_TC_VXLAN_ENCAP, -1, -1 },
	{ BPF_FUNC_get_hash_recalc, ZH_FEAT_TC_VXLAN_ENCAP, -1, -1 },
	{ BPF_FUNC_ktime_get_coarse_ns, ZH_FEAT_KTIME_COARSE,
	  ZH_FEAT_KTIME_COARSE, -1 },
};

/* Features a load cannot tell (a flag of a helper the kernel has): the
 * probe runs the program, and a kernel without them loads their code. */
#define RUN_PROBED (ZH_FEAT_BIT(TC_VXLAN_ENCAP) | ZH_FEAT_BIT(TC_VXLAN_DECAP))

/* Every feature that stands for a helper call. */
static __u64 helper_bits(void)
{
	__u64 bits = 0;

	for (size_t i = 0; i < ARRAY_SIZE(helper_feats); i++) {
		if (helper_feats[i].tc >= 0)
			bits |= 1ULL << helper_feats[i].tc;
		if (helper_feats[i].xdp >= 0)
			bits |= 1ULL << helper_feats[i].xdp;
		if (helper_feats[i].sock >= 0)
			bits |= 1ULL << helper_feats[i].sock;
	}
	return bits;
}

static const struct zh_prog_def *prog_def(const char *name)
{
	for (size_t i = 0; i < zh_prog_defs_n; i++)
		if (!strcmp(zh_prog_defs[i].name, name))
			return &zh_prog_defs[i];
	return NULL;
}

/* The helper features @p calls, from its instructions as loaded
 * (subprograms appended, code for absent features still in). */
static __u64 prog_helpers(const struct bpf_program *p)
{
	const struct bpf_insn *insn = bpf_program__insns(p);
	enum bpf_prog_type type = bpf_program__type(p);
	bool xdp = type == BPF_PROG_TYPE_XDP;
	bool sock = type == BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
	__u64 used = 0;

	for (size_t i = 0; i < bpf_program__insn_cnt(p); i++) {
		size_t h;
		int feat;

		if (insn[i].code != (BPF_JMP | BPF_CALL) || insn[i].src_reg)
			continue;
		for (h = 0; h < ARRAY_SIZE(helper_feats); h++)
			if (helper_feats[h].helper == insn[i].imm)
				break;
		if (h == ARRAY_SIZE(helper_feats))
			feat = -1;
		else
			feat = sock ? helper_feats[h].sock :
			       xdp  ? helper_feats[h].xdp :
				      helper_feats[h].tc;
		if (feat < 0)
			fail_here(
				"%s calls helper %d, which no feature stands for: probe it (zh_abi.h, zh_feat.bpf.c, kfeatures.c)",
				bpf_program__name(p), insn[i].imm);
		used |= 1ULL << feat;
	}
	return used;
}

static void feat_names_of(__u64 bits, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int id = 0; id < ZH_FEAT_MAX && off < len; id++)
		if (bits >> id & 1)
			off += (size_t)snprintf(buf + off, len - off, " %s",
						zh_feat_name(id));
}

/*
 * What kfeatures.c says each program needs (or does without) is exactly
 * the helpers it calls: a helper added to the datapath without a probe,
 * or a stale entry, fails here.
 */
static void test_helpers_probed(void **state)
{
	struct bpf_program *p;
	int checked = 0;

	cur_set(NULL, 0, "the helpers each program calls");
	bpf_object__for_each_program (p, skel->obj) {
		const struct zh_prog_def *d = prog_def(bpf_program__name(p));
		__u64 used, listed;
		char a[512], b[512];

		if (!bpf_program__autoload(p))
			continue;
		if (!d)
			fail_here("%s has no entry in zh_prog_defs",
				  bpf_program__name(p));
		used = prog_helpers(p);
		listed = (d->needs | d->variant) & helper_bits();
		if (used != listed) {
			feat_names_of(used & ~listed, a, sizeof(a));
			feat_names_of(listed & ~used, b, sizeof(b));
			fail_here(
				"%s: calls but does not list:%s; lists but does not call:%s",
				bpf_program__name(p), a, b);
		}
		checked++;
	}
	if (checked != (int)zh_prog_defs_n)
		fail_here("%d programs checked, %zu defined", checked,
			  zh_prog_defs_n);
}

/*
 * A feature the probe found absent is absent: the programs that use it,
 * loaded with that code in, are refused by this kernel. (Present ones are
 * proven by every other test: the programs load and run.)
 */
static void test_absent_features_refused(void **state)
{
	__u64 absent = ~kfeat_probed.present & helper_bits() & ZH_FEAT_ALL &
		       ~RUN_PROBED;
	libbpf_print_fn_t old = libbpf_set_print(NULL); /* refusals expected */
	int checked = 0;

	for (int id = 0; id < ZH_FEAT_MAX; id++) {
		struct bpf_program *p;
		struct bpf_map *map;
		struct zh_fast *s;
		int err;

		if (!(absent >> id & 1))
			continue;
		s = zh_fast__open();
		if (!s)
			fail_here("zh_fast__open: %s", strerror(errno));
		/* Everything in, as on a kernel with every feature. */
		s->rodata->zh_kfeat = ~0ULL;
		bpf_object__for_each_map (map, s->obj)
			bpf_map__set_pin_path(map, NULL);
		bpf_object__for_each_program (p, s->obj) {
			const struct zh_prog_def *d =
				prog_def(bpf_program__name(p));

			bpf_program__set_autoload(
				p, d && ((d->needs | d->variant) >> id & 1));
		}
		err = zh_fast__load(s);
		zh_fast__destroy(s);
		if (!err) {
			libbpf_set_print(old);
			fail_here(
				"the probe found %s absent, yet the programs that call it load",
				zh_feat_name(id));
		}
		print_message(
			"[  INFO    ] %s absent: its programs are refused (%s)\n",
			zh_feat_name(id), strerror(-err));
		checked++;
	}
	libbpf_set_print(old);
	if (!checked) {
		print_message(
			"[  SKIP    ] this kernel has every helper zh_fast calls: no absent one to check\n");
		skip();
		return; /* _skip() longjmps; the compiler does not know */
	}
}

/*
 * The loader where a verifier refuses a program that every probe let
 * through: made real on this kernel by a pinned feature set that claims
 * an absent helper present, so that the code behind it is loaded. The
 * object then fails as a whole; the loader loads the programs one by one,
 * records the refused one as absent in the pinned set, and the rest runs.
 */
static void test_loader_refused_program(void **state)
{
	__u64 absent = ~kfeat_probed.present & helper_bits() & ZH_FEAT_ALL;
	char root[64], dir[128];
	struct zh_kfeat forged, pinned;
	struct zh_objs o;
	int id, refused = 0, lock, err;

	if (!absent) {
		print_message(
			"[  SKIP    ] this kernel has every helper zh_fast calls: no verifier refusal to provoke\n");
		skip();
		return; /* _skip() longjmps; the compiler does not know */
	}
	id = __builtin_ctzll(absent);
	snprintf(root, sizeof(root), "/sys/fs/bpf/zh-test-bpf-%d", getpid());
	snprintf(dir, sizeof(dir), "%s/%s", root, ZH_PIN_VERSION);
	cur_set(NULL, 0, "loader: %s claimed present in %s", zh_feat_name(id),
		root);
	lock = zh_pin_lock(root);
	if (lock < 0 || mkdir(dir, 0700))
		fail_here("pin root %s: %s", root, strerror(errno));
	forged = kfeat_probed;
	forged.disabled = 0;
	forged.present |= 1ULL << id;
	if (zh_feat_write(dir, &forged))
		fail_here("zh_feat_write: %s", strerror(errno));
	{
		libbpf_print_fn_t old = libbpf_set_print(NULL);

		err = zh_objs_open(&o, root, ZH_OBJS_LOAD, NULL);
		libbpf_set_print(old);
	}
	if (err)
		fail_here("zh_objs_open: %s", o.err);
	for (size_t i = 0; i < zh_prog_defs_n; i++) {
		const struct zh_prog_def *d = &zh_prog_defs[i];
		int uses = (int)((d->needs | d->variant) >> id & 1);
		int loaded = o.feat.present >> d->feat & 1;

		/* What calls the helper is refused, the rest is loaded. */
		if (uses + loaded != 1)
			fail_here("%s: %s, yet it %s %s", d->name,
				  loaded ? "loaded" : "refused",
				  uses ? "calls" : "does not call",
				  zh_feat_name(id));
		refused += uses;
	}
	if (!refused || o.tc_from_pod_fd < 0 ||
	    (zh_kfeat_has(&o.feat, ZH_FEAT_PROG_XDP_FROM_POD) !=
	     (o.xdp_from_pod_fd >= 0)))
		fail_here("%d refused; fds tc %d xdp %d", refused,
			  o.tc_from_pod_fd, o.xdp_from_pod_fd);
	zh_objs_close(&o);
	/* Recorded where every later run finds it: no second attempt. */
	if (zh_feat_read(dir, &pinned) || pinned.present != o.feat.present)
		fail_here("the pinned set does not record the refusal");
	err = zh_objs_open(&o, root, 0, NULL);
	if (err || o.loaded)
		fail_here("reopening: %s (loaded %d)", err ? o.err : "ok",
			  o.loaded);
	zh_objs_close(&o);
	if (zh_objs_unpin(root) || rmdir(root))
		fail_here("unpin %s: %s", root, strerror(errno));
	zh_pin_unlock(lock);
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest feature_tests[] = {
		cmocka_unit_test(test_helpers_probed),
		cmocka_unit_test(test_absent_features_refused),
		cmocka_unit_test(test_loader_refused_program),
	};
	static const struct fixture_group groups[] = {
		{ .name = "kernel features",
		  .tests = feature_tests,
		  .n = ARRAY_SIZE(feature_tests),
		  .kernel_pass_only = true },
	};
	static const struct fixture_suite suite = {
		.name = "test_bpf_kfeat",
		.groups = groups,
		.n_groups = ARRAY_SIZE(groups),
	};

	return fixture_main(&suite, argc, argv);
}
