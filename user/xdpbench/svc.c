// SPDX-License-Identifier: Apache-2.0
/*
 * svc.c - N Services the way kube-proxy programs them, for the kubeproxy
 * (iptables) and nftables paths.
 *
 * Service i has ClusterIP 10.96.0.10 + i and one port (80, UDP for even i,
 * TCP for odd i) with XB_SVC_DUMMY_EPS endpoints in 10.250.0.0/16 that never
 * see traffic. The last Service is the target: ports 80/UDP and 80/TCP, one
 * endpoint each, the server pod. Its rules come last, so with iptables
 * every packet to it walks all of KUBE-SERVICES first: the cost the
 * benchmark is after. nftables finds it in one verdict map lookup.
 *
 * Both run with kube-proxy's masqueradeAll: every packet to a Service is
 * marked and masqueraded on its way out. Without br_netfilter (the node
 * netns turns bridge-nf-call-iptables off) that is what brings the replies
 * of a pod on the same bridge back through the node, where conntrack undoes
 * the DNAT; the server sees the node's bridge address as its peer.
 *
 * zerohop-svc gets the same Services as a struct zh_svc_set for
 * zh_svc_apply(), except that the others have one endpoint each: a
 * Maglev table per backend set, ZH_MAGLEV_PER_BACKEND slots a backend, and
 * a Service with one backend is the common case whose memory we report.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "xdpbench.h"
#include "svc.h"

#define XB_SVC_VIP_BASE 0x0a60000aU /* 10.96.0.10: above the API's .1 */
#define XB_SVC_EP_BASE 0x0afa0000U /* 10.250.0.0/16: dummy backends */
#define XB_SVC_EP_PORT 8080
#define XB_MASQ_MARK "0x4000"

struct in_addr xb_svc_vip(uint32_t i)
{
	struct in_addr a = { .s_addr = htonl(XB_SVC_VIP_BASE + i) };

	return a;
}

static uint64_t xb_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void xb_svc_chain(char *buf, size_t len, const char *prefix, uint32_t svc,
		  int proto, int ep)
{
	/* kube-proxy: base32 of a SHA-256 of the port name, 16 characters;
	 * two rounds of a 64-bit mixer give the 80 bits as well. */
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint64_t key = (uint64_t)svc << 24 | (uint64_t)(proto & 0xff) << 16 |
		       (uint64_t)(ep + 1);
	uint64_t h[2] = { xb_mix(key), xb_mix(key ^ 0x5851f42d4c957f2dULL) };
	char hash[17];
	int i;

	for (i = 0; i < 16; i++)
		hash[i] = b32[(h[i / 8] >> (5 * (i % 8))) & 31];
	hash[16] = '\0';
	snprintf(buf, len, "%s%s", prefix, hash);
}

/* One Service port: what both generators need to know about it. */
struct xb_svc_port {
	uint32_t svc;
	int proto; /* IPPROTO_UDP or IPPROTO_TCP */
	const char *pname; /* "udp" or "tcp" */
	struct in_addr vip;
	int n_eps;
	struct in_addr eps[XB_SVC_DUMMY_EPS];
	uint16_t ep_port;
};

/* The ports in rule order: Service i's one port, the target's two last. */
static int xb_svc_ports(const struct xb_svc_cfg *c, uint32_t idx,
			struct xb_svc_port *p)
{
	uint32_t svc = idx < c->n - 1 ? idx : c->n - 1;
	bool target = svc == c->n - 1;
	int k;

	if (idx > c->n)
		return -ERANGE;
	memset(p, 0, sizeof(*p));
	p->svc = svc;
	p->proto = (target ? idx - svc : svc % 2) ? IPPROTO_TCP : IPPROTO_UDP;
	p->pname = p->proto == IPPROTO_TCP ? "tcp" : "udp";
	p->vip = xb_svc_vip(svc);
	if (target) {
		p->n_eps = 1;
		p->eps[0] = c->target_ip;
		p->ep_port = c->target_port;
		return 0;
	}
	p->n_eps = XB_SVC_DUMMY_EPS;
	for (k = 0; k < p->n_eps; k++)
		p->eps[k].s_addr = htonl(XB_SVC_EP_BASE + 1 +
					 (svc * XB_SVC_DUMMY_EPS + k) % 65534);
	p->ep_port = XB_SVC_EP_PORT;
	return 0;
}

/* n Services, n + 1 ports (the target has two). */
static uint32_t xb_svc_n_ports(const struct xb_svc_cfg *c)
{
	return c->n + 1;
}

int xb_svc_iptables(FILE *f, const struct xb_svc_cfg *c)
{
	char svc[32], sep[32], vip[INET_ADDRSTRLEN], ep[INET_ADDRSTRLEN];
	struct xb_svc_port p;
	uint32_t i;
	int k;

	if (!c->n)
		return -EINVAL;
	fputs("*nat\n"
	      ":KUBE-SERVICES - [0:0]\n"
	      ":KUBE-NODEPORTS - [0:0]\n"
	      ":KUBE-POSTROUTING - [0:0]\n"
	      ":KUBE-MARK-MASQ - [0:0]\n",
	      f);
	for (i = 0; i < xb_svc_n_ports(c); i++) {
		xb_svc_ports(c, i, &p);
		xb_svc_chain(svc, sizeof(svc), "KUBE-SVC-", p.svc, p.proto, -1);
		fprintf(f, ":%s - [0:0]\n", svc);
		for (k = 0; k < p.n_eps; k++) {
			xb_svc_chain(sep, sizeof(sep), "KUBE-SEP-", p.svc,
				     p.proto, k);
			fprintf(f, ":%s - [0:0]\n", sep);
		}
	}
	fputs("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
	      "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
	      "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n"
	      "-A KUBE-MARK-MASQ -j MARK --set-xmark " XB_MASQ_MARK
	      "/" XB_MASQ_MARK "\n"
	      "-A KUBE-POSTROUTING -m mark ! --mark " XB_MASQ_MARK
	      "/" XB_MASQ_MARK " -j RETURN\n"
	      "-A KUBE-POSTROUTING -j MARK --set-xmark " XB_MASQ_MARK "/0x0\n"
	      "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully\n",
	      f);
	for (i = 0; i < xb_svc_n_ports(c); i++) {
		xb_svc_ports(c, i, &p);
		xb_svc_chain(svc, sizeof(svc), "KUBE-SVC-", p.svc, p.proto, -1);
		inet_ntop(AF_INET, &p.vip, vip, sizeof(vip));
		fprintf(f,
			"-A KUBE-SERVICES -d %s/32 -p %s -m comment --comment \"xb/svc-%u:p80 cluster IP\" -m %s --dport %d -j %s\n",
			vip, p.pname, p.svc, p.pname, XB_SVC_PORT, svc);
		/* masqueradeAll */
		fprintf(f,
			"-A %s -d %s/32 -p %s -m comment --comment \"xb/svc-%u:p80 cluster IP\" -m %s --dport %d -j KUBE-MARK-MASQ\n",
			svc, vip, p.pname, p.svc, p.pname, XB_SVC_PORT);
		for (k = 0; k < p.n_eps; k++) {
			xb_svc_chain(sep, sizeof(sep), "KUBE-SEP-", p.svc,
				     p.proto, k);
			inet_ntop(AF_INET, &p.eps[k], ep, sizeof(ep));
			fprintf(f,
				"-A %s -m comment --comment \"xb/svc-%u:p80 -> %s:%u\"",
				svc, p.svc, ep, p.ep_port);
			/* Endpoint k of n with probability 1/(n-k): uniform. */
			if (k < p.n_eps - 1)
				fprintf(f,
					" -m statistic --mode random --probability %.11f",
					1.0 / (p.n_eps - k));
			fprintf(f, " -j %s\n", sep);
		}
		for (k = 0; k < p.n_eps; k++) {
			xb_svc_chain(sep, sizeof(sep), "KUBE-SEP-", p.svc,
				     p.proto, k);
			inet_ntop(AF_INET, &p.eps[k], ep, sizeof(ep));
			fprintf(f,
				"-A %s -s %s/32 -m comment --comment \"xb/svc-%u:p80\" -j KUBE-MARK-MASQ\n"
				"-A %s -p %s -m comment --comment \"xb/svc-%u:p80\" -m %s -j DNAT --to-destination %s:%u\n",
				sep, ep, p.svc, sep, p.pname, p.svc, p.pname,
				ep, p.ep_port);
		}
	}
	fputs("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n"
	      "COMMIT\n",
	      f);
	return ferror(f) ? -EIO : 0;
}

/*
 * kube-proxy's nftables mode, minus what no packet here reaches (node
 * ports, firewall checks). One deviation: kube-proxy picks an endpoint with
 * `numgen random mod N vmap { ... }`, an anonymous set per Service. The
 * kernel names anonymous sets by scanning the table's sets, so 10000 of
 * them take the better part of a minute to load; `numgen random mod (N-k)
 * == 0 goto` per endpoint picks as uniformly, with no set at all.
 */
int xb_svc_nft(FILE *f, const struct xb_svc_cfg *c)
{
	char svc[32], sep[32], vip[INET_ADDRSTRLEN], ep[INET_ADDRSTRLEN];
	struct xb_svc_port p;
	uint32_t i;
	int k;

	if (!c->n)
		return -EINVAL;
	fputs("table ip kube-proxy {\n"
	      "\tmap svc {\n"
	      "\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n"
	      "\t}\n"
	      "\tchain nat-prerouting {\n"
	      "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
	      "\t\tjump services\n"
	      "\t}\n"
	      "\tchain nat-output {\n"
	      "\t\ttype nat hook output priority -100; policy accept;\n"
	      "\t\tjump services\n"
	      "\t}\n"
	      "\tchain nat-postrouting {\n"
	      "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
	      "\t\tjump masquerading\n"
	      "\t}\n"
	      "\tchain services {\n"
	      "\t\tip daddr . meta l4proto . th dport vmap @svc\n"
	      "\t}\n"
	      "\tchain mark-for-masquerade {\n"
	      "\t\tmeta mark set meta mark | " XB_MASQ_MARK "\n"
	      "\t}\n"
	      "\tchain masquerading {\n"
	      "\t\tmeta mark & " XB_MASQ_MARK " == 0 return\n"
	      "\t\tmeta mark set meta mark ^ " XB_MASQ_MARK "\n"
	      "\t\tmasquerade fully-random\n"
	      "\t}\n",
	      f);
	for (i = 0; i < xb_svc_n_ports(c); i++) {
		xb_svc_ports(c, i, &p);
		xb_svc_chain(svc, sizeof(svc), "", p.svc, p.proto, -1);
		inet_ntop(AF_INET, &p.vip, vip, sizeof(vip));
		fprintf(f,
			"\tchain service-%.8s-xb/svc-%u/%s/p80 {\n"
			"\t\tip daddr %s %s dport %d jump mark-for-masquerade\n",
			svc, p.svc, p.pname, vip, p.pname, XB_SVC_PORT);
		for (k = 0; k < p.n_eps; k++) {
			xb_svc_chain(sep, sizeof(sep), "", p.svc, p.proto, k);
			inet_ntop(AF_INET, &p.eps[k], ep, sizeof(ep));
			fputs("\t\t", f);
			if (k < p.n_eps - 1)
				fprintf(f, "numgen random mod %d == 0 ",
					p.n_eps - k);
			fprintf(f,
				"goto endpoint-%.8s-xb/svc-%u/%s/p80__%s/%u\n",
				sep, p.svc, p.pname, ep, p.ep_port);
		}
		fputs("\t}\n", f);
		for (k = 0; k < p.n_eps; k++) {
			xb_svc_chain(sep, sizeof(sep), "", p.svc, p.proto, k);
			inet_ntop(AF_INET, &p.eps[k], ep, sizeof(ep));
			fprintf(f,
				"\tchain endpoint-%.8s-xb/svc-%u/%s/p80__%s/%u {\n"
				"\t\tip saddr %s jump mark-for-masquerade\n"
				"\t\tmeta l4proto %s dnat to %s:%u\n"
				"\t}\n",
				sep, p.svc, p.pname, ep, p.ep_port, ep, p.pname,
				ep, p.ep_port);
		}
	}
	fputs("}\n", f);
	/* The map's elements once the chains they name exist. */
	fputs("add element ip kube-proxy svc {\n", f);
	for (i = 0; i < xb_svc_n_ports(c); i++) {
		xb_svc_ports(c, i, &p);
		xb_svc_chain(svc, sizeof(svc), "", p.svc, p.proto, -1);
		inet_ntop(AF_INET, &p.vip, vip, sizeof(vip));
		fprintf(f,
			"\t%s . %s . %d : goto service-%.8s-xb/svc-%u/%s/p80%s\n",
			vip, p.pname, XB_SVC_PORT, svc, p.svc, p.pname,
			i + 1 < xb_svc_n_ports(c) ? "," : "");
	}
	fputs("}\n", f);
	return ferror(f) ? -EIO : 0;
}

int xb_svc_zh_set(const struct xb_svc_cfg *c, struct zh_svc_set *set)
{
	uint32_t i, n = xb_svc_n_ports(c);
	struct zh_svc_backend *be;
	struct xb_svc_port p;

	memset(set, 0, sizeof(*set));
	if (!c->n)
		return -EINVAL;
	set->svcs = calloc(n, sizeof(*set->svcs));
	be = calloc(n, sizeof(*be));
	if (!set->svcs || !be) {
		free(set->svcs);
		free(be);
		set->svcs = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct zh_service *s = &set->svcs[i];

		xb_svc_ports(c, i, &p);
		snprintf(s->name, sizeof(s->name), "svc-%u/%s", p.svc, p.pname);
		s->vip.family = AF_INET;
		s->vip.v4 = p.vip;
		s->vip.prefix = 32;
		s->port = XB_SVC_PORT;
		s->proto = (uint8_t)p.proto;
		s->backends = &be[i];
		s->n_backends = 1;
		be[i].addr.family = AF_INET;
		be[i].addr.v4 = p.eps[0];
		be[i].addr.prefix = 32;
		be[i].port = p.ep_port;
		be[i].weight = 1;
		be[i].state = ZH_EP_READY;
	}
	set->n = n;
	return 0;
}

void xb_svc_zh_free(struct zh_svc_set *set)
{
	if (set->svcs)
		free(set->svcs[0].backends);
	free(set->svcs);
	set->svcs = NULL;
	set->n = 0;
}
