// SPDX-License-Identifier: Apache-2.0
/*
 * test_abi - the ABI this build pins (zerohopctl abi: its maps, their
 * layouts, its programs, the counters and feature bits in index order,
 * the constants the maps' fields mean) is the one recorded for its
 * ZH_PIN_VERSION in bpf/abi/<version>.txt.
 *
 * Two builds of one version share every pin: a change of the ABI that
 * keeps the version would have the new programs read the old layouts (or
 * fail to load on maps of other sizes). So a change must bump
 * ZH_PIN_VERSION (another pin directory; the upgrade takes the old one
 * over, upgrade.h) and record the new ABI:
 *     make && build/zerohopctl abi > bpf/abi/vN.txt
 * Only an addition that every build of the version reads the same is
 * recorded under the version it has (a feature bit appended to
 * ZH_FEATURES: a set pinned by an older build lacks it, and says absent):
 * the record's diff shows the reviewer which it is.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "zerohop.h"
#include "upgrade.h"
#include "util.h"

#define RECORD "bpf/abi/" ZH_PIN_VERSION ".txt"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* The first line where @a and @b differ, for the message. */
static void first_difference(const char *a, const char *b)
{
	for (int line = 1;; line++) {
		size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");

		if (la != lb || memcmp(a, b, la)) {
			print_error(
				"line %d:\n  recorded: %.*s\n  built:    %.*s\n",
				line, (int)lb, b, (int)la, a);
			return;
		}
		if (!a[la] || !b[lb])
			return;
		a += la + 1;
		b += lb + 1;
	}
}

static void test_abi_is_recorded(void **state)
{
	char *built = NULL, *recorded;
	size_t blen = 0, rlen = 0;
	FILE *f = open_memstream(&built, &blen);

	assert_non_null(f);
	assert_int_equal(zh_upgrade_abi(f, NULL), 0);
	fclose(f);
	recorded = slurp(RECORD, &rlen);
	if (!recorded)
		fail_msg(
			"no %s: record this version's ABI (build/zerohopctl abi > %s)",
			RECORD, RECORD);
	if (blen != rlen || memcmp(built, recorded, blen)) {
		first_difference(built, recorded);
		fail_msg(
			"the ABI is not the one recorded for %s in %s: bump ZH_PIN_VERSION (zh_abi.h) and record the new one (build/zerohopctl abi > bpf/abi/vN.txt); or, only if every build of %s reads it the same (a feature bit appended), record it in %s; or undo the change",
			ZH_PIN_VERSION, RECORD, ZH_PIN_VERSION, RECORD);
	}
	free(built);
	free(recorded);
}

/* What the description is made of: a changed layout shows in it. */
static void test_abi_names_layouts(void **state)
{
	char *built = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&built, &blen);

	assert_non_null(f);
	assert_int_equal(zh_upgrade_abi(f, NULL), 0);
	fclose(f);
	assert_contains(built, "abi " ZH_PIN_VERSION "\n");
	assert_contains(built, "map zh_ct lru_hash key 40 value 40 capacity");
	assert_contains(built, "out_ifindex@36 u32}");
	assert_contains(built, "map zh_stats percpu_array key 4 value 16 max ");
	assert_contains(built, "prog zh_tc_from_pod sched_cls\n");
	assert_contains(built, "stats redirect pass_not_ip ");
	assert_contains(built, "const ZH_META_TO_TC 0x7a68746b\n");
	free(built);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abi_is_recorded),
		cmocka_unit_test(test_abi_names_layouts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
