/* shop.c - the shop's conversation file mnt/shop: one write() is one
 * request; its reply waits on the handle, read as a stream like ctl's.
 *
 * The kernel holds mnt/shop's inode lock through every write to it, for
 * all clients at once, so a login's deliberately slow password check is
 * not run in its write but when its reply is read, which holds no such
 * lock.
 */
#include <stdlib.h>
#include <string.h>

#include "class.h"

/* Runs one shop request and keeps its reply on the handle.  Returns 0 or
 * the -errno for the write (see state_shop_request). */
static int run_request(fuse_req_t req, struct handle *h, const char *buf, size_t size)
{
	struct rwfs *fs = fs_of(req);
	char summary[256];
	char *reply = NULL;
	size_t len = 0;
	int ret;

	ret = state_shop_request(fs->st, buf, size, client_pid(req), &reply, &len, summary,
				 sizeof(summary));
	text_keep_reply(h, reply, len);
	if (logging(fs))
		log_event(fs, req, "shop %s", summary);
	return ret;
}

/* Forgets a login not yet run, wiping its password.  Under h->lock. */
static void drop_login(struct handle *h)
{
	if (h->login) {
		explicit_bzero(h->login, h->login_len);
		free(h->login);
		h->login = NULL;
	}
}

/* The write fails only when the request could not be understood or its
 * outcome not be saved; a refusal (wrong password, no stock) is the
 * reply's "error ..." line, like a status in a body (see state.h).  A
 * request is at most 1024 bytes (EMSGSIZE), far below the size at which
 * the kernel splits a write. */
static void write_request(fuse_req_t req, struct handle *h, const char *buf, size_t size,
			  off_t off, int flags)
{
	char *login = state_shop_is_login(buf, size) ? malloc(size) : NULL;
	int ret = 0;

	(void)off, (void)flags;
	pthread_mutex_lock(&h->lock);
	drop_login(h);
	pthread_mutex_unlock(&h->lock);
	if (login) {
		memcpy(login, buf, size);
		text_keep_reply(h, NULL, 0);
		pthread_mutex_lock(&h->lock);
		h->login = login;
		h->login_len = size;
		pthread_mutex_unlock(&h->lock);
	} else {
		ret = run_request(req, h, buf, size);
	}
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, size);
}

/* The reply of the last request, after running the login it may be. */
static void read_reply(fuse_req_t req, struct handle *h, size_t size, off_t off, int flags)
{
	char *login;
	size_t len;

	(void)off, (void)flags;
	pthread_mutex_lock(&h->lock);
	login = h->login;
	len = h->login_len;
	h->login = NULL;
	pthread_mutex_unlock(&h->lock);
	if (login) {
		run_request(req, h, login, len);
		explicit_bzero(login, len);
		free(login);
	}
	text_read_reply(req, h, size);
}

/* The last reply may hold a token; the handle's text is freed after this. */
static void release(struct rwfs *fs, struct handle *h)
{
	(void)fs;
	pthread_mutex_lock(&h->lock);
	drop_login(h);
	if (h->text)
		explicit_bzero(h->text, h->len);
	pthread_mutex_unlock(&h->lock);
}

const struct node_class shop_class = {
	.ino_base = 35,
	.mode = S_IFREG | 0666,
	.entry_timeout = 86400.0,
	.open_flags = FOPEN_DIRECT_IO | FOPEN_NONSEEKABLE,
	.release = release,
	.read = read_reply,
	.write = write_request,
};
