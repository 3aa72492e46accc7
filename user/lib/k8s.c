// SPDX-License-Identifier: Apache-2.0
/*
 * k8s.c - where the API server is and who we are to it (k8s.h): the
 * service account's files, or a kubeconfig read with libyaml into a
 * jansson tree and taken apart with json.h's getters.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "json.h"
#include "k8s.h"
#include "log.h"
#include "svc.h"

#define KUBECONFIG_MAX (1u << 20)
#define YAML_DEPTH_MAX 32
/*
 * Values a document may turn into. Each takes bytes of the file, but an
 * alias repeats its anchor's whole tree for the bytes of its name: 30
 * lines of "l1: &l1 [*l0, *l0]" would make 2^30. A file without aliases
 * never comes near (a value is 2 bytes at the least).
 */
#define YAML_VALUES_MAX KUBECONFIG_MAX

void zh_k8s_conf_free(struct zh_k8s_conf *c)
{
	free(c->ca_pem);
	free(c->token);
	free(c->cert_pem);
	free(c->key_pem);
	*c = (struct zh_k8s_conf){ 0 };
}

int zh_k8s_set_server(struct zh_k8s_conf *c, const char *url, char *err,
		      size_t errlen)
{
	size_t n = strlen(url);

	while (n && url[n - 1] == '/')
		n--;
	if (strncmp(url, "https://", 8) || n <= 8 || n >= sizeof(c->server) ||
	    memchr(url + 8, '/', n - 8) || memchr(url, '?', n) ||
	    memchr(url, '@', n))
		return zh_errf(err, errlen, -EINVAL,
			       "API server \"%s\": not https://HOST[:PORT]",
			       url);
	memcpy(c->server, url, n);
	c->server[n] = '\0';
	return 0;
}

/* A path, relative to @dir when not absolute, into @out. */
static int put_path(char *out, size_t len, const char *dir, const char *p,
		    char *err, size_t errlen)
{
	int n = p[0] == '/' || !dir ? snprintf(out, len, "%s", p) :
				      snprintf(out, len, "%s/%s", dir, p);

	if (n < 0 || (size_t)n >= len)
		return zh_errf(err, errlen, -ENAMETOOLONG, "%s: path too long",
			       p);
	return 0;
}

int zh_k8s_conf_incluster(struct zh_k8s_conf *c, const char *api,
			  const char *sa_dir, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char url[ZH_K8S_SERVER_MAX];
	int rc;

	*c = (struct zh_k8s_conf){ 0 };
	if (!sa_dir)
		sa_dir = ZH_K8S_SA_DIR;
	if (!api || !api[0])
		api = getenv(ZH_K8S_API_ENV);
	if ((!api || !api[0]) && host && host[0]) {
		snprintf(url, sizeof(url),
			 strchr(host, ':') ? "https://[%s]:%s" :
					     "https://%s:%s",
			 host, port && port[0] ? port : "443");
		api = url;
	}
	if (!api || !api[0])
		return zh_errf(
			err, errlen, -EINVAL,
			"no API server: give --k8s-api https://HOST:PORT or set %s",
			ZH_K8S_API_ENV);
	rc = zh_k8s_set_server(c, api, err, errlen);
	if (!rc)
		rc = put_path(c->token_file, sizeof(c->token_file), sa_dir,
			      "token", err, errlen);
	if (!rc)
		rc = put_path(c->ca_file, sizeof(c->ca_file), sa_dir, "ca.crt",
			      err, errlen);
	if (!rc && access(c->token_file, R_OK))
		rc = zh_errf(err, errlen, -errno, "%s: %s", c->token_file,
			     strerror(errno));
	if (!rc && access(c->ca_file, R_OK))
		rc = zh_errf(err, errlen, -errno, "%s: %s", c->ca_file,
			     strerror(errno));
	return rc;
}

/* --- YAML into JSON ------------------------------------------------------- */

/*
 * Every scalar is a string: a kubeconfig's values are. *@budget: values
 * still allowed (YAML_VALUES_MAX); NULL when spent.
 */
static json_t *yaml_node_json(yaml_document_t *doc, yaml_node_t *n, int depth,
			      size_t *budget)
{
	json_t *out;

	if (!n || depth > YAML_DEPTH_MAX || !*budget)
		return NULL;
	--*budget;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return json_stringn((const char *)n->data.scalar.value,
				    n->data.scalar.length);
	case YAML_SEQUENCE_NODE: {
		yaml_node_item_t *it;

		out = json_array();
		for (it = n->data.sequence.items.start;
		     out && it < n->data.sequence.items.top; it++) {
			json_t *v = yaml_node_json(
				doc, yaml_document_get_node(doc, *it),
				depth + 1, budget);

			if (!v || json_array_append_new(out, v)) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	}
	case YAML_MAPPING_NODE: {
		yaml_node_pair_t *p;

		out = json_object();
		for (p = n->data.mapping.pairs.start;
		     out && p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			json_t *v;

			if (!k || k->type != YAML_SCALAR_NODE) {
				json_decref(out);
				return NULL;
			}
			v = yaml_node_json(
				doc, yaml_document_get_node(doc, p->value),
				depth + 1, budget);
			if (!v ||
			    json_object_setn_new(
				    out, (const char *)k->data.scalar.value,
				    k->data.scalar.length, v)) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	}
	default:
		return NULL;
	}
}

static json_t *yaml_load(const char *text, size_t len, char *err, size_t errlen)
{
	size_t budget = YAML_VALUES_MAX;
	yaml_parser_t p;
	yaml_document_t doc;
	json_t *out = NULL;

	if (!yaml_parser_initialize(&p)) {
		zh_errf(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &doc)) {
		zh_errf(err, errlen, -EINVAL, "line %zu: %s",
			p.problem_mark.line + 1,
			p.problem ? p.problem : "bad YAML");
		yaml_parser_delete(&p);
		return NULL;
	}
	out = yaml_node_json(&doc, yaml_document_get_root_node(&doc), 0,
			     &budget);
	if (!out)
		zh_errf(err, errlen, -EINVAL,
			"empty, too deep, aliases that expand past %u values, or a key that is not a string",
			YAML_VALUES_MAX);
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	return out;
}

/* --- kubeconfig ----------------------------------------------------------- */

static int b64_val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Standard base64 (whitespace skipped, '=' ends it) into a new buffer. */
static int b64_decode(const char *s, char **out, size_t *outlen)
{
	size_t len = strlen(s), n = 0;
	unsigned int acc = 0;
	int bits = 0, v;
	char *buf = malloc(len / 4 * 3 + 4);

	if (!buf)
		return -ENOMEM;
	for (; *s && *s != '='; s++) {
		if (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
			continue;
		v = b64_val((unsigned char)*s);
		if (v < 0) {
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

/* The entry of list @key named @name, its member @inner. */
static json_t *named(const json_t *root, const char *key, const char *name,
		     const char *inner)
{
	json_t *arr = zh_json_get(root, key), *v;
	size_t i;

	json_array_foreach (arr, i, v) {
		const char *n = json_string_value(zh_json_get(v, "name"));

		if (n && !strcmp(n, name))
			return zh_json_get(v, inner);
	}
	return NULL;
}

/* @obj's "@key-data" (base64) into *@pem, else "@key" (a path) into @file. */
static int pem_or_file(const json_t *obj, const char *key, const char *dir,
		       char **pem, size_t *len, char *file, size_t filelen,
		       char *err, size_t errlen)
{
	char data_key[64];
	const char *v;

	snprintf(data_key, sizeof(data_key), "%s-data", key);
	v = json_string_value(zh_json_get(obj, data_key));
	if (v) {
		int rc = b64_decode(v, pem, len);

		return rc ? zh_errf(err, errlen, rc, "%s: not base64",
				    data_key) :
			    0;
	}
	v = json_string_value(zh_json_get(obj, key));
	return v ? put_path(file, filelen, dir, v, err, errlen) : 0;
}

static int kubeconfig_parse(struct zh_k8s_conf *c, const json_t *root,
			    const char *dir, const char *api, char *err,
			    size_t errlen)
{
	const char *ctx_name, *cl_name, *user_name, *server, *v;
	json_t *ctx, *cl, *user;
	int rc;

	ctx_name = json_string_value(zh_json_get(root, "current-context"));
	if (!ctx_name)
		return zh_errf(err, errlen, -EINVAL, "no current-context");
	ctx = named(root, "contexts", ctx_name, "context");
	cl_name = json_string_value(zh_json_get(ctx, "cluster"));
	user_name = json_string_value(zh_json_get(ctx, "user"));
	if (!cl_name)
		return zh_errf(err, errlen, -EINVAL,
			       "context \"%s\": missing, or no cluster",
			       ctx_name);
	cl = named(root, "clusters", cl_name, "cluster");
	server = json_string_value(zh_json_get(cl, "server"));
	if (!server && !(api && api[0]))
		return zh_errf(err, errlen, -EINVAL,
			       "cluster \"%s\": missing, or no server",
			       cl_name);
	rc = zh_k8s_set_server(c, api && api[0] ? api : server, err, errlen);
	if (!rc)
		rc = pem_or_file(cl, "certificate-authority", dir, &c->ca_pem,
				 &c->ca_len, c->ca_file, sizeof(c->ca_file),
				 err, errlen);
	if (rc || !user_name)
		return rc;
	user = named(root, "users", user_name, "user");
	v = json_string_value(zh_json_get(user, "token"));
	if (v && !(c->token = strdup(v)))
		return -ENOMEM;
	v = json_string_value(zh_json_get(user, "tokenFile"));
	if (v)
		rc = put_path(c->token_file, sizeof(c->token_file), dir, v, err,
			      errlen);
	if (!rc)
		rc = pem_or_file(user, "client-certificate", dir, &c->cert_pem,
				 &c->cert_len, c->cert_file,
				 sizeof(c->cert_file), err, errlen);
	if (!rc)
		rc = pem_or_file(user, "client-key", dir, &c->key_pem,
				 &c->key_len, c->key_file, sizeof(c->key_file),
				 err, errlen);
	return rc;
}

/* A whole file, at most @max bytes, NUL-terminated. */
static int read_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	char *buf;
	ssize_t r;

	if (fd < 0)
		return -errno;
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (n <= max && (r = read(fd, buf + n, max + 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	if (r < 0 || n > max) {
		free(buf);
		return r < 0 ? -EIO : -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int zh_k8s_kubeconfig_parse(struct zh_k8s_conf *c, const char *text, size_t len,
			    const char *dir, const char *api, char *err,
			    size_t errlen)
{
	json_t *root;
	int rc;

	*c = (struct zh_k8s_conf){ 0 };
	root = yaml_load(text, len, err, errlen);
	if (!root)
		return -EINVAL;
	rc = kubeconfig_parse(c, root, dir, api, err, errlen);
	json_decref(root);
	if (rc)
		zh_k8s_conf_free(c);
	return rc;
}

int zh_k8s_conf_kubeconfig(struct zh_k8s_conf *c, const char *path,
			   const char *api, char *err, size_t errlen)
{
	char msg[ZH_K8S_ERR_MAX], dirbuf[PATH_MAX], *text;
	size_t len;
	int rc;

	*c = (struct zh_k8s_conf){ 0 };
	rc = read_file(path, KUBECONFIG_MAX, &text, &len);
	if (rc)
		return zh_errf(err, errlen, rc, "%s: %s", path, strerror(-rc));
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	rc = zh_k8s_kubeconfig_parse(c, text, len, dirname(dirbuf), api, msg,
				     sizeof(msg));
	free(text);
	if (rc)
		return zh_errf(err, errlen, rc, "%s: %s", path, msg);
	return 0;
}

/* --- a request ------------------------------------------------------------ */

/* The token file's first line, or the fixed token, into @buf. */
static int token_read(const struct zh_k8s_conf *c, char *buf, size_t len,
		      char *err, size_t errlen)
{
	size_t n;
	char *t;
	int rc;

	if (!c->token_file[0]) {
		snprintf(buf, len, "%s", c->token ? c->token : "");
		return 0;
	}
	rc = read_file(c->token_file, ZH_K8S_TOKEN_MAX, &t, &n);
	if (rc)
		return zh_errf(err, errlen, rc, "%s: %s", c->token_file,
			       rc == -EFBIG ? "token too long" : strerror(-rc));
	n = strcspn(t, "\r\n");
	t[n] = '\0';
	snprintf(buf, len, "%s", t);
	free(t);
	return 0;
}

int zh_k8s_request(CURL *h, const struct zh_k8s_conf *c, const char *path_query,
		   struct curl_slist **hdrs, char *err, size_t errlen)
{
	char auth[ZH_K8S_TOKEN_MAX + 32];
	char url[ZH_K8S_SERVER_MAX + 2048], token[ZH_K8S_TOKEN_MAX + 1];
	struct curl_slist *l = NULL, *n;
	int rc;

	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->server, path_query) >=
	    sizeof(url))
		return zh_errf(err, errlen, -ENAMETOOLONG, "URL too long");
	rc = token_read(c, token, sizeof(token), err, errlen);
	if (rc)
		return rc;
	n = curl_slist_append(l, "Accept: application/json");
	if (n && token[0]) {
		l = n;
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		n = curl_slist_append(l, auth);
		explicit_bzero(auth, sizeof(auth));
	}
	explicit_bzero(token, sizeof(token));
	if (!n) {
		curl_slist_free_all(l);
		return zh_errf(err, errlen, -ENOMEM, "out of memory");
	}
	l = n;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "zerohopd");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (c->ca_pem) {
		struct curl_blob b = { .data = c->ca_pem, .len = c->ca_len };

		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
	} else if (c->ca_file[0]) {
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	}
	if (c->cert_pem) {
		struct curl_blob b = { .data = c->cert_pem,
				       .len = c->cert_len };

		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
	} else if (c->cert_file[0]) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
	}
	if (c->key_pem) {
		struct curl_blob b = { .data = c->key_pem, .len = c->key_len };

		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
	} else if (c->key_file[0]) {
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
	}
	*hdrs = l;
	return 0;
}

/* --- the CNI configuration ------------------------------------------------- */

char *zh_k8s_conflist(const json_t *cidrs, const char *datapath,
		      unsigned int mtu, const json_t *afxdp)
{
	json_t *ranges = json_array(), *plugin, *conf, *v;
	struct zh_addr a;
	size_t i;
	char *out = NULL;

	json_array_foreach (cidrs, i, v) {
		const char *s = json_string_value(v);

		if (zh_addr_parse(s, true, &a) || !a.prefix)
			continue;
		json_array_append_new(ranges,
				      json_pack("[{s:s}]", "subnet", s));
	}
	if (!ranges || !json_array_size(ranges)) {
		json_decref(ranges);
		return NULL;
	}
	plugin = json_pack("{s:s, s:s, s:{s:s, s:o}}", "type", "zerohop",
			   "datapath", datapath ? datapath : "tc", "ipam",
			   "type", "host-local", "ranges", ranges);
	if (plugin && mtu)
		json_object_set_new(plugin, "mtu", json_integer(mtu));
	if (plugin && afxdp)
		json_object_set(plugin, "afxdp", (json_t *)afxdp);
	conf = json_pack("{s:s, s:s, s:[o, {s:s, s:{s:b}}]}", "cniVersion",
			 "1.0.0", "name", "zerohop", "plugins", plugin, "type",
			 "portmap", "capabilities", "portMappings", 1);
	if (conf)
		out = json_dumps(conf, JSON_INDENT(2));
	json_decref(conf);
	return out;
}
