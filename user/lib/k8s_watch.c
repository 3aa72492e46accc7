// SPDX-License-Identifier: Apache-2.0
/*
 * k8s_watch.c - list and watch (k8s_watch.h): the store and the stream as
 * plain logic, then the client that drives them over libcurl's multi
 * interface.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "k8s_watch.h"
#include "log.h"

#define ERR_BODY_MAX 4096 /* of a failed request, for the message */

int zh_k8s_res_init(struct zh_k8s_res *r, const char *kind, const char *path,
		    const char *selector, bool namespaced)
{
	*r = (struct zh_k8s_res){
		.kind = kind,
		.path = path,
		.selector = selector,
		.namespaced = namespaced,
		.store = json_object(),
	};
	return r->store ? 0 : -ENOMEM;
}

void zh_k8s_res_free(struct zh_k8s_res *r)
{
	json_decref(r->store);
	json_decref(r->next);
	free(r->buf);
	curl_slist_free_all(r->hdrs);
	*r = (struct zh_k8s_res){ 0 };
}

int zh_k8s_key(const json_t *obj, bool namespaced, char *buf, size_t len)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	int n;

	if (!name || !name[0])
		return -EPROTO;
	if ((!ns || !ns[0]) && namespaced)
		ns = "default";
	n = ns && ns[0] ? snprintf(buf, len, "%s/%s", ns, name) :
			  snprintf(buf, len, "%s", name);
	return n < 0 || (size_t)n >= len ? -EPROTO : 0;
}

/* metadata.resourceVersion of @obj into r->rv, when it has one. */
static void take_rv(struct zh_k8s_res *r, const json_t *obj)
{
	const char *rv = json_string_value(json_object_get(
		json_object_get(obj, "metadata"), "resourceVersion"));

	if (rv && rv[0] && strlen(rv) < sizeof(r->rv))
		snprintf(r->rv, sizeof(r->rv), "%s", rv);
}

int zh_k8s_res_event(struct zh_k8s_res *r, const json_t *ev, char *err,
		     size_t errlen)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	char key[512];

	if (!type || !json_is_object(obj))
		return zh_errf(err, errlen, -EPROTO,
			       "%s watch: an event without type or object",
			       r->kind);
	if (!strcmp(type, "ERROR")) {
		json_int_t code =
			json_integer_value(json_object_get(obj, "code"));
		const char *msg =
			json_string_value(json_object_get(obj, "message"));

		return zh_errf(err, errlen, code == 410 ? -ESTALE : -EPROTO,
			       "%s watch: error %lld: %s", r->kind,
			       (long long)code, msg ? msg : "(no message)");
	}
	if (!strcmp(type, "BOOKMARK")) {
		take_rv(r, obj);
		r->bookmarks++;
		return 0;
	}
	if (zh_k8s_key(obj, r->namespaced, key, sizeof(key)))
		return zh_errf(err, errlen, -EPROTO,
			       "%s watch: %s of an object without a name",
			       r->kind, type);
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")) {
		if (r->on_change)
			r->on_change(r->cb_arg, key,
				     json_object_get(r->store, key), obj);
		if (json_object_set(r->store, key, obj))
			return zh_errf(err, errlen, -ENOMEM, "out of memory");
	} else if (!strcmp(type, "DELETED")) {
		if (r->on_change)
			r->on_change(r->cb_arg, key,
				     json_object_get(r->store, key), NULL);
		json_object_del(r->store, key);
	} else {
		return zh_errf(err, errlen, -EPROTO,
			       "%s watch: unknown event type \"%s\"", r->kind,
			       type);
	}
	take_rv(r, obj);
	r->events++;
	r->changed = true;
	return 1;
}

static int buf_append(struct zh_k8s_res *r, const char *data, size_t len,
		      size_t max)
{
	size_t cap = r->cap ? r->cap : 4096;
	char *nb;

	if (r->len + len > max)
		return -EFBIG;
	while (cap < r->len + len + 1)
		cap *= 2;
	if (cap != r->cap) {
		nb = realloc(r->buf, cap);
		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, data, len);
	r->len += len;
	r->buf[r->len] = '\0';
	return 0;
}

/* One line of a watch stream; blank lines are keep-alives. */
static int feed_line(struct zh_k8s_res *r, const char *line, size_t len,
		     char *err, size_t errlen)
{
	json_error_t je;
	json_t *ev;
	int rc;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (!len)
		return 0;
	ev = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!ev)
		return zh_errf(err, errlen, -EPROTO,
			       "%s watch: not JSON at column %d: %s", r->kind,
			       je.column, je.text);
	rc = zh_k8s_res_event(r, ev, err, errlen);
	json_decref(ev);
	return rc;
}

int zh_k8s_res_feed(struct zh_k8s_res *r, const char *data, size_t len,
		    char *err, size_t errlen)
{
	int changed = 0, rc;
	const char *nl;

	while (len) {
		nl = memchr(data, '\n', len);
		if (!nl) {
			rc = buf_append(r, data, len, ZH_K8S_LINE_MAX);
			if (rc)
				return zh_errf(
					err, errlen, rc,
					"%s watch: an event over %u bytes",
					r->kind, ZH_K8S_LINE_MAX);
			return changed;
		}
		if (r->len) {
			/* The rest of a line split across chunks. */
			rc = buf_append(r, data, (size_t)(nl - data),
					ZH_K8S_LINE_MAX);
			if (!rc)
				rc = feed_line(r, r->buf, r->len, err, errlen);
			r->len = 0;
		} else {
			rc = feed_line(r, data, (size_t)(nl - data), err,
				       errlen);
		}
		if (rc < 0)
			return rc;
		changed += rc;
		len -= (size_t)(nl - data) + 1;
		data = nl + 1;
	}
	return changed;
}

int zh_k8s_res_page(struct zh_k8s_res *r, const char *body, size_t len,
		    bool *more, char *err, size_t errlen)
{
	const char *cont, *rv;
	json_t *doc, *items, *meta, *it;
	char key[512];
	json_error_t je;
	size_t i;
	int rc = 0;

	*more = false;
	doc = json_loadb(body, len, 0, &je);
	if (!doc)
		return zh_errf(err, errlen, -EPROTO,
			       "%s list: not JSON at line %d: %s", r->kind,
			       je.line, je.text);
	items = json_object_get(doc, "items");
	meta = json_object_get(doc, "metadata");
	rv = json_string_value(json_object_get(meta, "resourceVersion"));
	cont = json_string_value(json_object_get(meta, "continue"));
	if ((!json_is_array(items) && !json_is_null(items) && items) || !rv ||
	    !rv[0] || strlen(rv) >= sizeof(r->rv) ||
	    (cont && strlen(cont) >= sizeof(r->cont))) {
		json_decref(doc);
		return zh_errf(
			err, errlen, -EPROTO,
			"%s list: not a list (items, metadata.resourceVersion)",
			r->kind);
	}
	if (!r->next)
		r->next = json_object();
	json_array_foreach (items, i, it) {
		if (zh_k8s_key(it, r->namespaced, key, sizeof(key))) {
			rc = zh_errf(err, errlen, -EPROTO,
				     "%s list: items[%zu] has no name", r->kind,
				     i);
			break;
		}
		if (!r->next || json_object_set(r->next, key, it)) {
			rc = zh_errf(err, errlen, -ENOMEM, "out of memory");
			break;
		}
	}
	if (!rc && cont && cont[0]) {
		snprintf(r->cont, sizeof(r->cont), "%s", cont);
		*more = true;
	} else if (!rc) {
		json_decref(r->store);
		r->store = r->next;
		r->next = NULL;
		r->cont[0] = '\0';
		snprintf(r->rv, sizeof(r->rv), "%s", rv);
		r->synced = true;
		r->changed = true;
		r->lists++;
		if (r->on_reset)
			r->on_reset(r->cb_arg);
	}
	json_decref(doc);
	return rc;
}

/* --- the client ------------------------------------------------------------ */

static void res_reset_list(struct zh_k8s_res *r)
{
	json_decref(r->next);
	r->next = NULL;
	r->cont[0] = '\0';
	r->rv[0] = '\0';
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct zh_k8s_res *r = arg;
	size_t len = size * n;
	long code = 0;
	int rc;

	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		/* An error's body, for the message: keep its start. */
		if (r->len < ERR_BODY_MAX)
			buf_append(r, data,
				   len < ERR_BODY_MAX - r->len ?
					   len :
					   ERR_BODY_MAX - r->len,
				   ERR_BODY_MAX);
		return len;
	}
	if (r->phase == ZH_K8S_LISTING) {
		rc = buf_append(r, data, len, ZH_K8S_PAGE_MAX);
		if (rc) {
			r->fault = zh_errf(r->err, sizeof(r->err), rc,
					   "%s list: a page over %u bytes",
					   r->kind, ZH_K8S_PAGE_MAX);
			return 0;
		}
		return len;
	}
	rc = zh_k8s_res_feed(r, data, len, r->err, sizeof(r->err));
	if (rc < 0) {
		r->fault = rc;
		return 0; /* ends the transfer */
	}
	r->backoff_ms = 0; /* the watch works */
	return len;
}

static uint64_t jitter(unsigned int ms)
{
	/* 0.5x to 1.5x, so that agents restarted together spread out. */
	return ms / 2 + (uint64_t)random() % (ms + 1);
}

static void retry_later(struct zh_k8s_res *r, uint64_t now)
{
	r->backoff_ms = !r->backoff_ms ? ZH_K8S_BACKOFF_MIN_MS :
			r->backoff_ms >= ZH_K8S_BACKOFF_MAX_MS / 2 ?
					 ZH_K8S_BACKOFF_MAX_MS :
					 r->backoff_ms * 2;
	r->retry_at_ms = now + jitter(r->backoff_ms);
}

static int append_param(char *q, size_t len, const char *name,
			const char *value)
{
	char *esc = curl_easy_escape(NULL, value, 0);
	size_t used = strlen(q);
	int n;

	if (!esc)
		return -ENOMEM;
	n = snprintf(q + used, len - used, "%c%s=%s", used ? '&' : '?', name,
		     esc);
	curl_free(esc);
	return n < 0 || (size_t)n >= len - used ? -ENAMETOOLONG : 0;
}

static int res_start(struct zh_k8s_client *c, struct zh_k8s_res *r,
		     uint64_t now)
{
	char q[ZH_K8S_CONTINUE_MAX + 1024], p[sizeof(q) - 256], num[32];
	bool watch = r->rv[0] && !r->cont[0];
	CURL *h;
	int rc;

	p[0] = '\0';
	if (watch) {
		/* client-go's spread: timeout to twice that. */
		unsigned int t =
			c->watch_timeout_s +
			(unsigned int)random() % (c->watch_timeout_s + 1);

		snprintf(num, sizeof(num), "%u", t);
		rc = append_param(p, sizeof(p), "watch", "1");
		if (!rc)
			rc = append_param(p, sizeof(p), "allowWatchBookmarks",
					  "true");
		if (!rc)
			rc = append_param(p, sizeof(p), "resourceVersion",
					  r->rv);
		if (!rc)
			rc = append_param(p, sizeof(p), "timeoutSeconds", num);
	} else {
		snprintf(num, sizeof(num), "%u", ZH_K8S_PAGE_LIMIT);
		rc = append_param(p, sizeof(p), "limit", num);
		if (!rc && r->cont[0])
			rc = append_param(p, sizeof(p), "continue", r->cont);
	}
	if (!rc && r->selector)
		rc = append_param(p, sizeof(p), "labelSelector", r->selector);
	if (rc)
		return rc;
	snprintf(q, sizeof(q), "%s%s", r->path, p);

	h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	rc = zh_k8s_request(h, c->conf, q, &r->hdrs, r->err, sizeof(r->err));
	if (rc) {
		curl_easy_cleanup(h);
		pr_warn("k8s: %s\n", r->err);
		return rc;
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_PRIVATE, r);
	if (watch) {
		/* No byte for this long (bookmarks come every minute or so):
		 * the connection is dead. */
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
				 (long)(2 * c->watch_timeout_s + 30));
	} else {
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 120000L);
	}
	r->h = h;
	r->len = 0;
	r->fault = 0;
	r->err[0] = '\0';
	r->phase = watch ? ZH_K8S_WATCHING : ZH_K8S_LISTING;
	if (watch)
		r->watches++;
	if (curl_multi_add_handle(c->multi, h) != CURLM_OK) {
		curl_easy_cleanup(h);
		r->h = NULL;
		r->phase = ZH_K8S_IDLE;
		retry_later(r, now);
		return -ENOMEM;
	}
	pr_debug("k8s: GET %s\n", q);
	return 0;
}

/* The message of a Status body, or the start of whatever it was. */
static const char *status_msg(struct zh_k8s_res *r)
{
	json_t *doc = json_loadb(r->buf ? r->buf : "", r->len, 0, NULL);
	const char *m = json_string_value(json_object_get(doc, "message"));

	if (m)
		snprintf(r->err, sizeof(r->err), "%s", m);
	else
		snprintf(r->err, sizeof(r->err), "%.200s",
			 r->buf ? r->buf : "");
	json_decref(doc);
	return r->err;
}

/* A request ended: decide what comes next. Returns store changes. */
static int res_done(struct zh_k8s_client *c, struct zh_k8s_res *r, CURLcode res,
		    uint64_t now)
{
	enum zh_k8s_phase was = r->phase;
	long code = 0;
	bool more;
	int rc;

	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &code);
	curl_multi_remove_handle(c->multi, r->h);
	curl_easy_cleanup(r->h);
	r->h = NULL;
	r->phase = ZH_K8S_IDLE;
	r->retry_at_ms = now; /* by default: the next step starts it */

	if (code == 410 || r->fault == -ESTALE) {
		/* The version is gone from the server's history: a list
		 * from scratch replaces the store. */
		if (r->fault == -ESTALE)
			pr_info("k8s: %s; listing again\n", r->err);
		else
			pr_info("k8s: %s %s: %s; listing again\n", r->kind,
				was == ZH_K8S_WATCHING ? "watch" : "list",
				status_msg(r));
		res_reset_list(r);
		r->relists++;
		return 0;
	}
	if (res == CURLE_OK && code == 200 && was == ZH_K8S_LISTING) {
		rc = zh_k8s_res_page(r, r->buf, r->len, &more, r->err,
				     sizeof(r->err));
		if (!rc) {
			r->backoff_ms = 0;
			if (!more)
				pr_debug("k8s: %s: listed %zu at version %s\n",
					 r->kind, json_object_size(r->store),
					 r->rv);
			return more ? 0 : 1;
		}
		res_reset_list(r);
	} else if (res == CURLE_OK && code == 200) {
		/* The server ended the watch (timeoutSeconds): resume. */
		return 0;
	} else if (!r->fault) {
		if (code && code != 200)
			snprintf(r->err, sizeof(r->err), "HTTP %ld: %s", code,
				 status_msg(r));
		else
			snprintf(r->err, sizeof(r->err), "%s",
				 curl_easy_strerror(res));
	}
	if (was == ZH_K8S_WATCHING)
		r->restarts++;
	if (was == ZH_K8S_LISTING)
		res_reset_list(r);
	retry_later(r, now);
	pr_warn("k8s: %s %s: %s; again in %llu ms\n", r->kind,
		was == ZH_K8S_WATCHING ? "watch" : "list", r->err,
		(unsigned long long)(r->retry_at_ms - now));
	return 0;
}

int zh_k8s_client_init(struct zh_k8s_client *c, const struct zh_k8s_conf *conf,
		       struct zh_k8s_res **res, size_t n)
{
	*c = (struct zh_k8s_client){
		.conf = conf,
		.res = res,
		.n_res = n,
		.watch_timeout_s = 300,
	};
	c->multi = curl_multi_init();
	return c->multi ? 0 : -ENOMEM;
}

void zh_k8s_client_free(struct zh_k8s_client *c)
{
	for (size_t i = 0; i < c->n_res; i++) {
		struct zh_k8s_res *r = c->res[i];

		if (r->h) {
			curl_multi_remove_handle(c->multi, r->h);
			curl_easy_cleanup(r->h);
			r->h = NULL;
		}
		r->phase = ZH_K8S_IDLE;
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	c->multi = NULL;
}

void zh_k8s_client_wakeup(struct zh_k8s_client *c)
{
	curl_multi_wakeup(c->multi);
}

int zh_k8s_client_step(struct zh_k8s_client *c, int timeout_ms, uint64_t now_ms)
{
	uint64_t before = 0, after = 0;
	int running, left, changed = 0;
	CURLMsg *msg;
	size_t i;

	for (i = 0; i < c->n_res; i++) {
		struct zh_k8s_res *r = c->res[i];

		before += r->events;
		if (r->phase != ZH_K8S_IDLE)
			continue;
		if (r->retry_at_ms > now_ms) {
			if ((uint64_t)timeout_ms > r->retry_at_ms - now_ms)
				timeout_ms = (int)(r->retry_at_ms - now_ms);
			continue;
		}
		if (res_start(c, r, now_ms))
			retry_later(r, now_ms);
	}
	curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL);
	curl_multi_perform(c->multi, &running);
	while ((msg = curl_multi_info_read(c->multi, &left))) {
		struct zh_k8s_res *r = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &r);
		if (r)
			changed += res_done(c, r, msg->data.result, now_ms);
	}
	for (i = 0; i < c->n_res; i++)
		after += c->res[i]->events;
	return changed + (int)(after - before);
}
