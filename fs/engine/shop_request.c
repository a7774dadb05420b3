/* shop_request.c - request lines, tokens and replies of mnt/shop.
 * See shop_request.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <nettle/sha2.h>

#include "isa.h"
#include "shop_request.h"

#define TOKEN_BYTES (SHOP_TOKEN_HEX / 2)
#define MAX_WORDS 5   /* one more than the longest request has */
#define SHOWN_VERB 32 /* bytes of an unknown verb quoted back */

_Static_assert(SHA256_DIGEST_SIZE == SHOP_HASH_BYTES, "a session hash is a SHA-256");

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

static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* --- requests ----------------------------------------------------------- */

/* Splits at runs of blanks into at most max words; returns how many. */
static size_t split_blanks(const char *s, size_t len, struct word *w, size_t max)
{
	size_t n = 0, i = 0;

	while (n < max) {
		while (i < len && isblank((unsigned char)s[i]))
			i++;
		if (i == len)
			break;
		w[n].text = s + i;
		while (i < len && !isblank((unsigned char)s[i]))
			i++;
		w[n].len = (size_t)(s + i - w[n].text);
		n++;
	}
	return n;
}

static const struct verb_info *find_verb(const struct word *w)
{
	for (size_t i = 0; i < VERB_COUNT; i++)
		if (strlen(verbs[i].name) == w->len &&
		    strncasecmp(verbs[i].name, w->text, w->len) == 0)
			return &verbs[i];
	return NULL;
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

static bool has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != '\t' && is_control((unsigned char)s[i]))
			return true;
	return false;
}

/* Fills req from the words after the verb; false when they do not fit. */
static bool fill_request(struct shop_request *req, const struct word *w)
{
	if (req->verb == SHOP_LOGIN) {
		if (!shop_valid_user_name(w[1].text, w[1].len))
			return false;
		memcpy(req->user, w[1].text, w[1].len);
		/* Shorter than the line, which is at most SHOP_MAX_REQUEST. */
		memcpy(req->password, w[2].text, w[2].len);
		return true;
	}
	/* A token that cannot fit is left empty: the verb then answers "not
	 * logged in", like for any other token that is no session. */
	if (w[1].len <= SHOP_TOKEN_HEX)
		memcpy(req->token, w[1].text, w[1].len);
	if (req->verb == SHOP_BUY)
		return isa_parse_value(w[2].text, w[2].len, &req->upc) == 0 &&
		       isa_parse_value(w[3].text, w[3].len, &req->qty) == 0;
	return true;
}

int shop_parse_request(const char *line, size_t len, struct shop_request *req,
		       char *reply, size_t size)
{
	struct word w[MAX_WORDS];
	const struct verb_info *v;
	size_t n;

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
	v = n > 0 ? find_verb(&w[0]) : NULL;
	if (!v)
		return unknown_request(n > 0 ? &w[0] : NULL, reply, size);
	req->verb = (enum shop_verb)(v - verbs);
	if (n - 1 != v->args || has_control(line, len) || !fill_request(req, w)) {
		explicit_bzero(req, sizeof(*req));
		return put_reply(reply, size, -EINVAL, "error usage: %s\n", v->usage);
	}
	return 0;
}

void shop_request_wipe(struct shop_request *req)
{
	explicit_bzero(req->password, sizeof(req->password));
	explicit_bzero(req->token, sizeof(req->token));
}

/* --- the event log ------------------------------------------------------- */

/* The first line of a refused request's reply, as the log may show it:
 * the unknown verb it quotes left out. */
static int refused_outcome(const char *reply, const char **text)
{
	static const char unknown[] = "error unknown request";

	*text = reply;
	if (strncmp(reply, unknown, sizeof(unknown) - 1) == 0)
		return (int)sizeof(unknown) - 1;
	return (int)strcspn(reply, "\n");
}

/* The first line of a login's reply: "ok" for "ok TOKEN", and for a user
 * that is not configured cut before the name the throttle's refusal
 * repeats ("error too many failed logins for NAME, ..."). */
static int login_outcome(const char *reply, bool known_user)
{
	const char *name = strstr(reply, " for ");
	int len = (int)strcspn(reply, "\n");

	if (strncmp(reply, "ok ", 3) == 0)
		return 2;
	if (!known_user && name && name - reply < len)
		return (int)(name - reply);
	return len;
}

void shop_request_summary(const struct shop_request *req, bool known_user, const char *reply,
			  char *summary, size_t size)
{
	const char *text;
	int len;

	if (!req) {
		len = refused_outcome(reply, &text);
		snprintf(summary, size, "request -> %.*s", len, text);
	} else if (req->verb == SHOP_LOGIN) {
		snprintf(summary, size, "login %s -> %.*s", known_user ? req->user : "?",
			 login_outcome(reply, known_user), reply);
	} else if (req->verb == SHOP_BUY) {
		snprintf(summary, size, "buy %lld %lld -> %.*s", (long long)req->upc,
			 (long long)req->qty, (int)strcspn(reply, "\n"), reply);
	} else {
		len = req->verb == SHOP_LIST && strncmp(reply, "ok", 2) == 0
			      ? 2
			      : (int)strcspn(reply, "\n");
		snprintf(summary, size, "%s -> %.*s", verbs[req->verb].name, len, reply);
	}
}

/* --- tokens ------------------------------------------------------------- */

static void to_hex(const uint8_t *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool is_token(const char *token)
{
	size_t len = strnlen(token, SHOP_TOKEN_HEX + 1);

	if (len != SHOP_TOKEN_HEX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(token[i] >= '0' && token[i] <= '9') && !(token[i] >= 'a' && token[i] <= 'f'))
			return false;
	return true;
}

int shop_token_hash(const char *token, uint8_t hash[SHOP_HASH_BYTES])
{
	struct sha256_ctx ctx;

	if (!is_token(token)) {
		memset(hash, 0, SHOP_HASH_BYTES);
		return -EACCES;
	}
	sha256_init(&ctx);
	sha256_update(&ctx, SHOP_TOKEN_HEX, (const uint8_t *)token);
	sha256_digest(&ctx, SHOP_HASH_BYTES, hash);
	return 0;
}

/* Fills buf from getrandom(2). */
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

int shop_token_new(char token[SHOP_TOKEN_HEX + 1], uint8_t hash[SHOP_HASH_BYTES])
{
	uint8_t raw[TOKEN_BYTES];
	int ret = random_bytes(raw, sizeof(raw));

	if (!ret) {
		to_hex(raw, sizeof(raw), token);
		ret = shop_token_hash(token, hash);
	}
	explicit_bzero(raw, sizeof(raw));
	return ret;
}

/* --- replies ------------------------------------------------------------ */

static int other_error(int err, char *reply, size_t size)
{
	if (err == -ENOMEM)
		return put_reply(reply, size, err, "error out of memory\n");
	return put_reply(reply, size, err, "error %s\n", strerror(-err));
}

/* The refusal of the verbs that need a session. */
static int session_error(int err, char *reply, size_t size)
{
	if (err == -EACCES)
		return put_reply(reply, size, err, "error not logged in\n");
	return other_error(err, reply, size);
}

int shop_reply_login(int err, const char *token, char *reply, size_t size)
{
	switch (err) {
	case 0:
		return put_reply(reply, size, 0, "ok %s\n", token);
	case -EACCES:
		return put_reply(reply, size, err, "error wrong user or password\n");
	case -ENOSPC:
		return put_reply(reply, size, err, "error too many sessions\n");
	case -ENOMEM:
		return other_error(err, reply, size);
	default:
		return put_reply(reply, size, err, "error cannot make a token: %s\n",
				 strerror(-err));
	}
}

int shop_reply_buy(int err, const struct shop_receipt *r, char *reply, size_t size)
{
	switch (err) {
	case 0:
		return put_reply(reply, size, 0, "ok bought %lld %s (%lld), %lld left\n",
				 (long long)r->qty, r->name, (long long)r->upc,
				 (long long)r->left);
	case -EINVAL:
		return put_reply(reply, size, err, "error quantity must be 1..%d\n",
				 SHOP_MAX_QTY);
	case -ENOENT:
		return put_reply(reply, size, err, "error unknown upc %lld\n",
				 (long long)r->upc);
	case -ENOSPC:
		return put_reply(reply, size, err, "error insufficient stock: %lld has %lld\n",
				 (long long)r->upc, (long long)r->left);
	default:
		return session_error(err, reply, size);
	}
}

int shop_reply_logout(int err, char *reply, size_t size)
{
	if (err)
		return session_error(err, reply, size);
	return put_reply(reply, size, 0, "ok logged out\n");
}

int shop_reply_whoami(int err, const char *user, char *reply, size_t size)
{
	if (err)
		return session_error(err, reply, size);
	return put_reply(reply, size, 0, "ok %s\n", user);
}

int shop_reply_list(int err, const struct shop *shop, char **reply, size_t *len)
{
	char head[SHOP_MAX_REPLY];
	size_t head_len, lines = 0;

	*len = 0;
	if (err)
		session_error(err, head, sizeof(head));
	else
		snprintf(head, sizeof(head), "ok %zu products\n", shop_product_count(shop));
	head_len = strlen(head);
	if (!err)
		lines = (size_t)shop_format_inventory(shop, NULL, 0);
	*reply = malloc(head_len + lines + 1);
	if (!*reply)
		return -ENOMEM;
	memcpy(*reply, head, head_len + 1);
	if (!err)
		shop_format_inventory(shop, *reply + head_len, lines + 1);
	*len = head_len + lines;
	return err;
}
