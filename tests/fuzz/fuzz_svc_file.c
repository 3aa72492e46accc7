// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_svc_file.c - the services file (user/lib/svc_file.c): ours
 * ({"services": [...]}, svc_ours.c) and what `kubectl get
 * services,endpointslices -A -o json` prints (svc_k8s.c). Input: the file.
 *
 * A set that parses holds only services that validate, no two on one VIP,
 * port and protocol. And a kubectl List that parses is rendered the same
 * when its objects come one by one, as the agent's watch stores hold them
 * (zh_svc_k8s_render()): the file and the API server give one datapath.
 */
#include <errno.h>
#include <string.h>
#include <jansson.h>

#include "fuzz.h"
#include "fuzz_svc.h"
#include "k8s_watch.h"
#include "svc.h"
#include "svc_k8s.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet();
	return 0;
}

static void no_note(void *arg, const char *kind, const char *key,
		    const char *reason, const char *msg)
{
	(void)arg, (void)kind, (void)key, (void)reason, (void)msg;
}

/*
 * The items of a kubectl List as two stores keyed "namespace/name", as
 * the watch keeps them; false when that is not the same set of objects
 * (a key twice, an item without one).
 */
static bool as_stores(const json_t *root, json_t *svcs, json_t *slices)
{
	const char *kind = json_string_value(json_object_get(root, "kind"));
	json_t *item;
	char key[512];
	size_t i;

	if (!kind || strcmp(kind, "List"))
		return false;
	json_array_foreach (json_object_get(root, "items"), i, item) {
		const char *k =
			json_string_value(json_object_get(item, "kind"));
		json_t *store = !k			    ? NULL :
				!strcmp(k, "Service")	    ? svcs :
				!strcmp(k, "EndpointSlice") ? slices :
							      NULL;

		if (!store)
			continue; /* other kinds are ignored either way */
		if (zh_k8s_key(item, true, key, sizeof(key)) ||
		    json_object_get(store, key))
			return false;
		json_object_set(store, key, item);
	}
	return true;
}

static void same_as_watched(const uint8_t *data, size_t size,
			    struct zh_svc_set *parsed)
{
	json_t *root = json_loadb((const char *)data, size,
				  JSON_REJECT_DUPLICATES, NULL);
	json_t *svcs = json_object(), *slices = json_object();
	struct zh_svc_set rendered;

	FUZZ_CHECK(root && svcs && slices, "a parsed file is not JSON");
	if (as_stores(root, svcs, slices)) {
		FUZZ_CHECK(!zh_svc_k8s_render(svcs, slices, &rendered, no_note,
					      NULL),
			   "render failed");
		fuzz_svc_sort(parsed);
		fuzz_svc_sort(&rendered);
		fuzz_svc_expect_same("file vs watch stores", &rendered, parsed);
		zh_svc_set_free(&rendered);
	}
	json_decref(svcs);
	json_decref(slices);
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zh_svc_set set;
	char err[512], why[256];
	int rc;

	rc = zh_svc_parse((const char *)data, size, &set, err, sizeof(err));
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL && err[0], "rc %d, \"%s\"", rc, err);
		FUZZ_CHECK(!set.n && !set.svcs, "a refusal returned services");
		return 0;
	}
	for (size_t i = 0; i < set.n; i++)
		FUZZ_CHECK(!zh_svc_validate(&set.svcs[i], why, sizeof(why)),
			   "service %zu does not validate: %s", i, why);
	fuzz_svc_sort(&set);
	for (size_t i = 1; i < set.n; i++)
		FUZZ_CHECK(
			fuzz_svc_key_cmp(&set.svcs[i - 1], &set.svcs[i]),
			"services %zu and %zu share a VIP, port and protocol",
			i - 1, i);
	same_as_watched(data, size, &set);
	zh_svc_set_free(&set);
	return 0;
}
