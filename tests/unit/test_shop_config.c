/* test_shop_config.c - unit tests of the shop's configuration files
 * (fs/engine/shop_config.h): the line reader, the inventory CSV and its
 * errors, and the demo stock.
 *
 * Files live in a scratch directory that the group teardown removes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scratch.h"
#include "shop.h"
#include "shop_config.h"

/* ---- helpers ---------------------------------------------------------- */

static char tmpdir[64];

static const char *write_file(const char *name, const char *content)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(content, f) >= 0);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* The products as PRODUCT lines, to compare with a table. */
static char *products_text(const struct shop_product *p, size_t count)
{
	char *buf = malloc(count * 128 + 1);
	size_t len = 0;

	assert_non_null(buf);
	buf[0] = '\0';
	for (size_t i = 0; i < count; i++)
		len += (size_t)sprintf(buf + len, "PRODUCT %lld %lld %s\n", (long long)p[i].upc,
				       (long long)p[i].count, p[i].name);
	return buf;
}

static int group_setup(void **state)
{
	(void)state;
	return scratch_dir(tmpdir, sizeof(tmpdir), "rwfs-shop-config") == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return scratch_remove(tmpdir);
}

/* ---- the line reader ------------------------------------------------------ */

struct seen {
	char text[512];
	int refuse_at; /* line number fn refuses with -EINVAL, 0 never */
};

static int collect(void *arg, unsigned lineno, const char *line, size_t len)
{
	struct seen *s = arg;
	size_t n = strlen(s->text);

	if ((int)lineno == s->refuse_at)
		return -EINVAL;
	snprintf(s->text + n, sizeof(s->text) - n, "%u[%.*s]", lineno, (int)len, line);
	return 0;
}

static void test_read_lines(void **state)
{
	struct seen s = { "", 0 };
	char msg[256] = "", want[600];
	const char *path;

	(void)state;
	path = write_file("lines", "one\n\n  two  \r\n\t \n three\tfour\nlast");
	assert_int_equal(shop_config_read(path, collect, &s, msg, sizeof(msg)), 0);
	assert_string_equal(s.text, "1[one]3[two]5[three\tfour]6[last]");

	/* The first refusal ends the reading. */
	s = (struct seen){ "", 3 };
	assert_int_equal(shop_config_read(path, collect, &s, msg, sizeof(msg)), -EINVAL);
	assert_string_equal(s.text, "1[one]");

	snprintf(want, sizeof(want), "%s/none", tmpdir);
	assert_int_equal(shop_config_read(want, collect, &s, msg, sizeof(msg)), -ENOENT);
	snprintf(want, sizeof(want), "%s/none: No such file or directory", tmpdir);
	assert_string_equal(msg, want);
	assert_int_equal(shop_config_read(tmpdir, collect, &s, msg, sizeof(msg)), -EISDIR);
	snprintf(want, sizeof(want), "%s: Is a directory", tmpdir);
	assert_string_equal(msg, want);
}

static void test_config_error(void **state)
{
	char msg[32];

	(void)state;
	assert_int_equal(shop_config_error(msg, sizeof(msg), "f", 7, "bad %s", "thing"),
			 -EINVAL);
	assert_string_equal(msg, "f:7: bad thing");
	/* Cut to fit. */
	assert_int_equal(shop_config_error(msg, 8, "file", 12, "what"), -EINVAL);
	assert_string_equal(msg, "file:12");
	assert_int_equal(shop_config_error(NULL, 0, "file", 1, "what"), -EINVAL);
}

/* ---- the inventory CSV ---------------------------------------------------- */

static void test_parse_inventory(void **state)
{
	static const struct {
		const char *csv;
		const char *products;
	} cases[] = {
		{ "upc,name,count\n1001,apple,10\n1002,banana,20\n",
		  "PRODUCT 1001 10 apple\nPRODUCT 1002 20 banana\n" },
		{ "1001,apple,10\n1002,banana,20",
		  "PRODUCT 1001 10 apple\nPRODUCT 1002 20 banana\n" },
		{ "\n  \nUPC , Name , Count\r\n 7 , green  tea , 0 \r\n\n8,x,9223372036854775807\n",
		  "PRODUCT 7 0 green  tea\nPRODUCT 8 9223372036854775807 x\n" },
		{ "upc,name,count\n", "" },
		{ "", "" },
		{ "0042,caf\xc3\xa9,01\n", "PRODUCT 42 1 caf\xc3\xa9\n" },
		/* RFC 4180 quoting. */
		{ "3,\"quoted\",1\n", "PRODUCT 3 1 quoted\n" },
		{ "1,\"a, b\",3\n", "PRODUCT 1 3 a, b\n" },
		{ "2,\"say \"\"hi\"\"\",4\n", "PRODUCT 2 4 say \"hi\"\n" },
		{ "\"9\" , \"x\" ,\"0\"\n", "PRODUCT 9 0 x\n" },
		{ "\"upc\",\"name\",\"count\"\n4,\"\"\"\",1\n", "PRODUCT 4 1 \"\n" },
		/* A quote inside an unquoted field is part of it. */
		{ "6,5\" disk,1\n", "PRODUCT 6 1 5\" disk\n" },
	};
	struct shop_product *products;
	char msg[256];
	size_t count;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = write_file("inventory.csv", cases[i].csv);
		int ret = shop_config_parse_inventory(path, &products, &count, msg, sizeof(msg));
		char *text;

		if (ret)
			fail_msg("case %zu: %d (%s)", i, ret, msg);
		text = products_text(products, count);
		assert_string_equal(text, cases[i].products);
		free(text);
		free(products);
	}
}

static void test_parse_inventory_errors(void **state)
{
	static const struct {
		const char *csv;
		const char *what; /* after "FILE:" */
	} cases[] = {
		{ "1001,apple\n", "1: want 3 fields (upc,name,count), got 2" },
		{ "upc,name,count\n1001,apple,10,x\n", "2: want 3 fields (upc,name,count), got 4" },
		{ "1,\"a, b\",3,4\n", "1: want 3 fields (upc,name,count), got 4" },
		{ "1,\"a, b\"\n", "1: want 3 fields (upc,name,count), got 2" },
		{ "1,\"a,3\n", "1: a quoted field must end with a quote before the comma or the "
				"end of the line" },
		{ "1,\"a\"b,3\n", "1: a quoted field must end with a quote before the comma or "
				 "the end of the line" },
		{ "1,\"\",3\n", "1: bad name '' (1-64 bytes, no control characters)" },
		{ "1001,apple,10\nupc,name,count\n", "2: bad upc 'upc' (a positive integer)" },
		{ "1001,apple,10\n\n,pear,1\n", "3: bad upc '' (a positive integer)" },
		{ "0,apple,10\n", "1: bad upc '0' (a positive integer)" },
		{ "-5,apple,10\n", "1: bad upc '-5' (a positive integer)" },
		{ "+5,apple,10\n", "1: bad upc '+5' (a positive integer)" },
		{ "99999999999999999999,apple,1\n",
		  "1: bad upc '99999999999999999999' (a positive integer)" },
		{ "1001, ,10\n", "1: bad name '' (1-64 bytes, no control characters)" },
		{ "1001,ap\tple,10\n", "1: bad name 'ap\tple' (1-64 bytes, no control characters)" },
		{ "1001,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,1\n",
		  "1: bad name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' "
		  "(1-64 bytes, no control characters)" },
		{ "1001,apple,-1\n", "1: bad count '-1' (an integer 0..9223372036854775807)" },
		{ "1001,apple,ten\n", "1: bad count 'ten' (an integer 0..9223372036854775807)" },
		{ "1001,apple,\n", "1: bad count '' (an integer 0..9223372036854775807)" },
		{ "1001,apple,9223372036854775808\n",
		  "1: bad count '9223372036854775808' (an integer 0..9223372036854775807)" },
		{ "upc,name,count\n1,a,1\n2,b,2\n1,c,3\n2,d,4\n",
		  "4: duplicate upc 1 (first on line 2)" },
		{ "5,a,1\n6,b,1\n6,c,1\n5,d,1\n", "3: duplicate upc 6 (first on line 2)" },
	};
	struct shop_product *products;
	char msg[256], want[600];
	size_t count;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = write_file("bad.csv", cases[i].csv);

		msg[0] = '\0';
		products = (struct shop_product *)shop_demo_products;
		count = 99;
		assert_int_equal(shop_config_parse_inventory(path, &products, &count, msg,
							     sizeof(msg)),
				 -EINVAL);
		snprintf(want, sizeof(want), "%s:%s", path, cases[i].what);
		assert_string_equal(msg, want);
		assert_null(products);
		assert_int_equal(count, 0);
	}
	snprintf(want, sizeof(want), "%s/none.csv", tmpdir);
	assert_int_equal(shop_config_parse_inventory(want, &products, &count, msg, sizeof(msg)),
			 -ENOENT);
	assert_int_equal(shop_config_parse_inventory(tmpdir, &products, &count, msg,
						     sizeof(msg)),
			 -EISDIR);
	snprintf(want, sizeof(want), "%s: Is a directory", tmpdir);
	assert_string_equal(msg, want);
}

static void test_parse_inventory_limit(void **state)
{
	char *csv = malloc((SHOP_MAX_PRODUCTS + 1) * 32);
	struct shop_product *products;
	char msg[256], want[600];
	const char *path;
	size_t len = 0, count;

	(void)state;
	assert_non_null(csv);
	for (int i = 1; i <= SHOP_MAX_PRODUCTS + 1; i++)
		len += (size_t)sprintf(csv + len, "%d,item %d,%d\n", i, i, i);
	path = write_file("big.csv", csv);
	assert_int_equal(shop_config_parse_inventory(path, &products, &count, msg, sizeof(msg)),
			 -EINVAL);
	snprintf(want, sizeof(want), "%s:%d: more than %d products", path,
		 SHOP_MAX_PRODUCTS + 1, SHOP_MAX_PRODUCTS);
	assert_string_equal(msg, want);

	/* Without the last line it fits, and every product applies. */
	csv[len - strlen("10001,item 10001,10001\n")] = '\0';
	path = write_file("big.csv", csv);
	assert_int_equal(shop_config_parse_inventory(path, &products, &count, msg, sizeof(msg)),
			 0);
	assert_int_equal(count, SHOP_MAX_PRODUCTS);
	{
		struct shop *shop = shop_new();

		for (size_t i = 0; i < count; i++)
			assert_int_equal(shop_apply_product(shop, products[i].upc, products[i].count,
							    products[i].name,
							    strlen(products[i].name)),
					 0);
		assert_int_equal(shop_product_count(shop), SHOP_MAX_PRODUCTS);
		assert_int_equal(shop_apply_product(shop, 99999, 1, "x", 1), -ENOSPC);
		shop_free(shop);
	}
	free(products);
	free(csv);
}

static void test_demo_products(void **state)
{
	char *text = products_text(shop_demo_products, SHOP_DEMO_PRODUCTS);
	struct shop *shop = shop_new();

	(void)state;
	assert_string_equal(text, "PRODUCT 1001 10 apple\nPRODUCT 1002 20 banana\n"
				  "PRODUCT 1003 5 cherry\n");
	for (size_t i = 0; i < SHOP_DEMO_PRODUCTS; i++) {
		const struct shop_product *p = &shop_demo_products[i];

		assert_int_equal(shop_apply_product(shop, p->upc, p->count, p->name,
						    strlen(p->name)),
				 0);
	}
	assert_true(shop_has_products(shop));
	shop_free(shop);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_lines),
		cmocka_unit_test(test_config_error),
		cmocka_unit_test(test_parse_inventory),
		cmocka_unit_test(test_parse_inventory_errors),
		cmocka_unit_test(test_parse_inventory_limit),
		cmocka_unit_test(test_demo_products),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
