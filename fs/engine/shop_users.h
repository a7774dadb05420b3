/* shop_users.h - the shop's users and the login throttle.
 *
 * Users are configuration, read at every start and never part of the
 * state: a password's verdict is settled here, before a login record is
 * made, and the record carries only the user and the token's hash.
 * Passwords are never stored or kept after the check.
 *
 * Users are added before the daemon serves and read without a lock after
 * that; the throttle guards itself.
 *
 * Throttling: SHOP_FREE_FAILURES failed logins in a row cost nothing;
 * each further failure locks the name out for 1 s, then 2, 4, ... up to
 * SHOP_MAX_LOCKOUT_MS (the 4th failure: 1 s, the 5th: 2 s).  A successful
 * login resets it.  Names that do not exist are throttled alike.  Beyond
 * the free failures, checks of one name run one at a time (the others
 * wait), so parallel guesses get no more tries than sequential ones.  Kept
 * in memory only, for at most 1024 names.  A name with failures is kept
 * for SHOP_KEEP_MS after its last failure or the end of its lockout;
 * only names past that, or with no failures, make room for new ones
 * (least recently used first), so a flood of other names cannot wipe a
 * lockout.  When no name can make room, a login of a new name is refused
 * as if locked out, until one can.
 */
#ifndef RWFS_SHOP_USERS_H
#define RWFS_SHOP_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHOP_FREE_FAILURES 3
#define SHOP_MAX_LOCKOUT_MS 60000
#define SHOP_KEEP_MS 60000

/* The outcomes of shop_users_check since the start. */
struct shop_login_stats {
	uint64_t ok;        /* right passwords */
	uint64_t failed;    /* wrong user or password */
	uint64_t throttled; /* refused by the throttle, password not checked */
};

struct shop_users;

/* Milliseconds on a monotonic clock; tests pass a fake one. */
typedef uint64_t (*shop_clock_fn)(void *arg);

/* No users, and the throttle's clock (NULL: CLOCK_MONOTONIC).  Returns
 * NULL when out of memory. */
struct shop_users *shop_users_new(shop_clock_fn clock, void *clock_arg);

/* Frees the users; NULL is a no-op. */
void shop_users_free(struct shop_users *users);

/* Adds a user with a crypt(3) hash ("$6$salt$..."), replacing one of the
 * same name.  Returns 0, -EINVAL (bad name: shop_valid_user_name, or a
 * hash crypt(3) cannot use: one it refuses, or a bare setting such as
 * "$6$salt$" that no password matches) or -ENOMEM.  Slow: it runs crypt
 * once to check the hash.  Only before the daemon serves. */
int shop_users_add(struct shop_users *users, const char *name, const char *hash);

/* Reads USER:HASH lines (blank lines and # comments skipped; blanks around
 * a line and a CR before its newline are ignored).  A user of the file
 * replaces one of the same name.  On error returns -EINVAL (missing colon,
 * bad name, bad hash, duplicate user) and writes "FILE:LINE: what is
 * wrong" into msg, or the -errno of opening or reading (-ENOENT, -EISDIR,
 * ...) with "FILE: strerror"; no user of the file is added then.  Only
 * before the daemon serves. */
int shop_users_load(struct shop_users *users, const char *path, char *msg, size_t size);

/* Adds the demo users, for when no file is given: alice/wonderland and
 * bob/builder.  Their hashes are made here with crypt and the fixed
 * setting "$6$rwfsdemo$" (the passwords are public anyway, and a fixed
 * salt keeps the start deterministic).  Returns 0 or -ENOMEM. */
int shop_users_add_demo(struct shop_users *users);

/* True when a user of that name is configured. */
bool shop_users_exists(const struct shop_users *users, const char *name);

/* Checks user's password with crypt_r, and the throttle (a name that is
 * not shop_valid_user_name is refused as a wrong user, unthrottled: no
 * request has one).  Returns 0 (reply
 * ""), or -EACCES (wrong user or password: reply "error wrong user or
 * password", the same for both, and an unknown user costs the same
 * crypt), -EAGAIN (locked out: reply "error too many failed logins for
 * USER, try again in N s", N rounded up; or, when the throttle has no
 * room for a new name, "error too many failed logins, try again in N s";
 * the password is not checked) or
 * -ENOMEM ("error out of memory"), with the reply line, newline included,
 * in reply.  May block: crypt, and waiting for another check of the same
 * name (see Throttling).  Needs no lock. */
int shop_users_check(struct shop_users *users, const char *user, const char *password,
		     char *reply, size_t size);

/* The counters of shop_users_check's outcomes.  Needs no lock. */
void shop_users_stats(struct shop_users *users, struct shop_login_stats *out);

#endif
