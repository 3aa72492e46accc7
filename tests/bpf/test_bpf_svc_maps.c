// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_svc_maps.c - programming the Service maps (user/lib/svc_maps.c)
 * on real BPF maps, mmapable and not: DOC_ABC applied and read back, the
 * tables slot by slot as the datapath sees them through
 * bpf_map_lookup_elem(), the services switch, conntrack and affinity
 * entries of removed services gone, edits, a table too big changing
 * nothing, and the switch off when none is left. The same plans on
 * in-memory maps, after every single write, are the unit tier's
 * (tests/unit/test_svc_maps.c).
 *
 * Exit 77 (skipped) when not root: creating BPF maps needs it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cmocka.h>

#include "maps.h"
#include "svc_doc.h"
#include "svc_maps.h"
#define SVC_TEXT_NAMES 0
#include "svc_text.h"
#include "util.h"

/* --- real maps --------------------------------------------------------------- */

static int map_new(enum bpf_map_type type, __u32 ksz, __u32 vsz, __u32 max,
		   __u32 flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);

	return bpf_map_create(type, NULL, ksz, vsz, max, &o);
}

static bool real_maps(struct zh_objs *o, __u32 maglev_flags)
{
	memset(o, -1, sizeof(*o));
	o->services_fd = map_new(BPF_MAP_TYPE_HASH, sizeof(struct zh_svc_key),
				 sizeof(struct zh_svc), 64, 0);
	if (o->services_fd < 0)
		return false;
	o->backends_fd =
		map_new(BPF_MAP_TYPE_HASH, 4, sizeof(struct zh_backend), 64, 0);
	o->maglev_fd = map_new(BPF_MAP_TYPE_ARRAY, 4, 4, 4096, maglev_flags);
	o->ct_fd = map_new(BPF_MAP_TYPE_LRU_HASH, sizeof(struct zh_ct_key),
			   sizeof(struct zh_ct), 64, 0);
	o->affinity_fd = map_new(BPF_MAP_TYPE_LRU_HASH,
				 sizeof(struct zh_affinity_key),
				 sizeof(struct zh_affinity), 64, 0);
	o->config_fd =
		map_new(BPF_MAP_TYPE_ARRAY, 4, sizeof(struct zh_config), 1, 0);
	assert_true(o->backends_fd >= 0 && o->maglev_fd >= 0 && o->ct_fd >= 0 &&
		    o->affinity_fd >= 0 && o->config_fd >= 0);
	return true;
}

static int count_cb(const struct zh_ct_key *k, const struct zh_ct *v, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

/*
 * The tables as the kernel (and so the datapath) sees them, slot by slot
 * through bpf_map_lookup_elem(): each slot a backend of its service, each
 * backend holding the slots the dump says.
 */
static void kernel_tables(const struct zh_objs *o, const struct zh_svc_set *set,
			  const struct zh_svc_info *info)
{
	__u32 k, v, slots[64];
	size_t i, j;

	for (i = 0; i < set->n; i++) {
		assert_true(set->svcs[i].n_backends <= ARRAY_SIZE(slots));
		memset(slots, 0, sizeof(slots));
		for (k = 0; k < info[i].table_size; k++) {
			__u32 key = info[i].table_off + k;

			assert_int_equal(
				bpf_map_lookup_elem(o->maglev_fd, &key, &v), 0);
			for (j = 0; j < set->svcs[i].n_backends; j++)
				if (info[i].backend_id[j] == v)
					break;
			if (j == set->svcs[i].n_backends)
				fail_msg(
					"%s: slot %u holds %u, not a backend of it",
					set->svcs[i].name, key, v);
			slots[j]++;
		}
		for (j = 0; j < set->svcs[i].n_backends; j++)
			assert_int_equal(slots[j], info[i].backend_slots[j]);
	}
}

static void real_round_trip(__u32 maglev_flags)
{
	static const char *const want[] = {
		"10.96.0.10:80/tcp np=30080 aff=60: 10.1.0.1:8080/1 10.1.0.2:8080/1",
		"10.96.0.11:53/udp np=0 aff=0: 10.1.0.3:53/1 10.1.0.4:53/1/T",
		"[fd00::10]:443/tcp np=0 aff=0: [fd00::1]:443/0",
	};
	struct zh_svc_apply_result r;
	struct zh_svc_info *info;
	struct zh_svc_set set, dump;
	struct zh_ct_key ck = { .family = ZH_AF_INET, .proto = IPPROTO_TCP };
	struct zh_ct cv = { 0 };
	struct zh_affinity_key ak = { .family = ZH_AF_INET };
	struct zh_affinity av = { 0 };
	struct zh_config cfg;
	struct zh_objs o;
	int n = 0;

	if (!real_maps(&o, maglev_flags)) {
		print_message("skipped: creating a BPF map: %s\n",
			      strerror(errno));
		skip();
	}
	set_from(&set, DOC_ABC);
	assert_int_equal(zh_svc_apply(&o, &set, &r), 0);
	assert_int_equal(r.added, 3);
	assert_int_equal(r.slots_written, 312);
	assert_int_equal(r.slots_total, 4096);
	assert_int_equal(zh_svc_dump_info(&o, &dump, &info), 0);
	expect_set(&dump, want, ARRAY_SIZE(want));
	kernel_tables(&o, &dump, info);
	/* The datapath's switch is on once there are services. */
	assert_int_equal(zh_config_get(&o, &cfg), 0);
	assert_int_equal(cfg.services, 1);
	assert_int_equal(info[0].backend_slots[0] + info[0].backend_slots[1],
			 211);
	assert_int_equal(info[1].backend_slots[0], 101);
	zh_svc_info_free(info, dump.n);
	zh_svc_set_free(&dump);

	/* Again: nothing changes. */
	assert_int_equal(zh_svc_apply(&o, &set, &r), 0);
	assert_int_equal(r.unchanged, 3);
	assert_int_equal(r.slots_written, 0);

	/* Flows of a (id 1) and b (id 2); then a goes. */
	for (__u16 port = 1; port <= 3; port++) {
		ck.sport = htons(port);
		cv.svc_id = port == 3 ? 2 : 1;
		ck.dir = port == 2 ? ZH_CT_REV : ZH_CT_FWD;
		assert_int_equal(bpf_map_update_elem(o.ct_fd, &ck, &cv, 0), 0);
		ak.svc_id = cv.svc_id;
		ak.client[0] = port;
		assert_int_equal(
			bpf_map_update_elem(o.affinity_fd, &ak, &av, 0), 0);
	}
	svc_at(&set, 0)->n_backends = 0;
	svc_at(&set, 0)->port = 8080; /* another key: a goes, a' comes */
	assert_int_equal(zh_svc_apply(&o, &set, &r), 0);
	assert_int_equal(r.removed, 1);
	assert_int_equal(r.added, 1);
	assert_int_equal(r.be_removed, 2);
	assert_int_equal(r.ct_removed, 2);
	assert_int_equal(r.affinity_removed, 2);
	assert_int_equal(zh_ct_foreach(&o, count_cb, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(zh_ct_flush(&o), 1);
	n = 0;
	assert_int_equal(zh_ct_foreach(&o, count_cb, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(zh_ct_flush(&o), 0);

	/* Edit: remove one, and a missing one. */
	assert_int_equal(zh_svc_edit(&o, NULL, svc_at(&set, 1), &r), 0);
	assert_int_equal(r.removed, 1);
	assert_int_equal(zh_svc_edit(&o, NULL, svc_at(&set, 1), &r), -ENOENT);
	assert_string_equal(r.err, "10.96.0.11:53/udp: no such service");

	/* Too big: nothing changes. */
	svc_at(&set, 2)->backends[0].weight = 1;
	svc_at(&set, 2)->n_backends = 1;
	assert_int_equal(zh_svc_dump(&o, &dump), 0);
	assert_int_equal(dump.n, 2);
	zh_svc_set_free(&dump);
	zh_svc_set_free(&set);
	{
		struct zh_svc_backend many[41];
		struct zh_service big = { .name = "big",
					  .port = 1,
					  .proto = IPPROTO_TCP,
					  .backends = many,
					  .n_backends = 41 };

		memset(many, 0, sizeof(many));
		zh_addr_parse("10.96.9.9", false, &big.vip);
		for (int i = 0; i < 41; i++) {
			many[i].addr.family = AF_INET;
			many[i].addr.v4.s_addr = htonl(0x0a020000 + i + 1);
			many[i].port = 1;
			many[i].weight = 1;
		}
		char want[64];

		snprintf(want, sizeof(want), "big: table: %u Maglev slots",
			 zh_svc_table_size(41));
		assert_int_equal(zh_svc_edit(&o, &big, NULL, &r), -ENOSPC);
		if (!strstr(r.err, want))
			fail_msg("%s", r.err);
	}
	assert_int_equal(zh_svc_dump(&o, &dump), 0);
	assert_int_equal(dump.n, 2);
	zh_svc_set_free(&dump);

	/* None left: the switch goes off. */
	memset(&set, 0, sizeof(set));
	assert_int_equal(zh_svc_apply(&o, &set, &r), 0);
	assert_int_equal(zh_config_get(&o, &cfg), 0);
	assert_int_equal(cfg.services, 0);

	close(o.config_fd);
	close(o.services_fd);
	close(o.backends_fd);
	close(o.maglev_fd);
	close(o.ct_fd);
	close(o.affinity_fd);
}

static void test_real_maps_mmap(void **state)
{
	real_round_trip(BPF_F_MMAPABLE);
}

static void test_real_maps_batch(void **state)
{
	real_round_trip(0);
}

/* A REV entry of a flow to backend @be (IPv4). */
static void rev_put(int fd, const char *be, __u16 port)
{
	struct zh_ct_key k = { .family = ZH_AF_INET,
			       .proto = IPPROTO_TCP,
			       .dir = ZH_CT_REV,
			       .sport = htons(port),
			       .dport = htons(40000) };
	struct zh_ct v = { .svc_id = 1 };

	inet_pton(AF_INET, be, k.saddr);
	inet_pton(AF_INET, "10.1.0.9", k.daddr);
	assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
	k.dir = ZH_CT_FWD; /* its other half: no backend of its own */
	inet_pton(AF_INET, "10.96.0.10", k.saddr);
	assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
}

static __u32 slot_get(int fd, __u32 slot)
{
	__u32 v = 7;

	assert_int_equal(bpf_map_lookup_elem(fd, &slot, &v), 0);
	return v;
}

/*
 * zh_svc_rev_gate(): every REV entry's backend marked in zh_svc_be (a
 * local pod's host veth slot, ZH_SVC_BE_ROUTED for one that is none),
 * nothing else, then ZH_CFG_F_REV_GATED on; zh_svc_rev_ungate() clears
 * it. Without zh_svc_be (older pins) both do nothing.
 */
static void test_rev_gate(void **state)
{
	struct zh_ep_key ek = { .family = ZH_AF_INET };
	struct zh_endpoint ep = { .ifindex = 70000 }; /* slot 70000 & 0xffff */
	struct zh_config cfg;
	struct zh_objs o;
	size_t marked = 0;
	__u32 zero = 0;

	(void)state;
	if (!real_maps(&o, 0))
		fail_msg("cannot create BPF maps");
	o.endpoints_fd = map_new(BPF_MAP_TYPE_HASH, sizeof(struct zh_ep_key),
				 sizeof(struct zh_endpoint), 16, 0);
	o.svc_be_fd = map_new(BPF_MAP_TYPE_ARRAY, 4, 4, ZH_SVC_BE_SLOTS, 0);
	assert_true(o.endpoints_fd >= 0 && o.svc_be_fd >= 0);
	inet_pton(AF_INET, "10.1.0.5", ek.addr);
	assert_int_equal(bpf_map_update_elem(o.endpoints_fd, &ek, &ep, BPF_ANY),
			 0);
	assert_int_equal(bpf_map_update_elem(
				 o.config_fd, &zero,
				 &(struct zh_config){ .services = 1 }, BPF_ANY),
			 0);

	/* Nothing in zh_ct: nothing marked, the gate on all the same. */
	assert_int_equal(zh_svc_rev_gate(&o, &marked), 0);
	assert_int_equal(marked, 0);
	assert_int_equal(slot_get(o.svc_be_fd, ZH_SVC_BE_ROUTED), 0);
	assert_int_equal(zh_config_get(&o, &cfg), 0);
	assert_true(cfg.flags & ZH_CFG_F_REV_GATED);
	assert_int_equal(cfg.services, 1);

	assert_int_equal(zh_svc_rev_ungate(&o), 0);
	assert_int_equal(zh_config_get(&o, &cfg), 0);
	assert_false(cfg.flags & ZH_CFG_F_REV_GATED);

	rev_put(o.ct_fd, "10.1.0.5", 8080); /* the local pod */
	assert_int_equal(zh_svc_rev_gate(&o, &marked), 0);
	assert_int_equal(marked, 1);
	assert_int_equal(slot_get(o.svc_be_fd, 70000 & (ZH_SVC_BE_SLOTS - 1)),
			 1);
	assert_int_equal(slot_get(o.svc_be_fd, ZH_SVC_BE_ROUTED), 0);
	rev_put(o.ct_fd, "10.2.0.7", 8080); /* another node's */
	assert_int_equal(zh_svc_rev_gate(&o, &marked), 0);
	assert_int_equal(marked, 2);
	assert_int_equal(slot_get(o.svc_be_fd, ZH_SVC_BE_ROUTED), 1);
	assert_int_equal(zh_config_get(&o, &cfg), 0);
	assert_true(cfg.flags & ZH_CFG_F_REV_GATED);

	/* The flows gone (and a stale slot): every slot cleared again. */
	assert_int_equal(bpf_map_update_elem(o.svc_be_fd, &(__u32){ 9 },
					     &(__u32){ 1 }, BPF_ANY),
			 0);
	assert_int_equal(zh_ct_flush(&o), 3); /* one FWD key for both */
	assert_int_equal(zh_svc_rev_gate(&o, &marked), 0);
	assert_int_equal(marked, 0);
	assert_int_equal(slot_get(o.svc_be_fd, 9), 0);
	assert_int_equal(slot_get(o.svc_be_fd, ZH_SVC_BE_ROUTED), 0);
	assert_int_equal(slot_get(o.svc_be_fd, 70000 & (ZH_SVC_BE_SLOTS - 1)),
			 0);
	assert_int_equal(zh_config_get(&o, &cfg), 0);
	assert_true(cfg.flags & ZH_CFG_F_REV_GATED);

	/* Pins of before zh_svc_be: no gate, and no error. */
	close(o.svc_be_fd);
	o.svc_be_fd = -1;
	assert_int_equal(zh_svc_rev_ungate(&o), 0);
	assert_int_equal(zh_config_get(&o, &cfg), 0);
	assert_true(cfg.flags & ZH_CFG_F_REV_GATED); /* left as it was */
	assert_int_equal(zh_svc_rev_gate(&o, &marked), 0);

	/* ZH_CFG_F_SOCK_PODS on and off, the rest kept. */
	assert_int_equal(zh_svc_sock_pods(&o, true), 0);
	assert_int_equal(zh_config_get(&o, &cfg), 0);
	assert_true(cfg.flags & ZH_CFG_F_SOCK_PODS);
	assert_true(cfg.flags & ZH_CFG_F_REV_GATED);
	assert_int_equal(zh_svc_sock_pods(&o, false), 0);
	assert_int_equal(zh_config_get(&o, &cfg), 0);
	assert_false(cfg.flags & ZH_CFG_F_SOCK_PODS);
	assert_int_equal(cfg.services, 1);

	close(o.endpoints_fd);
	close(o.services_fd);
	close(o.backends_fd);
	close(o.maglev_fd);
	close(o.ct_fd);
	close(o.affinity_fd);
	close(o.config_fd);
}

/*
 * zh_percpu_sum() (maps.c), which every per-CPU counter reader uses: slots
 * from @first, words summed over the CPUs, reset, and no map.
 */
static void test_percpu_sum(void **state)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = map_new(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 16, 4, 0);
	__u64 *v, out[3 * 2], once[2];

	(void)state;
	assert_true(ncpu > 0);
	assert_true(fd >= 0);
	v = calloc((size_t)ncpu, 2 * sizeof(*v));
	assert_non_null(v);
	for (__u32 k = 0; k < 4; k++) {
		for (int c = 0; c < ncpu; c++) {
			v[2 * c] = 100 * k + (__u64)c;
			v[2 * c + 1] = 1;
		}
		assert_int_equal(bpf_map_update_elem(fd, &k, v, BPF_ANY), 0);
	}
	/* Slots 1..3, two words each. */
	assert_int_equal(zh_percpu_sum(fd, 1, 3, 2, out, false), 0);
	for (int s = 0; s < 3; s++) {
		__u64 want = 0;

		for (int c = 0; c < ncpu; c++)
			want += 100 * (__u64)(s + 1) + (__u64)c;
		assert_int_equal(out[2 * s], want);
		assert_int_equal(out[2 * s + 1], ncpu);
	}
	/* Reset: read once more, then zero. */
	assert_int_equal(zh_percpu_sum(fd, 2, 1, 2, once, true), 0);
	assert_int_equal(once[0], out[2]);
	assert_int_equal(zh_percpu_sum(fd, 2, 1, 2, once, false), 0);
	assert_int_equal(once[0], 0);
	assert_int_equal(once[1], 0);
	/* ... and only that slot. */
	assert_int_equal(zh_percpu_sum(fd, 3, 1, 2, once, false), 0);
	assert_int_equal(once[0], out[4]);
	/* Past the end, and no map: an error, the output zeroed. */
	assert_int_equal(zh_percpu_sum(fd, 3, 2, 2, out, false), -ENOENT);
	once[0] = 7;
	assert_int_equal(zh_percpu_sum(-1, 0, 1, 2, once, false), -EBADF);
	assert_int_equal(once[0], 0);
	free(v);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_maps_mmap),
		cmocka_unit_test(test_real_maps_batch),
		cmocka_unit_test(test_rev_gate),
		cmocka_unit_test(test_percpu_sum),
	};

	if (geteuid() != 0) {
		fprintf(stderr,
			"test_bpf_svc_maps: skipped: needs root (creating BPF maps)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
