/* shop_users.c - users, their crypt(3) hashes, and the login throttle.
 * See shop_users.h.
 *
 * The throttle is a small fixed table under its own mutex, since password
 * checks run without the state's lock.
 */
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nettle/memops.h>

#include "shop.h"
#include "shop_config.h"
#include "shop_users.h"

#define THROTTLE_SLOTS 1024  /* user names remembered, known or not */

/* The demo users' passwords are published in the README, so a random salt
 * protects nothing. */
#define DEMO_SETTING "$6$rwfsdemo$"

/* What an unknown user's password is checked against when no user is
 * configured (else the first user's hash is used, so that the work, and
 * the time, match a real user's). */
#define DUMMY_SETTING "$6$rwfsnobody$"

struct user {
	char name[SHOP_MAX_NAME + 1];
	char *hash; /* malloc'd crypt(3) string */
};

struct throttle_slot {
	char user[SHOP_MAX_NAME + 1]; /* "" when the slot is free */
	unsigned failures;            /* failed logins in a row */
	unsigned inflight;            /* password checks running now */
	uint64_t locked_until;        /* ms of the clock */
	uint64_t kept_until;          /* ms of the clock: not evicted before */
	uint64_t used;                /* tick of the last use: eviction order */
};

struct shop_users {
	shop_clock_fn clock;
	void *clock_arg;

	/* Read-only once the daemon serves. */
	struct user *users;
	size_t nusers, users_cap;

	pthread_mutex_t throttle_lock;
	pthread_cond_t throttle_done;                  /* a check finished */
	struct throttle_slot throttle[THROTTLE_SLOTS]; /* under throttle_lock */
	uint64_t tick;                                 /* under throttle_lock */

	struct shop_login_stats stats; /* atomic counters */
};

static uint64_t monotonic_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct shop_users *shop_users_new(shop_clock_fn clock, void *clock_arg)
{
	struct shop_users *users = calloc(1, sizeof(*users));

	if (!users)
		return NULL;
	users->clock = clock ? clock : monotonic_ms;
	users->clock_arg = clock_arg;
	if (pthread_mutex_init(&users->throttle_lock, NULL))
		goto out_free;
	if (pthread_cond_init(&users->throttle_done, NULL))
		goto out_mutex;
	return users;

out_mutex:
	pthread_mutex_destroy(&users->throttle_lock);
out_free:
	free(users);
	return NULL;
}

void shop_users_free(struct shop_users *users)
{
	if (!users)
		return;
	for (size_t i = 0; i < users->nusers; i++)
		free(users->users[i].hash);
	free(users->users);
	pthread_cond_destroy(&users->throttle_done);
	pthread_mutex_destroy(&users->throttle_lock);
	free(users);
}

/* --- users -------------------------------------------------------------- */

static struct user *find_user(const struct shop_users *users, const char *name)
{
	for (size_t i = 0; i < users->nusers; i++)
		if (strcmp(users->users[i].name, name) == 0)
			return &users->users[i];
	return NULL;
}

bool shop_users_exists(const struct shop_users *users, const char *name)
{
	return find_user(users, name) != NULL;
}

/* Whether crypt(3) can check passwords against hash: it must take it as a
 * setting and give back a string of the same length.  A bare setting such
 * as "$6$salt$" passes the first test but would match no password. */
static int check_hash(const char *hash)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *out;
	int ret;

	if (!cd)
		return -ENOMEM;
	out = crypt_r("", hash, cd);
	ret = out && out[0] != '*' && strlen(out) == strlen(hash) ? 0 : -EINVAL;
	free(cd);
	return ret;
}

static int reserve_users(struct shop_users *users, size_t extra)
{
	size_t cap;
	struct user *grown;

	if (users->nusers + extra <= users->users_cap)
		return 0;
	cap = 2 * users->users_cap + extra + 4;
	grown = realloc(users->users, cap * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	users->users = grown;
	users->users_cap = cap;
	return 0;
}

/* Adds or replaces a user; hash is malloc'd and now owned by users.  Room
 * must have been reserved. */
static void put_user(struct shop_users *users, const char *name, char *hash)
{
	struct user *u = find_user(users, name);

	if (!u) {
		u = &users->users[users->nusers++];
		snprintf(u->name, sizeof(u->name), "%s", name);
	} else {
		free(u->hash);
	}
	u->hash = hash;
}

int shop_users_add(struct shop_users *users, const char *name, const char *hash)
{
	char *copy;
	int ret;

	if (!shop_valid_user_name(name, strlen(name)))
		return -EINVAL;
	ret = check_hash(hash);
	if (ret)
		return ret;
	if (reserve_users(users, 1))
		return -ENOMEM;
	copy = strdup(hash);
	if (!copy)
		return -ENOMEM;
	put_user(users, name, copy);
	return 0;
}

int shop_users_add_demo(struct shop_users *users)
{
	static const char *const demo[][2] = {
		{ "alice", "wonderland" },
		{ "bob", "builder" },
	};
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	int ret = 0;

	if (!cd)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(demo) / sizeof(demo[0]) && !ret; i++) {
		const char *hash = crypt_r(demo[i][1], DEMO_SETTING, cd);

		ret = hash && hash[0] != '*' ? shop_users_add(users, demo[i][0], hash) : -EINVAL;
	}
	free(cd);
	return ret;
}

/* --- the users file ----------------------------------------------------- */

struct pending_user {
	char name[SHOP_MAX_NAME + 1];
	char *hash;
	unsigned line;
};

/* A users file being read: its users are only added once all are good. */
struct users_file {
	const char *path;
	struct pending_user *pending;
	size_t npending;
	char *msg;
	size_t size;
};

static const struct pending_user *find_pending(const struct users_file *u, const char *name,
					       size_t len)
{
	for (size_t i = 0; i < u->npending; i++)
		if (strlen(u->pending[i].name) == len && memcmp(u->pending[i].name, name, len) == 0)
			return &u->pending[i];
	return NULL;
}

/* Checks one line of a users file and, when it holds a user, appends it to
 * the pending ones.  Returns 0, -EINVAL (msg says why) or -ENOMEM. */
static int users_line(void *arg, unsigned lineno, const char *s, size_t len)
{
	struct users_file *u = arg;
	const char *colon = memchr(s, ':', len);
	const struct pending_user *dup;
	struct pending_user *p;
	size_t name_len, hash_len;
	int ret;

	if (s[0] == '#')
		return 0;
	if (!colon)
		return shop_config_error(u->msg, u->size, u->path, lineno,
					 "missing ':' (want USER:HASH)");
	name_len = (size_t)(colon - s);
	if (!shop_valid_user_name(s, name_len))
		return shop_config_error(u->msg, u->size, u->path, lineno,
					 "bad user name '%.*s' (1-64 of A-Z a-z 0-9 . _ -)",
					 (int)(name_len > SHOP_MAX_NAME ? SHOP_MAX_NAME : name_len),
					 s);
	dup = find_pending(u, s, name_len);
	if (dup)
		return shop_config_error(u->msg, u->size, u->path, lineno,
					 "duplicate user '%.*s' (first on line %u)",
					 (int)name_len, s, dup->line);
	p = realloc(u->pending, (u->npending + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	u->pending = p;
	p = &p[u->npending];
	memcpy(p->name, s, name_len);
	p->name[name_len] = '\0';
	p->line = lineno;
	hash_len = len - name_len - 1;
	p->hash = strndup(colon + 1, hash_len);
	if (!p->hash)
		return -ENOMEM;
	/* strndup stops at a NUL byte: such a hash is not the one written. */
	ret = strlen(p->hash) == hash_len ? check_hash(p->hash) : -EINVAL;
	if (ret) {
		free(p->hash);
		if (ret == -EINVAL)
			shop_config_error(u->msg, u->size, u->path, lineno,
					  "user '%s': crypt(3) cannot use the hash", p->name);
		return ret;
	}
	u->npending++;
	return 0;
}

int shop_users_load(struct shop_users *users, const char *path, char *msg, size_t size)
{
	struct users_file u = { .path = path, .msg = msg, .size = size };
	int ret = shop_config_read(path, users_line, &u, msg, size);

	/* Room first, so that adding cannot fail half way. */
	if (!ret)
		ret = reserve_users(users, u.npending);
	for (size_t i = 0; !ret && i < u.npending; i++) {
		put_user(users, u.pending[i].name, u.pending[i].hash);
		u.pending[i].hash = NULL;
	}
	if (ret == -ENOMEM && msg && size > 0)
		snprintf(msg, size, "%s: %s", path, strerror(ENOMEM));
	for (size_t i = 0; i < u.npending; i++)
		free(u.pending[i].hash);
	free(u.pending);
	return ret;
}

/* --- the counters ------------------------------------------------------- */

static void count(uint64_t *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

void shop_users_stats(struct shop_users *users, struct shop_login_stats *out)
{
	out->ok = __atomic_load_n(&users->stats.ok, __ATOMIC_RELAXED);
	out->failed = __atomic_load_n(&users->stats.failed, __ATOMIC_RELAXED);
	out->throttled = __atomic_load_n(&users->stats.throttled, __ATOMIC_RELAXED);
}

/* --- the throttle ------------------------------------------------------- */

/* Whether slot t may be given to another name: no check of its name runs,
 * and its failures were long enough ago.  Evicting a name that is locked
 * out, or close to it, would give its guesser the free failures again. */
static bool evictable(const struct throttle_slot *t, uint64_t now)
{
	return t->inflight == 0 && now >= t->kept_until;
}

/* The slot of user, taking a free one or the least recently used
 * evictable one when it has none.  -1 when there is none to take (a flood
 * of names: the login is refused rather than left unthrottled), with
 * *wait_ms until the first slot can be taken.  Needs throttle_lock. */
static int throttle_slot(struct shop_users *users, const char *user, bool create,
			 uint64_t now, uint64_t *wait_ms)
{
	int free_slot = -1, oldest = -1, victim;
	uint64_t soonest = UINT64_MAX;

	for (int i = 0; i < THROTTLE_SLOTS; i++) {
		const struct throttle_slot *t = &users->throttle[i];

		if (!t->user[0]) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (strcmp(t->user, user) == 0)
			return i;
		if (!evictable(t, now)) {
			if (t->inflight == 0 && t->kept_until < soonest)
				soonest = t->kept_until;
			continue;
		}
		if (oldest < 0 || t->used < users->throttle[oldest].used)
			oldest = i;
	}
	victim = free_slot >= 0 ? free_slot : oldest;
	if (!create || victim < 0) {
		*wait_ms = soonest == UINT64_MAX ? 1000 : soonest - now;
		return -1;
	}
	users->throttle[victim] = (struct throttle_slot){ .used = 0 };
	snprintf(users->throttle[victim].user, sizeof(users->throttle[victim].user), "%s",
		 user);
	return victim;
}

/* Admits one password check of user, or says how long it is locked out.
 * Within the free failures checks may run side by side; beyond them one at
 * a time, waiting for the one running, so that parallel guesses cannot slip
 * past a lockout that the first of them would have earned. */
static int throttle_enter(struct shop_users *users, const char *user, uint64_t *wait_ms)
{
	struct throttle_slot *t;
	uint64_t now;
	int slot, ret = 0;

	pthread_mutex_lock(&users->throttle_lock);
	for (;;) {
		now = users->clock(users->clock_arg);
		slot = throttle_slot(users, user, true, now, wait_ms);
		if (slot < 0) {
			ret = -ENOBUFS;
			goto out_unlock;
		}
		t = &users->throttle[slot];
		if (now < t->locked_until) {
			*wait_ms = t->locked_until - now;
			ret = -EAGAIN;
			goto out_unlock;
		}
		if (t->inflight == 0 || t->failures + t->inflight < SHOP_FREE_FAILURES)
			break;
		pthread_cond_wait(&users->throttle_done, &users->throttle_lock);
	}
	t->inflight++;
	t->used = ++users->tick;
out_unlock:
	pthread_mutex_unlock(&users->throttle_lock);
	return ret;
}

/* Counts the outcome of a check that throttle_enter admitted. */
static void throttle_leave(struct shop_users *users, const char *user, bool ok)
{
	uint64_t now, unused, ms;
	struct throttle_slot *t;

	pthread_mutex_lock(&users->throttle_lock);
	now = users->clock(users->clock_arg);
	/* A slot with a check running is never evicted. */
	t = &users->throttle[throttle_slot(users, user, false, now, &unused)];
	t->inflight--;
	if (ok) {
		t->failures = 0;
		t->locked_until = 0;
		t->kept_until = 0;
	} else {
		if (++t->failures > SHOP_FREE_FAILURES) {
			unsigned k = t->failures - SHOP_FREE_FAILURES - 1;

			ms = k >= 16 ? SHOP_MAX_LOCKOUT_MS : 1000ull << k;
			t->locked_until = now + (ms > SHOP_MAX_LOCKOUT_MS ? SHOP_MAX_LOCKOUT_MS : ms);
		}
		t->kept_until = (t->locked_until > now ? t->locked_until : now) + SHOP_KEEP_MS;
	}
	if (t->failures == 0 && t->inflight == 0)
		t->user[0] = '\0'; /* nothing to remember */
	pthread_cond_broadcast(&users->throttle_done);
	pthread_mutex_unlock(&users->throttle_lock);
}

int shop_users_check(struct shop_users *users, const char *user, const char *password,
		     char *reply, size_t size)
{
	const struct user *u = find_user(users, user);
	const char *hash = u ? u->hash : users->nusers ? users->users[0].hash : DUMMY_SETTING;
	size_t hash_len = strlen(hash);
	struct crypt_data *cd;
	uint64_t wait_ms;
	const char *out;
	bool ok;
	int ret;

	/* No request has such a name, and the throttle keeps only valid ones. */
	if (!shop_valid_user_name(user, strlen(user))) {
		count(&users->stats.failed);
		snprintf(reply, size, "error wrong user or password\n");
		return -EACCES;
	}
	cd = calloc(1, sizeof(*cd));
	if (!cd) {
		snprintf(reply, size, "error out of memory\n");
		return -ENOMEM;
	}
	ret = throttle_enter(users, user, &wait_ms);
	if (ret) {
		free(cd);
		count(&users->stats.throttled);
		/* A name refused for want of a slot has no failures of its own. */
		snprintf(reply, size, "error too many failed logins%s%s, try again in %llu s\n",
			 ret == -EAGAIN ? " for " : "", ret == -EAGAIN ? user : "",
			 (unsigned long long)((wait_ms + 999) / 1000));
		return -EAGAIN;
	}
	/* An unknown user costs the same crypt as a known one, so the time
	 * taken does not tell which names exist. */
	out = crypt_r(password, hash, cd);
	ok = u && out && strlen(out) == hash_len && memeql_sec(out, hash, hash_len);
	/* crypt_r's scratch space holds what it derived from the password. */
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	throttle_leave(users, user, ok);
	count(ok ? &users->stats.ok : &users->stats.failed);
	if (!ok) {
		snprintf(reply, size, "error wrong user or password\n");
		return -EACCES;
	}
	snprintf(reply, size, "%s", "");
	return 0;
}
