/* state_shop.c - the shop operations of the state: the slow password check
 * without any lock, decisions and records under the exclusive lock, lists
 * under the shared lock.  See state.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_priv.h"

#define REPLY_MAX 512   /* every reply but list's */
#define RECORD_MAX 256  /* LOGIN, LOGOUT and BUY records */

int state_shop_users(struct state *st, const char *path, char *msg, size_t size)
{
	int ret = path ? shop_load_users(st->shop, path, msg, size) : shop_add_demo_users(st->shop);

	if (ret && !path)
		snprintf(msg, size, "cannot make the demo users: %s", strerror(-ret));
	return ret;
}

int state_shop_seed(struct state *st, const char *path, char *msg, size_t size)
{
	char *records = NULL;
	size_t len = strlen(shop_demo_inventory);
	uint64_t ticket = 0;
	int ret = 0;

	rwlock_write_lock(&st->lock);
	if (shop_has_products(st->shop))
		goto out_unlock;
	if (path)
		ret = shop_parse_inventory(path, &records, &len, msg, size);
	if (!ret)
		ret = state_commit_locked(st, records ? records : shop_demo_inventory, len,
					  &ticket);
	if (ret && !msg[0])
		snprintf(msg, size, "cannot seed the inventory: %s", strerror(-ret));
out_unlock:
	rwlock_write_unlock(&st->lock);
	free(records);
	return ret ? ret : state_commit_wait(st, ticket);
}

/* Journals and applies the record a verb decided on (none when it refused
 * the request), then drops the exclusive lock and waits for the sync
 * policy.  A change the journal refuses turns the reply into its error;
 * that is the only failure: a refusal is an answer. */
static int commit_and_unlock(struct state *st, const char *record, char *reply)
{
	uint64_t ticket = 0;
	int ret = 0;

	if (record[0])
		ret = state_commit_locked(st, record, strlen(record), &ticket);
	rwlock_write_unlock(&st->lock);
	if (!ret && record[0])
		ret = state_commit_wait(st, ticket);
	if (ret)
		snprintf(reply, REPLY_MAX, "error cannot save: %s\n", strerror(-ret));
	return ret;
}

/* Runs a verb that may change the shop. */
static int change(struct state *st, struct shop_request *req, char *reply)
{
	char record[RECORD_MAX] = "";
	int ret = 0;

	if (req->verb == SHOP_LOGIN)
		ret = shop_check_password(st->shop, req, reply, REPLY_MAX);
	shop_request_wipe(req);
	if (ret)
		return ret == -ENOMEM ? ret : 0;
	rwlock_write_lock(&st->lock);
	if (req->verb == SHOP_LOGIN)
		shop_login(st->shop, req, reply, REPLY_MAX, record, sizeof(record));
	else if (req->verb == SHOP_BUY)
		shop_buy(st->shop, req, reply, REPLY_MAX, record, sizeof(record));
	else
		shop_logout(st->shop, req, reply, REPLY_MAX, record, sizeof(record));
	return commit_and_unlock(st, record, reply);
}

/* What the event log may show of a request: never a password or token. */
static void summarize(const struct shop_request *req, const char *reply, char *summary,
		      size_t size)
{
	static const char *const names[] = {
		[SHOP_LOGIN] = "login", [SHOP_LIST] = "list", [SHOP_BUY] = "buy",
		[SHOP_LOGOUT] = "logout", [SHOP_WHOAMI] = "whoami",
	};
	int outcome = (int)strcspn(reply, "\n");
	bool login = req->verb == SHOP_LOGIN;

	if (req->verb == SHOP_BUY)
		snprintf(summary, size, "buy %lld %lld -> %.*s", (long long)req->upc,
			 (long long)req->qty, outcome, reply);
	else
		snprintf(summary, size, "%s%s%s -> %.*s", names[req->verb], login ? " " : "",
			 login ? req->user : "", login && !strncmp(reply, "ok ", 3) ? 2 : outcome,
			 reply);
}

int state_shop_request(struct state *st, const char *line, size_t len, char **reply,
		       size_t *reply_len, char *summary, size_t summary_size)
{
	struct shop_request req;
	char *text = malloc(REPLY_MAX);
	int ret;

	if (!text)
		return -ENOMEM;
	text[0] = '\0';
	ret = shop_parse_request(line, len, &req, text, REPLY_MAX);
	if (ret) {
		snprintf(summary, summary_size, "request -> %.*s", (int)strcspn(text, "\n"), text);
		goto out_reply;
	}
	if (req.verb == SHOP_LIST) {
		free(text);
		rwlock_read_lock(&st->lock);
		ret = shop_list(st->shop, &req, reply, reply_len);
		rwlock_read_unlock(&st->lock);
		snprintf(summary, summary_size, "list -> %s", ret ? "error not logged in" : "ok");
		return ret == -ENOMEM ? ret : 0;
	}
	if (req.verb == SHOP_WHOAMI) {
		rwlock_read_lock(&st->lock);
		shop_whoami(st->shop, &req, text, REPLY_MAX);
		rwlock_read_unlock(&st->lock);
	} else {
		ret = change(st, &req, text);
	}
	summarize(&req, text, summary, summary_size);
out_reply:
	shop_request_wipe(&req);
	*reply = text;
	*reply_len = strlen(text);
	return ret;
}

bool state_shop_is_login(const char *line, size_t len)
{
	struct shop_request req;
	char reply[REPLY_MAX];
	bool login = shop_parse_request(line, len, &req, reply, sizeof(reply)) == 0 &&
		     req.verb == SHOP_LOGIN;

	shop_request_wipe(&req);
	return login;
}

int state_format_inventory(struct state *st, char *buf, size_t size)
{
	int n;

	rwlock_read_lock(&st->lock);
	n = shop_format_inventory(st->shop, buf, size);
	rwlock_read_unlock(&st->lock);
	return n;
}
