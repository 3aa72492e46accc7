// SPDX-License-Identifier: Apache-2.0
/*
 * report.c - the run's results: a table for people, JSON for programs.
 * One row per workload x path; ratios of p50 and p99 against the baseline
 * path of the same workload.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>

#include <jansson.h>

#include "xdpbench.h"

#define XB_JSON_FLAGS \
	(JSON_PRESERVE_ORDER | JSON_INDENT(1) | JSON_REAL_PRECISION(12))

const char *xb_kernel_release(void)
{
	static struct utsname u;

	if (!u.release[0] && uname(&u))
		return "unknown";
	return u.release;
}

int xb_nproc(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

/* "model name" from /proc/cpuinfo, or "" */
static const char *xb_cpu_model(void)
{
	static char model[128];
	char line[256];
	FILE *f;

	if (model[0])
		return model;
	f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return model;
	while (fgets(line, sizeof(line), f)) {
		const char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) || !colon)
			continue;
		colon++;
		colon += strspn(colon, " \t");
		snprintf(model, sizeof(model), "%.*s",
			 (int)strcspn(colon, "\n"), colon);
		break;
	}
	fclose(f);
	return model;
}

static const char *xb_cell_skip(const struct xb_result_set *r, int i, int wl)
{
	const struct xb_cell *c = &r->cells[wl][r->paths[i]];

	if (r->path_skip[i])
		return r->path_skip[i];
	if (c->skip)
		return c->skip;
	if (!c->sm.count)
		return "no sample";
	return NULL;
}

/* The baseline's summary for @wl, NULL when it has no result. */
/* What setting path @i up cost, when it programmed Services. */
static const struct xb_setup_info *xb_info(const struct xb_result_set *r, int i)
{
	if (!r->info || !r->info[i] || !r->info[i]->set || r->path_skip[i])
		return NULL;
	return r->info[i];
}

/* {"zerohop-svc": {"services": N, "programming_s": ..., ...}, ...} */
static json_t *xb_json_setup(const struct xb_result_set *r)
{
	json_t *setup = json_object();
	int i;

	for (i = 0; setup && i < r->n_paths; i++) {
		const struct xb_setup_info *in = xb_info(r, i);
		json_t *o;

		if (!in)
			continue;
		o = json_pack("{s:I, s:f}", "services",
			      (json_int_t)in->services, "programming_s",
			      round(in->programming_s * 1e6) / 1e6);
		if (o && in->maglev_slots &&
		    (json_object_set_new(
			     o, "maglev_slots",
			     json_integer((json_int_t)in->maglev_slots)) ||
		     json_object_set_new(
			     o, "maglev_bytes",
			     json_integer((json_int_t)in->maglev_bytes)) ||
		     json_object_set_new(
			     o, "maglev_map_bytes",
			     json_integer((json_int_t)in->maglev_map_bytes)))) {
			json_decref(o);
			o = NULL;
		}
		if (!o ||
		    json_object_set_new(setup, xb_path_names[r->paths[i]], o)) {
			json_decref(setup);
			return NULL;
		}
	}
	return setup;
}

static const struct xb_summary *xb_base(const struct xb_result_set *r, int wl)
{
	int i;

	for (i = 0; i < r->n_paths; i++) {
		if (r->paths[i] != r->o->baseline)
			continue;
		if (xb_cell_skip(r, i, wl))
			return NULL;
		return &r->cells[wl][r->paths[i]].sm;
	}
	return NULL;
}

/*
 * The p50 ratio against the baseline round by round (the same round's
 * slices, taken minutes apart at most): its lowest and highest in @lo and
 * @hi. false where it is not known for every round (one round, no
 * baseline, a reservoir's estimate).
 */
static bool xb_round_spread(const struct xb_result_set *r, int wl, int path,
			    double *lo, double *hi)
{
	const struct xb_cell *c = &r->cells[wl][path];
	const struct xb_cell *b = &r->cells[wl][r->o->baseline];

	if (c->n_rounds < 2 || c->n_rounds != b->n_rounds)
		return false;
	*lo = INFINITY;
	*hi = -INFINITY;
	for (size_t k = 0; k < c->n_rounds; k++) {
		double q = c->round_p50[k] / b->round_p50[k];

		if (!isfinite(q) || q <= 0)
			return false;
		*lo = q < *lo ? q : *lo;
		*hi = q > *hi ? q : *hi;
	}
	return true;
}

static void xb_wl_list(const struct xb_run_opts *o, char *buf, size_t len)
{
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < o->n_wls && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					i ? "," : "",
					xb_workload_names[o->wls[i]]);
}

/* "1 s", "0.2 s" */
static void xb_secs(double s, char *buf, size_t len)
{
	snprintf(buf, len, "%g s", s);
}

int xb_report_table(FILE *f, const struct xb_result_set *r)
{
	const struct xb_run_opts *o = r->o;
	const char *base = xb_path_names[o->baseline];
	char wls[128], dur[32], hdr_p50[32], hdr_p99[32];
	int i, w, wp50, wp99, wpath = 13;
	double lo, hi;

	xb_wl_list(o, wls, sizeof(wls));
	xb_secs(o->duration, dur, sizeof(dur));
	fprintf(f, "xdpbench: Linux %s, %d CPUs%s%s\n", xb_kernel_release(),
		xb_nproc(), *xb_cpu_model() ? ", " : "", xb_cpu_model());
	fprintf(f,
		"workloads %s: %zu-byte payload, %s sockets, %" PRIu64
		" round%s x %s per path per workload, %" PRIu64
		" warmup requests each",
		wls, o->size, o->busy_poll ? "busy-polling" : "blocking",
		o->rounds, o->rounds == 1 ? "" : "s", dur, o->warmup);
	if (o->services)
		fprintf(f, ", %" PRIu64 " Services", o->services);
	if (o->conntrack)
		fprintf(f, ", zh_ct of %" PRIu64 " entries", o->conntrack);
	if (o->cpu_client >= 0 || o->cpu_server >= 0)
		fprintf(f, ", client on CPU %d, server on CPU %d",
			o->cpu_client, o->cpu_server);
	for (i = 0; i < r->n_paths; i++) {
		if (r->paths[i] == XB_P_ZH_AFXDP && !o->busy_poll)
			fprintf(f,
				" (zerohop-afxdp spins on its AF_XDP rings regardless)");
	}
	fprintf(f, "\ncommand: %s\nlatency in µs; ratios against %s\n\n",
		r->command, base);
	/* The ratio columns: as wide as their headers, 9 at least. */
	wp50 = snprintf(hdr_p50, sizeof(hdr_p50), "p50/%s", base);
	wp99 = snprintf(hdr_p99, sizeof(hdr_p99), "p99/%s", base);
	wp50 = wp50 > 9 ? wp50 : 9;
	wp99 = wp99 > 9 ? wp99 : 9;
	/* The path column: as wide as the longest name measured. */
	for (i = 0; i < r->n_paths; i++) {
		int n = (int)strlen(xb_path_names[r->paths[i]]);

		wpath = n > wpath ? n : wpath;
	}
	fprintf(f, "%-12s %-*s %9s %8s %8s %8s %8s %9s %*s %*s%s\n", "workload",
		wpath, "path", "count", "p50", "p90", "p99", "p99.9", "max",
		wp50, hdr_p50, wp99, hdr_p99,
		o->rounds > 1 ? "  p50 ratio by round" : "");
	for (w = 0; w < o->n_wls; w++) {
		int wl = o->wls[w];
		const struct xb_summary *b = xb_base(r, wl);

		for (i = 0; i < r->n_paths; i++) {
			const struct xb_summary *sm =
				&r->cells[wl][r->paths[i]].sm;
			const char *skip = xb_cell_skip(r, i, wl);

			fprintf(f, "%-12s %-*s ", xb_workload_names[wl], wpath,
				xb_path_names[r->paths[i]]);
			if (skip) {
				fprintf(f, "skipped: %s\n", skip);
				continue;
			}
			fprintf(f, "%9" PRIu64 " %8.2f %8.2f %8.2f %8.2f %9.2f",
				sm->count, sm->p50, sm->p90, sm->p99, sm->p999,
				sm->max);
			if (b)
				fprintf(f, " %*.3f %*.3f", wp50,
					sm->p50 / b->p50, wp99,
					sm->p99 / b->p99);
			else
				fprintf(f, " %*s %*s", wp50, "-", wp99, "-");
			if (o->rounds > 1 && b &&
			    xb_round_spread(r, wl, r->paths[i], &lo, &hi))
				fprintf(f, "  %.3f-%.3f", lo, hi);
			else if (o->rounds > 1)
				fprintf(f, "  -");
			fputc('\n', f);
		}
	}
	for (w = 0; w < o->n_wls; w++) {
		for (i = 0; i < r->n_paths; i++) {
			const struct xb_cell *c =
				&r->cells[o->wls[w]][r->paths[i]];

			if (!xb_cell_skip(r, i, o->wls[w]) && !c->sm.exact)
				fprintf(f,
					"note: %s %s kept %zu of %" PRIu64
					" samples (a uniform reservoir): its percentiles are estimates\n",
					xb_workload_names[o->wls[w]],
					xb_path_names[r->paths[i]], c->s.n,
					c->sm.count);
			if (!xb_cell_skip(r, i, o->wls[w]) && c->sm.lost)
				fprintf(f,
					"note: %s %s: %" PRIu64
					" requests got no reply in time (not in the percentiles)\n",
					xb_workload_names[o->wls[w]],
					xb_path_names[r->paths[i]], c->sm.lost);
		}
	}
	for (i = 0; i < r->n_paths; i++) {
		const struct xb_setup_info *in = xb_info(r, i);

		if (!in)
			continue;
		fprintf(f,
			"setup: %s: %" PRIu32 " Services programmed in %.3f s",
			xb_path_names[r->paths[i]], in->services,
			in->programming_s);
		if (in->maglev_slots)
			fprintf(f,
				"; Maglev %" PRIu64
				" slots in use = %.1f MiB (%" PRIu64
				" bytes; zh_maglev allocated %.1f MiB)",
				in->maglev_slots,
				(double)in->maglev_bytes / 1048576.0,
				in->maglev_bytes,
				(double)in->maglev_map_bytes / 1048576.0);
		fputc('\n', f);
	}
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

/* Microseconds rounded to nanoseconds. */
static json_t *xb_json_us(double us)
{
	return json_real(round(us * 1000.0) / 1000.0);
}

static json_t *xb_json_ratio(double a, double b)
{
	return b > 0 ? json_real(round(a / b * 10000.0) / 10000.0) :
		       json_null();
}

static json_t *xb_json_cpu(int cpu)
{
	return cpu >= 0 ? json_integer(cpu) : json_null();
}

static json_t *xb_json_options(const struct xb_result_set *r)
{
	const struct xb_run_opts *o = r->o;
	json_t *paths = json_array(), *wls = json_array(), *opts;
	int i;

	for (i = 0; i < r->n_paths; i++)
		json_array_append_new(paths,
				      json_string(xb_path_names[r->paths[i]]));
	for (i = 0; i < o->n_wls; i++)
		json_array_append_new(
			wls, json_string(xb_workload_names[o->wls[i]]));
	opts = json_pack(
		"{s:o, s:o, s:o, s:o, s:b, s:I, s:o, s:o, s:I, s:f, s:I, s:s, s:o, s:s}",
		"paths", paths, "workloads", wls, "services",
		o->services ? json_integer((json_int_t)o->services) :
			      json_null(),
		"conntrack",
		o->conntrack ? json_integer((json_int_t)o->conntrack) :
			       json_null(),
		"busy_poll", o->busy_poll, "size", (json_int_t)o->size,
		"cpu_client", xb_json_cpu(o->cpu_client), "cpu_server",
		xb_json_cpu(o->cpu_server), "rounds", (json_int_t)o->rounds,
		"duration_s", o->duration, "warmup", (json_int_t)o->warmup,
		"baseline", xb_path_names[o->baseline], "plugin",
		o->plugin ? json_string(o->plugin) : json_null(), "cni_path",
		o->cni_path);
	return opts;
}

/* Each round's p50 ratio against the baseline, or null (xb_round_spread). */
static json_t *xb_json_rounds(const struct xb_result_set *r, int wl, int path)
{
	const struct xb_cell *c = &r->cells[wl][path];
	const struct xb_cell *b = &r->cells[wl][r->o->baseline];
	double lo, hi;
	json_t *a;

	if (!xb_round_spread(r, wl, path, &lo, &hi))
		return json_null();
	a = json_array();
	for (size_t k = 0; a && k < c->n_rounds; k++)
		if (json_array_append_new(a, xb_json_ratio(c->round_p50[k],
							   b->round_p50[k]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

int xb_report_json(FILE *f, const struct xb_result_set *r)
{
	const struct xb_run_opts *o = r->o;
	json_t *root, *results;
	int i, w, ret;

	results = json_array();
	if (!results)
		return -ENOMEM;
	for (w = 0; w < o->n_wls; w++) {
		int wl = o->wls[w];
		const struct xb_summary *b = xb_base(r, wl);

		for (i = 0; i < r->n_paths; i++) {
			const struct xb_summary *sm =
				&r->cells[wl][r->paths[i]].sm;
			const char *skip = xb_cell_skip(r, i, wl);
			json_t *res;

			if (skip) {
				res = json_pack(
					"{s:s, s:s, s:I, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:s}",
					"workload", xb_workload_names[wl],
					"path", xb_path_names[r->paths[i]],
					"count", (json_int_t)sm->count,
					"p50_us", "p90_us", "p99_us", "p999_us",
					"max_us", "ratio_p50", "ratio_p99",
					"skipped", skip);
			} else {
				res = json_pack(
					"{s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:n, s:I, s:o, s:o, s:b}",
					"workload", xb_workload_names[wl],
					"path", xb_path_names[r->paths[i]],
					"count", (json_int_t)sm->count,
					"p50_us", xb_json_us(sm->p50), "p90_us",
					xb_json_us(sm->p90), "p99_us",
					xb_json_us(sm->p99), "p999_us",
					xb_json_us(sm->p999), "max_us",
					xb_json_us(sm->max), "ratio_p50",
					b ? xb_json_ratio(sm->p50, b->p50) :
					    json_null(),
					"ratio_p99",
					b ? xb_json_ratio(sm->p99, b->p99) :
					    json_null(),
					"skipped", "lost", (json_int_t)sm->lost,
					"min_us", xb_json_us(sm->min),
					"mean_us", xb_json_us(sm->mean),
					"exact", sm->exact);
				if (res &&
				    json_object_set_new(
					    res, "ratio_p50_rounds",
					    xb_json_rounds(r, wl,
							   r->paths[i]))) {
					json_decref(res);
					res = NULL;
				}
			}
			if (!res || json_array_append_new(results, res)) {
				json_decref(results);
				return -ENOMEM;
			}
		}
	}
	root = json_pack("{s:s, s:s, s:i, s:s, s:o, s:o, s:o}", "command",
			 r->command, "kernel", xb_kernel_release(), "nproc",
			 xb_nproc(), "cpu", xb_cpu_model(), "options",
			 xb_json_options(r), "setup", xb_json_setup(r),
			 "results", results);
	if (!root)
		return -ENOMEM;
	ret = json_dumpf(root, f, XB_JSON_FLAGS);
	json_decref(root);
	if (ret)
		return -EIO;
	fputc('\n', f);
	fflush(f);
	return ferror(f) ? -EIO : 0;
}
