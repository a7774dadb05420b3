/* shop_request.h - the conversation of mnt/shop: request lines, tokens,
 * and the reply lines of each verb's outcome.
 *
 * A request is parsed here; its verdicts are settled before a record is
 * made (the password by shop_users_check, the token made here); the
 * record's apply (shop.h) gives the outcome, and the reply functions turn
 * it into the text the client reads.  The grammar and the replies are
 * docs/PROTOCOL.md's.
 *
 * A token exists in clear only in the reply to its login: the records and
 * the state keep its SHA-256.  Nothing here keeps state or takes a lock.
 */
#ifndef RWFS_SHOP_REQUEST_H
#define RWFS_SHOP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shop.h"

#define SHOP_MAX_REQUEST 1024  /* longer request lines: -EMSGSIZE */
#define SHOP_TOKEN_HEX 32      /* 128 bits */
#define SHOP_MAX_REPLY 256     /* room for every reply but list's */

enum shop_verb { SHOP_LOGIN, SHOP_LIST, SHOP_BUY, SHOP_LOGOUT, SHOP_WHOAMI };

/* A parsed request line. */
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
 * (optional sign) within int64; shop_apply_buy checks their ranges.
 * Returns 0, -EMSGSIZE (len over SHOP_MAX_REQUEST, the newline included:
 * "error request too long (at most 1024 bytes)") or -EINVAL with the reply
 * line in reply: "error usage: buy TOKEN UPC QTY" for a known verb with
 * wrong words (a bad user name, a control character), else "error unknown
 * request 'foo' (login, list, buy, logout, whoami)".  On error req holds
 * nothing of the line. */
int shop_parse_request(const char *line, size_t len, struct shop_request *req,
		       char *reply, size_t size);

/* Overwrites the password and the token in req (explicit_bzero). */
void shop_request_wipe(struct shop_request *req);

/* The event log's account of a request: "VERB -> OUTCOME", OUTCOME the
 * first line of its reply; never a password or a token.  req is NULL for
 * a line that shop_parse_request refused, which then shows as "request ->
 * error usage: ..." with no word of the line beyond the verb the usage
 * names, and an unknown verb not at all (it may be a password typed
 * alone): "request -> error unknown request".  A login shows its user
 * only when known_user says it is configured, else "login ? -> ...", with
 * no name in the outcome either: a password typed in its place is no
 * name to show.  A login's "ok TOKEN" shows as "ok", buy's UPC and QTY
 * are shown ("buy 1001 2 -> ..."), list's product lines are not. */
void shop_request_summary(const struct shop_request *req, bool known_user, const char *reply,
			  char *summary, size_t size);

/* Makes a login's token: 128 bits from getrandom(2) as 32 lowercase hex
 * digits and a NUL, and its hash (shop_token_hash).  Returns 0 or the
 * -errno of getrandom.  May block until the kernel's pool is first
 * initialised. */
int shop_token_new(char token[SHOP_TOKEN_HEX + 1], uint8_t hash[SHOP_HASH_BYTES]);

/* The SHA-256 of a token a client gave (NUL-terminated), the hash its
 * session is kept by.  Returns 0, or -EACCES when it is not 32 lowercase
 * hex digits, which no token is: the caller answers "not logged in" (hash
 * is zeroed then). */
int shop_token_hash(const char *token, uint8_t hash[SHOP_HASH_BYTES]);

/* The reply lines, newline included, for a verb's outcome err (0 or
 * -errno); each returns err.  An err a verb does not have gives "error
 * out of memory" for -ENOMEM, else "error STRERROR".
 *
 * login: 0 "ok TOKEN"; -EACCES "error wrong user or password"; -ENOSPC
 * "error too many sessions"; -EEXIST and getrandom's errors "error cannot
 * make a token: STRERROR".  (The throttle's refusal is shop_users_check's
 * reply.)
 * buy: 0 "ok bought QTY NAME (UPC), LEFT left"; -EACCES "error not logged
 * in"; -EINVAL "error quantity must be 1..1000000"; -ENOENT "error unknown
 * upc UPC"; -ENOSPC "error insufficient stock: UPC has LEFT".
 * logout: 0 "ok logged out"; -EACCES "error not logged in".
 * whoami: 0 "ok USER"; -EACCES "error not logged in". */
int shop_reply_login(int err, const char *token, char *reply, size_t size);
int shop_reply_buy(int err, const struct shop_receipt *receipt, char *reply, size_t size);
int shop_reply_logout(int err, char *reply, size_t size);
int shop_reply_whoami(int err, const char *user, char *reply, size_t size);

/* list: 0 "ok N products" and then shop_format_inventory's lines;
 * -EACCES "error not logged in".  The reply is malloc'd into *reply (the
 * caller frees it) with its length in *len.  Returns err, or -ENOMEM
 * (*reply NULL).  Reads the shop: needs the caller's shared lock. */
int shop_reply_list(int err, const struct shop *shop, char **reply, size_t *len);

#endif
