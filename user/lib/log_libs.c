// SPDX-License-Identifier: Apache-2.0
/* log_libs.c - libbpf and libxdp messages through zh_log, one level down. */
#include <stdarg.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "log.h"

/* A library's warnings are our info, its info our debug; its debug is
 * dropped unless we run at debug level ourselves. The format attributes
 * tell clang's -Wformat-nonliteral that @fmt is the library's format. */
static __attribute__((format(printf, 3, 0))) int
lib_print(int warn, int debug, const char *fmt, va_list ap)
{
	if (debug && zh_log_get_level() < ZH_LOG_DEBUG)
		return 0;
	zh_vlog(warn ? ZH_LOG_INFO : ZH_LOG_DEBUG, fmt, ap);
	return 0;
}

static __attribute__((format(printf, 2, 0))) int
libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return lib_print(level == LIBBPF_WARN, level == LIBBPF_DEBUG, fmt, ap);
}

static __attribute__((format(printf, 2, 0))) int
libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return lib_print(level == LIBXDP_WARN, level == LIBXDP_DEBUG, fmt, ap);
}

void zh_log_hook_libs(void)
{
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}
