/* queues.c - producers and consumers: rwfs queues, a named pipe, Redis.
 *
 * queue:    P producer threads write "item-NNNN\n", one item per write(),
 *           C consumer threads read one item per read() (and check that a
 *           read returned exactly one line) on an rwfs queue file.
 * pipe:     the same lines through a named pipe, one consumer; a read may
 *           return several lines or part of one, so it counts lines.
 * queue-rt: one thread, push one item then pop it: the round trip.
 * redis:    one client, LPUSH then BRPOP for each item, over TCP to
 *           127.0.0.1 (a minimal RESP client, nothing else is spoken).
 *
 * The rate counts items taken while the clock runs.  When it stops, the
 * producers finish their write, the main thread pushes one "end" line per
 * consumer, the consumers drain everything up to it, and every item pushed
 * must have been taken exactly once (counted), or the command fails.
 */
#define _GNU_SOURCE /* memmem */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define ITEM_MAX 64
static const char end_line[] = "end\n";

struct flow {
	struct run run;
	const char *path;
	bool pipe;        /* a named pipe: count lines, not reads */
	unsigned producers;
};

struct producer {
	pthread_t thread;
	struct flow *f;
	unsigned id;
	uint64_t pushed;  /* written as the producer ends */
};

struct consumer {
	pthread_t thread;
	struct flow *f;
	uint64_t counted;  /* taken while the clock ran */
	uint64_t taken;    /* in all, "end" not included */
};

static size_t format_item(char *buf, uint64_t n)
{
	return (size_t)snprintf(buf, ITEM_MAX, "item-%04" PRIu64 "\n", n);
}

static void write_all(int fd, const char *buf, size_t len, const char *what)
{
	ssize_t n = write(fd, buf, len);

	if (n != (ssize_t)len)
		die("write '%s': %s", what, n < 0 ? strerror(errno) : "short write");
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	struct flow *f = p->f;
	int fd = open_or_die(f->path, O_WRONLY);
	char item[ITEM_MAX];
	uint64_t k = 0;

	barrier_wait(&f->run);
	while (!stopping(&f->run)) {
		/* Distinct numbers across producers: id, id + P, id + 2P... */
		write_all(fd, item, format_item(item, p->id + k * f->producers), f->path);
		k++;
	}
	p->pushed = k;
	close_or_die(fd, f->path);
	return NULL;
}

/* rwfs: one read() is one item, with its newline. */
static void consume_items(struct consumer *c, int fd)
{
	char buf[4200];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("read '%s': %s", c->f->path, n < 0 ? strerror(errno) : "end of file");
		if (buf[n - 1] != '\n' || memchr(buf, '\n', (size_t)n - 1))
			die("read '%s' returned %zd bytes that are not one item", c->f->path, n);
		if ((size_t)n == sizeof(end_line) - 1 && memcmp(buf, end_line, (size_t)n) == 0)
			return;
		c->taken++;
		if (!stopping(&c->f->run))
			c->counted++;
	}
}

/* A pipe: a read returns what is there, lines or parts of them. */
static void consume_lines(struct consumer *c, int fd)
{
	char buf[65536], line[ITEM_MAX];
	size_t have = 0;  /* bytes of the current line seen so far */

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		const char *p = buf, *e;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("read '%s': %s", c->f->path, n < 0 ? strerror(errno) : "end of file");
		while ((e = memchr(p, '\n', (size_t)(buf + n - p)))) {
			size_t part = (size_t)(e - p) + 1;

			if (have + part > sizeof(line))
				die("'%s': a line over %d bytes", c->f->path, ITEM_MAX);
			memcpy(line + have, p, part);
			have += part;
			if (have == sizeof(end_line) - 1 && memcmp(line, end_line, have) == 0)
				return;
			c->taken++;
			if (!stopping(&c->f->run))
				c->counted++;
			have = 0;
			p = e + 1;
		}
		if (have + (size_t)(buf + n - p) > sizeof(line))
			die("'%s': a line over %d bytes", c->f->path, ITEM_MAX);
		memcpy(line + have, p, (size_t)(buf + n - p));
		have += (size_t)(buf + n - p);
	}
}

static void *consumer_main(void *arg)
{
	struct consumer *c = arg;
	int fd = open_or_die(c->f->path, O_RDONLY);

	barrier_wait(&c->f->run);
	if (c->f->pipe)
		consume_lines(c, fd);
	else
		consume_items(c, fd);
	close_or_die(fd, c->f->path);
	return NULL;
}

static void run_flow(struct flow *f, unsigned consumers, double seconds, int ctl_fd)
{
	struct producer *p = calloc(f->producers, sizeof(*p));
	struct consumer *c = calloc(consumers, sizeof(*c));
	uint64_t t0, window, pushed = 0, taken = 0, counted = 0;

	if (!p || !c)
		die("out of memory");
	run_init(&f->run, f->producers + consumers + 1);
	for (unsigned i = 0; i < consumers; i++) {
		c[i].f = f;
		start_thread(&c[i].thread, consumer_main, &c[i]);
	}
	for (unsigned i = 0; i < f->producers; i++) {
		p[i].f = f;
		p[i].id = i;
		start_thread(&p[i].thread, producer_main, &p[i]);
	}
	barrier_wait(&f->run);
	t0 = now_ns();
	sleep_ns((uint64_t)(seconds * 1e9));
	atomic_store(&f->run.stop, true);
	window = now_ns() - t0;
	for (unsigned i = 0; i < f->producers; i++) {
		join_thread(p[i].thread);
		pushed += p[i].pushed;
	}
	/* Every consumer stops at its own "end": all items before are taken. */
	for (unsigned i = 0; i < consumers; i++)
		write_all(ctl_fd, end_line, sizeof(end_line) - 1, f->path);
	for (unsigned i = 0; i < consumers; i++) {
		join_thread(c[i].thread);
		taken += c[i].taken;
		counted += c[i].counted;
	}
	run_release(&f->run);
	if (taken != pushed)
		die("'%s': %" PRIu64 " items pushed but %" PRIu64 " taken", f->path, pushed, taken);
	printf("ops_per_sec %.0f items %" PRIu64 "\n", (double)counted * 1e9 / (double)window,
	       taken);
	free(p);
	free(c);
}

void cmd_queue(const char *path, unsigned producers, unsigned consumers, double seconds)
{
	struct flow f = { .path = path, .producers = producers };
	/* Creates the queue when missing, as `echo x > mnt/queues/NAME` does. */
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	if (fd < 0)
		die("cannot open '%s': %s", path, strerror(errno));
	run_flow(&f, consumers, seconds, fd);
	close_or_die(fd, path);
}

void cmd_pipe(const char *path, unsigned producers, double seconds)
{
	struct flow f = { .path = path, .pipe = true, .producers = producers };
	struct stat st;
	/* Held open for reading and writing, so that neither side's open
	 * blocks and nobody sees end of file or EPIPE between runs. */
	int fd = open_or_die(path, O_RDWR);

	if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode))
		die("'%s' is not a named pipe", path);
	run_flow(&f, 1, seconds, fd);
	close_or_die(fd, path);
}

void cmd_queue_rt(const char *path, double seconds)
{
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	char item[ITEM_MAX], got[4200];
	uint64_t t0, end, elapsed, n = 0;

	if (fd < 0)
		die("cannot open '%s': %s", path, strerror(errno));
	t0 = now_ns();
	end = t0 + (uint64_t)(seconds * 1e9);
	do {
		size_t len = format_item(item, n);
		ssize_t r;

		write_all(fd, item, len, path);
		r = read(fd, got, sizeof(got));
		if (r < 0)
			die("read '%s': %s", path, strerror(errno));
		if ((size_t)r != len || memcmp(got, item, len) != 0)
			die("'%s': pushed %.*s but popped %.*s (was the queue empty?)", path,
			    (int)len - 1, item, (int)(r > 0 ? r - 1 : 0), got);
		n++;
	} while (now_ns() < end);
	elapsed = now_ns() - t0;
	close_or_die(fd, path);
	printf("ops_per_sec %.0f us_per_item %.2f\n", (double)n * 1e9 / (double)elapsed,
	       (double)elapsed / 1e3 / (double)n);
}

/* ---- Redis: just enough RESP ------------------------------------------- */

struct resp {
	int fd;
	size_t head, tail;  /* unread bytes: buf[head..tail) */
	char buf[8192];
};

static void resp_send(struct resp *c, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(c->fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("redis: send: %s", n < 0 ? strerror(errno) : "nothing written");
		buf += n;
		len -= (size_t)n;
	}
}

/* Reads more bytes into the buffer. */
static void resp_fill(struct resp *c)
{
	ssize_t n;

	if (c->head > 0) {
		memmove(c->buf, c->buf + c->head, c->tail - c->head);
		c->tail -= c->head;
		c->head = 0;
	}
	if (c->tail == sizeof(c->buf))
		die("redis: reply line too long");
	do
		n = read(c->fd, c->buf + c->tail, sizeof(c->buf) - c->tail);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		die("redis: receive: %s", n < 0 ? strerror(errno) : "connection closed");
	c->tail += (size_t)n;
}

/* The next line, without its CRLF (NUL-terminated in place). */
static char *resp_line(struct resp *c)
{
	char *line, *crlf;

	while (!(crlf = memmem(c->buf + c->head, c->tail - c->head, "\r\n", 2)))
		resp_fill(c);
	line = c->buf + c->head;
	*crlf = '\0';
	c->head = (size_t)(crlf + 2 - c->buf);
	return line;
}

/* Reads one reply; the last bulk string in it goes to out (size ITEM_MAX).
 * An error reply ends the run. */
static void resp_reply(struct resp *c, char *out)
{
	char *line = resp_line(c);
	long n = strtol(line + 1, NULL, 10);

	switch (line[0]) {
	case '+':
	case ':':
		return;
	case '-':
		die("redis: %s", line + 1);
	case '$':
		if (n < 0)
			return;
		if (n >= ITEM_MAX)
			die("redis: a reply of %ld bytes, more than was sent", n);
		while (c->tail - c->head < (size_t)n + 2)
			resp_fill(c);
		memcpy(out, c->buf + c->head, (size_t)n);
		out[n] = '\0';
		c->head += (size_t)n + 2;
		return;
	case '*':
		for (long i = 0; i < n; i++)
			resp_reply(c, out);
		return;
	default:
		die("redis: cannot parse the reply '%.40s'", line);
	}
}

static int parse_port(const char *s)
{
	char *e;
	long v;

	errno = 0;
	v = strtol(s, &e, 10);
	if (errno != 0 || e == s || *e != '\0' || v < 1 || v > 65535)
		die("bad port '%s'", s);
	return (int)v;
}

/* Connects to 127.0.0.1:port, retrying for up to 5 s while the server
 * starts. */
static int redis_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint64_t end = now_ns() + 5000000000u;
	int one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			die("socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
				die("setsockopt TCP_NODELAY: %s", strerror(errno));
			return fd;
		}
		if (errno != ECONNREFUSED || now_ns() > end)
			die("cannot connect to redis at 127.0.0.1:%d: %s", port, strerror(errno));
		close(fd);
		sleep_ns(20000000);
	}
}

void cmd_redis(const char *port, double seconds)
{
	static const char del[] = "*2\r\n$3\r\nDEL\r\n$5\r\nbench\r\n";
	static const char brpop[] = "*3\r\n$5\r\nBRPOP\r\n$5\r\nbench\r\n$1\r\n0\r\n";
	struct resp *c = calloc(1, sizeof(*c));
	char item[ITEM_MAX], got[ITEM_MAX], cmd[160];
	uint64_t t0, end, elapsed, n = 0;

	if (!c)
		die("out of memory");
	c->fd = redis_connect(parse_port(port));
	resp_send(c, del, sizeof(del) - 1);
	resp_reply(c, got);
	t0 = now_ns();
	end = t0 + (uint64_t)(seconds * 1e9);
	do {
		size_t len = format_item(item, n) - 1;  /* no newline in Redis */
		int m;

		item[len] = '\0';
		m = snprintf(cmd, sizeof(cmd), "*3\r\n$5\r\nLPUSH\r\n$5\r\nbench\r\n$%zu\r\n%s\r\n",
			     len, item);
		resp_send(c, cmd, (size_t)m);
		resp_reply(c, got);
		resp_send(c, brpop, sizeof(brpop) - 1);
		resp_reply(c, got);
		if (strcmp(got, item) != 0)
			die("redis: pushed %s but popped %s", item, got);
		n++;
	} while (now_ns() < end);
	elapsed = now_ns() - t0;
	close(c->fd);
	free(c);
	printf("ops_per_sec %.0f us_per_item %.2f\n", (double)n * 1e9 / (double)elapsed,
	       (double)elapsed / 1e3 / (double)n);
}

/* A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick). */
void cmd_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		die("cannot find a free port: %s", strerror(errno));
	close(fd);
	printf("port %d\n", ntohs(sa.sin_port));
}
