/* producer.c - puts items into an rwfs queue, one item per write(): random
 * strings, Reading records, or the rows of a CSV file.  The producer side
 * of the course's producer-consumer demo; see docs/TOOLS.md.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void usage(FILE *out)
{
	fprintf(out,
		"usage: producer [OPTION...] QUEUE\n"
		"\n"
		"Puts items into the rwfs queue QUEUE, one item per write(): by default\n"
		"100 random strings of 4-10 characters from [a-z0-9].  The queue is\n"
		"created when it does not exist; while it is full the producer waits.\n"
		"QUEUE is a name (MOUNT/queues/QUEUE) or, with a slash in it, a path.\n"
		"\n"
		"  --mount DIR     the rwfs mount (default: $RWFS_MOUNT, else ./mnt)\n"
		"  --count N       items to send, 0 for no end (default 100; with --csv,\n"
		"                  every row)\n"
		"  --records       send Reading records instead of strings:\n"
		"                    reading producer=ID sensor=S seq=N time=ISO-8601 value=V\n"
		"                  seq counts from 1, so (producer, seq) is unique\n"
		"  --csv FILE      send the rows of FILE ('-': standard input), each\n"
		"                  non-empty line one item; a first line in which no\n"
		"                  field is a number is a header and is not sent\n"
		"  --no-header     with --csv, send the first line whatever it looks like\n"
		"  --interval A-B  wait a random time of A to B seconds between items\n"
		"                  (\"1-3\", \"0.5\"; default 0)\n"
		"  --id N          the producer's number (default: the process id)\n"
		"  -v, --verbose   print \"producer ID: ITEM\" for each item sent\n"
		"  -h, --help      this text\n"
		"  -V, --version   the version\n"
		"\n"
		"On a terminal, stderr shows the progress (items per second).\n"
		"Exit status: 0 when every item was written, 1 on an error (a sealed or\n"
		"removed queue, no mount...), 2 on bad usage.\n");
}

struct producer {
	const char *mount;
	const char *queue;     /* as given, for messages */
	const char *csv;
	bool records, verbose, no_header;
	unsigned long long count, id, seq;
	double wait_lo, wait_hi;
	FILE *csv_file;
	char *line;            /* getline's buffer for --csv */
	size_t line_cap;
	unsigned long long csv_lineno;
};

static void parse_interval(struct producer *p, const char *arg)
{
	char lo[64], *dash;

	snprintf(lo, sizeof(lo), "%s", arg);
	dash = strchr(lo, '-');
	if (dash)
		*dash = '\0';
	if (parse_seconds(lo, &p->wait_lo) != 0 ||
	    parse_seconds(dash ? dash + 1 : lo, &p->wait_hi) != 0 || p->wait_hi < p->wait_lo)
		bad_usage("--interval takes seconds A-B with A <= B, or one number, not '%s'",
			  arg);
}

/* A header line: no field of it is a number ("upc,name,count"). */
static bool is_header(const char *line)
{
	char copy[QUEUE_ITEM_MAX + 1], *field, *save = NULL;

	snprintf(copy, sizeof(copy), "%s", line);
	for (field = strtok_r(copy, ",", &save); field; field = strtok_r(NULL, ",", &save)) {
		char *end;
		field += strspn(field, " \t\"");
		if (*field == '\0')
			continue;
		strtod(field, &end);
		if (end != field && end[strspn(end, " \t\"")] == '\0')
			return false;
	}
	return true;
}

/* The next CSV row into buf, or -1 at the end of the file. */
static int next_row(struct producer *p, char *buf, size_t size)
{
	ssize_t n;

	while ((n = getline(&p->line, &p->line_cap, p->csv_file)) >= 0) {
		p->csv_lineno++;
		while (n > 0 && (p->line[n - 1] == '\n' || p->line[n - 1] == '\r'))
			p->line[--n] = '\0';
		if (n == 0)
			continue;
		if (p->csv_lineno == 1 && !p->no_header && is_header(p->line))
			continue;
		if ((size_t)n >= size)
			die("line %llu of '%s' is over %d bytes, too long for a queue item",
			    p->csv_lineno, p->csv, QUEUE_ITEM_MAX);
		memcpy(buf, p->line, n + 1);
		return (int)n;
	}
	if (ferror(p->csv_file))
		die("cannot read '%s': %s", p->csv, strerror(errno));
	return -1;
}

static int next_reading(struct producer *p, char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	return snprintf(buf, size, "reading producer=%llu sensor=%ld seq=%llu time=%s.%03ldZ value=%.2f",
			p->id, 1 + random() % 8, ++p->seq, when, ts.tv_nsec / 1000000,
			(random() % 6500 - 2000) / 100.0);
}

static int next_string(char *buf)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	int len = 4 + random() % 7;

	for (int i = 0; i < len; i++)
		buf[i] = chars[random() % (sizeof(chars) - 1)];
	buf[len] = '\0';
	return len;
}

/* Writes one item and its newline with one write(); dies on an error. */
static void send_item(struct producer *p, int fd, char *item, int len, unsigned long long n)
{
	ssize_t w;

	item[len] = '\n';
	do
		w = write(fd, item, len + 1);
	while (w < 0 && errno == EINTR);
	item[len] = '\0';
	if (w == len + 1)
		return;
	if (w >= 0)
		die("short write to queue '%s' (%zd of %d bytes)", p->queue, w, len + 1);
	switch (errno) {
	case EPIPE:
	case EACCES:
		die("queue '%s' is sealed", p->queue);
	case ENOENT:
		die("queue '%s' was removed", p->queue);
	case EMSGSIZE:
		die("item %llu is too long for queue '%s' (over %d bytes)", n, p->queue,
		    QUEUE_ITEM_MAX);
	default:
		die("cannot write to queue '%s': %s", p->queue, strerror(errno));
	}
}

static int open_queue(struct producer *p, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd >= 0)
		return fd;
	if (errno == EACCES || errno == EPIPE)
		die("cannot open '%s': %s (is queue '%s' sealed?)", path, strerror(errno),
		    p->queue);
	die("cannot open '%s': %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mount", required_argument, NULL, 'm' },
		{ "count", required_argument, NULL, 'c' },
		{ "records", no_argument, NULL, 'r' },
		{ "csv", required_argument, NULL, 'f' },
		{ "no-header", no_argument, NULL, 'H' },
		{ "interval", required_argument, NULL, 'i' },
		{ "id", required_argument, NULL, 'I' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct producer p = { .count = 100, .id = (unsigned long long)getpid() };
	const char *mount_opt = NULL;
	bool count_set = false;
	struct progress progress;
	char item[QUEUE_ITEM_MAX + 2], label[64];
	unsigned long long sent = 0;
	char *path;
	int c, fd;

	prog = "producer";
	while ((c = getopt_long(argc, argv, "+:hVv", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': mount_opt = optarg; break;
		case 'c':
			if (parse_count(optarg, ~0ULL, &p.count) != 0)
				bad_usage("--count takes a whole number, not '%s'", optarg);
			count_set = true;
			break;
		case 'r': p.records = true; break;
		case 'f': p.csv = optarg; break;
		case 'H': p.no_header = true; break;
		case 'i': parse_interval(&p, optarg); break;
		case 'I':
			if (parse_count(optarg, ~0ULL, &p.id) != 0)
				bad_usage("--id takes a whole number, not '%s'", optarg);
			break;
		case 'v': p.verbose = true; break;
		case 'h': usage(stdout); close_stdout(); return 0;
		case 'V': print_version(); return 0;
		default: bad_option(c, argv);
		}
	}
	if (argc - optind != 1)
		bad_usage(argc == optind ? "no QUEUE given" : "one QUEUE only");
	p.queue = argv[optind];
	if (p.records && p.csv)
		bad_usage("--records and --csv do not go together");
	if (p.no_header && !p.csv)
		bad_usage("--no-header goes with --csv");
	if (p.csv && !count_set)
		p.count = 0;
	p.mount = find_mount(mount_opt);
	if (!strchr(p.queue, '/')) {
		if (!queue_name_valid(p.queue))
			bad_usage("'%s' is not a queue name (1-64 of A-Z a-z 0-9 . _ -)", p.queue);
		require_mount(p.mount);
	}

	if (p.csv) {
		p.csv_file = strcmp(p.csv, "-") ? fopen(p.csv, "r") : stdin;
		if (!p.csv_file)
			die("cannot open '%s': %s", p.csv, strerror(errno));
	}
	/* A write to a pipe with no reader (stdout, or a FIFO as QUEUE) fails
	 * with EPIPE and a message instead of killing us silently. */
	signal(SIGPIPE, SIG_IGN);
	seed_random();
	path = queue_path(p.mount, p.queue);
	fd = open_queue(&p, path);
	snprintf(label, sizeof(label), "producer %llu", p.id);
	progress_init(&progress, !(p.verbose && isatty(STDOUT_FILENO)), label, p.count);

	while (p.count == 0 || sent < p.count) {
		int len;

		if (p.csv)
			len = next_row(&p, item, sizeof(item) - 1);
		else if (p.records)
			len = next_reading(&p, item, sizeof(item) - 1);
		else
			len = next_string(item);
		if (len < 0)
			break;
		if (sent > 0 && p.wait_hi > 0)
			sleep_seconds(p.wait_lo + (p.wait_hi - p.wait_lo) * random() / RAND_MAX);
		send_item(&p, fd, item, len, sent + 1);
		sent++;
		if (p.verbose) {
			printf("producer %llu: %s\n", p.id, item);
			if (fflush(stdout) != 0)
				die("cannot write the output: %s", strerror(errno));
		}
		progress_update(&progress, sent);
	}
	progress_end(&progress, sent);

	if (close(fd) != 0)
		die("cannot close '%s': %s", path, strerror(errno));
	free(path);
	if (p.csv_file && p.csv_file != stdin)
		fclose(p.csv_file);
	free(p.line);
	close_stdout();
	return 0;
}
