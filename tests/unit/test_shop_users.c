/* test_shop_users.c - unit tests of the shop's users and login throttle
 * (fs/engine/shop_users.h): adding users, the users file and its errors,
 * the demo users, password checks and the throttle with a fake clock.
 *
 * Files live in a scratch directory that the group teardown removes.
 */
#define _GNU_SOURCE
#include <crypt.h>
#include <errno.h>
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
#include "shop_users.h"

#define REPLY_SIZE 256
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

static int check(struct shop_users *users, const char *user, const char *password,
		 char *reply)
{
	memset(reply, 0, REPLY_SIZE);
	return shop_users_check(users, user, password, reply, REPLY_SIZE);
}

/* The demo users and a fake clock. */
struct fixture {
	struct fake_clock clock;
	struct shop_users *users;
};

static int setup_demo(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->clock.now = 1000000;
	fx->users = shop_users_new(fake_now, &fx->clock);
	assert_non_null(fx->users);
	assert_int_equal(shop_users_add_demo(fx->users), 0);
	*state = fx;
	return 0;
}

static int teardown_demo(void **state)
{
	struct fixture *fx = *state;

	shop_users_free(fx->users);
	free(fx);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	return scratch_dir(tmpdir, sizeof(tmpdir), "rwfs-shop-users") == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return scratch_remove(tmpdir);
}

/* ---- users -------------------------------------------------------------- */

static void test_add_user(void **state)
{
	struct fake_clock clock = { 0 };
	struct shop_users *users = shop_users_new(fake_now, &clock);
	char *good = make_hash("secret", TEST_SETTING);
	char *other = make_hash("other", "$5$rounds=1000$salt$");
	char reply[REPLY_SIZE], name65[66];
	static const char *const bad_names[] = { "", "a b", "a/b", "a:b", "\xc3\xa4", "a\n" };
	static const char *const bad_hashes[] = {
		"", "x", "*", "!", "!$6$saltsalt$abc", TEST_SETTING, "$6$saltsalt",
		"$6$saltsalt$tooshort", "$9$nonsense$",
	};

	(void)state;
	assert_non_null(users);
	memset(name65, 'n', 65);
	name65[65] = '\0';
	assert_int_equal(shop_users_add(users, name65, good), -EINVAL);
	name65[64] = '\0';
	assert_int_equal(shop_users_add(users, name65, good), 0);
	assert_true(shop_users_exists(users, name65));
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		assert_int_equal(shop_users_add(users, bad_names[i], good), -EINVAL);
	for (size_t i = 0; i < sizeof(bad_hashes) / sizeof(bad_hashes[0]); i++)
		if (shop_users_add(users, "carol", bad_hashes[i]) != -EINVAL)
			fail_msg("hash '%s' accepted", bad_hashes[i]);
	assert_false(shop_users_exists(users, "carol"));
	assert_int_equal(check(users, "carol", "secret", reply), -EACCES);

	assert_int_equal(shop_users_add(users, "carol", good), 0);
	assert_true(shop_users_exists(users, "carol"));
	assert_int_equal(check(users, "carol", "secret", reply), 0);
	/* The same name again replaces the hash. */
	assert_int_equal(shop_users_add(users, "carol", other), 0);
	assert_int_equal(check(users, "carol", "secret", reply), -EACCES);
	assert_int_equal(check(users, "carol", "other", reply), 0);

	free(good);
	free(other);
	shop_users_free(users);
	shop_users_free(NULL);
}

static void test_load_users(void **state)
{
	struct fake_clock clock = { 0 };
	struct shop_users *users = shop_users_new(fake_now, &clock);
	char *h1 = make_hash("one", TEST_SETTING);
	char *h2 = make_hash("two", "$1$salt$");
	char *h3 = make_hash("three", "$5$rounds=1000$salt$");
	char content[1024], msg[256] = "", reply[REPLY_SIZE];
	const char *path;

	(void)state;
	assert_non_null(users);
	assert_int_equal(shop_users_add_demo(users), 0);
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
	assert_int_equal(shop_users_load(users, path, msg, sizeof(msg)), 0);
	assert_int_equal(check(users, "user1", "one", reply), 0);
	assert_int_equal(check(users, "user.two", "two", reply), 0);
	assert_int_equal(check(users, "last-user", "one", reply), 0);
	/* The file's alice replaces the demo one. */
	assert_int_equal(check(users, "alice", "three", reply), 0);
	assert_int_equal(check(users, "alice", "wonderland", reply), -EACCES);
	assert_int_equal(check(users, "bob", "builder", reply), 0);

	free(h1);
	free(h2);
	free(h3);
	shop_users_free(users);
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
		struct shop_users *users = shop_users_new(fake_now, &clock);
		const char *path;

		assert_non_null(users);
		snprintf(content, sizeof(content), cases[i].text, hash);
		path = write_file("users-bad", content);
		snprintf(want, sizeof(want), "%s:%s", path, cases[i].what);
		msg[0] = '\0';
		assert_int_equal(shop_users_load(users, path, msg, sizeof(msg)), -EINVAL);
		assert_string_equal(msg, want);
		/* Nothing of the file was added, not even its good first line. */
		assert_false(shop_users_exists(users, "good"));
		assert_int_equal(check(users, "good", "pw", reply), -EACCES);
		shop_users_free(users);
	}

	{
		struct shop_users *users = shop_users_new(fake_now, &clock);
		char missing[600];

		snprintf(missing, sizeof(missing), "%s/no-such-file", tmpdir);
		assert_int_equal(shop_users_load(users, missing, msg, sizeof(msg)), -ENOENT);
		snprintf(want, sizeof(want), "%s: No such file or directory", missing);
		assert_string_equal(msg, want);
		assert_int_equal(shop_users_load(users, tmpdir, msg, sizeof(msg)), -EISDIR);
		snprintf(want, sizeof(want), "%s: Is a directory", tmpdir);
		assert_string_equal(msg, want);
		shop_users_free(users);
	}
	free(hash);
}

static void test_demo_users(void **state)
{
	struct fixture *fx = *state;
	char reply[REPLY_SIZE];

	assert_true(shop_users_exists(fx->users, "alice"));
	assert_true(shop_users_exists(fx->users, "bob"));
	assert_false(shop_users_exists(fx->users, "carol"));
	assert_false(shop_users_exists(fx->users, "Alice"));
	assert_int_equal(check(fx->users, "alice", "wonderland", reply), 0);
	assert_string_equal(reply, "");
	assert_int_equal(check(fx->users, "bob", "builder", reply), 0);
	assert_int_equal(check(fx->users, "bob", "wonderland", reply), -EACCES);
}

/* ---- password checks and the throttle ------------------------------------ */

static void test_wrong_password(void **state)
{
	struct fixture *fx = *state;
	char reply_wrong[REPLY_SIZE], reply_unknown[REPLY_SIZE], reply_bad[REPLY_SIZE];

	assert_int_equal(check(fx->users, "alice", "Wonderland", reply_wrong), -EACCES);
	assert_int_equal(check(fx->users, "mallory", "wonderland", reply_unknown), -EACCES);
	assert_string_equal(reply_wrong, "error wrong user or password\n");
	assert_string_equal(reply_unknown, reply_wrong);
	/* The password is compared whole. */
	assert_int_equal(check(fx->users, "alice", "wonderlan", reply_wrong), -EACCES);
	assert_int_equal(check(fx->users, "alice", "wonderlandx", reply_wrong), -EACCES);
	assert_int_equal(check(fx->users, "alice", "", reply_wrong), -EACCES);
	/* A name no request could carry is just a wrong user. */
	assert_int_equal(check(fx->users, "a/b", "x", reply_bad), -EACCES);
	assert_string_equal(reply_bad, reply_wrong);
}

static void test_throttle(void **state)
{
	struct fixture *fx = *state;
	struct fake_clock *clock = &fx->clock;
	char reply[REPLY_SIZE];
	static const uint64_t lockouts[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000,
					     60000 };

	for (int i = 0; i < SHOP_FREE_FAILURES; i++) {
		assert_int_equal(check(fx->users, "alice", "guess", reply), -EACCES);
		assert_string_equal(reply, "error wrong user or password\n");
	}
	for (size_t i = 0; i < sizeof(lockouts) / sizeof(lockouts[0]); i++) {
		char want[REPLY_SIZE];

		/* This failure locks alice out... */
		assert_int_equal(check(fx->users, "alice", "guess", reply), -EACCES);
		/* ...even for the right password, which is not even tried. */
		snprintf(want, sizeof(want),
			 "error too many failed logins for alice, try again in %llu s\n",
			 (unsigned long long)lockouts[i] / 1000);
		assert_int_equal(check(fx->users, "alice", "wonderland", reply), -EAGAIN);
		assert_string_equal(reply, want);
		/* Rounded up: 1 ms left is "1 s". */
		clock->now += lockouts[i] - 1;
		assert_int_equal(check(fx->users, "alice", "wonderland", reply), -EAGAIN);
		assert_string_equal(reply,
				    "error too many failed logins for alice, try again in 1 s\n");
		/* Other users are not affected. */
		assert_int_equal(check(fx->users, "bob", "builder", reply), 0);
		clock->now += 1;
	}
	/* After the lockout the right password works and resets the count. */
	assert_int_equal(check(fx->users, "alice", "wonderland", reply), 0);
	assert_string_equal(reply, "");
	for (int i = 0; i < SHOP_FREE_FAILURES; i++)
		assert_int_equal(check(fx->users, "alice", "guess", reply), -EACCES);
	assert_int_equal(check(fx->users, "alice", "wonderland", reply), 0);

	/* Unknown names are throttled alike. */
	for (int i = 0; i <= SHOP_FREE_FAILURES; i++)
		assert_int_equal(check(fx->users, "mallory", "x", reply), -EACCES);
	assert_int_equal(check(fx->users, "mallory", "x", reply), -EAGAIN);
	assert_string_equal(reply,
			    "error too many failed logins for mallory, try again in 1 s\n");
}

/* Users whose unknown names are checked against a cheap hash, so that a
 * flood of failures runs fast. */
static struct shop_users *cheap_users(struct fake_clock *clock)
{
	struct shop_users *users = shop_users_new(fake_now, clock);
	char *hash = make_hash("pw", "$5$rounds=1000$salt$");

	assert_non_null(users);
	assert_int_equal(shop_users_add(users, "user", hash), 0);
	free(hash);
	return users;
}

/* Fails once for each of n names "PREFIXi"; returns how many were checked
 * (the others were refused by the throttle). */
static int fail_names(struct shop_users *users, const char *prefix, int n)
{
	char reply[REPLY_SIZE], name[32];
	int checked = 0;

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		checked += check(users, name, "x", reply) == -EACCES;
	}
	return checked;
}

/* A flood of failures for other names in the same second cannot make the
 * throttle forget a name that is locked out, or its free failures. */
static void test_throttle_flood_keeps_lockout(void **state)
{
	struct fake_clock clock = { 1000000 };
	struct shop_users *users = cheap_users(&clock);
	char reply[REPLY_SIZE];

	(void)state;
	for (int i = 0; i <= SHOP_FREE_FAILURES; i++)
		assert_int_equal(check(users, "victim", "x", reply), -EACCES);
	for (int i = 0; i < SHOP_FREE_FAILURES - 1; i++)
		assert_int_equal(check(users, "near", "x", reply), -EACCES);
	fail_names(users, "flood", 1100);
	assert_int_equal(check(users, "victim", "pw", reply), -EAGAIN);
	assert_string_equal(reply,
			    "error too many failed logins for victim, try again in 1 s\n");
	/* near's free failures are still counted: one more locks it out. */
	assert_int_equal(check(users, "near", "x", reply), -EACCES);
	assert_int_equal(check(users, "near", "x", reply), -EACCES);
	assert_int_equal(check(users, "near", "x", reply), -EAGAIN);
	shop_users_free(users);
}

/* Memory stays bounded: when every slot holds a name with recent failures,
 * new names are refused, unchecked, until the oldest may be forgotten;
 * then they are checked again. */
static void test_throttle_full_table(void **state)
{
	struct fake_clock clock = { 1000000 };
	struct shop_users *users = cheap_users(&clock);
	struct shop_login_stats stats;
	char reply[REPLY_SIZE];

	(void)state;
	assert_int_equal(fail_names(users, "a", 1024), 1024);
	clock.now += 1000;
	assert_int_equal(check(users, "user", "pw", reply), -EAGAIN);
	assert_string_equal(reply, "error too many failed logins, try again in 59 s\n");
	assert_int_equal(fail_names(users, "b", 10), 0);
	/* A name that holds a slot is still checked. */
	assert_int_equal(check(users, "a7", "x", reply), -EACCES);
	clock.now += SHOP_KEEP_MS - 1000;
	assert_int_equal(check(users, "user", "pw", reply), 0);
	assert_int_equal(fail_names(users, "c", 10), 10);
	/* a7 failed last, so it was kept with its count: its 4th failure
	 * locks it out. */
	assert_int_equal(check(users, "a7", "x", reply), -EACCES);
	assert_int_equal(check(users, "a7", "x", reply), -EACCES);
	assert_int_equal(check(users, "a7", "x", reply), -EAGAIN);
	shop_users_stats(users, &stats);
	assert_int_equal(stats.ok, 1);
	assert_int_equal(stats.failed, 1024 + 1 + 10 + 2);
	assert_int_equal(stats.throttled, 1 + 10 + 1);
	shop_users_free(users);
}

struct checker {
	struct shop_users *users;
	const char *user, *password;
	int rounds;
	int results[8];
	int n;
};

static void *check_thread(void *arg)
{
	struct checker *c = arg;
	char reply[REPLY_SIZE];

	for (int i = 0; i < c->rounds; i++)
		c->results[c->n++] = shop_users_check(c->users, c->user, c->password, reply,
						      sizeof(reply));
	return NULL;
}

/* Checks run side by side under the throttle's own lock.  Right passwords
 * all pass; parallel wrong guesses for one name get no more tries than
 * sequential ones would (the clock stands still, so the lockout holds). */
static void test_throttle_concurrent(void **state)
{
	struct fixture *fx = *state;
	struct checker c[12];
	pthread_t tid[12];
	int denied = 0, locked = 0;

	memset(c, 0, sizeof(c));
	for (int i = 0; i < 12; i++) {
		c[i].users = fx->users;
		c[i].rounds = i < 8 ? 1 : 3;
		c[i].user = i < 8 ? "carol" : i < 10 ? "alice" : "bob";
		c[i].password = i < 8 ? "guess" : i < 10 ? "wonderland" : "builder";
	}
	for (int i = 0; i < 12; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, check_thread, &c[i]), 0);
	for (int i = 0; i < 12; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_user),
		cmocka_unit_test(test_load_users),
		cmocka_unit_test(test_load_users_errors),
		cmocka_unit_test_setup_teardown(test_demo_users, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_wrong_password, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_throttle, setup_demo, teardown_demo),
		cmocka_unit_test(test_throttle_flood_keeps_lockout),
		cmocka_unit_test(test_throttle_full_table),
		cmocka_unit_test_setup_teardown(test_throttle_concurrent, setup_demo,
						teardown_demo),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
