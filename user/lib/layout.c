// SPDX-License-Identifier: Apache-2.0
/*
 * layout.c - map key and value layouts from BTF: compared, converted and
 * described (layout.h says what "the same" means).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/btf.h>

#include "layout.h"

/* Deeper than any layout of ours: a cycle or a broken BTF. */
#define MAX_DEPTH 16

/* @id through typedefs and qualifiers to the type that has a layout. */
static const struct btf_type *resolve(const struct btf *b, __u32 *id)
{
	const struct btf_type *t = btf__type_by_id(b, *id);

	for (int i = 0; t && (btf_is_typedef(t) || btf_is_mod(t)); i++) {
		if (i == MAX_DEPTH)
			return NULL;
		*id = t->type;
		t = btf__type_by_id(b, *id);
	}
	return t;
}

static bool enum_like(const struct btf_type *t)
{
	return btf_is_enum(t) || btf_is_enum64(t);
}

static bool same(const struct btf *sb, __u32 sid, const struct btf *db,
		 __u32 did, int depth)
{
	const struct btf_type *s = resolve(sb, &sid), *d = resolve(db, &did);
	const struct btf_member *sm, *dm;

	if (!s || !d || depth > MAX_DEPTH)
		return false;
	if (enum_like(s) && enum_like(d))
		return s->size == d->size;
	if (btf_kind(s) != btf_kind(d))
		return false;
	switch (btf_kind(s)) {
	case BTF_KIND_INT:
		return s->size == d->size &&
		       btf_int_encoding(s) == btf_int_encoding(d) &&
		       btf_int_offset(s) == btf_int_offset(d) &&
		       btf_int_bits(s) == btf_int_bits(d);
	case BTF_KIND_ARRAY:
		return btf_array(s)->nelems == btf_array(d)->nelems &&
		       same(sb, btf_array(s)->type, db, btf_array(d)->type,
			    depth + 1);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		if (s->size != d->size || btf_vlen(s) != btf_vlen(d))
			return false;
		sm = btf_members(s);
		dm = btf_members(d);
		for (int i = 0; i < btf_vlen(s); i++, sm++, dm++) {
			if (strcmp(btf__name_by_offset(sb, sm->name_off),
				   btf__name_by_offset(db, dm->name_off)) ||
			    btf_member_bit_offset(s, i) !=
				    btf_member_bit_offset(d, i) ||
			    btf_member_bitfield_size(s, i) !=
				    btf_member_bitfield_size(d, i) ||
			    !same(sb, sm->type, db, dm->type, depth + 1))
				return false;
		}
		return true;
	default: /* pointers, functions: no layout a map carries */
		return false;
	}
}

bool zh_layout_same(const struct btf *sb, __u32 sid, const struct btf *db,
		    __u32 did)
{
	return same(sb, sid, db, did, 0);
}

struct plan_ctx {
	const struct btf *sb, *db;
	struct zh_layout_plan *p;
	char *why;
	size_t why_len;
	char path[128]; /* the member being planned, for @why */
};

static int fail(struct plan_ctx *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct plan_ctx *c, int err, const char *fmt, ...)
{
	char msg[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->why && c->why_len)
		snprintf(c->why, c->why_len, "%s: %s",
			 c->path[0] ? c->path : "(whole)", msg);
	return err;
}

static int add_op(struct plan_ctx *c, __u32 soff, __u32 doff, __u32 len)
{
	struct zh_layout_plan *p = c->p;
	struct zh_layout_op *last = p->n ? &p->op[p->n - 1] : NULL;

	if (!len)
		return 0;
	if (soff + len > p->src_size || doff + len > p->dst_size)
		return fail(c, -EINVAL, "out of bounds");
	if (last && last->src_off + last->len == soff &&
	    last->dst_off + last->len == doff) {
		last->len += len;
		return 0;
	}
	if (p->n == ZH_LAYOUT_OPS)
		return fail(c, -E2BIG, "more than %d pieces", ZH_LAYOUT_OPS);
	p->op[p->n++] = (struct zh_layout_op){ soff, doff, len };
	return 0;
}

static const char *kind_name(const struct btf_type *t)
{
	static const char *const names[] = {
		[BTF_KIND_INT] = "integer", [BTF_KIND_PTR] = "pointer",
		[BTF_KIND_ARRAY] = "array", [BTF_KIND_STRUCT] = "struct",
		[BTF_KIND_UNION] = "union", [BTF_KIND_ENUM] = "enum",
	};
	unsigned int k = btf_kind(t);

	return k < sizeof(names) / sizeof(names[0]) && names[k] ? names[k] :
								  "type";
}

static int plan(struct plan_ctx *c, __u32 sid, __u32 did, __u32 soff,
		__u32 doff, int depth);

/* Each member of the destination from the source member of its name. */
static int plan_struct(struct plan_ctx *c, const struct btf_type *s,
		       const struct btf_type *d, __u32 soff, __u32 doff,
		       int depth)
{
	size_t plen = strlen(c->path);
	int err = 0;

	for (int i = 0; i < btf_vlen(d) && !err; i++) {
		const struct btf_member *dm = btf_members(d) + i;
		const char *name = btf__name_by_offset(c->db, dm->name_off);
		int j;

		snprintf(c->path + plen, sizeof(c->path) - plen, "%s%s",
			 plen ? "." : "", name);
		if (!*name || btf_member_bitfield_size(d, i))
			return fail(c, -EINVAL,
				    "a bitfield or an unnamed member");
		for (j = 0; j < btf_vlen(s); j++)
			if (!strcmp(btf__name_by_offset(
					    c->sb, btf_members(s)[j].name_off),
				    name))
				break;
		if (j == btf_vlen(s))
			continue; /* new: stays zero */
		if (btf_member_bitfield_size(s, j))
			return fail(c, -EINVAL, "a bitfield before");
		err = plan(c, btf_members(s)[j].type, dm->type,
			   soff + btf_member_bit_offset(s, j) / 8,
			   doff + btf_member_bit_offset(d, i) / 8, depth + 1);
	}
	c->path[plen] = '\0';
	return err;
}

static int plan(struct plan_ctx *c, __u32 sid, __u32 did, __u32 soff,
		__u32 doff, int depth)
{
	const struct btf_type *s = resolve(c->sb, &sid);
	const struct btf_type *d = resolve(c->db, &did);
	const struct btf_array *sa, *da;
	__u32 n, ses, des;
	int err = 0;

	if (!s || !d || depth > MAX_DEPTH)
		return fail(c, -EINVAL, "no such type, or nested too deep");
	if (same(c->sb, sid, c->db, did, depth))
		return add_op(c, soff, doff,
			      (__u32)btf__resolve_size(c->db, did));
	if (btf_is_struct(s) && btf_is_struct(d))
		return plan_struct(c, s, d, soff, doff, depth);
	if (!btf_is_array(s) || !btf_is_array(d)) {
		if (btf_kind(s) == btf_kind(d) ||
		    (enum_like(s) && enum_like(d)))
			return fail(c, -EINVAL, "%s of %lld bytes, was %lld",
				    kind_name(d), btf__resolve_size(c->db, did),
				    btf__resolve_size(c->sb, sid));
		return fail(c, -EINVAL, "%s, was %s", kind_name(d),
			    kind_name(s));
	}
	/* The elements both have: a longer array gets zeros at its end, a
	 * shorter one loses the source's last elements. */
	sa = btf_array(s);
	da = btf_array(d);
	n = sa->nelems < da->nelems ? sa->nelems : da->nelems;
	ses = (__u32)btf__resolve_size(c->sb, sa->type);
	des = (__u32)btf__resolve_size(c->db, da->type);
	if (same(c->sb, sa->type, c->db, da->type, depth + 1))
		return add_op(c, soff, doff, n * des);
	for (__u32 i = 0; i < n && !err; i++)
		err = plan(c, sa->type, da->type, soff + i * ses,
			   doff + i * des, depth + 1);
	return err;
}

int zh_layout_plan(const struct btf *sb, __u32 sid, const struct btf *db,
		   __u32 did, struct zh_layout_plan *p, char *why,
		   size_t why_len)
{
	struct plan_ctx c = {
		.sb = sb, .db = db, .p = p, .why = why, .why_len = why_len
	};
	long long ss = btf__resolve_size(sb, sid),
		  ds = btf__resolve_size(db, did);

	memset(p, 0, sizeof(*p));
	if (ss <= 0 || ds <= 0)
		return fail(&c, -EINVAL, "a type without a size");
	p->src_size = (__u32)ss;
	p->dst_size = (__u32)ds;
	return plan(&c, sid, did, 0, 0, 0);
}

void zh_layout_apply(const struct zh_layout_plan *p, const void *src, void *dst)
{
	memset(dst, 0, p->dst_size);
	for (__u32 i = 0; i < p->n; i++)
		memcpy((char *)dst + p->op[i].dst_off,
		       (const char *)src + p->op[i].src_off, p->op[i].len);
}

struct out {
	char *buf;
	size_t len, pos;
	int err;
};

static void put(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->pos)
		o->err = -E2BIG;
	else
		o->pos += (size_t)n;
}

static void describe(const struct btf *b, __u32 id, struct out *o, int depth)
{
	const struct btf_type *t = resolve(b, &id);

	if (!t || depth > MAX_DEPTH) {
		o->err = -EINVAL;
		return;
	}
	switch (btf_kind(t)) {
	case BTF_KIND_INT:
		put(o, "%c%u", btf_int_encoding(t) & BTF_INT_SIGNED ? 's' : 'u',
		    btf_int_bits(t));
		break;
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		put(o, "enum%u", t->size * 8);
		break;
	case BTF_KIND_ARRAY:
		describe(b, btf_array(t)->type, o, depth + 1);
		put(o, "[%u]", btf_array(t)->nelems);
		break;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		put(o, "%s{", btf_is_union(t) ? "union" : "struct");
		for (int i = 0; i < btf_vlen(t); i++) {
			const struct btf_member *m = btf_members(t) + i;

			put(o, "%s%s@%u", i ? ";" : "",
			    btf__name_by_offset(b, m->name_off),
			    btf_member_bit_offset(t, i) / 8);
			if (btf_member_bitfield_size(t, i))
				put(o, ":%u", btf_member_bitfield_size(t, i));
			put(o, " ");
			describe(b, m->type, o, depth + 1);
		}
		put(o, "}");
		break;
	default:
		put(o, "%s", kind_name(t));
	}
}

int zh_layout_describe(const struct btf *b, __u32 id, char *buf, size_t len)
{
	struct out o = { buf, len, 0, 0 };

	if (!len)
		return -E2BIG;
	buf[0] = '\0';
	describe(b, id, &o, 0);
	return o.err;
}
