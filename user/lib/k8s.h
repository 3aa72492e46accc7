/* SPDX-License-Identifier: Apache-2.0 */
/*
 * k8s.h - talking to the Kubernetes API server: where it is and how to
 * prove who we are (in-cluster service account or a kubeconfig), and a
 * libcurl handle set up for one request with TLS verified.
 *
 * The token is read from its file for every request: bound service
 * account tokens rotate (about hourly), and a token read once at start
 * would expire under a long-running agent.
 */
#ifndef ZH_K8S_H
#define ZH_K8S_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>
#include <jansson.h>

#define ZH_K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define ZH_K8S_API_ENV "ZEROHOP_K8S_API"
#define ZH_K8S_SERVER_MAX 256
#define ZH_K8S_TOKEN_MAX 16384 /* bound tokens are ~1 KiB */
#define ZH_K8S_ERR_MAX 512

struct zh_k8s_conf {
	char server[ZH_K8S_SERVER_MAX]; /* "https://host:port", no '/' after */
	/* The CA that signs the server's certificate: a file, or PEM bytes
	 * (a kubeconfig's certificate-authority-data); neither: the
	 * system's store. */
	char ca_file[PATH_MAX];
	char *ca_pem;
	size_t ca_len;
	/* Who we are: a token file (read per request), a fixed token, or a
	 * client certificate and key (PEM bytes or files). */
	char token_file[PATH_MAX];
	char *token;
	char *cert_pem, *key_pem;
	size_t cert_len, key_len;
	char cert_file[PATH_MAX], key_file[PATH_MAX];
};

/*
 * In-cluster: the token and CA of @sa_dir (NULL: ZH_K8S_SA_DIR); the
 * server @api ("https://HOST:PORT"), else $ZEROHOP_K8S_API, else
 * $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (the `kubernetes`
 * ClusterIP, which only works once something programs it). Returns 0, or
 * -EINVAL/-ENOENT with a reason in @err.
 */
int zh_k8s_conf_incluster(struct zh_k8s_conf *c, const char *api,
			  const char *sa_dir, char *err, size_t errlen);
/*
 * A kubeconfig file (YAML): its current context's cluster (server,
 * certificate-authority[-data]) and user (token, tokenFile,
 * client-certificate[-data] and client-key[-data]); relative paths are
 * relative to the file. @api, when set, replaces the server. Returns 0,
 * or a negative errno with a reason in @err.
 */
int zh_k8s_conf_kubeconfig(struct zh_k8s_conf *c, const char *path,
			   const char *api, char *err, size_t errlen);
/*
 * The same from the @len bytes at @text (no NUL needed), relative paths
 * relative to @dir (NULL: left as they are); no file is read. Messages
 * do not name a file.
 */
int zh_k8s_kubeconfig_parse(struct zh_k8s_conf *c, const char *text, size_t len,
			    const char *dir, const char *api, char *err,
			    size_t errlen);
void zh_k8s_conf_free(struct zh_k8s_conf *c);

/* "https://HOST:PORT[/]" checked and stored without the '/': 0 or -EINVAL. */
int zh_k8s_set_server(struct zh_k8s_conf *c, const char *url, char *err,
		      size_t errlen);

/*
 * Set up @h for GET @c->server + @path_query: TLS verified against the
 * CA, the bearer token read now (or the client certificate), JSON asked
 * for. *@hdrs receives the header list, which the caller frees with
 * curl_slist_free_all() after the transfer. Returns 0, or a negative
 * errno with a reason in @err (the token file unreadable, say).
 */
int zh_k8s_request(CURL *h, const struct zh_k8s_conf *c, const char *path_query,
		   struct curl_slist **hdrs, char *err, size_t errlen);

/*
 * A node's CNI configuration (a conflist of zerohop, with host-local
 * ranges one per pod CIDR of @cidrs, a JSON array of strings such as a
 * Node's spec.podCIDRs, and portmap) into a new string; @datapath "tc" or
 * "xdp", @mtu 0 leaves it to the plugin, @afxdp (NULL: none) its "afxdp". What is not a CIDR is left out;
 * NULL when nothing is left.
 */
char *zh_k8s_conflist(const json_t *cidrs, const char *datapath,
		      unsigned int mtu, const json_t *afxdp);

#endif /* ZH_K8S_H */
