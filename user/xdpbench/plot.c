// SPDX-License-Identifier: Apache-2.0
/*
 * plot.c - the latency distribution of every path as a self-contained SVG:
 * one panel per workload, one curve (one <path> element) per path.
 *
 * x: latency in µs on a log scale. y: the percentile, on a scale that
 * stretches the tail (distance is -log10(1 - p): 0, 90, 99, 99.9 ... evenly
 * spaced), since the tail is where paths differ. A point is drawn only when
 * the curve moved XB_PLOT_STEP pixels, so a curve has at most a few hundred
 * points whatever the number of samples.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "xdpbench.h"

#define XB_PLOT_W 960
#define XB_PANEL_H 400
#define XB_TITLE_H 70
#define XB_LEFT 70
#define XB_RIGHT 250 /* legend */
#define XB_TOP 34
#define XB_BOTTOM 46
#define XB_PLOT_STEP 2.0 /* pixels */
#define XB_Y_DECADES_MAX 6 /* up to p99.9999 */

static const char *const xb_colors[XB_P_MAX] = {
	[XB_P_HOST] = "#7f7f7f",	  [XB_P_VETH] = "#222222",
	[XB_P_BRIDGE] = "#1f77b4",	  [XB_P_KUBEPROXY] = "#d62728",
	[XB_P_NFTABLES] = "#ff7f0e",	  [XB_P_ZH_TC] = "#2ca02c",
	[XB_P_ZH_XDP] = "#9467bd",	  [XB_P_ZH_SVC] = "#17becf",
	[XB_P_ZH_AFXDP] = "#bcbd22",	  [XB_P_ZH_SOCK] = "#e377c2",
	[XB_P_HOST_SVC] = "#8c564b",	  [XB_P_KUBEPROXY_HOST] = "#ff9896",
	[XB_P_KP_NODEPORT] = "#c49c94",	  [XB_P_ZH_NODEPORT] = "#f7b6d2",
	[XB_P_ZH_POLICY] = "#98df8a",	  [XB_P_NODE] = "#555555",
	[XB_P_ZH_NATIVE] = "#006d2c",	  [XB_P_ZH_VXLAN] = "#74c476",
	[XB_P_BRIDGE_ROUTES] = "#6baed6", [XB_P_VXLAN_BRIDGE] = "#08519c",
	[XB_P_ZH_VXLAN_DEV] = "#a1d99b",  [XB_P_ZH_NETKIT] = "#00441b",
	[XB_P_ZH_SOCK_POD] = "#f7b6d2",	  [XB_P_ZH_NODEPORT_DSR] = "#ad494a",
};

static void xb_xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			/* Control characters are not allowed in XML 1.0. */
			fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
		}
	}
}

struct xb_axes {
	double x0, x1, y0, y1; /* plot area, pixels */
	double lmin, lmax; /* log10(µs) at x0 and x1 */
	int decades; /* y: 0 .. 1 - 10^-decades */
};

static double xb_px(const struct xb_axes *a, double us)
{
	double l = log10(us > 0 ? us : 1e-3);

	return a->x0 + (l - a->lmin) / (a->lmax - a->lmin) * (a->x1 - a->x0);
}

/* @tail: 1 - p, the fraction of samples above. */
static double xb_py(const struct xb_axes *a, double tail)
{
	double d = tail > 0 ? -log10(tail) : a->decades;

	if (d > a->decades)
		d = a->decades;
	return a->y1 - d / a->decades * (a->y1 - a->y0);
}

static bool xb_has_curve(const struct xb_result_set *r, int i, int wl)
{
	const struct xb_cell *c = &r->cells[wl][r->paths[i]];

	return !r->path_skip[i] && !c->skip && c->s.n;
}

static void xb_panel_axes(const struct xb_result_set *r, int wl, double top,
			  struct xb_axes *a)
{
	double lo = INFINITY, hi = -INFINITY;
	size_t nmax = 10;
	int i;

	for (i = 0; i < r->n_paths; i++) {
		const struct xb_cell *c = &r->cells[wl][r->paths[i]];

		if (!xb_has_curve(r, i, wl))
			continue;
		lo = fmin(lo, c->sm.min);
		hi = fmax(hi, c->sm.max);
		if (c->s.n > nmax)
			nmax = c->s.n;
	}
	if (!isfinite(lo)) {
		lo = 1;
		hi = 1000;
	}
	a->lmin = floor(log10(lo > 0.001 ? lo : 0.001));
	a->lmax = ceil(log10(hi > 0.001 ? hi : 0.001));
	if (a->lmax <= a->lmin)
		a->lmax = a->lmin + 1;
	a->decades = (int)ceil(log10((double)nmax));
	if (a->decades < 2)
		a->decades = 2;
	if (a->decades > XB_Y_DECADES_MAX)
		a->decades = XB_Y_DECADES_MAX;
	a->x0 = XB_LEFT;
	a->x1 = XB_PLOT_W - XB_RIGHT;
	a->y0 = top + XB_TOP;
	a->y1 = top + XB_PANEL_H - XB_BOTTOM;
}

static void xb_panel_grid(FILE *f, const struct xb_axes *a)
{
	static const double mant[] = { 1, 2, 5 };
	int d, k;

	fprintf(f,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n",
		a->x0, a->y0, a->x1 - a->x0, a->y1 - a->y0);
	/* x: 1, 2, 5 per decade */
	for (d = (int)a->lmin; d <= (int)a->lmax; d++) {
		for (k = 0; k < 3; k++) {
			double us = mant[k] * pow(10, d);
			double x = xb_px(a, us);

			if (x < a->x0 - 0.01 || x > a->x1 + 0.01)
				continue;
			fprintf(f,
				"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
				x, a->y0, x, a->y1, k ? "#eee" : "#ccc");
			fprintf(f,
				"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
				x, a->y1 + 16, us);
		}
	}
	fprintf(f,
		"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">latency (µs, log scale)</text>\n",
		(a->x0 + a->x1) / 2, a->y1 + 34);
	/* y: 0, 50, 90, 99, 99.9 ... */
	for (d = -1; d <= a->decades; d++) {
		double tail = d < 0 ? 0.5 : pow(10, -d);
		double y = xb_py(a, tail);
		char label[16];

		if (d == 0)
			snprintf(label, sizeof(label), "0");
		else
			snprintf(label, sizeof(label), "%.*f",
				 d > 2 ? d - 2 : 0, 100.0 * (1 - tail));
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
			a->x0, y, a->x1, y);
		fprintf(f,
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			a->x0 - 6, y + 4, label);
	}
	fprintf(f,
		"<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\">percentile</text>\n",
		a->x0 - 48, (a->y0 + a->y1) / 2);
}

/* One <path>: the empirical CDF over the sorted samples of @c. */
static void xb_panel_curve(FILE *f, const struct xb_axes *a,
			   const struct xb_cell *c, int path, int wl)
{
	const struct xb_samples *s = &c->s;
	double lx = -1e9, ly = -1e9;
	size_t i;

	fprintf(f,
		"<path class=\"cdf\" data-path=\"%s\" data-workload=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" stroke-linejoin=\"round\" d=\"",
		xb_path_names[path], xb_workload_names[wl], xb_colors[path]);
	for (i = 0; i < s->n; i++) {
		double x = xb_px(a, (double)s->ns[i] / 1000.0);
		/* At sample i, a fraction (i + 1) / n is <= it. */
		double y = xb_py(a, (double)(s->n - i - 1) / (double)s->n);

		if (i && i + 1 < s->n && fabs(x - lx) < XB_PLOT_STEP &&
		    fabs(y - ly) < XB_PLOT_STEP)
			continue;
		fprintf(f, "%s%.1f %.1f", i ? " " : "M", x, y);
		if (!i)
			fputs(" L", f);
		lx = x;
		ly = y;
	}
	fputs("\"/>\n", f);
}

static void xb_panel_legend(FILE *f, const struct xb_result_set *r,
			    const struct xb_axes *a, int wl)
{
	double x = a->x1 + 16, y = a->y0 + 6;
	int i;

	for (i = 0; i < r->n_paths; i++, y += 34) {
		const struct xb_cell *c = &r->cells[wl][r->paths[i]];
		int p = r->paths[i];

		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>\n",
			x, y, x + 22, y, xb_colors[p]);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 28,
			y + 4, xb_path_names[p]);
		if (xb_has_curve(r, i, wl))
			fprintf(f,
				"<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\" font-size=\"11\">p50 %.1f  p99 %.1f  max %.0f µs</text>\n",
				x + 28, y + 18, c->sm.p50, c->sm.p99,
				c->sm.max);
		else
			fprintf(f,
				"<text x=\"%.1f\" y=\"%.1f\" fill=\"#a00\" font-size=\"11\">skipped</text>\n",
				x + 28, y + 18);
	}
}

int xb_plot_svg(FILE *f, const struct xb_result_set *r)
{
	const struct xb_run_opts *o = r->o;
	int h = XB_TITLE_H + XB_PANEL_H * o->n_wls;
	int w, i;

	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<title>xdpbench latency distribution</title>\n"
		"<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n",
		XB_PLOT_W, h, XB_PLOT_W, h, XB_PLOT_W, h);
	fprintf(f,
		"<text x=\"16\" y=\"24\" font-size=\"16\" font-weight=\"bold\">xdpbench: request/response latency, %zu-byte payload, %s sockets</text>\n",
		o->size, o->busy_poll ? "busy-polling" : "blocking");
	fprintf(f, "<text x=\"16\" y=\"44\" fill=\"#555\">Linux %s, %d CPUs",
		xb_kernel_release(), xb_nproc());
	if (o->services)
		fprintf(f, ", %" PRIu64 " Services", o->services);
	fprintf(f, ", %" PRIu64 " round%s x %g s per path</text>\n", o->rounds,
		o->rounds == 1 ? "" : "s", o->duration);
	fputs("<text x=\"16\" y=\"60\" fill=\"#555\" font-size=\"10\">", f);
	xb_xml_text(f, r->command);
	fputs("</text>\n", f);

	for (w = 0; w < o->n_wls; w++) {
		int wl = o->wls[w];
		double top = XB_TITLE_H + w * XB_PANEL_H;
		struct xb_axes a;

		xb_panel_axes(r, wl, top, &a);
		fprintf(f,
			"<g>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" font-weight=\"bold\">%s</text>\n",
			a.x0, a.y0 - 10, xb_workload_names[wl]);
		xb_panel_grid(f, &a);
		for (i = 0; i < r->n_paths; i++) {
			if (xb_has_curve(r, i, wl))
				xb_panel_curve(f, &a,
					       &r->cells[wl][r->paths[i]],
					       r->paths[i], wl);
		}
		xb_panel_legend(f, r, &a, wl);
		fputs("</g>\n", f);
	}
	fputs("</svg>\n", f);
	fflush(f);
	return ferror(f) ? -EIO : 0;
}
