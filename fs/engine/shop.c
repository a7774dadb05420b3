/* shop.c - users, products, sessions, requests and the login throttle.
 * See shop.h.
 *
 * Products live in an array sorted by UPC, so lookups are a binary search
 * and the inventory and the snapshot come out in UPC order for free.
 * Sessions are the SHA-256 of their tokens in a chained hash table; the
 * bucket is picked by the hash's first bytes and every candidate is
 * confirmed by a constant-time comparison of all 32 bytes.  The throttle is
 * a small fixed table under its own mutex, since shop_check_password runs
 * without the caller's lock.
 */
#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "isa.h"
#include "sha256.h"
#include "shop.h"
#include "text.h"

#define MAX_SESSIONS 100000
#define SESSION_BUCKETS 4096
#define THROTTLE_SLOTS 1024  /* user names remembered, known or not */
#define TOKEN_BYTES (SHOP_TOKEN_HEX / 2)
#define MAX_WORDS 5          /* one more than the longest request has */
#define SHOWN_VERB 32        /* bytes of an unknown verb quoted back */

/* The demo users' hashes are made at start with this fixed setting: their
 * passwords are published in the README, so a random salt protects nothing,
 * and a fixed one keeps the start deterministic. */
#define DEMO_SETTING "$6$rwfsdemo$"

/* What an unknown user's password is checked against when no user is
 * configured (else the first user's hash is used, so that the work, and
 * the time, match a real user's). */
#define DUMMY_SETTING "$6$rwfsnobody$"

const char shop_demo_inventory[] =
	"PRODUCT 1001 10 apple\n"
	"PRODUCT 1002 20 banana\n"
	"PRODUCT 1003 5 cherry\n";

struct user {
	char name[SHOP_MAX_NAME + 1];
	char *hash; /* malloc'd crypt(3) string */
};

struct product {
	int64_t upc;
	int64_t count;
	char name[SHOP_MAX_NAME + 1];
};

struct session {
	uint8_t hash[SHA256_BYTES]; /* of the token */
	char user[SHOP_MAX_NAME + 1];
	struct session *next;
};

struct throttle_slot {
	char user[SHOP_MAX_NAME + 1]; /* "" when the slot is free */
	unsigned failures;            /* failed logins in a row */
	unsigned inflight;            /* password checks running now */
	uint64_t locked_until;        /* ms of the shop's clock */
	uint64_t used;                /* throttle_tick of the last use: eviction order */
};

struct shop {
	shop_clock_fn clock;
	void *clock_arg;

	/* Read-only once the daemon serves (shop_check_password reads them
	 * without any lock). */
	struct user *users;
	size_t nusers, users_cap;

	/* Under the caller's lock (shared to read, exclusive to change). */
	struct product *products; /* sorted by upc */
	size_t nproducts, products_cap;
	struct session *buckets[SESSION_BUCKETS];
	size_t nsessions;

	pthread_mutex_t throttle_lock;
	pthread_cond_t throttle_done;                  /* a check finished */
	struct throttle_slot throttle[THROTTLE_SLOTS]; /* under throttle_lock */
	uint64_t throttle_tick;                        /* under throttle_lock */
};

struct word {
	const char *text;
	size_t len;
};

struct verb_info {
	const char *name;
	size_t args;
	const char *usage;
};

static const struct verb_info verbs[] = {
	[SHOP_LOGIN] = { "login", 2, "login USER PASSWORD" },
	[SHOP_LIST] = { "list", 1, "list TOKEN" },
	[SHOP_BUY] = { "buy", 3, "buy TOKEN UPC QTY" },
	[SHOP_LOGOUT] = { "logout", 1, "logout TOKEN" },
	[SHOP_WHOAMI] = { "whoami", 1, "whoami TOKEN" },
};

#define VERB_COUNT (sizeof(verbs) / sizeof(verbs[0]))

/* --- little helpers ---------------------------------------------------- */

static uint64_t monotonic_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int put_reply(char *reply, size_t size, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Writes a reply line (when there is room for one) and returns ret. */
static int put_reply(char *reply, size_t size, int ret, const char *fmt, ...)
{
	va_list ap;

	if (!reply || size == 0)
		return ret;
	va_start(ap, fmt);
	vsnprintf(reply, size, fmt, ap);
	va_end(ap);
	return ret;
}

static int fail_at(char *msg, size_t size, const char *path, unsigned line,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* "FILE:LINE: what" into msg; returns -EINVAL. */
static int fail_at(char *msg, size_t size, const char *path, unsigned line,
		   const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!msg || size == 0)
		return -EINVAL;
	n = snprintf(msg, size, "%s:%u: ", path, line);
	if (n >= 0 && (size_t)n < size) {
		va_start(ap, fmt);
		vsnprintf(msg + n, size - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Compares without an early exit, so the time taken does not tell how
 * many leading bytes matched. */
static bool equal_ct(const void *a, const void *b, size_t len)
{
	const unsigned char *x = a, *y = b;
	unsigned char diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && is_blank(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_blank((*s)[*len - 1]))
		(*len)--;
}

static bool valid_user_name(const char *s, size_t len)
{
	if (len == 0 || len > SHOP_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

/* Product names: 1-64 bytes, no control characters, no commas (the CSV
 * separator), no blank at either end (the record ends with the name, so a
 * trailing blank would not survive a round trip). */
static bool valid_product_name(const char *s, size_t len)
{
	if (len == 0 || len > SHOP_MAX_NAME || is_blank(s[0]) || is_blank(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (is_control((unsigned char)s[i]) || s[i] == ',')
			return false;
	return true;
}

/* Digits only, within int64: a count, a UPC.  The number syntax is the
 * instruction language's (isa_parse_value), without a sign. */
static int parse_unsigned(const char *s, size_t len, int64_t *out)
{
	if (len == 0 || s[0] == '+' || s[0] == '-')
		return -EINVAL;
	return isa_parse_value(s, len, out);
}

/* An optional sign and digits, within int64. */
static int parse_signed(const char *s, size_t len, int64_t *out)
{
	return isa_parse_value(s, len, out);
}

static void to_hex(const uint8_t *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Exactly 2 * n lowercase hex digits into n bytes. */
static bool from_hex(const char *s, size_t len, uint8_t *out, size_t n)
{
	if (len != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Fills buf from getrandom(2), which blocks only until the kernel's pool
 * is first initialised. */
static int random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Opens a configuration file (users, inventory) for reading.  msg says why
 * it cannot be; a directory is refused here, where the reason is clear,
 * rather than by the first read. */
static int open_config(const char *path, FILE **f, char *msg, size_t size)
{
	struct stat st;
	int ret = 0;

	*f = fopen(path, "re");
	if (!*f)
		ret = -errno;
	else if (fstat(fileno(*f), &st) == 0 && S_ISDIR(st.st_mode))
		ret = -EISDIR;
	if (ret) {
		if (*f)
			fclose(*f);
		*f = NULL;
		put_reply(msg, size, ret, "%s: %s", path, strerror(-ret));
	}
	return ret;
}

/* The error of a read that failed (getline sets errno). */
static int read_error(const char *path, char *msg, size_t size)
{
	int ret = errno ? -errno : -EIO;

	return put_reply(msg, size, ret, "%s: %s", path, strerror(-ret));
}

/* Called for each line of a configuration file, its newline (and a \r
 * before it) cut off; lineno counts from 1.  Returns 0 or -errno. */
typedef int (*config_line_fn)(void *arg, unsigned lineno, const char *s, size_t len);

/* Reads the configuration file at path line by line, stopping at the first
 * line fn refuses.  Returns 0 or -errno, with "PATH: why" in msg for the
 * errors of opening and reading (fn writes its own). */
static int read_config(const char *path, config_line_fn fn, void *arg, char *msg,
		       size_t size)
{
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	ssize_t n;
	FILE *f;
	int ret = open_config(path, &f, msg, size);

	if (ret)
		return ret;
	while (!ret && (n = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)n;

		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		ret = fn(arg, ++lineno, line, len);
	}
	if (!ret && ferror(f))
		ret = read_error(path, msg, size);
	free(line);
	fclose(f);
	return ret;
}

/* --- the shop ----------------------------------------------------------- */

struct shop *shop_new(shop_clock_fn clock, void *clock_arg)
{
	struct shop *shop = calloc(1, sizeof(*shop));

	if (!shop)
		return NULL;
	shop->clock = clock ? clock : monotonic_ms;
	shop->clock_arg = clock_arg;
	if (pthread_mutex_init(&shop->throttle_lock, NULL))
		goto out_free;
	if (pthread_cond_init(&shop->throttle_done, NULL))
		goto out_mutex;
	return shop;

out_mutex:
	pthread_mutex_destroy(&shop->throttle_lock);
out_free:
	free(shop);
	return NULL;
}

void shop_free(struct shop *shop)
{
	if (!shop)
		return;
	for (size_t i = 0; i < shop->nusers; i++)
		free(shop->users[i].hash);
	free(shop->users);
	free(shop->products);
	for (size_t b = 0; b < SESSION_BUCKETS; b++) {
		struct session *s = shop->buckets[b], *next;

		for (; s; s = next) {
			next = s->next;
			free(s);
		}
	}
	pthread_cond_destroy(&shop->throttle_done);
	pthread_mutex_destroy(&shop->throttle_lock);
	free(shop);
}

/* --- users -------------------------------------------------------------- */

static const struct user *find_user(const struct shop *shop, const char *name)
{
	for (size_t i = 0; i < shop->nusers; i++)
		if (strcmp(shop->users[i].name, name) == 0)
			return &shop->users[i];
	return NULL;
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

static int reserve_users(struct shop *shop, size_t extra)
{
	size_t cap;
	struct user *users;

	if (shop->nusers + extra <= shop->users_cap)
		return 0;
	cap = 2 * shop->users_cap + extra + 4;
	users = realloc(shop->users, cap * sizeof(*users));
	if (!users)
		return -ENOMEM;
	shop->users = users;
	shop->users_cap = cap;
	return 0;
}

/* Adds or replaces a user; hash is malloc'd and now owned by the shop.
 * Room must have been reserved. */
static void put_user(struct shop *shop, const char *name, char *hash)
{
	struct user *u = (struct user *)find_user(shop, name);

	if (u) {
		free(u->hash);
		u->hash = hash;
		return;
	}
	u = &shop->users[shop->nusers++];
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->hash = hash;
}

int shop_add_user(struct shop *shop, const char *name, const char *hash)
{
	char *copy;
	int ret;

	if (!valid_user_name(name, strlen(name)))
		return -EINVAL;
	ret = check_hash(hash);
	if (ret)
		return ret;
	if (reserve_users(shop, 1))
		return -ENOMEM;
	copy = strdup(hash);
	if (!copy)
		return -ENOMEM;
	put_user(shop, name, copy);
	return 0;
}

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

/* Checks one line of a users file and, when it holds a user, appends it to
 * *pending.  Returns 0, -EINVAL (msg says why) or -ENOMEM. */
static int users_line(void *arg, unsigned lineno, const char *s, size_t len)
{
	struct users_file *u = arg;
	const char *path = u->path;
	struct pending_user **pending = &u->pending;
	size_t *npending = &u->npending;
	char *msg = u->msg;
	size_t size = u->size;
	const char *colon, *hash;
	struct pending_user *p;
	size_t name_len, hash_len;
	int ret;

	trim(&s, &len);
	if (len == 0 || s[0] == '#')
		return 0;
	colon = memchr(s, ':', len);
	if (!colon)
		return fail_at(msg, size, path, lineno, "missing ':' (want USER:HASH)");
	name_len = (size_t)(colon - s);
	if (!valid_user_name(s, name_len))
		return fail_at(msg, size, path, lineno,
			       "bad user name '%.*s' (1-64 of A-Z a-z 0-9 . _ -)",
			       (int)(name_len > SHOP_MAX_NAME ? SHOP_MAX_NAME : name_len), s);
	for (size_t i = 0; i < *npending; i++)
		if (strlen((*pending)[i].name) == name_len &&
		    memcmp((*pending)[i].name, s, name_len) == 0)
			return fail_at(msg, size, path, lineno,
				       "duplicate user '%.*s' (first on line %u)",
				       (int)name_len, s, (*pending)[i].line);
	p = realloc(*pending, (*npending + 1) * sizeof(**pending));
	if (!p)
		return -ENOMEM;
	*pending = p;
	p = &p[*npending];
	memcpy(p->name, s, name_len);
	p->name[name_len] = '\0';
	p->line = lineno;
	hash = colon + 1;
	hash_len = len - name_len - 1;
	p->hash = strndup(hash, hash_len);
	if (!p->hash)
		return -ENOMEM;
	/* strndup stops at a NUL byte: such a hash is not the one written. */
	ret = strlen(p->hash) == hash_len ? check_hash(p->hash) : -EINVAL;
	if (ret) {
		free(p->hash);
		if (ret == -EINVAL)
			fail_at(msg, size, path, lineno,
				"user '%s': crypt(3) cannot use the hash", p->name);
		return ret;
	}
	(*npending)++;
	return 0;
}

int shop_load_users(struct shop *shop, const char *path, char *msg, size_t size)
{
	struct users_file u = { .path = path, .msg = msg, .size = size };
	int ret = read_config(path, users_line, &u, msg, size);

	/* Room first, so that adding cannot fail half way. */
	if (!ret)
		ret = reserve_users(shop, u.npending);
	for (size_t i = 0; !ret && i < u.npending; i++) {
		put_user(shop, u.pending[i].name, u.pending[i].hash);
		u.pending[i].hash = NULL;
	}
	if (ret == -ENOMEM)
		put_reply(msg, size, ret, "%s: %s", path, strerror(ENOMEM));
	for (size_t i = 0; i < u.npending; i++)
		free(u.pending[i].hash);
	free(u.pending);
	return ret;
}

int shop_add_demo_users(struct shop *shop)
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

		ret = hash && hash[0] != '*' ? shop_add_user(shop, demo[i][0], hash) : -EINVAL;
	}
	free(cd);
	return ret;
}

/* --- inventory CSV ------------------------------------------------------ */

struct csv_row {
	int64_t upc;
	unsigned line;
};

struct csv {
	const char *path;
	unsigned line;
	bool started;          /* a non-blank line was seen */
	struct csv_row *rows;  /* room for SHOP_MAX_PRODUCTS */
	size_t nrows;
	struct text out;
	char *msg;
	size_t size;
};

static bool looks_numeric(const char *s, size_t len)
{
	int64_t v;

	return parse_signed(s, len, &v) != -EINVAL;
}

static int csv_line(void *arg, unsigned lineno, const char *s, size_t len)
{
	struct csv *c = arg;
	struct word f[3];
	size_t nfields = 1;
	const char *comma;
	int64_t upc, count;
	bool first;

	c->line = lineno;
	trim(&s, &len);
	if (len == 0)
		return 0;
	first = !c->started;
	c->started = true;
	for (size_t i = 0; i < len; i++)
		nfields += s[i] == ',';
	comma = memchr(s, ',', len);
	f[0] = (struct word){ s, comma ? (size_t)(comma - s) : len };
	trim(&f[0].text, &f[0].len);
	if (first && !looks_numeric(f[0].text, f[0].len))
		return 0; /* the header */
	if (nfields != 3)
		return fail_at(c->msg, c->size, c->path, c->line,
			       "want 3 fields (upc,name,count), got %zu", nfields);
	f[1].text = comma + 1;
	comma = memchr(f[1].text, ',', len - (size_t)(f[1].text - s));
	f[1].len = (size_t)(comma - f[1].text);
	f[2].text = comma + 1;
	f[2].len = len - (size_t)(f[2].text - s);
	trim(&f[1].text, &f[1].len);
	trim(&f[2].text, &f[2].len);
	if (parse_unsigned(f[0].text, f[0].len, &upc) || upc == 0)
		return fail_at(c->msg, c->size, c->path, c->line,
			       "bad upc '%.*s' (a positive integer)",
			       (int)(f[0].len > SHOP_MAX_NAME ? SHOP_MAX_NAME : f[0].len),
			       f[0].text);
	if (!valid_product_name(f[1].text, f[1].len))
		return fail_at(c->msg, c->size, c->path, c->line,
			       "bad name '%.*s' (1-64 bytes, no control characters)",
			       (int)(f[1].len > SHOP_MAX_NAME ? SHOP_MAX_NAME : f[1].len),
			       f[1].text);
	if (parse_unsigned(f[2].text, f[2].len, &count))
		return fail_at(c->msg, c->size, c->path, c->line,
			       "bad count '%.*s' (an integer 0..%lld)",
			       (int)(f[2].len > SHOP_MAX_NAME ? SHOP_MAX_NAME : f[2].len),
			       f[2].text, (long long)INT64_MAX);
	if (c->nrows == SHOP_MAX_PRODUCTS)
		return fail_at(c->msg, c->size, c->path, c->line, "more than %d products",
			       SHOP_MAX_PRODUCTS);
	c->rows[c->nrows++] = (struct csv_row){ upc, c->line };
	text_printf(&c->out, "PRODUCT %lld %lld %.*s\n", (long long)upc,
		    (long long)count, (int)f[1].len, f[1].text);
	return 0;
}

static int compare_rows(const void *a, const void *b)
{
	const struct csv_row *x = a, *y = b;

	if (x->upc != y->upc)
		return x->upc < y->upc ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Reports the first line (in file order) that repeats an earlier upc. */
static int csv_duplicates(struct csv *c)
{
	const struct csv_row *worst = NULL, *first = NULL;
	size_t start = 0;

	qsort(c->rows, c->nrows, sizeof(*c->rows), compare_rows);
	for (size_t i = 1; i < c->nrows; i++) {
		if (c->rows[i].upc != c->rows[start].upc) {
			start = i;
			continue;
		}
		if (!worst || c->rows[i].line < worst->line) {
			worst = &c->rows[i];
			first = &c->rows[start];
		}
	}
	if (!worst)
		return 0;
	return fail_at(c->msg, c->size, c->path, worst->line,
		       "duplicate upc %lld (first on line %u)", (long long)worst->upc,
		       first->line);
}

int shop_parse_inventory(const char *path, char **records, size_t *len, char *msg,
			 size_t size)
{
	struct csv c = { .path = path, .out = TEXT_INIT, .msg = msg, .size = size };
	int ret;

	*records = NULL;
	*len = 0;
	c.rows = malloc(SHOP_MAX_PRODUCTS * sizeof(*c.rows));
	ret = c.rows ? read_config(path, csv_line, &c, msg, size) : -ENOMEM;
	if (!ret)
		ret = csv_duplicates(&c);
	if (!ret) {
		*records = text_take(&c.out, len);
		ret = *records ? 0 : -ENOMEM;
	}
	if (ret == -ENOMEM)
		put_reply(msg, size, ret, "%s: %s", path, strerror(ENOMEM));
	text_free(&c.out);
	free(c.rows);
	return ret;
}

/* --- products and sessions ---------------------------------------------- */

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

bool shop_has_products(const struct shop *shop)
{
	return shop->nproducts > 0;
}

/* The link that points at the session with hash (or at the NULL ending its
 * bucket).  The bucket is chosen by the hash's first bytes, which tells an
 * observer nothing about any token; the bytes are compared in constant
 * time. */
static struct session **session_link(const struct shop *shop, const uint8_t *hash)
{
	uint32_t b = ((uint32_t)hash[0] << 8 | hash[1]) % SESSION_BUCKETS;
	struct session **link = (struct session **)&shop->buckets[b];

	while (*link && !equal_ct((*link)->hash, hash, SHA256_BYTES))
		link = &(*link)->next;
	return link;
}

static bool valid_token(const char *token)
{
	uint8_t bytes[TOKEN_BYTES];

	return strlen(token) == SHOP_TOKEN_HEX && from_hex(token, SHOP_TOKEN_HEX, bytes,
							    TOKEN_BYTES);
}

/* The session of a presented token, or NULL.  A session whose user is no
 * longer configured (the users file changed) counts as none. */
static const struct session *token_session(const struct shop *shop, const char *token)
{
	uint8_t hash[SHA256_BYTES];
	const struct session *s;

	if (!valid_token(token))
		return NULL;
	sha256(token, SHOP_TOKEN_HEX, hash);
	s = *session_link(shop, hash);
	return s && find_user(shop, s->user) ? s : NULL;
}

/* --- records ------------------------------------------------------------ */

enum record_kind { RECORD_PRODUCT, RECORD_LOGIN, RECORD_LOGOUT, RECORD_BUY, RECORD_NONE };

static const char *const record_names[] = {
	[RECORD_PRODUCT] = "PRODUCT",
	[RECORD_LOGIN] = "LOGIN",
	[RECORD_LOGOUT] = "LOGOUT",
	[RECORD_BUY] = "BUY",
};

/* Splits a record into n words at single spaces.  With rest, the last word
 * is everything after the (n-1)th space.  False unless the line is exactly
 * that: records are canonical. */
static bool split_record(const char *s, size_t len, struct word *w, size_t n, bool rest)
{
	size_t pos = 0;

	for (size_t i = 0; i < n; i++) {
		size_t end = pos;

		if (rest && i == n - 1)
			end = len;
		else
			while (end < len && s[end] != ' ')
				end++;
		if (end == pos)
			return false;
		w[i] = (struct word){ s + pos, end - pos };
		if (i == n - 1)
			return end == len;
		if (end == len)
			return false;
		pos = end + 1;
	}
	return false;
}

static int apply_product(struct shop *shop, const char *s, size_t len)
{
	struct word w[4];
	struct product *p;
	int64_t upc, count;
	size_t i;

	if (!split_record(s, len, w, 4, true) || parse_unsigned(w[1].text, w[1].len, &upc) ||
	    upc == 0 || parse_unsigned(w[2].text, w[2].len, &count) ||
	    !valid_product_name(w[3].text, w[3].len))
		return -EINVAL;
	i = product_index(shop, upc);
	if (i == shop->nproducts || shop->products[i].upc != upc) {
		if (shop->nproducts == SHOP_MAX_PRODUCTS)
			return -ENOSPC;
		if (shop->nproducts == shop->products_cap) {
			size_t cap = 2 * shop->products_cap + 16;

			p = realloc(shop->products, cap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			shop->products = p;
			shop->products_cap = cap;
		}
		memmove(&shop->products[i + 1], &shop->products[i],
			(shop->nproducts - i) * sizeof(*p));
		shop->nproducts++;
	}
	p = &shop->products[i];
	p->upc = upc;
	p->count = count;
	memcpy(p->name, w[3].text, w[3].len);
	p->name[w[3].len] = '\0';
	return 0;
}

static int apply_login(struct shop *shop, const char *s, size_t len)
{
	uint8_t hash[SHA256_BYTES];
	struct session **link, *session;
	struct word w[3];

	if (!split_record(s, len, w, 3, false) || !valid_user_name(w[1].text, w[1].len) ||
	    !from_hex(w[2].text, w[2].len, hash, SHA256_BYTES))
		return -EINVAL;
	link = session_link(shop, hash);
	if (*link)
		return -EINVAL;
	if (shop->nsessions == MAX_SESSIONS)
		return -ENOSPC;
	session = calloc(1, sizeof(*session));
	if (!session)
		return -ENOMEM;
	memcpy(session->hash, hash, SHA256_BYTES);
	memcpy(session->user, w[1].text, w[1].len);
	*link = session;
	shop->nsessions++;
	return 0;
}

static int apply_logout(struct shop *shop, const char *s, size_t len)
{
	uint8_t hash[SHA256_BYTES];
	struct session **link, *session;
	struct word w[2];

	if (!split_record(s, len, w, 2, false) ||
	    !from_hex(w[1].text, w[1].len, hash, SHA256_BYTES))
		return -EINVAL;
	link = session_link(shop, hash);
	session = *link;
	if (!session)
		return -EINVAL;
	*link = session->next;
	free(session);
	shop->nsessions--;
	return 0;
}

static int apply_buy(struct shop *shop, const char *s, size_t len)
{
	struct product *p;
	int64_t upc, qty;
	struct word w[4];

	if (!split_record(s, len, w, 4, false) || parse_unsigned(w[1].text, w[1].len, &upc) ||
	    parse_unsigned(w[2].text, w[2].len, &qty) || qty == 0 ||
	    !valid_user_name(w[3].text, w[3].len))
		return -EINVAL;
	p = find_product(shop, upc);
	if (!p || qty > p->count)
		return -EINVAL;
	p->count -= qty;
	return 0;
}

/* Which record line is, by its first word. */
static enum record_kind record_kind(const char *line, size_t len)
{
	const char *space = memchr(line, ' ', len);
	size_t word = space ? (size_t)(space - line) : len;

	for (int i = 0; i < RECORD_NONE; i++)
		if (strlen(record_names[i]) == word && memcmp(record_names[i], line, word) == 0)
			return (enum record_kind)i;
	return RECORD_NONE;
}

bool shop_is_record(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	return record_kind(line, len) != RECORD_NONE;
}

int shop_apply(struct shop *shop, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	switch (record_kind(line, len)) {
	case RECORD_PRODUCT:
		return apply_product(shop, line, len);
	case RECORD_LOGIN:
		return apply_login(shop, line, len);
	case RECORD_LOGOUT:
		return apply_logout(shop, line, len);
	case RECORD_BUY:
		return apply_buy(shop, line, len);
	case RECORD_NONE:
		break;
	}
	return -EINVAL;
}

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

int shop_dump(const struct shop *shop, char *buf, size_t size)
{
	struct out o = { buf, size, 0 };
	char hex[SHOP_HASH_HEX + 1];

	if (size > 0)
		buf[0] = '\0';
	for (size_t i = 0; i < shop->nproducts; i++) {
		const struct product *p = &shop->products[i];

		out_printf(&o, "PRODUCT %lld %lld %s\n", (long long)p->upc,
			   (long long)p->count, p->name);
	}
	for (size_t b = 0; b < SESSION_BUCKETS; b++) {
		for (const struct session *s = shop->buckets[b]; s; s = s->next) {
			to_hex(s->hash, SHA256_BYTES, hex);
			out_printf(&o, "LOGIN %s %s\n", s->user, hex);
		}
	}
	return (int)o.len;
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

/* --- requests ----------------------------------------------------------- */

/* Splits at runs of blanks into at most max words; returns how many. */
static size_t split_blanks(const char *s, size_t len, struct word *w, size_t max)
{
	size_t n = 0, i = 0;

	while (n < max) {
		while (i < len && is_blank(s[i]))
			i++;
		if (i == len)
			break;
		w[n].text = s + i;
		while (i < len && !is_blank(s[i]))
			i++;
		w[n].len = (size_t)(s + i - w[n].text);
		n++;
	}
	return n;
}

static int unknown_request(const struct word *verb, char *reply, size_t size)
{
	char shown[SHOWN_VERB + 1];
	size_t n = 0;

	if (verb)
		n = verb->len < SHOWN_VERB ? verb->len : SHOWN_VERB;

	/* Control characters are not echoed back to a terminal. */
	for (size_t i = 0; i < n; i++)
		shown[i] = is_control((unsigned char)verb->text[i]) ? '?' : verb->text[i];
	shown[n] = '\0';
	return put_reply(reply, size, -EINVAL,
			 "error unknown request '%s' (login, list, buy, logout, whoami)\n",
			 shown);
}

int shop_parse_request(const char *line, size_t len, struct shop_request *req,
		       char *reply, size_t size)
{
	struct word w[MAX_WORDS];
	const struct verb_info *v = NULL;
	size_t n, verb;
	bool control = false;

	memset(req, 0, sizeof(*req));
	if (len > SHOP_MAX_REQUEST)
		return put_reply(reply, size, -EMSGSIZE,
				 "error request too long (at most %d bytes)\n",
				 SHOP_MAX_REQUEST);
	if (len > 0 && line[len - 1] == '\n') {
		len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
	}
	n = split_blanks(line, len, w, MAX_WORDS);
	for (verb = 0; n > 0 && verb < VERB_COUNT; verb++) {
		if (strlen(verbs[verb].name) == w[0].len &&
		    strncasecmp(verbs[verb].name, w[0].text, w[0].len) == 0) {
			v = &verbs[verb];
			break;
		}
	}
	if (!v)
		return unknown_request(n > 0 ? &w[0] : NULL, reply, size);
	for (size_t i = 0; i < len; i++)
		control |= line[i] != '\t' && is_control((unsigned char)line[i]);
	if (n - 1 != v->args || control)
		goto out_usage;
	req->verb = (enum shop_verb)verb;
	if (req->verb == SHOP_LOGIN) {
		if (!valid_user_name(w[1].text, w[1].len))
			goto out_usage;
		memcpy(req->user, w[1].text, w[1].len);
		/* Shorter than the line, which is at most SHOP_MAX_REQUEST. */
		memcpy(req->password, w[2].text, w[2].len);
		return 0;
	}
	/* A token that cannot fit is left empty: the verb then answers "not
	 * logged in", like for any other token that is no session. */
	if (w[1].len <= SHOP_TOKEN_HEX)
		memcpy(req->token, w[1].text, w[1].len);
	if (req->verb == SHOP_BUY && (parse_signed(w[2].text, w[2].len, &req->upc) ||
				      parse_signed(w[3].text, w[3].len, &req->qty)))
		goto out_usage;
	return 0;

out_usage:
	memset(req, 0, sizeof(*req));
	return put_reply(reply, size, -EINVAL, "error usage: %s\n", v->usage);
}

void shop_request_wipe(struct shop_request *req)
{
	explicit_bzero(req->password, sizeof(req->password));
}

/* --- the throttle ------------------------------------------------------- */

/* The slot of user, taking a free one or the least recently used idle one
 * when it has none.  -1 when every slot has a check running (a flood; the
 * login is refused rather than left unthrottled).  Needs throttle_lock. */
static int throttle_slot(struct shop *shop, const char *user, bool create)
{
	int free_slot = -1, oldest = -1, victim;

	for (int i = 0; i < THROTTLE_SLOTS; i++) {
		const struct throttle_slot *t = &shop->throttle[i];

		if (!t->user[0]) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (strcmp(t->user, user) == 0)
			return i;
		if (t->inflight == 0 && (oldest < 0 || t->used < shop->throttle[oldest].used))
			oldest = i;
	}
	victim = free_slot >= 0 ? free_slot : oldest;
	if (!create || victim < 0)
		return -1;
	shop->throttle[victim] = (struct throttle_slot){ .used = 0 };
	snprintf(shop->throttle[victim].user, sizeof(shop->throttle[victim].user), "%s", user);
	return victim;
}

/* Admits one password check of user, or says how long it is locked out.
 * Within the free failures checks may run side by side; beyond them one at
 * a time, waiting for the one running, so that parallel guesses cannot slip
 * past a lockout that the first of them would have earned. */
static int throttle_enter(struct shop *shop, const char *user, uint64_t *wait_ms)
{
	struct throttle_slot *t;
	uint64_t now;
	int slot, ret = 0;

	pthread_mutex_lock(&shop->throttle_lock);
	for (;;) {
		slot = throttle_slot(shop, user, true);
		if (slot < 0) {
			*wait_ms = 1000;
			ret = -EAGAIN;
			goto out_unlock;
		}
		t = &shop->throttle[slot];
		now = shop->clock(shop->clock_arg);
		if (now < t->locked_until) {
			*wait_ms = t->locked_until - now;
			ret = -EAGAIN;
			goto out_unlock;
		}
		if (t->inflight == 0 || t->failures + t->inflight < SHOP_FREE_FAILURES)
			break;
		pthread_cond_wait(&shop->throttle_done, &shop->throttle_lock);
	}
	t->inflight++;
	t->used = ++shop->throttle_tick;
out_unlock:
	pthread_mutex_unlock(&shop->throttle_lock);
	return ret;
}

/* Counts the outcome of a check that throttle_enter admitted. */
static void throttle_leave(struct shop *shop, const char *user, bool ok)
{
	struct throttle_slot *t;
	int slot;

	pthread_mutex_lock(&shop->throttle_lock);
	/* A slot with a check running is never evicted. */
	slot = throttle_slot(shop, user, false);
	t = &shop->throttle[slot];
	t->inflight--;
	if (ok) {
		t->failures = 0;
		t->locked_until = 0;
	} else if (++t->failures > SHOP_FREE_FAILURES) {
		unsigned k = t->failures - SHOP_FREE_FAILURES - 1;
		uint64_t ms = k >= 16 ? SHOP_MAX_LOCKOUT_MS : 1000ull << k;

		if (ms > SHOP_MAX_LOCKOUT_MS)
			ms = SHOP_MAX_LOCKOUT_MS;
		t->locked_until = shop->clock(shop->clock_arg) + ms;
	}
	if (t->failures == 0 && t->inflight == 0)
		t->user[0] = '\0'; /* nothing to remember */
	pthread_cond_broadcast(&shop->throttle_done);
	pthread_mutex_unlock(&shop->throttle_lock);
}

int shop_check_password(struct shop *shop, const struct shop_request *req, char *reply,
			size_t size)
{
	const struct user *u = find_user(shop, req->user);
	const char *hash = u ? u->hash : shop->nusers ? shop->users[0].hash : DUMMY_SETTING;
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	uint64_t wait_ms;
	const char *out;
	bool ok;

	if (!cd)
		return put_reply(reply, size, -ENOMEM, "error out of memory\n");
	if (throttle_enter(shop, req->user, &wait_ms)) {
		free(cd);
		return put_reply(reply, size, -EAGAIN,
				 "error too many failed logins for %s, try again in %llu s\n",
				 req->user, (unsigned long long)((wait_ms + 999) / 1000));
	}
	/* An unknown user costs the same crypt as a known one, so the time
	 * taken does not tell which names exist. */
	out = crypt_r(req->password, hash, cd);
	ok = u && out && strlen(out) == strlen(hash) && equal_ct(out, hash, strlen(hash));
	/* crypt_r's scratch space holds what it derived from the password. */
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	throttle_leave(shop, req->user, ok);
	if (!ok)
		return put_reply(reply, size, -EACCES, "error wrong user or password\n");
	return put_reply(reply, size, 0, "%s", "");
}

/* --- the verbs ---------------------------------------------------------- */

static void clear_record(char *record, size_t record_size)
{
	if (record && record_size > 0)
		record[0] = '\0';
}

static int not_logged_in(char *reply, size_t size)
{
	return put_reply(reply, size, -EACCES, "error not logged in\n");
}

int shop_login(struct shop *shop, const struct shop_request *req, char *reply,
	       size_t size, char *record, size_t record_size)
{
	uint8_t raw[TOKEN_BYTES];
	char token[SHOP_TOKEN_HEX + 1], hash[SHOP_HASH_HEX + 1];
	int n, ret;

	clear_record(record, record_size);
	if (!find_user(shop, req->user))
		return put_reply(reply, size, -EACCES, "error wrong user or password\n");
	if (shop->nsessions >= MAX_SESSIONS)
		return put_reply(reply, size, -ENOSPC, "error too many sessions\n");
	ret = random_bytes(raw, sizeof(raw));
	if (ret)
		return put_reply(reply, size, ret, "error cannot make a token: %s\n",
				 strerror(-ret));
	to_hex(raw, sizeof(raw), token);
	sha256_hex(token, SHOP_TOKEN_HEX, hash);
	n = snprintf(record, record_size, "LOGIN %s %s", req->user, hash);
	if (n < 0 || (size_t)n >= record_size) {
		clear_record(record, record_size);
		ret = put_reply(reply, size, -ENOBUFS, "error record buffer too small\n");
	} else {
		ret = put_reply(reply, size, 0, "ok %s\n", token);
	}
	/* The token lives on only in the reply. */
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(token, sizeof(token));
	return ret;
}

int shop_buy(struct shop *shop, const struct shop_request *req, char *reply,
	     size_t size, char *record, size_t record_size)
{
	const struct session *s = token_session(shop, req->token);
	const struct product *p;
	int n;

	clear_record(record, record_size);
	if (!s)
		return not_logged_in(reply, size);
	if (req->qty < 1 || req->qty > SHOP_MAX_QTY)
		return put_reply(reply, size, -EINVAL, "error quantity must be 1..%d\n",
				 SHOP_MAX_QTY);
	p = find_product(shop, req->upc);
	if (!p)
		return put_reply(reply, size, -ENOENT, "error unknown upc %lld\n",
				 (long long)req->upc);
	if (req->qty > p->count)
		return put_reply(reply, size, -ENOSPC, "error insufficient stock: %lld has %lld\n",
				 (long long)p->upc, (long long)p->count);
	n = snprintf(record, record_size, "BUY %lld %lld %s", (long long)p->upc,
		     (long long)req->qty, s->user);
	if (n < 0 || (size_t)n >= record_size) {
		clear_record(record, record_size);
		return put_reply(reply, size, -ENOBUFS, "error record buffer too small\n");
	}
	return put_reply(reply, size, 0, "ok bought %lld %s (%lld), %lld left\n",
			 (long long)req->qty, p->name, (long long)p->upc,
			 (long long)(p->count - req->qty));
}

int shop_logout(struct shop *shop, const struct shop_request *req, char *reply,
		size_t size, char *record, size_t record_size)
{
	const struct session *s = token_session(shop, req->token);
	char hex[SHOP_HASH_HEX + 1];
	int n;

	clear_record(record, record_size);
	if (!s)
		return not_logged_in(reply, size);
	to_hex(s->hash, SHA256_BYTES, hex);
	n = snprintf(record, record_size, "LOGOUT %s", hex);
	if (n < 0 || (size_t)n >= record_size) {
		clear_record(record, record_size);
		return put_reply(reply, size, -ENOBUFS, "error record buffer too small\n");
	}
	return put_reply(reply, size, 0, "ok logged out\n");
}

int shop_whoami(const struct shop *shop, const struct shop_request *req, char *reply,
		size_t size)
{
	const struct session *s = token_session(shop, req->token);

	if (!s)
		return not_logged_in(reply, size);
	return put_reply(reply, size, 0, "ok %s\n", s->user);
}

int shop_list(const struct shop *shop, const struct shop_request *req, char **reply,
	      size_t *len)
{
	char head[48];
	int head_len, n;

	*len = 0;
	if (!token_session(shop, req->token)) {
		*reply = strdup("error not logged in\n");
		if (!*reply)
			return -ENOMEM;
		*len = strlen(*reply);
		return -EACCES;
	}
	head_len = snprintf(head, sizeof(head), "ok %zu products\n", shop->nproducts);
	n = shop_format_inventory(shop, NULL, 0);
	*reply = malloc((size_t)head_len + (size_t)n + 1);
	if (!*reply)
		return -ENOMEM;
	memcpy(*reply, head, (size_t)head_len);
	shop_format_inventory(shop, *reply + head_len, (size_t)n + 1);
	*len = (size_t)head_len + (size_t)n;
	return 0;
}
