/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layout.h - the layout of a map's keys and values, from BTF: is it the
 * same in two builds, and if not, how does an entry of one become an
 * entry of the other (member by member, by name).
 *
 * Two types have the same layout when they resolve (through typedefs and
 * qualifiers) to the same kinds with the same sizes: integers of the same
 * size and signedness, enums of the same size, arrays of as many elements
 * of the same layout, structs and unions of the same size whose members
 * have the same names, offsets and layouts, in order. Type names do not
 * count; member names do (a renamed field is a changed meaning).
 *
 * A plan copies a source entry into a destination entry: every member of
 * the destination found by name in the source is copied (recursively; an
 * array takes the elements both have), every other one stays zero. It
 * fails for what it cannot convert: a member of another size or kind, a
 * bitfield, a union that is not the same on both sides.
 */
#ifndef ZH_LAYOUT_H
#define ZH_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct btf;

#define ZH_LAYOUT_OPS 128

struct zh_layout_op {
	__u32 src_off, dst_off, len; /* bytes */
};

struct zh_layout_plan {
	__u32 src_size, dst_size;
	__u32 n;
	struct zh_layout_op op[ZH_LAYOUT_OPS];
};

/* Do @sid of @sb and @did of @db have the same layout? */
bool zh_layout_same(const struct btf *sb, __u32 sid, const struct btf *db,
		    __u32 did);

/*
 * The plan that turns a @sid of @sb into a @did of @db: 0, or -EINVAL
 * (what cannot convert, said in @why) or -E2BIG (too many pieces).
 */
int zh_layout_plan(const struct btf *sb, __u32 sid, const struct btf *db,
		   __u32 did, struct zh_layout_plan *p, char *why,
		   size_t why_len);

/* @dst (p->dst_size bytes, zeroed here first) from @src. */
void zh_layout_apply(const struct zh_layout_plan *p, const void *src,
		     void *dst);

/* A one-line description of @id's layout, e.g. "struct{u8 family@0;
 * u8 pad[3]@1;u32 addr[4]@4}" (integers as u/s and bits), into @buf. */
int zh_layout_describe(const struct btf *b, __u32 id, char *buf, size_t len);

#endif /* ZH_LAYOUT_H */
