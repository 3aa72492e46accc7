/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.h - zerohopd's HTTP endpoint: /metrics (Prometheus text format,
 * read fresh from the pinned maps on every scrape), /healthz and /readyz.
 */
#ifndef ZH_METRICS_H
#define ZH_METRICS_H

#include <sys/socket.h>

#include "zerohop.h"
#include "xsk_srv.h"
#include "kube.h"
#include "gc.h"

struct zh_metrics;

/*
 * Parse "ADDR:PORT": a numeric IPv4 address or a bracketed IPv6 one
 * ("127.0.0.1:9464", "[::1]:9464"), port 1..65535. Returns 0 or -EINVAL.
 */
int zh_metrics_parse_listen(const char *listen_addr,
			    struct sockaddr_storage *ss, socklen_t *len);

/*
 * Bind @listen_addr (that address only) and serve from an internal thread,
 * which reads the maps of @objs (and the handoff counters of @xsk, the
 * Kubernetes counters of @kube and the conntrack GC's of @gc, any may be
 * NULL) on every scrape; all must outlive the server. With @kube, /readyz waits for its first sync.
 * Block the signals the caller handles before calling: the thread inherits
 * the mask. Logs why it failed and returns NULL with errno set (EINVAL for
 * an unparsable @listen_addr, EADDRINUSE for a port in use, ...).
 */
struct zh_metrics *zh_metrics_start(const char *listen_addr,
				    const struct zh_objs *objs,
				    const struct zh_xsk_srv *xsk,
				    const struct zh_kube *kube,
				    const struct zh_gc *gc);
/* Stop serving and free @m (NULL is fine). Call before zh_objs_close(). */
void zh_metrics_stop(struct zh_metrics *m);

#endif /* ZH_METRICS_H */
