// SPDX-License-Identifier: Apache-2.0
/*
 * test_layout - map layouts from BTF (user/lib/layout.c): when two builds'
 * keys and values are the same, how an entry of one becomes an entry of
 * the other, and what cannot convert. The BTF is made here with libbpf's
 * writer, as two builds' objects would carry it: no kernel needed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <bpf/btf.h>

#include "layout.h"
#include "util.h"

/* One struct member: name, type, byte offset. */
struct field {
	const char *name;
	int type; /* a type id of the BTF being built */
	__u32 off;
	__u32 bits; /* bitfield size; 0: none */
};

#define F(n, t, o)               \
	{                        \
		(n), (t), (o), 0 \
	}

/* The base types every BTF here has, by id. */
struct base {
	struct btf *btf;
	int u8, u16, u32, s32, u32_t; /* u32_t: typedef __u32 */
};

static void base_init(struct base *b)
{
	b->btf = btf__new_empty();
	assert_non_null(b->btf);
	b->u8 = btf__add_int(b->btf, "unsigned char", 1, 0);
	b->u16 = btf__add_int(b->btf, "unsigned short", 2, 0);
	b->u32 = btf__add_int(b->btf, "unsigned int", 4, 0);
	b->s32 = btf__add_int(b->btf, "int", 4, BTF_INT_SIGNED);
	b->u32_t = btf__add_typedef(b->btf, "__u32", b->u32);
	assert_true(b->u8 > 0 && b->u16 > 0 && b->u32 > 0 && b->s32 > 0 &&
		    b->u32_t > 0);
}

static int array(struct base *b, int elem, __u32 n)
{
	int id = btf__add_array(b->btf, b->u32, elem, n);

	assert_true(id > 0);
	return id;
}

static int add_struct(struct base *b, const char *name, __u32 size,
		      const struct field *f, size_t n)
{
	int id = btf__add_struct(b->btf, name, size);

	assert_true(id > 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(btf__add_field(b->btf, f[i].name, f[i].type,
						f[i].off * 8, f[i].bits),
				 0);
	return id;
}

/* zh_endpoint as v2 had it, and as v3 has it (flags out of the padding). */
static int endpoint_v2(struct base *b)
{
	const struct field f[] = {
		F("ifindex", b->u32, 0),
		F("mac", array(b, b->u8, 6), 4),
		F("gw_mac", array(b, b->u8, 6), 10),
		F("datapath", b->u8, 16),
		F("pad", array(b, b->u8, 3), 17),
	};

	return add_struct(b, "zh_endpoint", 20, f, ARRAY_SIZE(f));
}

static int endpoint_v3(struct base *b)
{
	const struct field f[] = {
		F("ifindex", b->u32_t, 0),
		F("mac", array(b, b->u8, 6), 4),
		F("gw_mac", array(b, b->u8, 6), 10),
		F("datapath", b->u8, 16),
		F("flags", b->u8, 17),
		F("pad", array(b, b->u8, 2), 18),
	};

	return add_struct(b, "zh_endpoint", 20, f, ARRAY_SIZE(f));
}

/* A struct that grows in its middle: name[n] then a nested struct. */
static int iface(struct base *b, __u32 name_len, bool renamed)
{
	const struct field xf[] = {
		F("slot", b->u32, 0),
		F("queues", b->u8, 4),
	};
	int xsk = add_struct(b, "zh_iface_xsk", 8, xf, ARRAY_SIZE(xf));
	const struct field f[] = {
		F("flags", b->u32, 0),
		F(renamed ? "netname" : "network", array(b, b->u8, name_len),
		  4),
		F("xsk", xsk, 4 + name_len),
	};

	return add_struct(b, "zh_iface", 12 + name_len, f, ARRAY_SIZE(f));
}

static void test_same(void **state)
{
	struct base a, b;
	int ea, eb, e2;

	base_init(&a);
	base_init(&b);
	ea = endpoint_v3(&a);
	eb = endpoint_v3(&b);
	e2 = endpoint_v2(&b);
	/* Another BTF, other ids, a typedef on one side: the same. */
	assert_true(zh_layout_same(a.btf, ea, b.btf, eb));
	assert_true(zh_layout_same(a.btf, a.u32_t, b.btf, b.u32));
	/* Same size, a member more: not the same. */
	assert_false(zh_layout_same(a.btf, ea, b.btf, e2));
	/* Signedness counts; so do array lengths and member names. */
	assert_false(zh_layout_same(a.btf, a.u32, b.btf, b.s32));
	assert_false(zh_layout_same(a.btf, iface(&a, 32, false), b.btf,
				    iface(&b, 64, false)));
	assert_false(zh_layout_same(a.btf, iface(&a, 32, false), b.btf,
				    iface(&b, 32, true)));
	assert_true(zh_layout_same(a.btf, iface(&a, 32, false), b.btf,
				   iface(&b, 32, false)));
	btf__free(a.btf);
	btf__free(b.btf);
}

static void test_plan_same_is_one_copy(void **state)
{
	struct zh_layout_plan p;
	struct base a, b;

	base_init(&a);
	base_init(&b);
	assert_int_equal(zh_layout_plan(a.btf, endpoint_v3(&a), b.btf,
					endpoint_v3(&b), &p, NULL, 0),
			 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.op[0].len, 20);
	btf__free(a.btf);
	btf__free(b.btf);
}

/* v2 -> v3: every member by name; flags (new) zero; pad[2] from pad[3]. */
static void test_plan_endpoint_v2_v3(void **state)
{
	unsigned char src[20], dst[20], want[20];
	struct zh_layout_plan p;
	struct base a, b;

	base_init(&a);
	base_init(&b);
	assert_int_equal(zh_layout_plan(a.btf, endpoint_v2(&a), b.btf,
					endpoint_v3(&b), &p, NULL, 0),
			 0);
	for (int i = 0; i < 20; i++)
		src[i] = (unsigned char)(i + 1);
	memcpy(want, src, 17); /* ifindex, mac, gw_mac, datapath */
	want[17] = 0; /* flags: new */
	want[18] = src[17]; /* pad[0..1] from pad[0..1] */
	want[19] = src[18];
	memset(dst, 0xee, sizeof(dst));
	zh_layout_apply(&p, src, dst);
	assert_memory_equal(dst, want, sizeof(want));
	/* and back: flags dropped, pad[3] from pad[2] and a zero */
	assert_int_equal(zh_layout_plan(b.btf, endpoint_v3(&b), a.btf,
					endpoint_v2(&a), &p, NULL, 0),
			 0);
	zh_layout_apply(&p, src, dst);
	memcpy(want, src, 17);
	want[17] = src[18];
	want[18] = src[19];
	want[19] = 0;
	assert_memory_equal(dst, want, sizeof(want));
	btf__free(a.btf);
	btf__free(b.btf);
}

/* A grown array: its elements, zeros after; what follows it moves. */
static void test_plan_grown_middle(void **state)
{
	unsigned char src[12 + 4], dst[12 + 8], want[12 + 8] = { 0 };
	struct zh_layout_plan p;
	struct base a, b;

	base_init(&a);
	base_init(&b);
	assert_int_equal(zh_layout_plan(a.btf, iface(&a, 4, false), b.btf,
					iface(&b, 8, false), &p, NULL, 0),
			 0);
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)(0x10 + i);
	memcpy(want, src, 4 + 4); /* flags, network[0..3] */
	memcpy(want + 12, src + 8, 8); /* xsk, moved by 4 */
	zh_layout_apply(&p, src, dst);
	assert_memory_equal(dst, want, sizeof(want));
	/* shrunk: the first elements only */
	assert_int_equal(zh_layout_plan(b.btf, iface(&b, 8, false), a.btf,
					iface(&a, 4, false), &p, NULL, 0),
			 0);
	zh_layout_apply(&p, want, src);
	assert_memory_equal(src, want, 8);
	assert_memory_equal(src + 8, want + 12, 8);
	btf__free(a.btf);
	btf__free(b.btf);
}

/* What cannot convert is refused, naming the member. */
static void test_plan_refused(void **state)
{
	struct zh_layout_plan p;
	struct base a, b;
	char why[256] = "";
	const struct field f16[] = { F("port", 0, 0), F("x", 0, 4) };
	struct field fa[2], fb[2];
	int sa, sb;

	base_init(&a);
	base_init(&b);
	/* port: u16 -> u32 */
	memcpy(fa, f16, sizeof(fa));
	memcpy(fb, f16, sizeof(fb));
	fa[0].type = a.u16, fa[1].type = a.u32;
	fb[0].type = b.u32, fb[1].type = b.u32;
	sa = add_struct(&a, "k", 8, fa, 2);
	sb = add_struct(&b, "k", 8, fb, 2);
	assert_int_equal(zh_layout_plan(a.btf, sa, b.btf, sb, &p, why,
					sizeof(why)),
			 -EINVAL);
	assert_contains(why, "port");
	assert_contains(why, "4 bytes, was 2");
	/* a bitfield */
	fb[0].type = b.u32, fb[0].bits = 3;
	sb = add_struct(&b, "k", 8, fb, 2);
	assert_int_equal(zh_layout_plan(a.btf, sa, b.btf, sb, &p, why,
					sizeof(why)),
			 -EINVAL);
	assert_contains(why, "bitfield");
	/* a struct where an integer was */
	assert_int_equal(zh_layout_plan(a.btf, a.u32, b.btf, endpoint_v3(&b),
					&p, why, sizeof(why)),
			 -EINVAL);
	assert_contains(why, "struct, was integer");
	btf__free(a.btf);
	btf__free(b.btf);
}

static void test_describe(void **state)
{
	struct base a;
	char buf[256], tiny[8];

	base_init(&a);
	assert_int_equal(zh_layout_describe(a.btf, endpoint_v3(&a), buf,
					    sizeof(buf)),
			 0);
	assert_string_equal(
		buf,
		"struct{ifindex@0 u32;mac@4 u8[6];gw_mac@10 u8[6];datapath@16 u8;flags@17 u8;pad@18 u8[2]}");
	assert_int_equal(zh_layout_describe(a.btf, endpoint_v3(&a), tiny,
					    sizeof(tiny)),
			 -E2BIG);
	btf__free(a.btf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_plan_same_is_one_copy),
		cmocka_unit_test(test_plan_endpoint_v2_v3),
		cmocka_unit_test(test_plan_grown_middle),
		cmocka_unit_test(test_plan_refused),
		cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
