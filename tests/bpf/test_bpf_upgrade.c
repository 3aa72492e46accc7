// SPDX-License-Identifier: Apache-2.0
/*
 * test_bpf_upgrade.c - another version's pins taken over, on real maps and
 * programs (user/lib/upgrade.c), in a network namespace of the test's own:
 *
 *  - a version before ours whose zh_node_addrs is exactly ours (shared:
 *    the one map) and whose zh_ct lacks a member (the Service group then
 *    is ours, and carried over as a whole: services, backends, Maglev
 *    slots in batches, conntrack member by member); its endpoints
 *    carried, ours winning a conflict; a map shared at another size than
 *    the default not left to it (an older build could not reuse it);
 *    every pin of it but the shared map removed once nothing runs it;
 *  - the same version, another build: a pinned zh_tc_pod and zh_xdp_pod
 *    that are not this build's, attached to a veth, are replaced there by
 *    this build's (tcx or clsact, whichever the kernel has; XDP), which
 *    take their pins; so does zh_sock_release (loaded apart, pin.c),
 *    where this kernel loads it.
 *
 * Exit 77 (skipped) when not root.
 */
#define _GNU_SOURCE /* unshare() */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cmocka.h>

#include "zerohop.h"
#include "upgrade.h"
#include "zh_fast.skel.h"
#include "util.h"

static char root[64], old_dir[96];

static const struct zh_load_opts small = {
	.maglev_slots = 4096,
	.services_max = 64,
	.backends_max = 64,
	.ct_max = 1024,
	.affinity_max = 64,
};

static void rm_dir(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		print_message("could not remove %s\n", dir);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/sys/fs/bpf/zhtu%d", getpid());
	snprintf(old_dir, sizeof(old_dir), "%s/v%d", root,
		 atoi(ZH_PIN_VERSION + 1) - 1);
	rm_dir(root);
	assert_int_equal(mkdir(root, 0700), 0);
	assert_int_equal(mkdir(old_dir, 0700), 0);
	return 0;
}

static int teardown(void **state)
{
	rm_dir(root);
	return 0;
}

static __u32 map_id(const char *dir, const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

/* A map in the old version's directory, pinned: laid out as @btf's
 * @kid/@vid say. Returns its fd. */
static int old_map(const char *name, enum bpf_map_type type, __u32 ksz,
		   __u32 vsz, __u32 max, __u32 flags, int btf_fd, __u32 kid,
		   __u32 vid)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags,
		    .btf_fd = (__u32)btf_fd, .btf_key_type_id = kid,
		    .btf_value_type_id = vid);
	char path[160];
	int fd = bpf_map_create(type, name, ksz, vsz, max, &o);

	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/%s", old_dir, name);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	return fd;
}

/* The old version's map @name exactly as ours is defined (our BTF, the
 * default size). */
static int old_map_as_ours(struct zh_fast *skel, int btf_fd, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(skel->obj, name);

	assert_non_null(m);
	return old_map(name, bpf_map__type(m), bpf_map__key_size(m),
		       bpf_map__value_size(m), bpf_map__max_entries(m),
		       bpf_map__map_flags(m), btf_fd,
		       bpf_map__btf_key_type_id(m),
		       bpf_map__btf_value_type_id(m));
}

/* zh_ct as a version before might have had it: without out_ifindex (36
 * bytes), its key as ours. Returns the BTF's fd; the ids in @kid/@vid. */
static int old_ct_btf(struct btf **out, __u32 *kid, __u32 *vid)
{
	struct btf *b = btf__new_empty();
	int u8, u16, u32, u64, a4, k, v;

	assert_non_null(b);
	u8 = btf__add_int(b, "unsigned char", 1, 0);
	u16 = btf__add_int(b, "unsigned short", 2, 0);
	u32 = btf__add_int(b, "unsigned int", 4, 0);
	u64 = btf__add_int(b, "unsigned long long", 8, 0);
	a4 = btf__add_array(b, u32, u32, 4);
	k = btf__add_struct(b, "zh_ct_key", 40);
	btf__add_field(b, "family", u8, 0, 0);
	btf__add_field(b, "proto", u8, 8, 0);
	btf__add_field(b, "dir", u8, 16, 0);
	btf__add_field(b, "pad", u8, 24, 0);
	btf__add_field(b, "sport", u16, 32, 0);
	btf__add_field(b, "dport", u16, 48, 0);
	btf__add_field(b, "saddr", a4, 64, 0);
	btf__add_field(b, "daddr", a4, 192, 0);
	v = btf__add_struct(b, "zh_ct", 36);
	btf__add_field(b, "last_seen_ns", u64, 0, 0);
	btf__add_field(b, "svc_id", u32, 64, 0);
	btf__add_field(b, "backend_id", u32, 96, 0);
	btf__add_field(b, "vip", a4, 128, 0);
	btf__add_field(b, "vport", u16, 256, 0);
	btf__add_field(b, "state", u8, 272, 0);
	btf__add_field(b, "flags", u8, 280, 0);
	assert_int_equal(btf__load_into_kernel(b), 0);
	*out = b;
	*kid = (__u32)k;
	*vid = (__u32)v;
	return btf__fd(b);
}

/* The old version's zh_ct value: zh_ct without its last member. */
struct old_ct {
	__u64 last_seen_ns;
	__u32 svc_id, backend_id, vip[4];
	__be16 vport;
	__u8 state, flags;
} __attribute__((packed));

static void result_cb(const struct zh_upgrade_result *r, void *arg)
{
	*(struct zh_upgrade_result *)arg = *r;
}

static void test_other_version(void **state)
{
	struct zh_ep_key ka, kb, node;
	struct zh_endpoint ep, got_ep;
	struct zh_upgrade_result r = { 0 };
	struct zh_svc_key sk = { .family = ZH_AF_INET,
				 .proto = 6,
				 .port = htons(80) };
	struct zh_svc svc = { .id = 7, .table_size = 0 };
	struct zh_backend be = { .family = ZH_AF_INET,
				 .port = htons(8080),
				 .svc_id = 7 };
	struct zh_ct_key ck = { .family = ZH_AF_INET,
				.proto = 6,
				.dir = ZH_CT_FWD,
				.sport = htons(40000),
				.dport = htons(80) };
	struct old_ct oc = { .last_seen_ns = 123,
			     .svc_id = 7,
			     .backend_id = 3,
			     .vport = htons(80),
			     .state = ZH_CT_ESTABLISHED };
	struct zh_ct ct;
	struct zh_fast *skel = zh_fast__open();
	struct btf *ctb;
	struct zh_objs o;
	__u32 one = 1, three = 3, kid, vid, v, lat_flows_id;
	const __u32 slots[3] = { 1, 4095, 5000 };
	struct bpf_map *m;
	int btf_fd, fd;

	assert_non_null(skel);
	assert_int_equal(btf__load_into_kernel(bpf_object__btf(skel->obj)), 0);
	btf_fd = btf__fd(bpf_object__btf(skel->obj));
	zh_ep_key_v4(&node, htonl(0x0a000001));
	zh_ep_key_v4(&ka, htonl(0x0a000005));
	zh_ep_key_v4(&kb, htonl(0x0a000006));
	sk.addr[0] = htonl(0x0a60000a);
	be.addr[0] = htonl(0x0a000005);
	ck.saddr[0] = htonl(0x0a000006);
	ck.daddr[0] = sk.addr[0];
	oc.vip[0] = sk.addr[0];

	/* The version before: maps as ours, but zh_ct. */
	fd = old_map_as_ours(skel, btf_fd, ZH_MAP_NODE_ADDRS);
	assert_int_equal(bpf_map_update_elem(fd, &node, &one, 0), 0);
	close(fd);
	fd = old_map_as_ours(skel, btf_fd, ZH_MAP_SERVICES);
	assert_int_equal(bpf_map_update_elem(fd, &sk, &svc, 0), 0);
	close(fd);
	fd = old_map_as_ours(skel, btf_fd, ZH_MAP_BACKENDS);
	assert_int_equal(bpf_map_update_elem(fd, &three, &be, 0), 0);
	close(fd);
	/* zh_lat_flows as ours but smaller: shared all the same (a hash
	 * map's size is a capacity), but not left to it for a rollback. */
	m = bpf_object__find_map_by_name(skel->obj, ZH_MAP_LAT_FLOWS);
	fd = old_map(ZH_MAP_LAT_FLOWS, bpf_map__type(m), bpf_map__key_size(m),
		     bpf_map__value_size(m), 128, 0, btf_fd,
		     bpf_map__btf_key_type_id(m),
		     bpf_map__btf_value_type_id(m));
	lat_flows_id = map_id(old_dir, ZH_MAP_LAT_FLOWS);
	close(fd);
	/* Maglev slots: more than ours; the first 4096 carried (in
	 * batches), the one beyond not. */
	m = bpf_object__find_map_by_name(skel->obj, ZH_MAP_MAGLEV);
	fd = old_map(ZH_MAP_MAGLEV, BPF_MAP_TYPE_ARRAY, 4, 4, 8192,
		     BPF_F_MMAPABLE, btf_fd, bpf_map__btf_key_type_id(m),
		     bpf_map__btf_value_type_id(m));
	for (__u32 i = 0; i < 3; i++)
		assert_int_equal(bpf_map_update_elem(fd, &slots[i], &three, 0),
				 0);
	close(fd);
	fd = old_map_as_ours(skel, btf_fd, ZH_MAP_ENDPOINTS);
	ep = (struct zh_endpoint){ .ifindex = 100 };
	assert_int_equal(bpf_map_update_elem(fd, &ka, &ep, 0), 0);
	ep.ifindex = 101;
	assert_int_equal(bpf_map_update_elem(fd, &kb, &ep, 0), 0);
	close(fd);
	btf_fd = old_ct_btf(&ctb, &kid, &vid);
	fd = old_map(ZH_MAP_CT, BPF_MAP_TYPE_LRU_HASH, 40, 36, 1024, 0, btf_fd,
		     kid, vid);
	assert_int_equal(bpf_map_update_elem(fd, &ck, &oc, 0), 0);
	close(fd);
	zh_fast__destroy(skel);
	btf__free(ctb);

	/* Ours loads: what is exactly the old version's is shared. */
	assert_int_equal(zh_objs_open(&o, root, ZH_OBJS_LOAD, &small), 0);
	assert_int_equal(map_id(o.dir, ZH_MAP_NODE_ADDRS),
			 map_id(old_dir, ZH_MAP_NODE_ADDRS));
	assert_int_equal(map_id(o.dir, ZH_MAP_LAT_FLOWS), lat_flows_id);
	/* zh_ct is not, and with it none of the Service group. */
	assert_int_not_equal(map_id(o.dir, ZH_MAP_CT),
			     map_id(old_dir, ZH_MAP_CT));
	assert_int_not_equal(map_id(o.dir, ZH_MAP_SERVICES),
			     map_id(old_dir, ZH_MAP_SERVICES));
	/* A pod of ours at an address the old version has too. */
	ep.ifindex = 999;
	assert_int_equal(bpf_map_update_elem(o.endpoints_fd, &kb, &ep, 0), 0);

	assert_int_equal(zh_upgrade_takeover(&o, result_cb, &r), 0);
	assert_int_equal(r.left, 0);
	assert_int_equal(r.moved, 0);
	assert_true(r.shared >= 1);
	/* endpoints, services, backends, maglev, ct */
	assert_true(r.carried >= 5);

	/* Carried: the Service group whole, conntrack member by member. */
	assert_int_equal(bpf_map_lookup_elem(o.services_fd, &sk, &svc), 0);
	assert_int_equal(svc.id, 7);
	assert_int_equal(bpf_map_lookup_elem(o.backends_fd, &three, &be), 0);
	assert_int_equal(be.svc_id, 7);
	for (__u32 i = 0; i < 2; i++) {
		assert_int_equal(
			bpf_map_lookup_elem(o.maglev_fd, &slots[i], &v), 0);
		assert_int_equal(v, 3);
	}
	assert_int_not_equal(bpf_map_lookup_elem(o.maglev_fd, &slots[2], &v),
			     0); /* beyond ours */
	v = 1;
	assert_int_equal(bpf_map_lookup_elem(o.maglev_fd, &v, &v), 0);
	memset(&ct, 0xee, sizeof(ct));
	assert_int_equal(bpf_map_lookup_elem(o.ct_fd, &ck, &ct), 0);
	assert_int_equal(ct.last_seen_ns, 123);
	assert_int_equal(ct.svc_id, 7);
	assert_int_equal(ct.backend_id, 3);
	assert_int_equal(ct.vip[0], sk.addr[0]);
	assert_int_equal(ct.vport, htons(80));
	assert_int_equal(ct.state, ZH_CT_ESTABLISHED);
	assert_int_equal(ct.out_ifindex, 0); /* new: zero */
	/* Endpoints entry by entry, ours winning. */
	assert_int_equal(bpf_map_lookup_elem(o.endpoints_fd, &ka, &got_ep), 0);
	assert_int_equal(got_ep.ifindex, 100);
	assert_int_equal(bpf_map_lookup_elem(o.endpoints_fd, &kb, &got_ep), 0);
	assert_int_equal(got_ep.ifindex, 999);
	/* Unused, the old version's pins are gone but the shared map's. */
	assert_int_equal(map_id(old_dir, ZH_MAP_CT), 0);
	assert_int_equal(map_id(old_dir, ZH_MAP_SERVICES), 0);
	assert_int_equal(map_id(old_dir, ZH_MAP_ENDPOINTS), 0);
	assert_int_equal(map_id(old_dir, ZH_MAP_NODE_ADDRS),
			 map_id(o.dir, ZH_MAP_NODE_ADDRS));
	/* shared, but of another size than an older build would reuse */
	assert_int_equal(map_id(old_dir, ZH_MAP_LAT_FLOWS), 0);
	assert_int_equal(map_id(o.dir, ZH_MAP_LAT_FLOWS), lat_flows_id);
	assert_int_equal(r.unpinned, 6);
	assert_int_equal(r.kept, 1);
	assert_false(r.removed);
	zh_objs_close(&o);
}

/* A rollback: the version pinned next to ours is newer. Its pods keep
 * its programs and maps: nothing is carried, moved or unpinned. (Before,
 * an older build took a newer version over as it does an older one.) */
static void test_newer_version(void **state)
{
	struct zh_upgrade_result r = { .version = "none" };
	struct zh_endpoint ep = { .ifindex = 100 }, got;
	struct zh_ep_key ka;
	struct zh_objs o;
	char newer[96];
	int fd;

	(void)state;
	zh_ep_key_v4(&ka, htonl(0x0a000005));
	/* old_map() pins into old_dir: make it the newer version's. */
	snprintf(newer, sizeof(newer), "%s/v%d", root,
		 atoi(ZH_PIN_VERSION + 1) + 1);
	assert_int_equal(rmdir(old_dir), 0);
	assert_int_equal(mkdir(newer, 0700), 0);
	snprintf(old_dir, sizeof(old_dir), "%s", newer);
	/* Its endpoints map: not ours (another size), so not shared. */
	fd = old_map(ZH_MAP_ENDPOINTS, BPF_MAP_TYPE_HASH,
		     sizeof(struct zh_ep_key), sizeof(struct zh_endpoint), 64,
		     0, -1, 0, 0);
	assert_int_equal(bpf_map_update_elem(fd, &ka, &ep, 0), 0);
	close(fd);

	assert_int_equal(zh_objs_open(&o, root, ZH_OBJS_LOAD, &small), 0);
	assert_int_equal(zh_upgrade_takeover(&o, result_cb, &r), 0);
	/* No takeover ran: the callback never saw a result. */
	assert_string_equal(r.version, "none");
	assert_int_not_equal(bpf_map_lookup_elem(o.endpoints_fd, &ka, &got), 0);
	assert_true(map_id(newer, ZH_MAP_ENDPOINTS) != 0);
	zh_objs_close(&o);
}

/* A program of the kind @type that only returns @ret: "another build". */
static int other_build(enum bpf_prog_type type, int ret)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K,
		  .dst_reg = BPF_REG_0,
		  .imm = ret },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(type, "other_build", "GPL", insns, 2, NULL);
}

/* Replace the pin @name in @dir by the program @fd. */
static void repin(const char *dir, const char *name, int fd)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
}

static void test_other_build(void **state)
{
	struct zh_upgrade_result r;
	struct zh_objs o;
	int tc_fd, xdp_fd, rel_fd = -1, netns, ifindex;
	struct bpf_prog_info info;
	__u32 len, rel_id = 0;

	assert_int_equal(zh_objs_open(&o, root, ZH_OBJS_LOAD, &small), 0);
	/* Nothing to do: the pins are this build's. */
	assert_int_equal(zh_upgrade_programs(&o, &small, &r), 0);
	assert_int_equal(r.moved + r.unpinned, 0);

	tc_fd = other_build(BPF_PROG_TYPE_SCHED_CLS, 0);
	xdp_fd = other_build(BPF_PROG_TYPE_XDP, XDP_PASS);
	assert_true(tc_fd >= 0 && xdp_fd >= 0);
	repin(o.dir, ZH_PROG_TC_POD, tc_fd);
	repin(o.dir, ZH_PROG_XDP_POD, xdp_fd);
	if (o.sock_release_fd >= 0) {
		rel_fd = other_build(BPF_PROG_TYPE_CGROUP_SOCK, 1);
		assert_true(rel_fd >= 0);
		repin(o.dir, ZH_PROG_SOCK_RELEASE, rel_fd);
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		assert_int_equal(bpf_obj_get_info_by_fd(rel_fd, &info, &len),
				 0);
		rel_id = info.id;
	} else {
		print_message("zh_sock_release not loaded here: not checked\n");
	}
	netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_int_equal(zh_nl_veth_add("zhtu0", "zhtu1", netns, 1500), 0);
	close(netns);
	ifindex = (int)if_nametoindex("zhtu0");
	assert_int_equal(zh_tc_attach(&o.feat, ifindex, tc_fd), 0);
	assert_int_equal(zh_xdp_attach(ifindex, xdp_fd), 0);
	zh_objs_close(&o);

	assert_int_equal(zh_objs_open(&o, root, 0, NULL), 0);
	assert_int_equal(zh_upgrade_programs(&o, &small, &r), 0);
	assert_int_equal(r.moved, 2);
	assert_int_equal(r.left, 0);
	zh_objs_close(&o);
	/* This build's programs are pinned, and run on the veth. */
	assert_int_equal(zh_objs_open(&o, root, 0, NULL), 0);
	assert_int_equal(zh_tc_attached(ifindex, o.tc_pod_fd), 1);
	assert_int_equal(zh_xdp_attached(ifindex, o.xdp_pod_fd), 1);
	assert_int_equal(zh_tc_attached(ifindex, tc_fd), 0);
	assert_int_equal(zh_xdp_attached(ifindex, xdp_fd), 0);
	if (rel_fd >= 0) {
		/* This build's zh_sock_release has its pin again. */
		assert_true(o.sock_release_fd >= 0);
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		assert_int_equal(bpf_obj_get_info_by_fd(o.sock_release_fd,
							&info, &len),
				 0);
		assert_int_not_equal(info.id, rel_id);
		assert_string_equal(info.name, "zh_sock_release");
		close(rel_fd);
	}
	zh_objs_close(&o);
	close(tc_fd);
	close(xdp_fd);
	zh_nl_link_del(ifindex);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_other_version, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_other_build, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_newer_version, setup,
						teardown),
	};

	if (geteuid() != 0) {
		fprintf(stderr,
			"test_bpf_upgrade: skipped: needs root (BPF maps and programs, a network namespace)\n");
		return 77;
	}
	/* Ours alone: the takeover looks at every interface of it. */
	if (unshare(CLONE_NEWNET)) {
		perror("test_bpf_upgrade: unshare(CLONE_NEWNET)");
		return 1;
	}
	zh_log_set_level(getenv("ZH_TEST_VERBOSE") ? ZH_LOG_DEBUG :
						     ZH_LOG_WARN);
	zh_log_hook_libs();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
