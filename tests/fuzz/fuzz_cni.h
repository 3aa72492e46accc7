/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_cni.h - the check the CNI harnesses share: a result we parsed,
 * written in each version we speak and read back, writes the same again
 * (what the plugin prints from a prevResult or an IPAM answer is what it
 * would read).
 */
#ifndef ZH_FUZZ_CNI_H
#define ZH_FUZZ_CNI_H

#include <stdlib.h>
#include <jansson.h>

#include "cni.h"
#include "fuzz.h"

static inline void fuzz_result_roundtrip(const struct zh_result *res)
{
	static const char *const versions[] = { "0.3.0", "0.3.1", "0.4.0",
						"1.0.0", "1.1.0" };
	struct zh_cni_err err = { 0 };

	FUZZ_CHECK(res->n_ifaces >= 0 && res->n_ifaces <= ZH_CNI_MAX_IFACES &&
			   res->n_ips >= 0 && res->n_ips <= ZH_CNI_MAX_IPS &&
			   res->n_routes >= 0 &&
			   res->n_routes <= ZH_CNI_MAX_ROUTES,
		   "counts %d %d %d", res->n_ifaces, res->n_ips, res->n_routes);
	for (size_t v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
		json_t *j = zh_result_to_json(res, versions[v]), *back_j;
		struct zh_result back;
		char *text;

		FUZZ_CHECK(j, "a parsed result cannot be written in %s",
			   versions[v]);
		/* Through text, as the runtime gets it and hands it back. */
		text = json_dumps(j, JSON_COMPACT);
		FUZZ_CHECK(text, "json_dumps");
		back_j = json_loads(text, 0, NULL);
		FUZZ_CHECK(back_j, "our output is not JSON: %s", text);
		FUZZ_CHECK(!zh_result_parse(back_j, &back, &err),
			   "%s result refused: %s (%s): %s", versions[v],
			   err.msg, err.details, text);
		json_decref(back_j);
		back_j = zh_result_to_json(&back, versions[v]);
		FUZZ_CHECK(json_equal(j, back_j), "%s result changed: %s",
			   versions[v], text);
		json_decref(back_j);
		json_decref(j);
		zh_result_free(&back);
		free(text);
	}
}

#endif /* ZH_FUZZ_CNI_H */
