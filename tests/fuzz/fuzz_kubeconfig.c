// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_kubeconfig.c - a kubeconfig (user/lib/k8s.c: YAML through libyaml
 * into JSON, then its current context's cluster and user). Input: the
 * file's bytes.
 *
 * A kubeconfig that is taken names an https server we would connect to,
 * and paths relative to its directory.
 */
#include <string.h>

#include "fuzz.h"
#include "k8s.h"

#define DIR "/etc/zerohop"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet();
	return 0;
}

static void check_path(const char *p)
{
	FUZZ_CHECK(!p[0] || p[0] == '/', "path %s is relative", p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zh_k8s_conf c;
	char err[ZH_K8S_ERR_MAX];

	if (zh_k8s_kubeconfig_parse(&c, (const char *)data, size, DIR, NULL,
				    err, sizeof(err))) {
		FUZZ_CHECK(!c.ca_pem && !c.token && !c.cert_pem && !c.key_pem,
			   "a refused kubeconfig left state");
		return 0;
	}
	FUZZ_CHECK(!strncmp(c.server, "https://", 8) &&
			   !strchr(c.server + 8, '/'),
		   "server %s", c.server);
	check_path(c.ca_file);
	check_path(c.token_file);
	check_path(c.cert_file);
	check_path(c.key_file);
	FUZZ_CHECK(!c.ca_pem || c.ca_len < size, "CA of %zu bytes from %zu",
		   c.ca_len, size);
	zh_k8s_conf_free(&c);
	return 0;
}
