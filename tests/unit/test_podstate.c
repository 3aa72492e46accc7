// SPDX-License-Identifier: Apache-2.0
/*
 * test_podstate.c - the plugin's records of its attachments (podstate.h):
 * written whole and read back, named alike from a whole container ID and
 * from the key an endpoint entry keeps, refused in a directory others may
 * write, and a file that is no record is rejected.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "maps.h"
#include "podstate.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/zh-podstate.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static void path_for(char *out, size_t len, const char *sub, const char *id,
		     const char *ifname)
{
	char name[ZH_PODSTATE_NAME_LEN];

	zh_podstate_name(id, ifname, name);
	snprintf(out, len, "%s%s/%s", dir, sub, name);
}

static void test_roundtrip(void **state)
{
	struct zh_podstate st = {
		.container_id = "abc123",
		.ifname = "eth0",
		.cni_path = "/opt/cni/bin",
		.cni_args = NULL,
		.host_ifname = "zh1234",
		.host_ifindex = 42,
		.config = "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}",
	};
	struct zh_podstate got;
	char sub[128], path[256];
	struct stat sb;

	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	assert_int_equal(zh_podstate_save(sub, &st), 0);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	path_for(path, sizeof(path), "/a/b", "abc123", "eth0");
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(zh_podstate_load(path, &got), 0);
	assert_string_equal(got.container_id, "abc123");
	assert_string_equal(got.ifname, "eth0");
	assert_string_equal(got.cni_path, "/opt/cni/bin");
	assert_null(got.cni_args);
	assert_string_equal(got.host_ifname, "zh1234");
	assert_int_equal(got.host_ifindex, 42);
	assert_string_equal(got.config, st.config);
	zh_podstate_free(&got);

	/* Another interface of the same container: a record of its own. */
	st.ifname = "net1";
	assert_int_equal(zh_podstate_save(sub, &st), 0);
	assert_int_equal(zh_podstate_remove(sub, "abc123", "eth0"), 0);
	assert_int_not_equal(access(path, F_OK), 0);
	path_for(path, sizeof(path), "/a/b", "abc123", "net1");
	assert_int_equal(access(path, F_OK), 0);
	/* Removing what is not there is fine (DEL is idempotent). */
	assert_int_equal(zh_podstate_remove(sub, "abc123", "eth0"), 0);
}

/* GC names records from what zh_ifaces keeps: the key of a long ID. */
static void test_name_from_key(void **state)
{
	char id[151], key[ZH_CONTAINER_ID_LEN];
	char a[ZH_PODSTATE_NAME_LEN], b[ZH_PODSTATE_NAME_LEN];

	memset(id, 'k', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	zh_container_id_key(id, key);
	zh_podstate_name(id, "eth0", a);
	zh_podstate_name(key, "eth0", b);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), ZH_PODSTATE_NAME_LEN - 1);
	/* Sharing 62 bytes is not enough to share a record. */
	id[100] = 'x';
	zh_podstate_name(id, "eth0", b);
	assert_string_not_equal(a, b);
	zh_podstate_name("k", "eth0", a);
	zh_podstate_name("k", "eth1", b);
	assert_string_not_equal(a, b);
}

static void test_unsafe_dir(void **state)
{
	struct zh_podstate st = {
		.container_id = "c",
		.ifname = "eth0",
		.cni_path = "/p",
		.host_ifname = "h",
		.host_ifindex = 1,
		.config = "{}",
	};
	char sub[128], link[128];

	snprintf(sub, sizeof(sub), "%s/open", dir);
	assert_int_equal(mkdir(sub, 0777), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(zh_podstate_save(sub, &st), -EPERM);
	assert_int_equal(zh_state_dir_check(sub), -EPERM);
	/* A symlink to a good directory is still a symlink. */
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(zh_state_dir_check(link), -EPERM);
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

static void test_not_a_record(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"containerID\":\"c\"}",
		/* ifindex 0 or out of range */
		"{\"containerID\":\"c\",\"ifname\":\"e\",\"cniPath\":\"/p\",\"hostIfname\":\"h\",\"hostIfindex\":0,\"config\":\"{}\"}",
		"{\"containerID\":\"c\",\"ifname\":\"e\",\"cniPath\":\"/p\",\"hostIfname\":\"h\",\"hostIfindex\":4294967296,\"config\":\"{}\"}",
		/* a non-string where a string goes */
		"{\"containerID\":1,\"ifname\":\"e\",\"cniPath\":\"/p\",\"hostIfname\":\"h\",\"hostIfindex\":1,\"config\":\"{}\"}",
		/* the same key twice */
		"{\"containerID\":\"c\",\"containerID\":\"d\",\"ifname\":\"e\",\"cniPath\":\"/p\",\"hostIfname\":\"h\",\"hostIfindex\":1,\"config\":\"{}\"}",
	};
	struct zh_podstate st;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bad.json", dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(path, bad[i]);
		assert_int_equal(zh_podstate_load(path, &st), -EINVAL);
		assert_null(st.container_id);
	}
	/* Too big to be one. */
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fseek(f, ZH_PODSTATE_MAX + 1, SEEK_SET), 0);
	fputc('}', f);
	fclose(f);
	assert_int_equal(zh_podstate_load(path, &st), -EINVAL);
	assert_int_equal(zh_podstate_load("/nonexistent/x.json", &st), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup,
						teardown),
		cmocka_unit_test(test_name_from_key),
		cmocka_unit_test_setup_teardown(test_unsafe_dir, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_not_a_record, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
