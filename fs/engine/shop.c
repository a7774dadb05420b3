/* shop.c - the shop's products and sessions, and the apply of its records.
 * See shop.h.
 *
 * Products live in an array sorted by UPC: lookups are a binary search,
 * and the inventory and the dump come out in UPC order for free.  Sessions
 * are chained in buckets picked by the top 12 bits of their hash, each
 * chain sorted by hash, so walking the buckets in order visits the
 * sessions in hash order (the dump) with no sorting.  A session is found
 * by comparing all 32 bytes in constant time.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/memops.h>

#include "record.h"
#include "shop.h"

#define SESSION_BUCKETS 4096

static_assert(SHOP_HASH_BYTES == RECORD_HASH_BYTES, "a session is a record's hash");
static_assert(SHOP_MAX_NAME <= RECORD_MAX_NAME, "names fit in a record");

struct product {
	int64_t upc;
	int64_t count;
	char name[SHOP_MAX_NAME + 1];
};

struct session {
	uint8_t hash[SHOP_HASH_BYTES]; /* of the token */
	char user[SHOP_MAX_NAME + 1];
	struct session *next;          /* greater hash, same bucket */
};

struct shop {
	struct product *products; /* sorted by upc */
	size_t nproducts, products_cap;
	struct session *buckets[SESSION_BUCKETS];
	size_t nsessions;
};

struct shop *shop_new(void)
{
	return calloc(1, sizeof(struct shop));
}

void shop_free(struct shop *shop)
{
	if (!shop)
		return;
	free(shop->products);
	for (size_t b = 0; b < SESSION_BUCKETS; b++) {
		struct session *s = shop->buckets[b], *next;

		for (; s; s = next) {
			next = s->next;
			free(s);
		}
	}
	free(shop);
}

/* --- names -------------------------------------------------------------- */

bool shop_valid_user_name(const char *name, size_t len)
{
	if (len == 0 || len > SHOP_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

bool shop_valid_product_name(const char *name, size_t len)
{
	if (len == 0 || len > SHOP_MAX_NAME || isblank((unsigned char)name[0]) ||
	    isblank((unsigned char)name[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* --- products ----------------------------------------------------------- */

/* Where upc is in the sorted products, or where it would go. */
static size_t product_index(const struct shop *shop, int64_t upc)
{
	size_t lo = 0, hi = shop->nproducts;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (shop->products[mid].upc < upc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct product *find_product(const struct shop *shop, int64_t upc)
{
	size_t i = product_index(shop, upc);

	return i < shop->nproducts && shop->products[i].upc == upc ? &shop->products[i]
								  : NULL;
}

/* Opens a gap for a new product at index i.  0, -ENOSPC or -ENOMEM. */
static int insert_product(struct shop *shop, size_t i)
{
	if (shop->nproducts == SHOP_MAX_PRODUCTS)
		return -ENOSPC;
	if (shop->nproducts == shop->products_cap) {
		size_t cap = 2 * shop->products_cap + 16;
		struct product *p = realloc(shop->products, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		shop->products = p;
		shop->products_cap = cap;
	}
	memmove(&shop->products[i + 1], &shop->products[i],
		(shop->nproducts - i) * sizeof(*shop->products));
	shop->nproducts++;
	return 0;
}

int shop_apply_product(struct shop *shop, int64_t upc, int64_t count, const char *name,
		       size_t len)
{
	struct product *p;
	size_t i;
	int ret;

	if (upc < 1 || count < 0 || !shop_valid_product_name(name, len))
		return -EINVAL;
	i = product_index(shop, upc);
	if (i < shop->nproducts && shop->products[i].upc == upc)
		return 0;
	ret = insert_product(shop, i);
	if (ret)
		return ret;
	p = &shop->products[i];
	p->upc = upc;
	p->count = count;
	memcpy(p->name, name, len);
	p->name[len] = '\0';
	return 0;
}

bool shop_has_products(const struct shop *shop)
{
	return shop->nproducts > 0;
}

size_t shop_product_count(const struct shop *shop)
{
	return shop->nproducts;
}

/* --- sessions ----------------------------------------------------------- */

/* The top 12 bits of the hash: bucket order is hash order.  They tell an
 * observer nothing about any token. */
static struct session **bucket(const struct shop *shop, const uint8_t *hash)
{
	size_t b = (size_t)hash[0] << 4 | hash[1] >> 4;

	return (struct session **)&shop->buckets[b];
}

/* The link that points at the session with hash, or NULL. */
static struct session **session_link(const struct shop *shop, const uint8_t *hash)
{
	struct session **link = bucket(shop, hash);

	for (; *link; link = &(*link)->next)
		if (memeql_sec((*link)->hash, hash, SHOP_HASH_BYTES))
			return link;
	return NULL;
}

const char *shop_session_user(const struct shop *shop, const uint8_t hash[SHOP_HASH_BYTES])
{
	struct session **link = session_link(shop, hash);

	return link ? (*link)->user : NULL;
}

int shop_apply_login(struct shop *shop, const char *user, size_t len,
		     const uint8_t hash[SHOP_HASH_BYTES])
{
	struct session **link, *session;

	if (!shop_valid_user_name(user, len))
		return -EINVAL;
	if (session_link(shop, hash))
		return -EEXIST;
	if (shop->nsessions == SHOP_MAX_SESSIONS)
		return -ENOSPC;
	session = calloc(1, sizeof(*session));
	if (!session)
		return -ENOMEM;
	memcpy(session->hash, hash, SHOP_HASH_BYTES);
	memcpy(session->user, user, len);
	/* The order of the chain is not secret: memcmp may stop early. */
	link = bucket(shop, hash);
	while (*link && memcmp((*link)->hash, hash, SHOP_HASH_BYTES) < 0)
		link = &(*link)->next;
	session->next = *link;
	*link = session;
	shop->nsessions++;
	return 0;
}

int shop_apply_logout(struct shop *shop, const uint8_t hash[SHOP_HASH_BYTES])
{
	struct session **link = session_link(shop, hash), *session;

	if (!link)
		return -EACCES;
	session = *link;
	*link = session->next;
	free(session);
	shop->nsessions--;
	return 0;
}

int shop_apply_buy(struct shop *shop, const uint8_t hash[SHOP_HASH_BYTES], int64_t upc,
		   int64_t qty, struct shop_receipt *out)
{
	struct shop_receipt receipt = { .upc = upc, .qty = qty };
	struct product *p = NULL;
	int ret = 0;

	if (!session_link(shop, hash))
		ret = -EACCES;
	else if (qty < 1 || qty > SHOP_MAX_QTY)
		ret = -EINVAL;
	else if (!(p = find_product(shop, upc)))
		ret = -ENOENT;
	else if (qty > p->count)
		ret = -ENOSPC;
	else
		p->count -= qty;
	if (p) {
		memcpy(receipt.name, p->name, sizeof(receipt.name));
		receipt.left = p->count;
	}
	if (out)
		*out = receipt;
	return ret;
}

/* --- readers ------------------------------------------------------------ */

/* snprintf into a buffer that fills up: the length keeps counting. */
struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void out_printf(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
	size_t room = o->len < o->size ? o->size - o->len : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

int shop_format_inventory(const struct shop *shop, char *buf, size_t size)
{
	struct out o = { buf, size, 0 };

	if (size > 0)
		buf[0] = '\0';
	for (size_t i = 0; i < shop->nproducts; i++) {
		const struct product *p = &shop->products[i];

		out_printf(&o, "%lld %s %lld\n", (long long)p->upc, p->name,
			   (long long)p->count);
	}
	return (int)o.len;
}

int shop_dump(const struct shop *shop, shop_emit_fn emit, void *arg)
{
	struct record r;
	int ret;

	for (size_t i = 0; i < shop->nproducts; i++) {
		const struct product *p = &shop->products[i];

		memset(&r, 0, sizeof(r));
		r.kind = RECORD_PRODUCT;
		r.i = p->upc;
		r.j = p->count;
		r.name = (struct record_bytes){ p->name, strlen(p->name) };
		ret = emit(arg, &r);
		if (ret)
			return ret;
	}
	for (size_t b = 0; b < SESSION_BUCKETS; b++) {
		for (const struct session *s = shop->buckets[b]; s; s = s->next) {
			memset(&r, 0, sizeof(r));
			r.kind = RECORD_LOGIN;
			r.name = (struct record_bytes){ s->user, strlen(s->user) };
			memcpy(r.hash, s->hash, SHOP_HASH_BYTES);
			ret = emit(arg, &r);
			if (ret)
				return ret;
		}
	}
	return 0;
}
