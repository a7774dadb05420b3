/* shop.h - the shop's state: products with their stock, and sessions.
 *
 * The state changes only by the apply functions, one per kind of shop
 * record (record.h: PRODUCT, LOGIN, LOGOUT, BUY).  Each is total and
 * deterministic: it reads no clock, no random source and no configuration,
 * checks every bound of its arguments itself, and either changes the shop
 * and returns 0 or refuses with -errno and changes nothing.  Whatever needs
 * a clock, randomness or a password (the token, the crypt check, the
 * throttle) was settled before the record was made: see shop_users.h and
 * shop_request.h.
 *
 * A session is the SHA-256 of its token and the user it belongs to; the
 * shop never sees a token or a password.
 *
 * The shop does no locking: the caller holds its exclusive lock around the
 * apply functions and its shared lock around the readers.
 */
#ifndef RWFS_SHOP_H
#define RWFS_SHOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHOP_MAX_NAME 64          /* bytes of user and product names */
#define SHOP_MAX_QTY 1000000      /* most units one purchase may take */
#define SHOP_MAX_PRODUCTS 10000
#define SHOP_MAX_SESSIONS 100000
#define SHOP_HASH_BYTES 32        /* SHA-256 of a token */

struct shop;
struct record;

/* What a purchase did, or why not: what its reply needs. */
struct shop_receipt {
	int64_t upc;                   /* as asked */
	int64_t qty;                   /* as asked */
	int64_t left;                  /* stock after it; on -ENOSPC the stock there is */
	char name[SHOP_MAX_NAME + 1];  /* the product's; "" when there is none */
};

/* An empty shop.  Returns NULL when out of memory. */
struct shop *shop_new(void);

/* Frees the shop; NULL is a no-op. */
void shop_free(struct shop *shop);

/* User names: 1-64 of [A-Za-z0-9._-]. */
bool shop_valid_user_name(const char *name, size_t len);

/* Product names: 1-64 bytes, no control characters, no blank at either
 * end (readers split `UPC NAME COUNT` at the first and last blank).  A
 * comma is fine: the inventory CSV quotes such a name. */
bool shop_valid_product_name(const char *name, size_t len);

/* A new product and its stock (seeding, snapshot).  A upc that exists
 * already is left as it is (0): its stock changes only by purchases, so a
 * second seed (another host that started at the same moment and saw no
 * stock yet) cannot put back what was sold.  Returns 0, -EINVAL (upc outside 1..INT64_MAX, count
 * outside 0..INT64_MAX, a bad name), -ENOSPC (a new upc beyond
 * SHOP_MAX_PRODUCTS) or -ENOMEM. */
int shop_apply_product(struct shop *shop, int64_t upc, int64_t count, const char *name,
		       size_t len);

/* A session of user (len bytes, not NUL-terminated) whose token has
 * hash.  Returns 0, -EINVAL (a bad user name), -EEXIST (a session with
 * that hash exists), -ENOSPC (SHOP_MAX_SESSIONS exist) or -ENOMEM. */
int shop_apply_login(struct shop *shop, const char *user, size_t len,
		     const uint8_t hash[SHOP_HASH_BYTES]);

/* Ends the session with hash.  Returns 0 or -EACCES (no such session). */
int shop_apply_logout(struct shop *shop, const uint8_t hash[SHOP_HASH_BYTES]);

/* The session with hash buys qty of upc.  Checked in this order: the
 * session (-EACCES), qty in 1..SHOP_MAX_QTY (-EINVAL), the upc (-ENOENT),
 * the stock (-ENOSPC).  Returns 0 or one of those; out (may be NULL) gets
 * upc and qty always, the name once the product is found, and left. */
int shop_apply_buy(struct shop *shop, const uint8_t hash[SHOP_HASH_BYTES], int64_t upc,
		   int64_t qty, struct shop_receipt *out);

/* The user of the session with hash, or NULL.  The string belongs to the
 * shop and lives until the session ends. */
const char *shop_session_user(const struct shop *shop, const uint8_t hash[SHOP_HASH_BYTES]);

/* True when the shop holds at least one product: stock was seeded. */
bool shop_has_products(const struct shop *shop);

/* How many products the shop holds. */
size_t shop_product_count(const struct shop *shop);

/* Writes one `UPC NAME COUNT` line per product, in UPC order: mnt/inventory
 * and the lines of the list reply.  buf may be NULL when size is 0.
 * Returns the length it needed, like snprintf. */
int shop_format_inventory(const struct shop *shop, char *buf, size_t size);

/* Called by shop_dump with each record; r lives for the call only.
 * Returns 0, or -errno to stop the dump. */
typedef int (*shop_emit_fn)(void *arg, const struct record *r);

/* The state as records: RECORD_PRODUCT (i = upc, j = count, name) in UPC
 * order, then RECORD_LOGIN (name = user, hash) in hash order; session,
 * seq, time_ns and pid are 0.  Equal shops dump equal records, and
 * applying them to an empty shop rebuilds this one.  Returns 0 or what
 * emit returned. */
int shop_dump(const struct shop *shop, shop_emit_fn emit, void *arg);

#endif
