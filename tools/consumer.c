/* consumer.c - takes items out of an rwfs queue, one item per read(), and
 * prints them ("consumer ID: ITEM"), writes them as lines of a text file
 * or appends them to a record file.  The consumer side of the course's
 * producer-consumer demo; see docs/TOOLS.md.
 *
 * An item taken is no longer in the queue: one that cannot be delivered
 * is put back (at the tail), and said so on stderr.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bigger than any item (QUEUE_ITEM_MAX and its newline): a read never
 * fails with EMSGSIZE. */
#define READ_BUF 65536
/* Room for "consumer ID: " before the item. */
#define LINE_BUF (READ_BUF + 64)
/* How long putting an item back waits for room in a full queue. */
#define PUT_BACK_SECONDS 10.0

void usage(FILE *out)
{
	fprintf(out,
		"usage: consumer [OPTION...] QUEUE\n"
		"\n"
		"Takes items out of the rwfs queue QUEUE, one per read(), and prints\n"
		"each as \"consumer ID: ITEM\".  An empty queue makes the consumer wait,\n"
		"and so does a queue that does not exist yet (until a producer makes it).\n"
		"It stops after --count items, after --timeout seconds with nothing to\n"
		"take, at the end of the queue (sealed and drained, or removed), or when\n"
		"the reader of its output is gone.  An item it cannot deliver goes back\n"
		"into the queue, at its tail.\n"
		"QUEUE is a name (MOUNT/queues/QUEUE) or, with a slash in it, a path.\n"
		"\n"
		"  --mount DIR       the rwfs mount (default: $RWFS_MOUNT, else ./mnt)\n"
		"  --id N            the consumer's number (default: the process id)\n"
		"  --count N         stop after N items (default 0: no limit)\n"
		"  --timeout SECONDS stop after that long with nothing to take\n"
		"                    (default 60; 0: wait forever)\n"
		"  --out FILE        append each item to the text file FILE, one line\n"
		"                    each, as it came (a CSV row stays a CSV row),\n"
		"                    instead of printing it; FILE is created when missing\n"
		"  --records FILE    append each item to FILE as one binary record\n"
		"                    instead (read them with tools/records, installed\n"
		"                    as rwfs-records(1); the format is in docs/TOOLS.md)\n"
		"  -h, --help        this text\n"
		"  -V, --version     the version\n"
		"\n"
		"On a terminal, stderr shows the progress (items per second).\n"
		"Exit status: 0 when it stopped for one of the reasons above, 1 on an\n"
		"error (an output that cannot be written, an item that could not be put\n"
		"back...), 2 on bad usage.\n");
}

struct consumer {
	const char *queue;   /* as given, for messages */
	const char *mount;
	const char *out;     /* --out FILE, or NULL */
	const char *records; /* --records FILE, or NULL */
	char *path;
	unsigned long long id, count;
	double timeout;
	int fd, out_fd;
	bool to_pipe;        /* items go to stdout, and stdout is a pipe */
	char *line;          /* the last line delivered */
	size_t line_len, item_off, item_len; /* where its item is in it */
};

/* Opens the queue, waiting for it to appear until the deadline when it is
 * named and missing.  Returns the descriptor, or -1 at the deadline. */
static int open_queue(struct consumer *c, double deadline)
{
	int flags = O_RDONLY | O_CLOEXEC | (c->timeout > 0 ? O_NONBLOCK : 0);
	bool said = false;

	for (;;) {
		int fd = open(c->path, flags);

		if (fd >= 0)
			return fd;
		if (errno != ENOENT || strchr(c->queue, '/'))
			die("cannot open '%s': %s", c->path, strerror(errno));
		require_mount(c->mount);
		if (!said)
			fprintf(stderr, "consumer %llu: no queue '%s' in '%s' yet: waiting for "
				"it (a producer makes it)\n", c->id, c->queue, c->mount);
		said = true;
		if (c->timeout > 0 && now_seconds() >= deadline)
			return -1;
		sleep_seconds(0.1);
	}
}

/* Waits for an item until the deadline and reads it into buf.  Returns
 * its length (newline included), 0 at the end of the queue, or -1 when
 * the deadline passed with nothing to take. */
static ssize_t take(struct consumer *c, char *buf, size_t size, double deadline)
{
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

/* Writes all of buf.  Returns 0, or -1 with errno set. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Puts an item back into the queue (at its tail) with one write(),
 * waiting a while for room.  Returns 0, or an errno. */
static int put_back(struct consumer *c, const char *item, size_t len)
{
	double deadline = now_seconds() + PUT_BACK_SECONDS;
	char *line = malloc(len + 1);
	int fd, err = 0;

	if (!line)
		return ENOMEM;
	memcpy(line, item, len);
	line[len] = '\n';
	fd = open(c->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		goto out_free;
	}
	while (write(fd, line, len + 1) < 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		double left = deadline - now_seconds();

		err = errno;
		if ((err != EAGAIN && err != EINTR) || left <= 0)
			break;
		poll(&pfd, 1, (int)(left * 1000) + 1);
		err = 0;
	}
	close(fd);
out_free:
	free(line);
	return err;
}

/* The item could not be delivered (why: "cannot write the output: Broken
 * pipe"): puts it back and says so.  Returns 0 when it is back in the
 * queue; else the item is on stderr, and the return is -1. */
static int give_back(struct consumer *c, const char *why, const char *item, size_t len)
{
	int err = put_back(c, item, len);

	if (err == 0) {
		warnmsg("%s; item put back into queue '%s', at its tail: %.*s", why, c->queue,
			(int)len, item);
		return 0;
	}
	warnmsg("%s; and the item cannot be put back into queue '%s' (%s), so here it is: "
		"%.*s", why, c->queue, strerror(err), (int)len, item);
	return -1;
}

/* Delivers one item (newline already removed) to the output.  Returns 0,
 * or -1 with errno set. */
static int deliver(struct consumer *c, const char *item, size_t len)
{
	int n;

	if (c->records)
		return record_append(c->out_fd, item, len);
	if (c->out) {
		memcpy(c->line, item, len);
		c->line[len] = '\n';
		return write_once(c->out_fd, c->line, len + 1);
	}
	n = snprintf(c->line, LINE_BUF, "consumer %llu: ", c->id);
	memcpy(c->line + n, item, len);
	c->line[n + len] = '\n';
	c->line_len = n + len + 1;
	c->item_off = n;
	c->item_len = len;
	return write_all(STDOUT_FILENO, c->line, c->line_len);
}

/* The pipe on stdout has no reader any more. */
static bool reader_gone(void)
{
	struct pollfd pfd = { .fd = STDOUT_FILENO, .events = 0 };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLERR);
}

/* Bytes written to the pipe on stdout that its reader has not read. */
static int unread_bytes(void)
{
	int unread = 0;

	if (ioctl(STDOUT_FILENO, FIONREAD, &unread) != 0)
		return 0;
	return unread;
}

/* With a pipe on stdout: waits until its reader has read the last line,
 * so that at most one item is ever in the pipe.  Returns 0 then; -1 when
 * the reader is gone, after putting back the last item if it was not read
 * (and 1 when that failed). */
static int wait_output_read(struct consumer *c)
{
	double pause = 0.0001;

	for (;;) {
		if (reader_gone()) {
			if (unread_bytes() > 0 &&
			    give_back(c, "the output was closed before the last item was read",
				      c->line + c->item_off, c->item_len) != 0)
				return 1;
			return -1;
		}
		if (unread_bytes() == 0)
			return 0;
		sleep_seconds(pause);
		if (pause < 0.02)
			pause *= 2;
	}
}

/* Opens --out or --records; dies when it cannot. */
static void open_output(struct consumer *c)
{
	if (c->out) {
		c->out_fd = open(c->out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (c->out_fd < 0)
			die("cannot open '%s': %s", c->out, strerror(errno));
		return;
	}
	c->out_fd = record_open_append(c->records);
	if (c->out_fd < 0 && errno == EILSEQ)
		die("'%s' is not a record file: it does not start with \"%s\"", c->records,
		    RECORD_MAGIC);
	if (c->out_fd < 0)
		die("cannot open '%s': %s", c->records, strerror(errno));
}

static void parse_args(struct consumer *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mount", required_argument, NULL, 'm' },
		{ "id", required_argument, NULL, 'I' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' },
		{ "records", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mount_opt = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm': mount_opt = optarg; break;
		case 'I':
			if (parse_count(optarg, ~0ULL, &c->id) != 0)
				bad_usage("--id takes a whole number, not '%s'", optarg);
			break;
		case 'c':
			if (parse_count(optarg, ~0ULL, &c->count) != 0)
				bad_usage("--count takes a whole number, not '%s'", optarg);
			break;
		case 't':
			if (parse_seconds(optarg, &c->timeout) != 0)
				bad_usage("--timeout takes a number of seconds, not '%s'", optarg);
			break;
		case 'o': c->out = optarg; break;
		case 'r': c->records = optarg; break;
		case 'h': usage(stdout); close_stdout(); exit(0);
		case 'V': print_version(); exit(0);
		default: bad_option(opt, argv);
		}
	}
	if (argc - optind != 1)
		bad_usage(argc == optind ? "no QUEUE given" : "one QUEUE only");
	if (c->out && c->records)
		bad_usage("--out and --records do not go together");
	c->queue = argv[optind];
	c->mount = find_mount(mount_opt);
	if (!strchr(c->queue, '/') && !queue_name_valid(c->queue))
		bad_usage("'%s' is not a queue name (1-64 of A-Z a-z 0-9 . _ -)", c->queue);
}

/* Takes and delivers items until a reason to stop.  Returns the exit
 * status. */
static int consume(struct consumer *c, char *buf, struct progress *progress)
{
	unsigned long long taken = 0;
	struct stat st;

	while (c->count == 0 || taken < c->count) {
		ssize_t n;
		int r;

		if (c->to_pipe && taken > 0 && (r = wait_output_read(c)) != 0) {
			progress_end(progress, taken);
			fprintf(stderr, "consumer %llu: the output was closed, stopping\n", c->id);
			return r > 0;
		}
		n = take(c, buf, READ_BUF, now_seconds() + c->timeout);
		if (n < 0) {
			progress_end(progress, taken);
			fprintf(stderr, "consumer %llu: nothing for %g s, stopping\n", c->id,
				c->timeout);
			break;
		}
		if (n == 0) {
			progress_end(progress, taken);
			fprintf(stderr, "consumer %llu: queue '%s' %s, stopping\n", c->id, c->queue,
				stat(c->path, &st) != 0 && errno == ENOENT ? "was removed"
									  : "is sealed and empty");
			break;
		}
		if (buf[n - 1] == '\n')
			n--;
		if (deliver(c, buf, n) != 0) {
			const char *file = c->out ? c->out : c->records;
			char why[4200];
			int err = errno;

			progress_end(progress, taken);
			if (file)
				snprintf(why, sizeof(why), "cannot write to '%s': %s", file,
					 strerror(err));
			else
				snprintf(why, sizeof(why), "cannot write the output: %s",
					 strerror(err));
			if (give_back(c, why, buf, n) != 0 || !c->to_pipe || err != EPIPE)
				return 1;
			fprintf(stderr, "consumer %llu: the output was closed, stopping\n", c->id);
			return 0;
		}
		taken++;
		progress_update(progress, taken);
	}
	if (c->count && taken == c->count)
		progress_end(progress, taken);
	/* The last item is delivered once read: a reader that leaves without
	 * reading it gets it back into the queue. */
	if (c->to_pipe && taken > 0)
		return wait_output_read(c) > 0;
	return 0;
}

int main(int argc, char **argv)
{
	struct consumer c = { .id = (unsigned long long)getpid(), .timeout = 60, .out_fd = -1 };
	struct progress progress;
	char label[64], *buf;
	struct stat st;
	int status;

	prog = "consumer";
	parse_args(&c, argc, argv);
	if (!strchr(c.queue, '/'))
		require_mount(c.mount);
	if (c.out || c.records)
		open_output(&c);
	c.to_pipe = !c.out && !c.records && fstat(STDOUT_FILENO, &st) == 0 &&
		    S_ISFIFO(st.st_mode);
	/* A closed output is an error to handle (the item goes back), not a
	 * silent death. */
	signal(SIGPIPE, SIG_IGN);

	c.path = queue_path(c.mount, c.queue);
	c.fd = open_queue(&c, now_seconds() + c.timeout);
	if (c.fd < 0) {
		fprintf(stderr, "consumer %llu: no queue '%s' for %g s, stopping\n", c.id, c.queue,
			c.timeout);
		free(c.path);
		close_stdout();
		return 0;
	}
	buf = malloc(READ_BUF);
	c.line = malloc(LINE_BUF);
	if (!buf || !c.line)
		die("out of memory");
	snprintf(label, sizeof(label), "consumer %llu", c.id);
	progress_init(&progress, c.out || c.records || !isatty(STDOUT_FILENO), label, c.count);

	status = consume(&c, buf, &progress);

	free(buf);
	free(c.line);
	if (c.out_fd >= 0 && close(c.out_fd) != 0)
		die("cannot close '%s': %s", c.out ? c.out : c.records, strerror(errno));
	close(c.fd);
	free(c.path);
	if (status == 0)
		close_stdout();
	return status;
}
