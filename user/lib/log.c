// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

static enum zh_log_level log_level = ZH_LOG_INFO;
static const char *log_prefix = "zerohop";

void zh_log_set_level(enum zh_log_level level)
{
	log_level = level;
}

enum zh_log_level zh_log_get_level(void)
{
	return log_level;
}

void zh_log_set_prefix(const char *prefix)
{
	log_prefix = prefix;
}

void zh_vlog(enum zh_log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = { "warn", "info", "debug" };
	char buf[1024];
	int n;

	if (level > log_level)
		return;
	/* One write per message: the agent logs from more than one thread. */
	n = snprintf(buf, sizeof(buf), "%s: %s: ", log_prefix, names[level]);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	fputs(buf, stderr);
}

void zh_log(enum zh_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	zh_vlog(level, fmt, ap);
	va_end(ap);
}

int zh_verrf(char *buf, size_t len, int rc, const char *fmt, va_list ap)
{
	if (buf && len)
		vsnprintf(buf, len, fmt, ap);
	return rc;
}

int zh_errf(char *buf, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	zh_verrf(buf, len, rc, fmt, ap);
	va_end(ap);
	return rc;
}

bool zh_ratelimit(struct zh_ratelimit *rl, unsigned int interval_ms,
		  unsigned int burst, unsigned int *missed)
{
	struct timespec ts;
	unsigned long long now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (unsigned long long)ts.tv_sec * 1000 +
	      (unsigned long long)ts.tv_nsec / 1000000;
	if (now >= rl->end_ms) {
		rl->end_ms = now + interval_ms;
		rl->sent = 0;
	}
	if (rl->sent >= burst) {
		rl->missed++;
		return false;
	}
	rl->sent++;
	*missed = rl->missed;
	rl->missed = 0;
	return true;
}
