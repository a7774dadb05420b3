/* shop.c - buyers on mnt/shop.
 *
 * Each buyer thread opens the shop file on its own, logs in (before the
 * clock starts: a login is a crypt(3) check, slow on purpose), then loops
 * write("buy TOKEN UPC 1\n"), read the reply; a reply starting "ok " is a
 * purchase.  It logs out at the end, so runs do not pile up sessions.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLY_MAX 512

struct shop_run {
	struct run run;
	const char *path;
	const char *upc;
};

struct buyer {
	pthread_t thread;
	struct shop_run *s;
	uint64_t ok, refused, elapsed_ns;  /* written as the buyer ends */
	char refusal[REPLY_MAX];           /* the first refusal's reply */
};

/* Sends one request line and reads its reply (one read: replies are short).
 * A refused request may also fail the write (ENOSPC for no stock...); the
 * reply says why either way. */
static size_t request(int fd, const char *path, const char *line, size_t len, char *reply)
{
	ssize_t n = write(fd, line, len);

	if (n < 0 && (errno == EMSGSIZE || errno == ENOTCONN || errno == EIO))
		die("write '%s': %s", path, strerror(errno));
	if (n >= 0 && (size_t)n != len)
		die("write '%s': short write", path);
	n = read(fd, reply, REPLY_MAX - 1);
	if (n <= 0)
		die("read '%s': %s", path, n < 0 ? strerror(errno) : "no reply");
	reply[n] = '\0';
	return (size_t)n;
}

static void *buyer_main(void *arg)
{
	static const char login[] = "login alice wonderland\n";
	struct buyer *b = arg;
	const char *path = b->s->path;
	int fd = open_or_die(path, O_RDWR);
	char reply[REPLY_MAX], token[64], buy[128], logout[128];
	uint64_t t0, ok = 0, refused = 0;
	int len;

	request(fd, path, login, sizeof(login) - 1, reply);
	if (sscanf(reply, "ok %63s", token) != 1)
		die("login on '%s' refused: %s", path, reply);
	len = snprintf(buy, sizeof(buy), "buy %s %s 1\n", token, b->s->upc);

	barrier_wait(&b->s->run);
	t0 = now_ns();
	while (!stopping(&b->s->run)) {
		request(fd, path, buy, (size_t)len, reply);
		if (strncmp(reply, "ok ", 3) == 0) {
			ok++;
		} else if (refused++ == 0) {
			reply[strcspn(reply, "\n")] = '\0';
			snprintf(b->refusal, sizeof(b->refusal), "%s", reply);
		}
	}
	b->elapsed_ns = now_ns() - t0;
	b->ok = ok;
	b->refused = refused;

	len = snprintf(logout, sizeof(logout), "logout %s\n", token);
	request(fd, path, logout, (size_t)len, reply);
	close_or_die(fd, path);
	return NULL;
}

void cmd_shop(const char *path, unsigned buyers, double seconds, const char *upc)
{
	struct shop_run s = { .path = path, .upc = upc };
	struct buyer *b = calloc(buyers, sizeof(*b));
	uint64_t ok = 0, refused = 0;
	double rate = 0.0;

	if (!b)
		die("out of memory");
	if (upc[0] == '\0' || strspn(upc, "0123456789") != strlen(upc))
		die("bad upc '%s'", upc);
	run_init(&s.run, buyers + 1);
	for (unsigned i = 0; i < buyers; i++) {
		b[i].s = &s;
		start_thread(&b[i].thread, buyer_main, &b[i]);
	}
	barrier_wait(&s.run);
	sleep_ns((uint64_t)(seconds * 1e9));
	atomic_store(&s.run.stop, true);
	for (unsigned i = 0; i < buyers; i++) {
		join_thread(b[i].thread);
		if (b[i].elapsed_ns > 0)
			rate += (double)b[i].ok * 1e9 / (double)b[i].elapsed_ns;
		if (b[i].refused > 0 && refused == 0)
			fprintf(stderr, "bench: a purchase was refused: %s\n", b[i].refusal);
		ok += b[i].ok;
		refused += b[i].refused;
	}
	run_release(&s.run);
	printf("ops_per_sec %.0f bought %" PRIu64 " refused %" PRIu64 "\n", rate, ok, refused);
	free(b);
}
