/* consumer.c - takes items out of an rwfs queue, one item per read(), and
 * prints them ("consumer ID: ITEM") or appends them to a record file.  The
 * consumer side of the course's producer-consumer demo; see docs/TOOLS.md.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bigger than any item (QUEUE_ITEM_MAX and its newline): a read never
 * fails with EMSGSIZE. */
#define READ_BUF 65536

void usage(FILE *out)
{
	fprintf(out,
		"usage: consumer [OPTION...] QUEUE\n"
		"\n"
		"Takes items out of the rwfs queue QUEUE, one per read(), and prints\n"
		"each as \"consumer ID: ITEM\".  An empty queue makes the consumer wait.\n"
		"It stops after --count items, after --timeout seconds with nothing to\n"
		"take, or at the end of the queue (sealed and drained, or removed).\n"
		"QUEUE is a name (MOUNT/queues/QUEUE) or, with a slash in it, a path.\n"
		"\n"
		"  --mount DIR        the rwfs mount (default: $RWFS_MOUNT, else ./mnt)\n"
		"  --id N             the consumer's number (default: the process id)\n"
		"  --count N          stop after N items (default 0: no limit)\n"
		"  --timeout SECONDS  stop after that long with nothing to take\n"
		"                     (default 60; 0: wait forever)\n"
		"  --out FILE         append each item to FILE as one binary record\n"
		"                     instead of printing it (see records(1) and\n"
		"                     docs/TOOLS.md); FILE is created when missing\n"
		"  -h, --help         this text\n"
		"\n"
		"On a terminal, stderr shows the progress (items per second).\n"
		"Exit status: 0 when it stopped for one of the reasons above, 1 on an\n"
		"error (no queue, an item that could not be written...), 2 on bad usage.\n");
}

struct consumer {
	const char *queue;  /* as given, for messages */
	const char *out;
	char *path;
	unsigned long long id, count;
	double timeout;
	int fd, out_fd;
};

static int open_queue(struct consumer *c, const char *mount)
{
	int flags = O_RDONLY | O_CLOEXEC | (c->timeout > 0 ? O_NONBLOCK : 0);
	int fd = open(c->path, flags);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT && !strchr(c->queue, '/'))
		die("no queue '%s' in '%s' (is rwfs mounted?)", c->queue, mount);
	die("cannot open '%s': %s", c->path, strerror(errno));
}

/* Waits for an item and reads it into buf.  Returns its length (newline
 * included), 0 at the end of the queue, or -1 when --timeout passed with
 * nothing to take. */
static ssize_t take(struct consumer *c, char *buf, size_t size)
{
	double deadline = now_seconds() + c->timeout;

	for (;;) {
		ssize_t n;

		if (c->timeout > 0) {
			struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
			double left = deadline - now_seconds();
			int r;

			if (left <= 0)
				return -1;
			r = poll(&pfd, 1, (int)(left * 1000) + 1);
			if (r < 0 && errno != EINTR)
				die("cannot wait for queue '%s': %s", c->queue, strerror(errno));
			if (r <= 0)
				continue;
		}
		n = read(c->fd, buf, size);
		if (n >= 0)
			return n;
		/* EAGAIN: another consumer took the item poll saw. */
		if (errno == EAGAIN || errno == EINTR)
			continue;
		die("cannot read queue '%s': %s", c->queue, strerror(errno));
	}
}

/* Prints or records one item (newline already removed).  An item that was
 * taken and cannot be kept is lost: say which. */
static void keep(struct consumer *c, const char *item, size_t len)
{
	if (c->out_fd >= 0) {
		if (record_append(c->out_fd, item, len) != 0)
			die("cannot write to '%s': %s (item lost: %.*s)", c->out, strerror(errno),
			    (int)len, item);
		return;
	}
	printf("consumer %llu: %.*s\n", c->id, (int)len, item);
	if (fflush(stdout) != 0)
		die("cannot write the output: %s (item lost: %.*s)", strerror(errno), (int)len,
		    item);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mount", required_argument, NULL, 'm' },
		{ "id", required_argument, NULL, 'I' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct consumer c = { .id = (unsigned long long)getpid(), .timeout = 60, .out_fd = -1 };
	const char *mount_opt = NULL, *mount;
	unsigned long long taken = 0;
	struct progress progress;
	char label[64], *buf;
	struct stat st;
	int opt;

	prog = "consumer";
	while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm': mount_opt = optarg; break;
		case 'I':
			if (parse_count(optarg, ~0ULL, &c.id) != 0)
				bad_usage("--id takes a whole number, not '%s'", optarg);
			break;
		case 'c':
			if (parse_count(optarg, ~0ULL, &c.count) != 0)
				bad_usage("--count takes a whole number, not '%s'", optarg);
			break;
		case 't':
			if (parse_seconds(optarg, &c.timeout) != 0)
				bad_usage("--timeout takes a number of seconds, not '%s'", optarg);
			break;
		case 'o': c.out = optarg; break;
		case 'h': usage(stdout); close_stdout(); return 0;
		default: bad_option(opt, argv);
		}
	}
	if (argc - optind != 1)
		bad_usage(argc == optind ? "which queue?" : "one queue only");
	c.queue = argv[optind];
	mount = find_mount(mount_opt);
	if (!strchr(c.queue, '/')) {
		if (!queue_name_valid(c.queue))
			bad_usage("'%s' is not a queue name (1-64 of A-Z a-z 0-9 . _ -)", c.queue);
		require_mount(mount);
	}

	c.path = queue_path(mount, c.queue);
	c.fd = open_queue(&c, mount);
	if (c.out) {
		c.out_fd = record_open_append(c.out);
		if (c.out_fd < 0 && errno == EILSEQ)
			die("'%s' is not a record file: it does not start with \"%s\"", c.out,
			    RECORD_MAGIC);
		if (c.out_fd < 0)
			die("cannot open '%s': %s", c.out, strerror(errno));
	}
	buf = malloc(READ_BUF);
	if (!buf)
		die("out of memory");
	snprintf(label, sizeof(label), "consumer %llu", c.id);
	progress_init(&progress, c.out || !isatty(STDOUT_FILENO), label, c.count);

	while (c.count == 0 || taken < c.count) {
		ssize_t n = take(&c, buf, READ_BUF);

		if (n < 0) {
			progress_end(&progress, taken);
			fprintf(stderr, "consumer %llu: nothing for %g s, stopping\n", c.id,
				c.timeout);
			break;
		}
		if (n == 0) {
			progress_end(&progress, taken);
			fprintf(stderr, "consumer %llu: queue '%s' %s, stopping\n", c.id, c.queue,
				stat(c.path, &st) != 0 && errno == ENOENT ? "was removed"
									  : "is sealed and empty");
			break;
		}
		if (buf[n - 1] == '\n')
			n--;
		keep(&c, buf, n);
		taken++;
		progress_update(&progress, taken);
	}
	if (c.count && taken == c.count)
		progress_end(&progress, taken);

	free(buf);
	if (c.out_fd >= 0 && close(c.out_fd) != 0)
		die("cannot close '%s': %s", c.out, strerror(errno));
	close(c.fd);
	free(c.path);
	close_stdout();
	return 0;
}
