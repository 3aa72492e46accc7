/* SPDX-License-Identifier: Apache-2.0 */
/* log.h - leveled logging to stderr, shared by every zerohop binary. */
#ifndef ZH_LOG_H
#define ZH_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum zh_log_level {
	ZH_LOG_WARN = 0,
	ZH_LOG_INFO = 1,
	ZH_LOG_DEBUG = 2,
};

/* Messages above @level are discarded. Default ZH_LOG_INFO. */
void zh_log_set_level(enum zh_log_level level);
enum zh_log_level zh_log_get_level(void);
/* Prefix printed before every message, e.g. the program name. */
void zh_log_set_prefix(const char *prefix);
/* Route libbpf and libxdp messages through zh_log, one level down. */
void zh_log_hook_libs(void);

void zh_vlog(enum zh_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
void zh_log(enum zh_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The library's error convention: a function returns 0 or a negative
 * errno, and says why in an optional buffer. zh_errf() formats the reason
 * into @buf (NULL or @len 0: nowhere) and returns @rc, for
 * `return zh_errf(err, errlen, -EINVAL, "...", ...);`.
 */
int zh_errf(char *buf, size_t len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* zh_errf() for a caller that has its own arguments (a va_list). */
int zh_verrf(char *buf, size_t len, int rc, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

/*
 * At most @burst messages per @interval_ms from one place that anyone can
 * make fire (a peer's requests, a full table): zh_ratelimit() says whether
 * this one may go out, and *@missed how many were held back before it.
 * Zero-initialise; not for sharing between threads.
 */
struct zh_ratelimit {
	unsigned long long end_ms; /* of the window */
	unsigned int sent, missed;
};
bool zh_ratelimit(struct zh_ratelimit *rl, unsigned int interval_ms,
		  unsigned int burst, unsigned int *missed);

#define pr_warn(...) zh_log(ZH_LOG_WARN, __VA_ARGS__)
#define pr_info(...) zh_log(ZH_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) zh_log(ZH_LOG_DEBUG, __VA_ARGS__)

#endif /* ZH_LOG_H */
