// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_podstate.c - a record of an attachment (user/lib/podstate.c), as
 * zerohopd reads them from the state directory at every sweep. Input: the
 * file's bytes.
 *
 * A record that is taken has every string the agent's IPAM DEL needs and
 * a host ifindex; written back (zh_podstate_save) and read again, it is
 * the same record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "podstate.h"

static char dir[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet();
	snprintf(dir, sizeof(dir), "/tmp/zh-fuzz-podstate.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	return 0;
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zh_podstate st, back;
	char name[ZH_PODSTATE_NAME_LEN], path[160];

	if (zh_podstate_decode((const char *)data, size, &st)) {
		FUZZ_CHECK(!st.container_id && !st.config,
			   "a refused record left state");
		return 0;
	}
	FUZZ_CHECK(st.container_id && st.ifname && st.cni_path &&
			   st.host_ifname && st.config && st.host_ifindex,
		   "a record taken without a field");
	/* Only what fits a path and has no NUL round-trips through a file:
	 * the plugin never writes anything else. */
	if (strlen(st.container_id) < 1024 && strlen(st.ifname) < 64 &&
	    !zh_podstate_save(dir, &st)) {
		zh_podstate_name(st.container_id, st.ifname, name);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		FUZZ_CHECK(!zh_podstate_load(path, &back), "saved, not loaded");
		FUZZ_CHECK(same(st.container_id, back.container_id) &&
				   same(st.ifname, back.ifname) &&
				   same(st.cni_path, back.cni_path) &&
				   same(st.cni_args, back.cni_args) &&
				   same(st.host_ifname, back.host_ifname) &&
				   same(st.config, back.config) &&
				   st.host_ifindex == back.host_ifindex,
			   "the record read back differs");
		zh_podstate_free(&back);
		unlink(path);
	}
	zh_podstate_free(&st);
	return 0;
}
