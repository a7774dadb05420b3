/* test_shop.c - unit tests of the shop (fs/engine/shop.h): request parsing,
 * the users file, the inventory CSV, records, the verbs, the login
 * throttle (with a fake clock) and a snapshot round trip.
 *
 * Request and record lines are heap copies of exactly their length, without
 * a NUL, so that AddressSanitizer catches a parser that reads past len.
 * Files live in a mkdtemp directory that the group teardown removes.
 */
#define _GNU_SOURCE
#include <crypt.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
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
#include "sha256.h"
#include "shop.h"

#define REPLY_SIZE 256
#define RECORD_SIZE 256
#define TEST_SETTING "$6$saltsalt$"

/* ---- helpers ---------------------------------------------------------- */

static char tmpdir[64];

struct fake_clock {
	uint64_t now;
};

static uint64_t fake_now(void *arg)
{
	return ((struct fake_clock *)arg)->now;
}

static char *exact_copy(const char *text, size_t len)
{
	char *copy = malloc(len ? len : 1);

	assert_non_null(copy);
	memcpy(copy, text, len);
	return copy;
}

/* A crypt(3) hash of password, as `openssl passwd -6` would make. */
static char *make_hash(const char *password, const char *setting)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *out;
	char *hash;

	assert_non_null(cd);
	out = crypt_r(password, setting, cd);
	assert_non_null(out);
	assert_true(out[0] != '*');
	hash = strdup(out);
	assert_non_null(hash);
	free(cd);
	return hash;
}

static int add_user(struct shop *shop, const char *name, const char *password)
{
	char *hash = make_hash(password, TEST_SETTING);
	int ret = shop_add_user(shop, name, hash);

	free(hash);
	return ret;
}

static const char *write_file(const char *name, const char *content)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];
	FILE *f;

	snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return p;
}

static int apply(struct shop *shop, const char *line)
{
	char *copy = exact_copy(line, strlen(line));
	int ret = shop_apply(shop, copy, strlen(line));

	free(copy);
	return ret;
}

/* Applies every line of text, each of which must be a valid record. */
static void apply_all(struct shop *shop, const char *text)
{
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text + 1) : strlen(text);
		char *copy = exact_copy(text, len);
		int ret = shop_apply(shop, copy, len);

		if (ret)
			fail_msg("record '%.*s': %d", (int)len, text, ret);
		free(copy);
		text += len;
	}
}

static int parse(const char *line, struct shop_request *req, char *reply)
{
	char *copy = exact_copy(line, strlen(line));
	int ret;

	memset(reply, 0, REPLY_SIZE);
	ret = shop_parse_request(copy, strlen(line), req, reply, REPLY_SIZE);
	free(copy);
	return ret;
}

static struct shop_request request(const char *line)
{
	struct shop_request req;
	char reply[REPLY_SIZE];

	if (parse(line, &req, reply))
		fail_msg("'%s' does not parse: %s", line, reply);
	return req;
}

static int check_password(struct shop *shop, const char *user, const char *password,
			  char *reply)
{
	char line[REPLY_SIZE];
	struct shop_request req;
	int ret;

	snprintf(line, sizeof(line), "login %s %s", user, password);
	req = request(line);
	ret = shop_check_password(shop, &req, reply, REPLY_SIZE);
	shop_request_wipe(&req);
	return ret;
}

/* A full login: check, decide, apply the record.  Returns the token. */
static void login(struct shop *shop, const char *user, const char *password,
		  char token[SHOP_TOKEN_HEX + 1])
{
	char reply[REPLY_SIZE], record[RECORD_SIZE], line[REPLY_SIZE];
	struct shop_request req;

	snprintf(line, sizeof(line), "login %s %s", user, password);
	req = request(line);
	assert_int_equal(shop_check_password(shop, &req, reply, sizeof(reply)), 0);
	assert_int_equal(shop_login(shop, &req, reply, sizeof(reply), record,
				    sizeof(record)), 0);
	shop_request_wipe(&req);
	assert_int_equal(strlen(reply), 3 + SHOP_TOKEN_HEX + 1);
	memcpy(token, reply + 3, SHOP_TOKEN_HEX);
	token[SHOP_TOKEN_HEX] = '\0';
	assert_int_equal(apply(shop, record), 0);
}

/* Runs a verb that needs a token ("whoami %s", "buy %s 1001 2", ...). */
static int verb(struct shop *shop, const char *fmt, const char *token, char *reply,
		char *record)
{
	char line[REPLY_SIZE], scratch[RECORD_SIZE];
	struct shop_request req;

	snprintf(line, sizeof(line), fmt, token);
	req = request(line);
	if (!record)
		record = scratch;
	memset(reply, 0, REPLY_SIZE);
	switch (req.verb) {
	case SHOP_BUY:
		return shop_buy(shop, &req, reply, REPLY_SIZE, record, RECORD_SIZE);
	case SHOP_LOGOUT:
		return shop_logout(shop, &req, reply, REPLY_SIZE, record, RECORD_SIZE);
	case SHOP_WHOAMI:
		return shop_whoami(shop, &req, reply, REPLY_SIZE);
	default:
		fail_msg("verb: unexpected request '%s'", line);
		return -1;
	}
}

static char *inventory(const struct shop *shop)
{
	int n = shop_format_inventory(shop, NULL, 0);
	char *buf = malloc((size_t)n + 1);

	assert_non_null(buf);
	assert_int_equal(shop_format_inventory(shop, buf, (size_t)n + 1), n);
	return buf;
}

static char *dump(const struct shop *shop)
{
	int n = shop_dump(shop, NULL, 0);
	char *buf = malloc((size_t)n + 1);

	assert_non_null(buf);
	assert_int_equal(shop_dump(shop, buf, (size_t)n + 1), n);
	assert_int_equal(strlen(buf), n);
	return buf;
}

static void assert_inventory(const struct shop *shop, const char *want)
{
	char *got = inventory(shop);

	assert_string_equal(got, want);
	free(got);
}

/* A shop with the demo users and products and a fake clock. */
struct fixture {
	struct fake_clock clock;
	struct shop *shop;
};

static int setup_demo(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->clock.now = 1000000;
	fx->shop = shop_new(fake_now, &fx->clock);
	assert_non_null(fx->shop);
	assert_int_equal(shop_add_demo_users(fx->shop), 0);
	apply_all(fx->shop, shop_demo_inventory);
	*state = fx;
	return 0;
}

static int teardown_demo(void **state)
{
	struct fixture *fx = *state;

	shop_free(fx->shop);
	free(fx);
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_setup(void **state)
{
	(void)state;
	return scratch_dir(tmpdir, sizeof(tmpdir), "rwfs-shop") == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#define DEMO_INVENTORY "1001 apple 10\n1002 banana 20\n1003 cherry 5\n"

/* ---- requests ----------------------------------------------------------- */

static void test_parse_requests(void **state)
{
	static const struct {
		const char *line;
		enum shop_verb verb;
		const char *user, *password, *token;
		int64_t upc, qty;
	} cases[] = {
		{ "login alice wonderland", SHOP_LOGIN, "alice", "wonderland", "", 0, 0 },
		{ "LOGIN bob builder\n", SHOP_LOGIN, "bob", "builder", "", 0, 0 },
		{ "Login a.b_c-9 p@ss:word!\r\n", SHOP_LOGIN, "a.b_c-9", "p@ss:word!", "", 0, 0 },
		{ "  login\talice   x  ", SHOP_LOGIN, "alice", "x", "", 0, 0 },
		{ "list 0123456789abcdef0123456789abcdef", SHOP_LIST, "", "",
		  "0123456789abcdef0123456789abcdef", 0, 0 },
		{ "LIST tok\n", SHOP_LIST, "", "", "tok", 0, 0 },
		{ "buy tok 1001 2", SHOP_BUY, "", "", "tok", 1001, 2 },
		{ "BuY tok +1001 -3\n", SHOP_BUY, "", "", "tok", 1001, -3 },
		{ "buy tok 1001 0", SHOP_BUY, "", "", "tok", 1001, 0 },
		{ "buy tok 7 9223372036854775807", SHOP_BUY, "", "", "tok", 7, INT64_MAX },
		{ "logout tok", SHOP_LOGOUT, "", "", "tok", 0, 0 },
		{ "WHOAMI tok\r\n", SHOP_WHOAMI, "", "", "tok", 0, 0 },
		/* Too long to be a token: kept empty, so "not logged in" later. */
		{ "whoami 0123456789abcdef0123456789abcdef0", SHOP_WHOAMI, "", "", "", 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shop_request req;
		char reply[REPLY_SIZE];
		int ret = parse(cases[i].line, &req, reply);

		if (ret)
			fail_msg("'%s': %d (%s)", cases[i].line, ret, reply);
		assert_int_equal(req.verb, cases[i].verb);
		assert_string_equal(req.user, cases[i].user);
		assert_string_equal(req.password, cases[i].password);
		assert_string_equal(req.token, cases[i].token);
		assert_int_equal(req.upc, cases[i].upc);
		assert_int_equal(req.qty, cases[i].qty);
	}
}

static void test_parse_request_errors(void **state)
{
	static const struct {
		const char *line;
		const char *reply;
	} cases[] = {
		{ "", "error unknown request '' (login, list, buy, logout, whoami)\n" },
		{ "\n", "error unknown request '' (login, list, buy, logout, whoami)\n" },
		{ "   ", "error unknown request '' (login, list, buy, logout, whoami)\n" },
		{ "foo bar", "error unknown request 'foo' (login, list, buy, logout, whoami)\n" },
		{ "logins alice x",
		  "error unknown request 'logins' (login, list, buy, logout, whoami)\n" },
		{ "l\x1b[2Jst tok",
		  "error unknown request 'l?[2Jst' (login, list, buy, logout, whoami)\n" },
		{ "abcdefghijabcdefghijabcdefghijabcdefghij",
		  "error unknown request 'abcdefghijabcdefghijabcdefghijab' "
		  "(login, list, buy, logout, whoami)\n" },
		{ "login", "error usage: login USER PASSWORD\n" },
		{ "login alice", "error usage: login USER PASSWORD\n" },
		{ "login alice pass word", "error usage: login USER PASSWORD\n" },
		{ "login ali/ce x", "error usage: login USER PASSWORD\n" },
		{ "login 01234567890123456789012345678901234567890123456789012345678901234 x",
		  "error usage: login USER PASSWORD\n" },
		{ "login alice pass\x01word", "error usage: login USER PASSWORD\n" },
		{ "login alice x\n\n", "error usage: login USER PASSWORD\n" },
		{ "login alice x\r", "error usage: login USER PASSWORD\n" },
		{ "list", "error usage: list TOKEN\n" },
		{ "list a b", "error usage: list TOKEN\n" },
		{ "buy tok 1001", "error usage: buy TOKEN UPC QTY\n" },
		{ "buy tok 1001 2 3", "error usage: buy TOKEN UPC QTY\n" },
		{ "buy tok apple 2", "error usage: buy TOKEN UPC QTY\n" },
		{ "buy tok 1001 1.5", "error usage: buy TOKEN UPC QTY\n" },
		{ "buy tok 1001 0x10", "error usage: buy TOKEN UPC QTY\n" },
		{ "buy tok 1001 -", "error usage: buy TOKEN UPC QTY\n" },
		{ "buy tok 1001 99999999999999999999", "error usage: buy TOKEN UPC QTY\n" },
		{ "logout", "error usage: logout TOKEN\n" },
		{ "whoami a b", "error usage: whoami TOKEN\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shop_request req;
		char reply[REPLY_SIZE];
		int ret = parse(cases[i].line, &req, reply);

		if (ret != -EINVAL)
			fail_msg("'%s': %d, want -EINVAL", cases[i].line, ret);
		assert_string_equal(reply, cases[i].reply);
		assert_string_equal(req.password, "");
	}
}

static void test_parse_request_length(void **state)
{
	char line[SHOP_MAX_REQUEST + 2], reply[REPLY_SIZE];
	struct shop_request req;
	size_t prefix = strlen("login alice ");

	(void)state;
	/* Exactly SHOP_MAX_REQUEST bytes, the newline included: accepted. */
	memcpy(line, "login alice ", prefix);
	memset(line + prefix, 'p', SHOP_MAX_REQUEST - prefix - 1);
	line[SHOP_MAX_REQUEST - 1] = '\n';
	line[SHOP_MAX_REQUEST] = '\0';
	assert_int_equal(parse(line, &req, reply), 0);
	assert_int_equal(strlen(req.password), SHOP_MAX_REQUEST - prefix - 1);
	shop_request_wipe(&req);

	/* One more byte: refused, whatever it holds. */
	line[SHOP_MAX_REQUEST] = '\n';
	line[SHOP_MAX_REQUEST + 1] = '\0';
	assert_int_equal(parse(line, &req, reply), -EMSGSIZE);
	assert_string_equal(reply, "error request too long (at most 1024 bytes)\n");
	assert_string_equal(req.password, "");
}

static void test_request_wipe(void **state)
{
	struct shop_request req = request("login alice wonderland");
	static const char zeros[sizeof(req.password)];

	(void)state;
	assert_string_equal(req.password, "wonderland");
	shop_request_wipe(&req);
	assert_memory_equal(req.password, zeros, sizeof(zeros));
	assert_string_equal(req.user, "alice");
}

/* ---- users -------------------------------------------------------------- */

static void test_add_user(void **state)
{
	struct fake_clock clock = { 0 };
	struct shop *shop = shop_new(fake_now, &clock);
	char *good = make_hash("secret", TEST_SETTING);
	char *other = make_hash("other", "$5$rounds=1000$salt$");
	char reply[REPLY_SIZE], name65[66];
	static const char *const bad_names[] = { "", "a b", "a/b", "a:b", "ä", "a\n" };
	static const char *const bad_hashes[] = {
		"", "x", "*", "!", "!$6$saltsalt$abc", TEST_SETTING, "$6$saltsalt",
		"$6$saltsalt$tooshort", "$9$nonsense$",
	};

	(void)state;
	assert_non_null(shop);
	memset(name65, 'n', 65);
	name65[65] = '\0';
	assert_int_equal(shop_add_user(shop, name65, good), -EINVAL);
	name65[64] = '\0';
	assert_int_equal(shop_add_user(shop, name65, good), 0);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		assert_int_equal(shop_add_user(shop, bad_names[i], good), -EINVAL);
	for (size_t i = 0; i < sizeof(bad_hashes) / sizeof(bad_hashes[0]); i++)
		if (shop_add_user(shop, "carol", bad_hashes[i]) != -EINVAL)
			fail_msg("hash '%s' accepted", bad_hashes[i]);
	assert_int_equal(check_password(shop, "carol", "secret", reply), -EACCES);

	assert_int_equal(shop_add_user(shop, "carol", good), 0);
	assert_int_equal(check_password(shop, "carol", "secret", reply), 0);
	/* The same name again replaces the hash. */
	assert_int_equal(shop_add_user(shop, "carol", other), 0);
	assert_int_equal(check_password(shop, "carol", "secret", reply), -EACCES);
	assert_int_equal(check_password(shop, "carol", "other", reply), 0);

	free(good);
	free(other);
	shop_free(shop);
	shop_free(NULL);
}

static void test_load_users(void **state)
{
	struct fake_clock clock = { 0 };
	struct shop *shop = shop_new(fake_now, &clock);
	char *h1 = make_hash("one", TEST_SETTING);
	char *h2 = make_hash("two", "$1$salt$");
	char *h3 = make_hash("three", "$5$rounds=1000$salt$");
	char content[1024], msg[256] = "", reply[REPLY_SIZE];
	const char *path;

	(void)state;
	assert_non_null(shop);
	assert_int_equal(shop_add_demo_users(shop), 0);
	snprintf(content, sizeof(content),
		 "# users of the test shop\n"
		 "\n"
		 "user1:%s\n"
		 "   \t\n"
		 "  # indented comment\n"
		 "user.two:%s\r\n"
		 "alice:%s\n"
		 "last-user:%s",
		 h1, h2, h3, h1);
	path = write_file("users", content);
	assert_int_equal(shop_load_users(shop, path, msg, sizeof(msg)), 0);
	assert_int_equal(check_password(shop, "user1", "one", reply), 0);
	assert_int_equal(check_password(shop, "user.two", "two", reply), 0);
	assert_int_equal(check_password(shop, "last-user", "one", reply), 0);
	/* The file's alice replaces the demo one. */
	assert_int_equal(check_password(shop, "alice", "three", reply), 0);
	assert_int_equal(check_password(shop, "alice", "wonderland", reply), -EACCES);
	assert_int_equal(check_password(shop, "bob", "builder", reply), 0);

	free(h1);
	free(h2);
	free(h3);
	shop_free(shop);
}

static void test_load_users_errors(void **state)
{
	static const struct {
		const char *text; /* %s: a good hash */
		const char *what;  /* after "FILE:" */
	} cases[] = {
		{ "good:%s\nnocolon\n", "2: missing ':' (want USER:HASH)" },
		{ "good:%s\n\n# c\nba d:x\n",
		  "4: bad user name 'ba d' (1-64 of A-Z a-z 0-9 . _ -)" },
		{ "good:%s\n:hash\n", "2: bad user name '' (1-64 of A-Z a-z 0-9 . _ -)" },
		{ "good:%s\nbad:not-a-hash\n", "2: user 'bad': crypt(3) cannot use the hash" },
		{ "good:%s\nbad:\n", "2: user 'bad': crypt(3) cannot use the hash" },
		{ "good:%s\nbad:$6$saltsalt$\n",
		  "2: user 'bad': crypt(3) cannot use the hash" },
		{ "good:%s\n\ngood:x\n", "3: duplicate user 'good' (first on line 1)" },
	};
	char *hash = make_hash("pw", TEST_SETTING);
	char content[512], msg[256], want[700], reply[REPLY_SIZE];
	struct fake_clock clock = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shop *shop = shop_new(fake_now, &clock);
		const char *path;

		assert_non_null(shop);
		snprintf(content, sizeof(content), cases[i].text, hash);
		path = write_file("users-bad", content);
		snprintf(want, sizeof(want), "%s:%s", path, cases[i].what);
		msg[0] = '\0';
		assert_int_equal(shop_load_users(shop, path, msg, sizeof(msg)), -EINVAL);
		assert_string_equal(msg, want);
		/* Nothing of the file was added, not even its good first line. */
		assert_int_equal(check_password(shop, "good", "pw", reply), -EACCES);
		shop_free(shop);
	}

	{
		struct shop *shop = shop_new(fake_now, &clock);
		char missing[600];

		snprintf(missing, sizeof(missing), "%s/no-such-file", tmpdir);
		assert_int_equal(shop_load_users(shop, missing, msg, sizeof(msg)), -ENOENT);
		snprintf(want, sizeof(want), "%s: No such file or directory", missing);
		assert_string_equal(msg, want);
		assert_int_equal(shop_load_users(shop, tmpdir, msg, sizeof(msg)), -EISDIR);
		snprintf(want, sizeof(want), "%s: Is a directory", tmpdir);
		assert_string_equal(msg, want);
		shop_free(shop);
	}
	free(hash);
}

static void test_demo_data(void **state)
{
	struct fixture *fx = *state;
	char reply[REPLY_SIZE];

	assert_true(shop_has_products(fx->shop));
	assert_inventory(fx->shop, DEMO_INVENTORY);
	assert_int_equal(check_password(fx->shop, "alice", "wonderland", reply), 0);
	assert_int_equal(check_password(fx->shop, "bob", "builder", reply), 0);
	assert_int_equal(check_password(fx->shop, "bob", "wonderland", reply), -EACCES);
}

/* ---- inventory CSV -------------------------------------------------------- */

static void test_parse_inventory(void **state)
{
	static const struct {
		const char *csv;
		const char *records;
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
	};
	char msg[256], *records;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = write_file("inventory.csv", cases[i].csv);
		int ret = shop_parse_inventory(path, &records, &len, msg, sizeof(msg));

		if (ret)
			fail_msg("case %zu: %d (%s)", i, ret, msg);
		assert_string_equal(records, cases[i].records);
		assert_int_equal(len, strlen(cases[i].records));
		free(records);
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
		{ "1001,apple,10\nupc,name,count\n", "2: bad upc 'upc' (a positive integer)" },
		{ "1001,apple,10\n\n,pear,1\n", "3: bad upc '' (a positive integer)" },
		{ "0,apple,10\n", "1: bad upc '0' (a positive integer)" },
		{ "-5,apple,10\n", "1: bad upc '-5' (a positive integer)" },
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
	char msg[256], want[600], *records;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = write_file("bad.csv", cases[i].csv);

		msg[0] = '\0';
		records = (char *)"unchanged";
		assert_int_equal(shop_parse_inventory(path, &records, &len, msg, sizeof(msg)),
				 -EINVAL);
		snprintf(want, sizeof(want), "%s:%s", path, cases[i].what);
		assert_string_equal(msg, want);
		assert_null(records);
	}
	snprintf(want, sizeof(want), "%s/none.csv", tmpdir);
	assert_int_equal(shop_parse_inventory(want, &records, &len, msg, sizeof(msg)), -ENOENT);
	assert_int_equal(shop_parse_inventory(tmpdir, &records, &len, msg, sizeof(msg)),
			 -EISDIR);
	snprintf(want, sizeof(want), "%s: Is a directory", tmpdir);
	assert_string_equal(msg, want);
}

static void test_parse_inventory_limit(void **state)
{
	struct text_file {
		char *buf;
		size_t len;
	} t = { malloc((SHOP_MAX_PRODUCTS + 1) * 32), 0 };
	char msg[256], want[600], *records;
	const char *path;
	size_t len;

	(void)state;
	assert_non_null(t.buf);
	for (int i = 1; i <= SHOP_MAX_PRODUCTS + 1; i++)
		t.len += (size_t)sprintf(t.buf + t.len, "%d,item %d,%d\n", i, i, i);
	path = write_file("big.csv", t.buf);
	assert_int_equal(shop_parse_inventory(path, &records, &len, msg, sizeof(msg)), -EINVAL);
	snprintf(want, sizeof(want), "%s:%d: more than %d products", path,
		 SHOP_MAX_PRODUCTS + 1, SHOP_MAX_PRODUCTS);
	assert_string_equal(msg, want);

	/* Without the last line it fits, and the records apply. */
	t.buf[t.len - strlen("10001,item 10001,10001\n")] = '\0';
	path = write_file("big.csv", t.buf);
	assert_int_equal(shop_parse_inventory(path, &records, &len, msg, sizeof(msg)), 0);
	{
		struct shop *shop = shop_new(NULL, NULL);

		assert_false(shop_has_products(shop));
		apply_all(shop, records);
		assert_true(shop_has_products(shop));
		assert_int_equal(apply(shop, "PRODUCT 99999 1 one too many"), -ENOSPC);
		assert_int_equal(apply(shop, "PRODUCT 5000 1 still updates"), 0);
		shop_free(shop);
	}
	free(records);
	free(t.buf);
}

/* ---- records ------------------------------------------------------------ */

static void test_is_record(void **state)
{
	static const struct {
		const char *line;
		bool want;
	} cases[] = {
		{ "PRODUCT 1 1 x", true }, { "LOGIN a b", true },  { "LOGOUT x", true },
		{ "BUY 1 1 a", true },     { "BUY", true },        { "LOGIN\n", true },
		{ "product 1 1 x", false }, { "PRODUCTS 1", false }, { "SET A 5", false },
		{ "", false },             { "BUYX 1", false },    { " BUY 1 1 a", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *copy = exact_copy(cases[i].line, strlen(cases[i].line));

		if (shop_is_record(copy, strlen(cases[i].line)) != cases[i].want)
			fail_msg("'%s': want %d", cases[i].line, cases[i].want);
		free(copy);
	}
}

static void test_apply_product(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(apply(fx->shop, "PRODUCT 1002 7 yellow banana"), 0);
	assert_int_equal(apply(fx->shop, "PRODUCT 5 1 first\n"), 0);
	assert_int_equal(apply(fx->shop, "PRODUCT 2000 0 sold out"), 0);
	assert_inventory(fx->shop, "5 first 1\n1001 apple 10\n1002 yellow banana 7\n"
				   "1003 cherry 5\n2000 sold out 0\n");
}

static void test_apply_rejects(void **state)
{
	struct fixture *fx = *state;
	char hash[SHOP_HASH_HEX + 1], line[256];
	static const char *const bad[] = {
		"", "\n", "FOO bar", "product 1001 1 x", "PRODUCT", "PRODUCT 1001 10",
		"PRODUCT 1001 10 ", "PRODUCT 0 1 x", "PRODUCT -1 1 x", "PRODUCT 1001 -1 x",
		"PRODUCT 1001 x apple", "PRODUCT 1001  1 x", "PRODUCT 1001 1  x",
		"PRODUCT 1001 1 x ", "PRODUCT 1001 1 a,b", "PRODUCT 1001 1 a\tb",
		"PRODUCT 1001 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"PRODUCT 99999999999999999999 1 x", "PRODUCT 1001 1 x\n\n",
		"LOGIN", "LOGIN alice", "LOGIN alice xyz", "LOGIN a/b %s", "LOGIN alice %s extra",
		"LOGIN  alice %s", "LOGOUT", "LOGOUT %s", "LOGOUT xyz",
		"BUY 1001 11 alice", "BUY 1001 0 alice", "BUY 1001 -1 alice", "BUY 9999 1 alice",
		"BUY 1001 1", "BUY 1001 1 alice extra", "BUY 1001 1 a/b", "BUY x 1 alice",
	};

	sha256_hex("some token", 10, hash);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret;

		snprintf(line, sizeof(line), bad[i], hash);
		ret = apply(fx->shop, line);
		if (ret != -EINVAL)
			fail_msg("'%s': %d, want -EINVAL", line, ret);
	}
	/* Hashes are lowercase, 64 digits. */
	snprintf(line, sizeof(line), "LOGIN alice %.63s", hash);
	assert_int_equal(apply(fx->shop, line), -EINVAL);
	for (char *c = hash; *c; c++)
		*c = (char)(*c >= 'a' ? *c - 'a' + 'A' : *c);
	snprintf(line, sizeof(line), "LOGIN alice %s", hash);
	assert_int_equal(apply(fx->shop, line), -EINVAL);

	/* A session exists once. */
	sha256_hex("some token", 10, hash);
	snprintf(line, sizeof(line), "LOGIN alice %s", hash);
	assert_int_equal(apply(fx->shop, line), 0);
	assert_int_equal(apply(fx->shop, line), -EINVAL);
	snprintf(line, sizeof(line), "LOGOUT %s\n", hash);
	assert_int_equal(apply(fx->shop, line), 0);
	assert_int_equal(apply(fx->shop, line), -EINVAL);

	/* Nothing changed the stock; the whole stock may go. */
	assert_inventory(fx->shop, DEMO_INVENTORY);
	assert_int_equal(apply(fx->shop, "BUY 1001 10 alice"), 0);
	assert_int_equal(apply(fx->shop, "BUY 1001 1 alice"), -EINVAL);
	assert_inventory(fx->shop, "1001 apple 0\n1002 banana 20\n1003 cherry 5\n");
}

/* ---- login and the throttle ---------------------------------------------- */

static bool is_token(const char *s)
{
	if (strlen(s) != SHOP_TOKEN_HEX)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static void test_login(void **state)
{
	struct fixture *fx = *state;
	char reply[REPLY_SIZE], record[RECORD_SIZE], want[RECORD_SIZE];
	char token[SHOP_TOKEN_HEX + 1], token2[SHOP_TOKEN_HEX + 1], hash[SHOP_HASH_HEX + 1];
	struct shop_request req = request("login alice wonderland");

	assert_int_equal(shop_check_password(fx->shop, &req, reply, sizeof(reply)), 0);
	assert_int_equal(shop_login(fx->shop, &req, reply, sizeof(reply), record,
				    sizeof(record)), 0);
	shop_request_wipe(&req);
	assert_int_equal(strncmp(reply, "ok ", 3), 0);
	assert_int_equal(reply[strlen(reply) - 1], '\n');
	memcpy(token, reply + 3, SHOP_TOKEN_HEX);
	token[SHOP_TOKEN_HEX] = '\0';
	assert_true(is_token(token));
	assert_int_equal(strlen(reply), 3 + SHOP_TOKEN_HEX + 1);

	/* The record holds the token's hash, never the token. */
	sha256_hex(token, SHOP_TOKEN_HEX, hash);
	snprintf(want, sizeof(want), "LOGIN alice %s", hash);
	assert_string_equal(record, want);
	assert_null(strstr(record, token));

	/* Not a session until the record is applied. */
	assert_int_equal(verb(fx->shop, "whoami %s", token, reply, NULL), -EACCES);
	assert_int_equal(apply(fx->shop, record), 0);
	assert_int_equal(verb(fx->shop, "whoami %s", token, reply, NULL), 0);
	assert_string_equal(reply, "ok alice\n");

	/* Another login, another token; both work. */
	login(fx->shop, "alice", "wonderland", token2);
	assert_true(is_token(token2));
	assert_string_not_equal(token, token2);
	assert_int_equal(verb(fx->shop, "whoami %s", token, reply, NULL), 0);
	assert_int_equal(verb(fx->shop, "WHOAMI %s", token2, reply, NULL), 0);
	assert_string_equal(reply, "ok alice\n");
	login(fx->shop, "bob", "builder", token2);
	assert_int_equal(verb(fx->shop, "whoami %s", token2, reply, NULL), 0);
	assert_string_equal(reply, "ok bob\n");

	/* shop_login itself refuses a user that does not exist. */
	req = request("login mallory x");
	assert_int_equal(shop_login(fx->shop, &req, reply, sizeof(reply), record,
				    sizeof(record)), -EACCES);
	assert_string_equal(record, "");
}

static void test_wrong_password(void **state)
{
	struct fixture *fx = *state;
	char reply_wrong[REPLY_SIZE], reply_unknown[REPLY_SIZE];

	assert_int_equal(check_password(fx->shop, "alice", "Wonderland", reply_wrong),
			 -EACCES);
	assert_int_equal(check_password(fx->shop, "mallory", "wonderland", reply_unknown),
			 -EACCES);
	assert_string_equal(reply_wrong, "error wrong user or password\n");
	assert_string_equal(reply_unknown, reply_wrong);
	/* The password is the whole third word. */
	assert_int_equal(check_password(fx->shop, "alice", "wonderlan", reply_wrong), -EACCES);
	assert_int_equal(check_password(fx->shop, "alice", "wonderlandx", reply_wrong),
			 -EACCES);
}

static void test_throttle(void **state)
{
	struct fixture *fx = *state;
	struct fake_clock *clock = &fx->clock;
	char reply[REPLY_SIZE];
	static const uint64_t lockouts[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000,
					     60000 };

	for (int i = 0; i < SHOP_FREE_FAILURES; i++) {
		assert_int_equal(check_password(fx->shop, "alice", "guess", reply), -EACCES);
		assert_string_equal(reply, "error wrong user or password\n");
	}
	for (size_t i = 0; i < sizeof(lockouts) / sizeof(lockouts[0]); i++) {
		char want[REPLY_SIZE];

		/* This failure locks alice out... */
		assert_int_equal(check_password(fx->shop, "alice", "guess", reply), -EACCES);
		/* ...even for the right password, which is not even tried. */
		snprintf(want, sizeof(want),
			 "error too many failed logins for alice, try again in %llu s\n",
			 (unsigned long long)lockouts[i] / 1000);
		assert_int_equal(check_password(fx->shop, "alice", "wonderland", reply),
				 -EAGAIN);
		assert_string_equal(reply, want);
		/* Rounded up: 1 ms left is "1 s". */
		clock->now += lockouts[i] - 1;
		assert_int_equal(check_password(fx->shop, "alice", "wonderland", reply),
				 -EAGAIN);
		assert_string_equal(reply,
				    "error too many failed logins for alice, try again in 1 s\n");
		/* Other users are not affected. */
		assert_int_equal(check_password(fx->shop, "bob", "builder", reply), 0);
		clock->now += 1;
	}
	/* After the lockout the right password works and resets the count. */
	assert_int_equal(check_password(fx->shop, "alice", "wonderland", reply), 0);
	assert_string_equal(reply, "");
	for (int i = 0; i < SHOP_FREE_FAILURES; i++)
		assert_int_equal(check_password(fx->shop, "alice", "guess", reply), -EACCES);
	assert_int_equal(check_password(fx->shop, "alice", "wonderland", reply), 0);

	/* Unknown names are throttled alike. */
	for (int i = 0; i <= SHOP_FREE_FAILURES; i++)
		assert_int_equal(check_password(fx->shop, "mallory", "x", reply), -EACCES);
	assert_int_equal(check_password(fx->shop, "mallory", "x", reply), -EAGAIN);
	assert_string_equal(reply,
			    "error too many failed logins for mallory, try again in 1 s\n");
}

/* The table of names is bounded: a flood of names fails as usual, and the
 * most recent names are remembered. */
static void test_throttle_many_names(void **state)
{
	struct fake_clock clock = { 0 };
	struct shop *shop = shop_new(fake_now, &clock);
	char *hash = make_hash("pw", "$5$rounds=1000$salt$");
	char reply[REPLY_SIZE], name[32];

	(void)state;
	/* A cheap hash: unknown names are checked against the first user's. */
	assert_int_equal(shop_add_user(shop, "user", hash), 0);
	for (int i = 0; i <= SHOP_FREE_FAILURES; i++)
		assert_int_equal(check_password(shop, "victim", "x", reply), -EACCES);
	for (int i = 0; i < 1023; i++) {
		snprintf(name, sizeof(name), "name%d", i);
		assert_int_equal(check_password(shop, name, "x", reply), -EACCES);
	}
	assert_int_equal(check_password(shop, "victim", "x", reply), -EAGAIN);
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "other%d", i);
		assert_int_equal(check_password(shop, name, "x", reply), -EACCES);
	}
	assert_int_equal(check_password(shop, "user", "pw", reply), 0);
	free(hash);
	shop_free(shop);
}

struct checker {
	struct shop *shop;
	const char *user, *password;
	int rounds;
	int results[8];
	int n;
};

static void *check_thread(void *arg)
{
	struct checker *c = arg;
	char line[REPLY_SIZE], reply[REPLY_SIZE];

	snprintf(line, sizeof(line), "login %s %s", c->user, c->password);
	for (int i = 0; i < c->rounds; i++) {
		struct shop_request req;

		shop_parse_request(line, strlen(line), &req, reply, sizeof(reply));
		c->results[c->n++] = shop_check_password(c->shop, &req, reply, sizeof(reply));
		shop_request_wipe(&req);
	}
	return NULL;
}

static void run_checkers(struct checker *c, int n)
{
	pthread_t tid[16];

	for (int i = 0; i < n; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, check_thread, &c[i]), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
}

/* Checks run side by side under the throttle's own lock.  Right passwords
 * all pass; parallel wrong guesses for one name get no more tries than
 * sequential ones would (the clock stands still, so the lockout holds). */
static void test_throttle_concurrent(void **state)
{
	struct fixture *fx = *state;
	struct checker c[12];
	int denied = 0, locked = 0;

	memset(c, 0, sizeof(c));
	for (int i = 0; i < 12; i++) {
		c[i].shop = fx->shop;
		c[i].rounds = i < 8 ? 1 : 3;
	}
	for (int i = 0; i < 4; i++) {
		c[i].user = "carol";
		c[i].password = "guess";
		c[i + 4].user = "carol";
		c[i + 4].password = "guess";
	}
	c[8].user = c[9].user = "alice";
	c[8].password = c[9].password = "wonderland";
	c[10].user = c[11].user = "bob";
	c[10].password = c[11].password = "builder";
	run_checkers(c, 12);
	for (int i = 0; i < 8; i++) {
		denied += c[i].results[0] == -EACCES;
		locked += c[i].results[0] == -EAGAIN;
	}
	assert_int_equal(denied, SHOP_FREE_FAILURES + 1);
	assert_int_equal(locked, 8 - SHOP_FREE_FAILURES - 1);
	for (int i = 8; i < 12; i++)
		for (int k = 0; k < c[i].rounds; k++)
			assert_int_equal(c[i].results[k], 0);
}

/* ---- the verbs ------------------------------------------------------------ */

static void test_buy(void **state)
{
	struct fixture *fx = *state;
	char token[SHOP_TOKEN_HEX + 1], reply[REPLY_SIZE], record[RECORD_SIZE];

	login(fx->shop, "alice", "wonderland", token);
	assert_int_equal(verb(fx->shop, "buy %s 1001 3", token, reply, record), 0);
	assert_string_equal(reply, "ok bought 3 apple (1001), 7 left\n");
	assert_string_equal(record, "BUY 1001 3 alice");
	/* The decision changes nothing; the record does. */
	assert_inventory(fx->shop, DEMO_INVENTORY);
	assert_int_equal(apply(fx->shop, record), 0);
	assert_inventory(fx->shop, "1001 apple 7\n1002 banana 20\n1003 cherry 5\n");

	assert_int_equal(verb(fx->shop, "buy %s 1003 5", token, reply, record), 0);
	assert_string_equal(reply, "ok bought 5 cherry (1003), 0 left\n");
	assert_int_equal(apply(fx->shop, record), 0);
	assert_inventory(fx->shop, "1001 apple 7\n1002 banana 20\n1003 cherry 0\n");
}

static void test_buy_refused(void **state)
{
	struct fixture *fx = *state;
	char token[SHOP_TOKEN_HEX + 1], reply[REPLY_SIZE], record[RECORD_SIZE];
	static const struct {
		const char *fmt;
		int ret;
		const char *reply;
	} cases[] = {
		{ "buy %s 1001 11", -ENOSPC, "error insufficient stock: 1001 has 10\n" },
		{ "buy %s 1001 1000000", -ENOSPC, "error insufficient stock: 1001 has 10\n" },
		{ "buy %s 9999 1", -ENOENT, "error unknown upc 9999\n" },
		{ "buy %s -1 1", -ENOENT, "error unknown upc -1\n" },
		{ "buy %s 1001 0", -EINVAL, "error quantity must be 1..1000000\n" },
		{ "buy %s 1001 -2", -EINVAL, "error quantity must be 1..1000000\n" },
		{ "buy %s 1001 1000001", -EINVAL, "error quantity must be 1..1000000\n" },
		{ "buy %s 9999 0", -EINVAL, "error quantity must be 1..1000000\n" },
		{ "buy nottoken 1001 1", -EACCES, "error not logged in\n" },
		{ "buy nottoken 1001 0", -EACCES, "error not logged in\n" },
	};

	login(fx->shop, "alice", "wonderland", token);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strcpy(record, "garbage");
		assert_int_equal(verb(fx->shop, cases[i].fmt, token, reply, record),
				 cases[i].ret);
		assert_string_equal(reply, cases[i].reply);
		assert_string_equal(record, "");
	}
	assert_inventory(fx->shop, DEMO_INVENTORY);
}

/* Only the exact token opens the session: the hashes are compared whole. */
static void test_token_check(void **state)
{
	struct fixture *fx = *state;
	char token[SHOP_TOKEN_HEX + 1], other[SHOP_TOKEN_HEX + 2], reply[REPLY_SIZE];
	static const size_t positions[] = { 0, 1, 15, 16, 30, 31 };

	login(fx->shop, "alice", "wonderland", token);
	for (size_t i = 0; i < sizeof(positions) / sizeof(positions[0]); i++) {
		strcpy(other, token);
		other[positions[i]] = other[positions[i]] == '0' ? '1' : '0';
		assert_int_equal(verb(fx->shop, "whoami %s", other, reply, NULL), -EACCES);
		assert_string_equal(reply, "error not logged in\n");
	}
	/* Upper case is another token; so are a prefix and an extension. */
	strcpy(other, token);
	for (char *c = other; *c; c++)
		*c = (char)(*c >= 'a' ? *c - 'a' + 'A' : *c);
	if (strcmp(other, token) != 0)
		assert_int_equal(verb(fx->shop, "whoami %s", other, reply, NULL), -EACCES);
	snprintf(other, sizeof(other), "%.31s", token);
	assert_int_equal(verb(fx->shop, "whoami %s", other, reply, NULL), -EACCES);
	snprintf(other, sizeof(other), "%s0", token);
	assert_int_equal(verb(fx->shop, "whoami %s", other, reply, NULL), -EACCES);
	/* The hash of the token is not a token. */
	{
		char hash[SHOP_HASH_HEX + 1];

		sha256_hex(token, SHOP_TOKEN_HEX, hash);
		assert_int_equal(verb(fx->shop, "whoami %s", hash, reply, NULL), -EACCES);
	}
	assert_int_equal(verb(fx->shop, "whoami %s", token, reply, NULL), 0);
}

static void test_logout(void **state)
{
	struct fixture *fx = *state;
	char token[SHOP_TOKEN_HEX + 1], token2[SHOP_TOKEN_HEX + 1];
	char reply[REPLY_SIZE], record[RECORD_SIZE], want[RECORD_SIZE];
	char hash[SHOP_HASH_HEX + 1];

	login(fx->shop, "alice", "wonderland", token);
	login(fx->shop, "alice", "wonderland", token2);
	assert_int_equal(verb(fx->shop, "logout %s", token, reply, record), 0);
	assert_string_equal(reply, "ok logged out\n");
	sha256_hex(token, SHOP_TOKEN_HEX, hash);
	snprintf(want, sizeof(want), "LOGOUT %s", hash);
	assert_string_equal(record, want);
	assert_int_equal(verb(fx->shop, "whoami %s", token, reply, NULL), 0);
	assert_int_equal(apply(fx->shop, record), 0);

	assert_int_equal(verb(fx->shop, "whoami %s", token, reply, NULL), -EACCES);
	assert_int_equal(verb(fx->shop, "buy %s 1001 1", token, reply, NULL), -EACCES);
	assert_int_equal(verb(fx->shop, "logout %s", token, reply, record), -EACCES);
	assert_string_equal(reply, "error not logged in\n");
	assert_string_equal(record, "");
	/* The other session of the same user stays. */
	assert_int_equal(verb(fx->shop, "whoami %s", token2, reply, NULL), 0);
}

static void test_list(void **state)
{
	struct fixture *fx = *state;
	char token[SHOP_TOKEN_HEX + 1], line[REPLY_SIZE];
	struct shop_request req;
	char *reply;
	size_t len;

	login(fx->shop, "bob", "builder", token);
	snprintf(line, sizeof(line), "list %s\n", token);
	req = request(line);
	assert_int_equal(shop_list(fx->shop, &req, &reply, &len), 0);
	assert_string_equal(reply, "ok 3 products\n" DEMO_INVENTORY);
	assert_int_equal(len, strlen(reply));
	free(reply);

	req = request("list 0123456789abcdef0123456789abcdef");
	assert_int_equal(shop_list(fx->shop, &req, &reply, &len), -EACCES);
	assert_string_equal(reply, "error not logged in\n");
	assert_int_equal(len, strlen(reply));
	free(reply);

	{
		struct shop *empty = shop_new(NULL, NULL);

		assert_int_equal(add_user(empty, "bob", "builder"), 0);
		login(empty, "bob", "builder", token);
		snprintf(line, sizeof(line), "list %s", token);
		req = request(line);
		assert_int_equal(shop_list(empty, &req, &reply, &len), 0);
		assert_string_equal(reply, "ok 0 products\n");
		free(reply);
		shop_free(empty);
	}
}

/* ---- snapshots ------------------------------------------------------------ */

static void test_dump_and_restore(void **state)
{
	struct fixture *fx = *state;
	char alice[SHOP_TOKEN_HEX + 1], bob[SHOP_TOKEN_HEX + 1], gone[SHOP_TOKEN_HEX + 1];
	char reply[REPLY_SIZE], record[RECORD_SIZE], small[20];
	struct shop *restored;
	char *text, *again, *inv;
	int n;

	login(fx->shop, "alice", "wonderland", alice);
	login(fx->shop, "bob", "builder", bob);
	login(fx->shop, "bob", "builder", gone);
	assert_int_equal(verb(fx->shop, "buy %s 1002 4", bob, reply, record), 0);
	assert_int_equal(apply(fx->shop, record), 0);
	assert_int_equal(verb(fx->shop, "logout %s", gone, reply, record), 0);
	assert_int_equal(apply(fx->shop, record), 0);
	assert_int_equal(apply(fx->shop, "PRODUCT 1 2 one more"), 0);

	text = dump(fx->shop);
	assert_int_equal(strncmp(text, "PRODUCT 1 2 one more\nPRODUCT 1001 10 apple\n"
				       "PRODUCT 1002 16 banana\nPRODUCT 1003 5 cherry\nLOGIN ",
				 strlen("PRODUCT 1 2 one more\nPRODUCT 1001 10 apple\n"
					"PRODUCT 1002 16 banana\nPRODUCT 1003 5 cherry\nLOGIN ")),
			 0);
	/* No password and no token is in a snapshot. */
	assert_null(strstr(text, "wonderland"));
	assert_null(strstr(text, "builder"));
	assert_null(strstr(text, alice));
	assert_null(strstr(text, bob));

	/* Like snprintf: a short buffer gets what fits, NUL-terminated. */
	n = shop_dump(fx->shop, small, sizeof(small));
	assert_int_equal(n, strlen(text));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(strncmp(small, text, sizeof(small) - 1), 0);

	/* A restart: the users again from configuration, the rest from records. */
	restored = shop_new(NULL, NULL);
	assert_non_null(restored);
	assert_int_equal(shop_add_demo_users(restored), 0);
	apply_all(restored, text);
	again = dump(restored);
	assert_string_equal(again, text);
	inv = inventory(fx->shop);
	assert_inventory(restored, inv);
	assert_int_equal(verb(restored, "whoami %s", alice, reply, NULL), 0);
	assert_string_equal(reply, "ok alice\n");
	assert_int_equal(verb(restored, "buy %s 1002 16", bob, reply, NULL), 0);
	assert_int_equal(verb(restored, "whoami %s", gone, reply, NULL), -EACCES);
	free(again);
	free(inv);
	shop_free(restored);

	/* A session of a user no longer configured does not log anybody in. */
	restored = shop_new(NULL, NULL);
	assert_int_equal(add_user(restored, "alice", "other"), 0);
	apply_all(restored, text);
	assert_int_equal(verb(restored, "whoami %s", alice, reply, NULL), 0);
	assert_int_equal(verb(restored, "whoami %s", bob, reply, NULL), -EACCES);
	shop_free(restored);
	free(text);
}

static void test_empty_dump(void **state)
{
	struct shop *shop = shop_new(NULL, NULL);
	char buf[8] = "xxxxxxx";

	(void)state;
	assert_int_equal(shop_dump(shop, NULL, 0), 0);
	assert_int_equal(shop_dump(shop, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(shop_format_inventory(shop, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_false(shop_has_products(shop));
	shop_free(shop);
}

static void test_session_limit(void **state)
{
	struct fixture *fx = *state;
	char line[128], hash[SHOP_HASH_HEX + 1], reply[REPLY_SIZE], record[RECORD_SIZE];
	struct shop_request req = request("login alice wonderland");
	int i, ret = 0;

	for (i = 0; ret == 0; i++) {
		char seed[16];

		snprintf(seed, sizeof(seed), "%d", i);
		sha256_hex(seed, strlen(seed), hash);
		snprintf(line, sizeof(line), "LOGIN bob %s", hash);
		ret = apply(fx->shop, line);
	}
	assert_int_equal(ret, -ENOSPC);
	assert_int_equal(i - 1, 100000);
	assert_int_equal(shop_login(fx->shop, &req, reply, sizeof(reply), record,
				    sizeof(record)), -ENOSPC);
	assert_string_equal(reply, "error too many sessions\n");
	assert_string_equal(record, "");
	shop_request_wipe(&req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_requests),
		cmocka_unit_test(test_parse_request_errors),
		cmocka_unit_test(test_parse_request_length),
		cmocka_unit_test(test_request_wipe),
		cmocka_unit_test(test_add_user),
		cmocka_unit_test(test_load_users),
		cmocka_unit_test(test_load_users_errors),
		cmocka_unit_test_setup_teardown(test_demo_data, setup_demo, teardown_demo),
		cmocka_unit_test(test_parse_inventory),
		cmocka_unit_test(test_parse_inventory_errors),
		cmocka_unit_test(test_parse_inventory_limit),
		cmocka_unit_test(test_is_record),
		cmocka_unit_test_setup_teardown(test_apply_product, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_apply_rejects, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_login, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_wrong_password, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_throttle, setup_demo, teardown_demo),
		cmocka_unit_test(test_throttle_many_names),
		cmocka_unit_test_setup_teardown(test_throttle_concurrent, setup_demo,
						teardown_demo),
		cmocka_unit_test_setup_teardown(test_buy, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_buy_refused, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_token_check, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_logout, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_list, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_dump_and_restore, setup_demo,
						teardown_demo),
		cmocka_unit_test(test_empty_dump),
		cmocka_unit_test_setup_teardown(test_session_limit, setup_demo, teardown_demo),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
