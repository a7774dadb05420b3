/* state_shop.c - the shop operations of the state: the password check and
 * the token before any lock, a record for every change, lists under the
 * shared lock.  See state.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shop_config.h"
#include "shop_request.h"
#include "state_priv.h"

int state_shop_users(struct state *st, const char *path, char *msg, size_t size)
{
	int ret = path ? shop_users_load(st->users, path, msg, size)
		       : shop_users_add_demo(st->users);

	if (ret && !path)
		snprintf(msg, size, "cannot make the demo users: %s", strerror(-ret));
	return ret;
}

static bool has_products(struct state *st)
{
	bool has;

	rwlock_read_lock(&st->lock);
	has = shop_has_products(st->shop);
	rwlock_read_unlock(&st->lock);
	return has;
}

static int seed(struct state *st, const struct shop_product *p, size_t n, char *msg,
		size_t size)
{
	for (size_t k = 0; k < n; k++) {
		struct record r = { .kind = RECORD_PRODUCT, .i = p[k].upc, .j = p[k].count,
				    .name = { p[k].name, strlen(p[k].name) } };
		struct outcome out = { .err = 0 };
		int ret = state_submit(st, &r, &out);

		if (ret || out.err) {
			ret = ret ? ret : out.err;
			snprintf(msg, size, "cannot seed product %lld: %s", (long long)p[k].upc,
				 strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int state_shop_seed(struct state *st, const char *path, char *msg, size_t size)
{
	struct shop_product *products = NULL;
	size_t count = 0;
	int ret = 0;

	if (has_products(st))
		return 0;
	if (path)
		ret = shop_config_parse_inventory(path, &products, &count, msg, size);
	if (!ret)
		ret = path ? seed(st, products, count, msg, size)
			   : seed(st, shop_demo_products, SHOP_DEMO_PRODUCTS, msg, size);
	free(products);
	return ret;
}

/* Proposes r; a change the log refused becomes the reply's error. */
static int propose(struct state *st, struct record *r, struct outcome *out, char *reply)
{
	int ret = state_submit(st, r, out);

	if (ret)
		snprintf(reply, SHOP_MAX_REPLY, "error cannot save: %s\n", strerror(-ret));
	return ret;
}

static int login(struct state *st, struct shop_request *req, uint32_t pid, char *reply)
{
	struct record r = { .kind = RECORD_LOGIN, .pid = pid,
			    .name = { req->user, strlen(req->user) } };
	char token[SHOP_TOKEN_HEX + 1];
	struct outcome out = { .err = 0 };
	int ret = shop_users_check(st->users, req->user, req->password, reply, SHOP_MAX_REPLY);

	shop_request_wipe(req);
	if (ret)
		return ret == -ENOMEM ? ret : 0;
	ret = shop_token_new(token, r.hash);
	if (!ret)
		ret = propose(st, &r, &out, reply);
	if (!ret)
		shop_reply_login(out.err, token, reply, SHOP_MAX_REPLY);
	explicit_bzero(token, sizeof(token));
	return ret;
}

/* The user of the session of token, when that user is still configured:
 * users are configuration, so apply never looks at them. */
static bool configured_session(struct state *st, const uint8_t hash[SHOP_HASH_BYTES],
			       char user[SHOP_MAX_NAME + 1])
{
	const char *name;

	rwlock_read_lock(&st->lock);
	name = shop_session_user(st->shop, hash);
	snprintf(user, SHOP_MAX_NAME + 1, "%s", name ? name : "");
	rwlock_read_unlock(&st->lock);
	return name && shop_users_exists(st->users, user);
}

static bool open_session(struct state *st, const uint8_t hash[SHOP_HASH_BYTES])
{
	bool open;

	rwlock_read_lock(&st->lock);
	open = shop_session_user(st->shop, hash) != NULL;
	rwlock_read_unlock(&st->lock);
	return open;
}

static int buy(struct state *st, const struct shop_request *req, uint32_t pid, char *reply)
{
	struct record r = { .kind = RECORD_BUY, .pid = pid, .i = req->upc, .j = req->qty };
	struct outcome out = { .err = 0 };
	char user[SHOP_MAX_NAME + 1];
	int ret;

	shop_token_hash(req->token, r.hash);
	if (!configured_session(st, r.hash, user)) {
		shop_reply_buy(-EACCES, NULL, reply, SHOP_MAX_REPLY);
		return 0;
	}
	r.name.data = user;
	r.name.len = strlen(user);
	ret = propose(st, &r, &out, reply);
	if (!ret) {
		__atomic_add_fetch(out.err ? &st->purchases_refused : &st->purchases, 1,
				   __ATOMIC_RELAXED);
		shop_reply_buy(out.err, &out.receipt, reply, SHOP_MAX_REPLY);
	}
	return ret;
}

static int logout(struct state *st, const struct shop_request *req, uint32_t pid,
		  char *reply)
{
	struct record r = { .kind = RECORD_LOGOUT, .pid = pid };
	struct outcome out = { .err = 0 };
	int ret;

	/* No record for a token of no session: nothing to log, or to sync. */
	if (shop_token_hash(req->token, r.hash) || !open_session(st, r.hash)) {
		shop_reply_logout(-EACCES, reply, SHOP_MAX_REPLY);
		return 0;
	}
	ret = propose(st, &r, &out, reply);
	if (!ret)
		shop_reply_logout(out.err, reply, SHOP_MAX_REPLY);
	return ret;
}

static void whoami(struct state *st, const struct shop_request *req, char *reply)
{
	uint8_t hash[SHOP_HASH_BYTES];
	char user[SHOP_MAX_NAME + 1];
	bool ok;

	shop_token_hash(req->token, hash);
	ok = configured_session(st, hash, user);
	shop_reply_whoami(ok ? 0 : -EACCES, user, reply, SHOP_MAX_REPLY);
}

static int list(struct state *st, const struct shop_request *req, char **reply,
		size_t *len)
{
	uint8_t hash[SHOP_HASH_BYTES];
	char user[SHOP_MAX_NAME + 1];
	bool ok;
	int ret;

	shop_token_hash(req->token, hash);
	ok = configured_session(st, hash, user);
	rwlock_read_lock(&st->lock);
	ret = shop_reply_list(ok ? 0 : -EACCES, st->shop, reply, len);
	rwlock_read_unlock(&st->lock);
	return ret == -ENOMEM ? ret : 0;
}

int state_shop_request(struct state *st, const char *line, size_t len, uint32_t pid,
		       char **reply, size_t *reply_len, char *summary, size_t summary_size)
{
	struct shop_request req;
	char *text = malloc(SHOP_MAX_REPLY);
	int ret;

	if (!text)
		return -ENOMEM;
	text[0] = '\0';
	ret = shop_parse_request(line, len, &req, text, SHOP_MAX_REPLY);
	if (ret) {
		shop_request_summary(NULL, false, text, summary, summary_size);
		goto out_reply;
	}
	/* What these read of the state (a session, the stock) must hold every
	 * change acknowledged on any host before the request, as a register
	 * read does; login and buy are records, decided by apply. */
	if (req.verb == SHOP_LIST || req.verb == SHOP_WHOAMI || req.verb == SHOP_LOGOUT) {
		ret = state_catch_up(st);
		if (ret) {
			shop_request_summary(&req, false, "error cannot reach the log", summary,
					     summary_size);
			goto out_reply;
		}
	}
	switch (req.verb) {
	case SHOP_LIST:
		free(text);
		ret = list(st, &req, reply, reply_len);
		shop_request_wipe(&req);
		shop_request_summary(&req, false, *reply ? *reply : "error out of memory", summary,
				     summary_size);
		return ret;
	case SHOP_WHOAMI:
		whoami(st, &req, text);
		break;
	case SHOP_LOGIN:
		ret = login(st, &req, pid, text);
		break;
	case SHOP_BUY:
		ret = buy(st, &req, pid, text);
		break;
	case SHOP_LOGOUT:
		ret = logout(st, &req, pid, text);
		break;
	}
	shop_request_summary(&req, shop_users_exists(st->users, req.user), text, summary,
			     summary_size);
out_reply:
	shop_request_wipe(&req);
	*reply = text;
	*reply_len = strlen(text);
	return ret;
}

bool state_shop_is_login(const char *line, size_t len)
{
	struct shop_request req;
	char reply[SHOP_MAX_REPLY];
	bool is_login = shop_parse_request(line, len, &req, reply, sizeof(reply)) == 0 &&
			req.verb == SHOP_LOGIN;

	shop_request_wipe(&req);
	return is_login;
}

int state_format_inventory(struct state *st, char *buf, size_t size)
{
	int n;

	rwlock_read_lock(&st->lock);
	n = shop_format_inventory(st->shop, buf, size);
	rwlock_read_unlock(&st->lock);
	return n;
}
