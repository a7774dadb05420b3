/* shop.h - the shop: users, products, sessions and purchases.
 *
 * Users are configuration (read at every start); products and sessions are
 * state, changed only by records of the one instruction language, so the
 * journal can replay them:
 *
 *   PRODUCT UPC COUNT NAME    a product and its stock (seeding, snapshot)
 *   LOGIN USER HASH           a session; HASH is the hex SHA-256 of its token
 *   LOGOUT HASH               the session ends
 *   BUY UPC QTY USER          stock of UPC goes down by QTY (USER: the audit)
 *
 * Records are canonical: words separated by one space, UPC, COUNT and QTY
 * in decimal digits, HASH 64 lowercase hex digits, NAME the rest of the
 * line (1-64 bytes, no control characters, no commas, no blank at either
 * end).  The verbs write them without a newline.  A session whose USER is
 * not (or no longer) configured logs nobody in.
 *
 * The shop does no locking: the caller (the state) holds its exclusive lock
 * around every function that changes the shop, its shared lock around the
 * ones that read it, and no lock at all around shop_check_password, which
 * is slow on purpose (crypt(3)).  Passwords are never stored, logged or
 * kept after the check; tokens exist in clear only in the reply to login.
 *
 * Throttling: SHOP_FREE_FAILURES failed logins in a row cost nothing;
 * each further failure locks the name out for 1 s, then 2, 4, ... up to
 * SHOP_MAX_LOCKOUT_MS (the 4th failure: 1 s, the 5th: 2 s).  A successful
 * login resets it.  Names that do not exist are throttled alike.  Beyond
 * the free failures, checks of one name run one at a time (the others
 * wait), so parallel guesses get no more tries than sequential ones.  Kept
 * in memory only, for the last 1024 names seen (least recently used ones
 * are forgotten first).
 */
#ifndef RWFS_SHOP_H
#define RWFS_SHOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHOP_MAX_REQUEST 1024       /* longer request lines: -EMSGSIZE */
#define SHOP_MAX_NAME 64            /* user and product names */
#define SHOP_MAX_QTY 1000000        /* most units one purchase may ask */
#define SHOP_TOKEN_HEX 32           /* 128 bits */
#define SHOP_HASH_HEX 64            /* SHA-256 */
#define SHOP_FREE_FAILURES 3
#define SHOP_MAX_LOCKOUT_MS 60000
#define SHOP_MAX_PRODUCTS 10000

struct shop;

/* Milliseconds on a monotonic clock; tests pass a fake one. */
typedef uint64_t (*shop_clock_fn)(void *arg);

/* An empty shop (no users, no products).  clock NULL: CLOCK_MONOTONIC.
 * Returns NULL when out of memory. */
struct shop *shop_new(shop_clock_fn clock, void *clock_arg);

/* Frees the shop; NULL is a no-op. */
void shop_free(struct shop *shop);

/* Adds a user with a crypt(3) hash ("$6$salt$..."), replacing one of the
 * same name.  Returns 0, -EINVAL (bad name: 1-64 of [A-Za-z0-9._-], or a
 * hash crypt(3) cannot use: one it refuses, or a bare setting such as
 * "$6$salt$" that no password matches) or -ENOMEM.  Slow: it runs crypt
 * once to check the hash.  Only before the daemon serves (users are read
 * without a lock). */
int shop_add_user(struct shop *shop, const char *name, const char *hash);

/* Reads USER:HASH lines (blank lines and # comments skipped; blanks around
 * a line and a CR before its newline are ignored).  A user of the file
 * replaces one of the same name.  On error returns -EINVAL (missing colon,
 * bad name, bad hash, duplicate user) and writes "FILE:LINE: what is
 * wrong" into msg, or the -errno of opening or reading (-ENOENT, -EISDIR,
 * ...) with "FILE: strerror"; no user of the file is added then. */
int shop_load_users(struct shop *shop, const char *path, char *msg, size_t size);

/* The built-in demo users and products, used when no file is given:
 * users alice/wonderland, bob/builder; products 1001 apple 10, 1002 banana
 * 20, 1003 cherry 5.  The users' hashes are made here with crypt and the
 * fixed setting "$6$rwfsdemo$" (the passwords are public anyway).  Returns
 * 0 or -ENOMEM. */
int shop_add_demo_users(struct shop *shop);
extern const char shop_demo_inventory[]; /* PRODUCT lines */

/* Parses a CSV inventory (upc,name,count; an optional header line) into
 * PRODUCT lines, a malloc'd text in *records, for the caller to apply
 * through the journal.  Blank lines are skipped; blanks around fields are
 * not part of them.  The first non-blank line is the header when its
 * first field is not an integer.  upc: 1..INT64_MAX; name: as in a record;
 * count: 0..INT64_MAX; at most SHOP_MAX_PRODUCTS rows.  On error returns
 * -EINVAL and "FILE:LINE: what" in msg (a duplicate upc: the line that
 * repeats it), or the -errno of opening or reading; *records is NULL then. */
int shop_parse_inventory(const char *path, char **records, size_t *len, char *msg,
			 size_t size);

/* True when the shop holds at least one product: stock was seeded. */
bool shop_has_products(const struct shop *shop);

/* Applies one record line (PRODUCT, LOGIN, LOGOUT or BUY, as above; one
 * trailing newline allowed), for the replay and for the caller after it
 * journaled the line.  Returns 0, -EINVAL when the line is not a valid
 * record for the current shop (malformed, a LOGIN of a session that
 * exists, a LOGOUT of one that does not, a BUY of an unknown UPC or of
 * more than its stock), -ENOSPC (a new product beyond SHOP_MAX_PRODUCTS,
 * a session beyond 100000) or -ENOMEM; nothing changed then. */
int shop_apply(struct shop *shop, const char *line, size_t len);

/* True when line is a shop record (by its first word, case-sensitive:
 * PRODUCT, LOGIN, LOGOUT or BUY). */
bool shop_is_record(const char *line, size_t len);

/* Writes the shop's state as record lines (PRODUCT lines in UPC order,
 * then a LOGIN line per session), for a snapshot.  buf may be NULL when
 * size is 0.  Returns the length it needed, like snprintf. */
int shop_dump(const struct shop *shop, char *buf, size_t size);

/* Writes the `UPC NAME COUNT` lines of mnt/inventory, in UPC order.
 * Returns the length it needed, like snprintf. */
int shop_format_inventory(const struct shop *shop, char *buf, size_t size);

/* A parsed request line of mnt/shop. */
enum shop_verb { SHOP_LOGIN, SHOP_LIST, SHOP_BUY, SHOP_LOGOUT, SHOP_WHOAMI };

struct shop_request {
	enum shop_verb verb;
	char user[SHOP_MAX_NAME + 1];     /* login */
	char password[SHOP_MAX_REQUEST];  /* login; wiped by shop_request_wipe */
	char token[SHOP_TOKEN_HEX + 1];   /* every verb but login */
	int64_t upc;                      /* buy */
	int64_t qty;                      /* buy */
};

/* Parses one request ("login USER PASSWORD", "list TOKEN", "buy TOKEN UPC
 * QTY", "logout TOKEN", "whoami TOKEN"; verbs case-insensitive, words
 * separated by spaces or tabs, one trailing "\n" or "\r\n" allowed).
 * PASSWORD is one word.  Any word is taken as TOKEN (one longer than
 * SHOP_TOKEN_HEX is stored empty): the verbs answer "error not logged in"
 * to a token that is no session.  UPC and QTY must be decimal integers
 * (optional sign) within int64; shop_buy checks their ranges.  Returns 0,
 * -EMSGSIZE (len over SHOP_MAX_REQUEST, the newline included: "error
 * request too long (at most 1024 bytes)") or -EINVAL with the reply line
 * in reply: "error usage: buy TOKEN UPC QTY" for a known verb with wrong
 * words (a bad user name, a control character), else "error unknown
 * request 'foo' (login, list, buy, logout, whoami)". */
int shop_parse_request(const char *line, size_t len, struct shop_request *req,
		       char *reply, size_t size);

/* Overwrites the password in req (explicit_bzero). */
void shop_request_wipe(struct shop_request *req);

/* Checks a login's password with crypt_r, and the throttle.  No lock held:
 * it reads only the users, which do not change while the daemon runs, and
 * the throttle, which it guards itself.  Returns 0 (reply ""), or -EACCES
 * (wrong user or password: reply "error wrong user or password", the
 * same for both, and an unknown user costs the same crypt), -EAGAIN
 * (locked out: reply "error too many failed logins for USER, try again
 * in N s", N rounded up; the password is not checked) or -ENOMEM, with
 * the reply line in reply.  May block: crypt, and waiting for another
 * check of the same name (see Throttling). */
int shop_check_password(struct shop *shop, const struct shop_request *req, char *reply,
			size_t size);

/* The decisions of the verbs that need the state: each checks the token
 * (constant-time comparison of hashes), decides, writes the reply into
 * reply (first line "ok ..." or "error ..."), and when the shop must change
 * writes the record line to journal into record (else record[0] = 0).
 * Nothing changes here: the caller journals record and then calls
 * shop_apply.  Return 0 when the request succeeds, else the errno that
 * fits (-EACCES not logged in, -ENOENT unknown upc, -ENOSPC insufficient
 * stock, -EINVAL bad quantity).  A reply of 128 bytes and a record of 256
 * always suffice (a record that does not fit: -ENOBUFS).
 *
 * login (after shop_check_password passed): "ok TOKEN", TOKEN 128 bits
 * from getrandom(2) as 32 lowercase hex digits; record "LOGIN USER HASH".
 * -EACCES for a user that does not exist, -ENOSPC with "error too many
 * sessions" at 100000 sessions.  The session exists once the record is
 * applied.
 * buy: "ok bought QTY NAME (UPC), LEFT left"; record "BUY UPC QTY USER".
 * Checked in this order: the token, QTY in 1..SHOP_MAX_QTY ("error
 * quantity must be 1..1000000"), the UPC ("error unknown upc UPC"), the
 * stock ("error insufficient stock: UPC has N").
 * logout: "ok logged out"; record "LOGOUT HASH". */
int shop_login(struct shop *shop, const struct shop_request *req, char *reply,
	       size_t size, char *record, size_t record_size);
int shop_buy(struct shop *shop, const struct shop_request *req, char *reply,
	     size_t size, char *record, size_t record_size);
int shop_logout(struct shop *shop, const struct shop_request *req, char *reply,
		size_t size, char *record, size_t record_size);
/* whoami only reads ("ok USER").  Returns 0 or -EACCES. */
int shop_whoami(const struct shop *shop, const struct shop_request *req, char *reply,
		size_t size);

/* list only reads: "ok N products" and then one `UPC NAME COUNT` line per
 * product, in a malloc'd *reply the caller frees (also on error, when it
 * holds the error line).  Returns 0, -EACCES or -ENOMEM (*reply NULL). */
int shop_list(const struct shop *shop, const struct shop_request *req, char **reply,
	      size_t *len);

#endif
