// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_k8s_watch.c - the agent's Kubernetes input as it arrives: list
 * pages and watch streams of Services, EndpointSlices and Nodes
 * (user/lib/k8s_watch.c, zh_k8s_res_page() and zh_k8s_res_feed(), the
 * decoders the libcurl client hands its bytes to), into the stores, into
 * the Services rendered between batches (svc_k8s_sync.c), as zerohopd's
 * kube.c wires them.
 *
 * Input: text in chunks, each starting with a directive line
 *	@sw @ew @nw   bytes of a watch stream of Services, EndpointSlices,
 *	              Nodes (the chunk's last newline is the separator: a
 *	              chunk without a blank line before the next directive
 *	              ends in the middle of a line)
 *	@sl @el @nl   one list page (a *List object)
 *	@sx @ex @nx   the request ends (a new one starts from nothing)
 *	@--           a batch: render what changed
 * Bytes before the first directive are a Services watch stream. There is
 * a batch at the end.
 *
 * At each batch: the services taken batch by batch (what the maps would
 * hold) are the services of a render of the stores from scratch, and the
 * CNI configuration for node "n1" is one the plugin accepts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <jansson.h>

#include "cni.h"
#include "fuzz.h"
#include "fuzz_svc.h"
#include "k8s.h"
#include "k8s_watch.h"
#include "svc_k8s.h"

#define NODE "n1"

enum { SVCS, SLICES, NODES, N_RES };

struct run {
	struct zh_k8s_res res[N_RES];
	char last_op[N_RES]; /* 'w' or 'l' of the request in flight, or 0 */
	struct zh_svc_k8s_sync *sync;
	bool reset; /* a list replaced a store: render all next batch */
	struct zh_svc_set maps; /* what the datapath holds */
};

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

/* kube.c's callbacks. */
static void svc_changed(void *arg, const char *key, const json_t *old,
			const json_t *new)
{
	struct run *r = arg;

	(void)old, (void)new;
	if (zh_svc_k8s_sync_service(r->sync, key))
		r->reset = true;
}

static void slice_changed(void *arg, const char *key, const json_t *old,
			  const json_t *new)
{
	struct run *r = arg;

	if (zh_svc_k8s_sync_slice(r->sync, key, old, new))
		r->reset = true;
}

static void store_replaced(void *arg)
{
	struct run *r = arg;

	r->reset = true;
}

/* --- the datapath's model ------------------------------------------------- */

static struct zh_service *maps_find(struct zh_svc_set *m,
				    const struct zh_service *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (!fuzz_svc_key_cmp(&m->svcs[i], key))
			return &m->svcs[i];
	return NULL;
}

/* What zh_svc_apply_changes() does to the maps: @put's services move in. */
static void maps_apply(struct zh_svc_set *m, struct zh_svc_set *put,
		       const struct zh_service *del, size_t n_del)
{
	for (size_t i = 0; i < n_del; i++) {
		struct zh_service *s = maps_find(m, &del[i]);

		FUZZ_CHECK(s, "deleting %s, which the maps do not hold",
			   del[i].name);
		free(s->backends);
		*s = m->svcs[--m->n];
	}
	for (size_t i = 0; i < put->n; i++) {
		struct zh_service *s = maps_find(m, &put->svcs[i]);

		if (s) {
			free(s->backends);
		} else {
			m->svcs =
				realloc(m->svcs, (m->n + 1) * sizeof(*m->svcs));
			FUZZ_CHECK(m->svcs, "out of memory");
			s = &m->svcs[m->n++];
		}
		*s = put->svcs[i];
		put->svcs[i].backends = NULL;
		put->svcs[i].n_backends = 0;
	}
}

/* A render of the stores from scratch, for this node. */
static void render_all(const struct run *r, struct zh_svc_set *out)
{
	struct zh_svc_k8s_sync *s = zh_svc_k8s_sync_new(no_note, NULL);

	FUZZ_CHECK(s, "out of memory");
	zh_svc_k8s_sync_node(s, NODE);
	FUZZ_CHECK(!zh_svc_k8s_sync_reset(s, r->res[SVCS].store,
					  r->res[SLICES].store) &&
			   !zh_svc_k8s_sync_render(s, r->res[SVCS].store,
						   r->res[SLICES].store) &&
			   !zh_svc_k8s_sync_all(s, out),
		   "full render failed");
	zh_svc_k8s_sync_free(s);
}

/* "What is not a CIDR is left out" (k8s.h): each subnet written is one. */
static void check_subnet(const char *s)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	unsigned char raw[16];
	char ip[64];
	int max, len = 0;

	FUZZ_CHECK(slash && (size_t)(slash - s) < sizeof(ip), "subnet %s", s);
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	max = inet_pton(AF_INET, ip, raw) == 1	? 32 :
	      inet_pton(AF_INET6, ip, raw) == 1 ? 128 :
						  -1;
	FUZZ_CHECK(max > 0, "subnet %s: not an address", s);
	FUZZ_CHECK(slash[1] >= '1' && slash[1] <= '9',
		   "subnet %s: not a prefix length", s);
	for (const char *p = slash + 1; *p; p++) {
		FUZZ_CHECK(*p >= '0' && *p <= '9' && len <= max,
			   "subnet %s: not a prefix length", s);
		len = len * 10 + (*p - '0');
	}
	FUZZ_CHECK(len <= max, "subnet %s: prefix too long", s);
}

/* kube.c's cni_sync(): node NODE's pod CIDRs as the conflist it writes. */
static void check_conflist(const struct run *r)
{
	const json_t *spec = json_object_get(
		json_object_get(r->res[NODES].store, NODE), "spec");
	json_t *cidrs = json_object_get(spec, "podCIDRs"), *one = NULL, *doc,
	       *plugin, *range;
	struct zh_netconf conf;
	struct zh_cni_err err;
	char *text, *conf_text;
	size_t i;

	if (!json_array_size(cidrs) &&
	    json_is_string(json_object_get(spec, "podCIDR")))
		cidrs = one =
			json_pack("[O]", json_object_get(spec, "podCIDR"));
	text = zh_k8s_conflist(cidrs, "tc", 0, NULL);
	json_decref(one);
	if (!text)
		return;
	doc = json_loads(text, 0, NULL);
	FUZZ_CHECK(doc, "the conflist is not JSON: %s", text);
	plugin = json_array_get(json_object_get(doc, "plugins"), 0);
	json_array_foreach (json_object_get(json_object_get(plugin, "ipam"),
					    "ranges"),
			    i, range)
		check_subnet(json_string_value(
			json_object_get(json_array_get(range, 0), "subnet")));
	/* What a runtime hands the plugin: the plugin's object, with the
	 * list's name and version. */
	json_object_set(plugin, "cniVersion",
			json_object_get(doc, "cniVersion"));
	json_object_set(plugin, "name", json_object_get(doc, "name"));
	conf_text = json_dumps(plugin, JSON_COMPACT);
	FUZZ_CHECK(conf_text, "out of memory");
	FUZZ_CHECK(!zh_netconf_parse(conf_text, strlen(conf_text), &conf, &err),
		   "the plugin refuses the conflist the agent writes: %s: %s",
		   err.msg, text);
	zh_netconf_free(&conf);
	free(conf_text);
	json_decref(doc);
	free(text);
}

/* kube.c's services_sync(), against a render from scratch. */
static void batch(struct run *r)
{
	struct zh_svc_set put, all;
	struct zh_service *del;
	size_t n_del;

	if (r->reset) {
		r->reset = false;
		FUZZ_CHECK(!zh_svc_k8s_sync_reset(r->sync, r->res[SVCS].store,
						  r->res[SLICES].store),
			   "reset failed");
	}
	FUZZ_CHECK(!zh_svc_k8s_sync_render(r->sync, r->res[SVCS].store,
					   r->res[SLICES].store),
		   "render failed");
	FUZZ_CHECK(!zh_svc_k8s_sync_take(r->sync, &put, &del, &n_del),
		   "take failed");
	maps_apply(&r->maps, &put, del, n_del);
	zh_svc_set_free(&put);
	free(del);

	render_all(r, &all);
	fuzz_svc_sort(&all);
	fuzz_svc_sort(&r->maps);
	fuzz_svc_expect_same("taken batch by batch vs a full render", &r->maps,
			     &all);
	zh_svc_set_free(&all);
	check_conflist(r);
}

/* --- the input ------------------------------------------------------------ */

/* Which resource a directive's letter names; -1 for none. */
static int res_of(char c)
{
	return c == 's' ? SVCS : c == 'e' ? SLICES : c == 'n' ? NODES : -1;
}

/* A directive at @p (@n bytes): 1, with *@res and *@op, or 0. */
static int directive(const char *p, size_t n, int *res, char *op)
{
	if (n < 3 || p[0] != '@' || (n > 3 && p[3] != '\n'))
		return 0;
	if (p[1] == '-' && p[2] == '-') {
		*res = -1;
		*op = '-';
		return 1;
	}
	if (res_of(p[1]) < 0 || !strchr("wlx", p[2]) || !p[2])
		return 0;
	*res = res_of(p[1]);
	*op = p[2];
	return 1;
}

/* The request on @res ends: what a new one starts with is nothing. */
static void request_end(struct run *r, int res)
{
	r->res[res].len = 0;
	r->last_op[res] = 0;
}

/* k8s_watch.c's res_reset_list(): a list starts again from its first page. */
static void list_restart(struct zh_k8s_res *res)
{
	json_decref(res->next);
	res->next = NULL;
	res->cont[0] = '\0';
	res->rv[0] = '\0';
}

static void run_chunk(struct run *r, int res, char op, const char *d, size_t n)
{
	struct zh_k8s_res *k = &r->res[res];
	char err[ZH_K8S_ERR_MAX];
	bool more;
	int rc;

	if (op == 'x') {
		request_end(r, res);
		return;
	}
	if (r->last_op[res] != op)
		request_end(r, res);
	r->last_op[res] = op;
	if (op == 'l') {
		rc = zh_k8s_res_page(k, d, n, &more, err, sizeof(err));
		FUZZ_CHECK(rc == 0 || rc == -EPROTO, "page: %d", rc);
		if (rc)
			list_restart(k);
		FUZZ_CHECK(!k->next == !more,
			   "a page left the list half-built");
		if (rc || !more)
			request_end(r, res);
		return;
	}
	rc = zh_k8s_res_feed(k, d, n, err, sizeof(err));
	FUZZ_CHECK(rc >= 0 || rc == -EPROTO || rc == -ESTALE || rc == -EFBIG,
		   "feed: %d", rc);
	if (rc < 0) {
		/* The client ends the transfer; 410: list again. */
		if (rc == -ESTALE)
			list_restart(k);
		request_end(r, res);
	}
	FUZZ_CHECK(k->len <= ZH_K8S_LINE_MAX, "partial line of %zu", k->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kinds[N_RES] = { "Service", "EndpointSlice",
						  "Node" };
	const char *p = (const char *)data, *end = p + size;
	struct run r = { 0 };
	int res = SVCS;
	char op = 'w';

	r.sync = zh_svc_k8s_sync_new(no_note, NULL);
	FUZZ_CHECK(r.sync, "out of memory");
	zh_svc_k8s_sync_node(r.sync, NODE);
	for (int i = 0; i < N_RES; i++) {
		FUZZ_CHECK(!zh_k8s_res_init(&r.res[i], kinds[i], "/", NULL,
					    i != NODES),
			   "out of memory");
		r.res[i].cb_arg = &r;
	}
	r.res[SVCS].on_change = svc_changed;
	r.res[SLICES].on_change = slice_changed;
	r.res[SVCS].on_reset = store_replaced;
	r.res[SLICES].on_reset = store_replaced;

	if (directive(p, (size_t)(end - p), &res, &op))
		p += end - p > 3 ? 4 : 3;
	while (p <= end) {
		/* This chunk runs to the next "\n@xy" directive line. */
		const char *q = p, *next = end;
		int nres = 0;
		char nop = 0;

		while ((q = memchr(q, '\n', (size_t)(end - q)))) {
			if (directive(q + 1, (size_t)(end - q - 1), &nres,
				      &nop)) {
				next = q;
				break;
			}
			q++;
		}
		if (op == '-')
			batch(&r);
		else
			run_chunk(&r, res, op, p, (size_t)(next - p));
		if (next == end)
			break;
		res = nres;
		op = nop;
		p = next + 1 + (end - next - 1 > 3 ? 4 : 3);
	}
	batch(&r);

	for (int i = 0; i < N_RES; i++)
		zh_k8s_res_free(&r.res[i]);
	zh_svc_k8s_sync_free(r.sync);
	zh_svc_set_free(&r.maps);
	return 0;
}
