// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_ipam_result.c - what an IPAM plugin prints on stdout, read as the
 * CNI plugin reads it (cni/ipam.c, cni/result.c): the answer to ADD, the
 * error of a failed run, the versions of a VERSION answer. Input: the
 * plugin's stdout.
 *
 * A result that parses is written back in every version and read again
 * (fuzz_cni.h); an error that is taken has a code and fits.
 */
#include <string.h>

#include "cni.h"
#include "fuzz.h"
#include "fuzz_cni.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct zh_cni_err err = { 0 };
	struct zh_result res;
	char *json;

	if (!zh_ipam_result_decode("fuzz", buf, size, &res, &err)) {
		fuzz_result_roundtrip(&res);
		zh_result_free(&res);
	} else {
		FUZZ_CHECK(err.code == ZH_CNI_ERR_DECODE && err.msg[0],
			   "refused with code %d", err.code);
		FUZZ_CHECK(!res.n_ifaces && !res.n_ips && !res.n_routes &&
				   !res.dns,
			   "a refused result is not empty");
	}

	memset(&err, 0, sizeof(err));
	if (!zh_ipam_error_decode(buf, size, &err)) {
		FUZZ_CHECK(err.code > 0, "error code %d", err.code);
		FUZZ_CHECK(memchr(err.msg, '\0', sizeof(err.msg)) &&
				   memchr(err.details, '\0',
					  sizeof(err.details)),
			   "error text not terminated");
		/* And the plugin prints it as the spec's error JSON. */
		json = zh_cni_err_to_json(&err, NULL);
		FUZZ_CHECK(json, "an IPAM error cannot be passed on");
		free(json);
	}

	zh_ipam_versions_has(buf, size, "1.1.0");
	return 0;
}
