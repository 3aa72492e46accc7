// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_cni_conf.c - the network configuration a runtime writes to the CNI
 * plugin's stdin (cni/conf.c), and the prevResult in it (cni/result.c).
 * Input: the bytes of stdin.
 *
 * Beyond "no crash, no leak": what parses keeps the promises of cni.h
 * (versions, names, ranges), and a prevResult written back in every
 * version we speak reads back as the same result.
 */
#include <string.h>

#include "cni.h"
#include "fuzz.h"
#include "fuzz_cni.h"
#include "kfeatures.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet();
	return 0;
}

static void check_conf(const struct zh_netconf *c, const uint8_t *data,
		       size_t size)
{
	FUZZ_CHECK(zh_cni_version_supported(c->cni_version), "version %s",
		   c->cni_version);
	FUZZ_CHECK(zh_cni_name_valid(c->name), "name %s", c->name);
	FUZZ_CHECK(c->type && c->type[0] && c->ipam_type && c->ipam_type[0],
		   "type or ipam.type empty");
	FUZZ_CHECK(c->mtu >= ZH_NETCONF_MTU_MIN && c->mtu <= ZH_NETCONF_MTU_MAX,
		   "mtu %u", c->mtu);
	FUZZ_CHECK(c->datapath == ZH_DATAPATH_TC ||
			   c->datapath == ZH_DATAPATH_XDP,
		   "datapath %d", (int)c->datapath);
	FUZZ_CHECK(c->afxdp.queues <= ZH_XSK_MAX_QUEUES, "queues %u",
		   c->afxdp.queues);
	FUZZ_CHECK(c->afxdp.nsteer <= ZH_XSK_MAX_STEER, "nsteer %u",
		   c->afxdp.nsteer);
	if (c->afxdp.queues)
		FUZZ_CHECK(c->afxdp.nsteer && c->afxdp.socket_path[0] == '/',
			   "afxdp on without steering or socket");
	/* The raw copy is what the IPAM plugin gets: every byte. */
	FUZZ_CHECK(c->raw_len == size && !memcmp(c->raw, data, size) &&
			   c->raw[size] == '\0',
		   "raw copy differs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct zh_kfeat all = { .present = ZH_FEAT_ALL,
					     .probed = ZH_FEAT_ALL };
	static const struct zh_kfeat none = { .probed = ZH_FEAT_ALL };
	struct zh_netconf conf;
	struct zh_attachments att;
	struct zh_cni_err err = { 0 };
	struct zh_result prev;
	char *json;

	if (zh_netconf_parse((const char *)data, size, &conf, &err)) {
		FUZZ_CHECK(err.code > 0 && err.msg[0],
			   "a refusal without a code");
		FUZZ_CHECK(!conf.root && !conf.raw, "a refusal left state");
		/* stdout carries the error JSON, whatever the input was. */
		json = zh_cni_err_to_json(&err, NULL);
		FUZZ_CHECK(json, "no error JSON for: %s", err.msg);
		free(json);
		return 0;
	}
	check_conf(&conf, data, size);

	for (int cmd = ZH_CNI_ADD; cmd <= ZH_CNI_GC; cmd++)
		zh_netconf_allows(&conf, cmd, &err);
	FUZZ_CHECK(!zh_netconf_kernel_check(&conf, &all, 2, &err),
		   "refused on a kernel with everything: %s", err.msg);
	FUZZ_CHECK(zh_netconf_kernel_check(&conf, &none, 2, &err) &&
			   err.code == 2,
		   "served on a kernel with nothing");

	if (!zh_netconf_attachments(&conf, &att, &err)) {
		for (size_t i = 0; i < att.n; i++)
			FUZZ_CHECK(att.v[i].container_id[0] &&
					   att.v[i].ifname[0],
				   "attachment %zu empty", i);
		zh_attachments_free(&att);
	}

	if (conf.prev_result &&
	    !zh_result_parse(conf.prev_result, &prev, &err)) {
		fuzz_result_roundtrip(&prev);
		zh_result_free(&prev);
	}
	zh_netconf_free(&conf);
	return 0;
}
