/* groups.c - the ticket-server client of the course: groups of reader and
 * writer processes, each group on its own shared file, writers under
 * exclusive tickets and readers under shared ones (flock(2), which rwfs
 * grants).  It checks what the tickets promise and prints a table per
 * group; see docs/TOOLS.md.
 *
 * The file holds one stamped version:
 *
 *   "W I COUNT LEN CRC\n" then LEN bytes of body
 *
 * written by writer W in its iteration I, COUNT the number of writes the
 * file has seen (each writer reads it and adds one: a lost update shows as
 * a COUNT short at the end), the body a letter repeated, CRC the CRC-32 of
 * the body.  A writer writes it in two steps (pwrite, then ftruncate to
 * the new length), as a careless program would: without tickets a reader
 * catches the file between them or with a half-written body (torn).
 * Readers and writers also note, in memory shared by every process of the
 * run, who is inside: a writer must find itself alone, a reader no writer.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#define FILE_MAX 8192   /* the longest version: header and body */
#define BODY_MIN 64
#define BODY_SPREAD 4000 /* bodies are BODY_MIN .. BODY_MIN + BODY_SPREAD bytes */

void usage(FILE *out)
{
	fprintf(out,
		"usage: groups [OPTION...]\n"
		"\n"
		"Runs G groups of processes, each group on its own shared file\n"
		"MOUNT/files/group-N: W writers each write N stamped versions of the\n"
		"file under an exclusive ticket (flock -x), R readers each read it N\n"
		"times under a shared ticket (flock -s) and check what they read.\n"
		"Then it prints, per group, the reads, the writes, the most readers\n"
		"inside at once, the longest ticket wait and the violations: a torn\n"
		"read, a writer not alone, a reader beside a writer, a lost update.\n"
		"\n"
		"  --mount DIR        the rwfs mount (default: $RWFS_MOUNT, else ./mnt)\n"
		"  --groups G         groups (default 3)\n"
		"  --readers R        readers per group (default 4)\n"
		"  --writers W        writers per group (default 2)\n"
		"  --iterations N     reads or writes of each process (default 200)\n"
		"  --no-tickets       take no tickets: shows what goes wrong without them\n"
		"  -h, --help         this text\n"
		"  -V, --version      the version\n"
		"\n"
		"On a terminal, stderr shows the progress.\n"
		"Exit status: 0 with no violation, 1 on a violation or an error, 2 on\n"
		"bad usage.\n");
}

/* One group's counters, in memory every process of the run shares. */
struct group_stats {
	atomic_uint readers_inside, writers_inside, most_readers;
	atomic_ullong reads, writes, torn, writer_not_alone, reader_beside_writer;
	atomic_llong longest_wait_ns;
	atomic_int failed; /* an error (not a violation) in a process */
};

struct run {
	const char *mount;
	unsigned long long groups, readers, writers, iterations;
	bool tickets;
	struct group_stats *stats; /* one per group, shared */
};

static void raise_max_u(atomic_uint *max, unsigned v)
{
	unsigned old = atomic_load(max);

	while (v > old && !atomic_compare_exchange_weak(max, &old, v))
		;
}

static void raise_max_ll(atomic_llong *max, long long v)
{
	long long old = atomic_load(max);

	while (v > old && !atomic_compare_exchange_weak(max, &old, v))
		;
}

static char *group_path(const struct run *r, unsigned long long g)
{
	size_t len = strlen(r->mount) + 40;
	char *path = malloc(len);

	if (!path)
		die("out of memory");
	snprintf(path, len, "%s/files/group-%llu", r->mount, g);
	return path;
}

/* Takes (or, op LOCK_UN, gives back) the ticket, timing the wait. */
static void ticket(const struct run *r, struct group_stats *s, int fd, int op)
{
	double start = now_seconds();

	if (!r->tickets)
		return;
	while (flock(fd, op) != 0)
		if (errno != EINTR)
			die("flock: %s", strerror(errno));
	if (op != LOCK_UN)
		raise_max_ll(&s->longest_wait_ns, (long long)((now_seconds() - start) * 1e9));
}

/* The version's COUNT, or -1 when buf (len bytes) is not a whole version. */
static long long check_version(const char *buf, size_t len)
{
	unsigned long long w, i, count, body_len;
	unsigned long crc;
	const char *body = memchr(buf, '\n', len);

	if (!body || sscanf(buf, "%llu %llu %llu %llu %lx", &w, &i, &count, &body_len, &crc) != 5)
		return -1;
	body++;
	if ((size_t)(buf + len - body) != body_len)
		return -1;
	for (size_t k = 0; k < body_len; k++)
		if (body[k] != 'a' + (char)((w + i) % 26))
			return -1;
	if (crc32(0, (const Bytef *)body, (uInt)body_len) != crc)
		return -1;
	return (long long)count;
}

/* A new version of writer w, iteration i, after count writes. */
static size_t make_version(char *buf, unsigned long long w, unsigned long long i,
			   unsigned long long count)
{
	size_t body_len = BODY_MIN + (size_t)(random() % BODY_SPREAD);
	char body[BODY_MIN + BODY_SPREAD];
	int n;

	memset(body, 'a' + (int)((w + i) % 26), body_len);
	n = snprintf(buf, FILE_MAX, "%llu %llu %llu %zu %lx\n", w, i, count, body_len,
		     crc32(0, (const Bytef *)body, (uInt)body_len));
	memcpy(buf + n, body, body_len);
	return (size_t)n + body_len;
}

static void writer(const struct run *r, struct group_stats *s, int fd, unsigned long long w)
{
	char buf[FILE_MAX];

	for (unsigned long long i = 0; i < r->iterations; i++) {
		ssize_t n;
		long long count;
		size_t len;

		ticket(r, s, fd, LOCK_EX);
		if (atomic_fetch_add(&s->writers_inside, 1) != 0 ||
		    atomic_load(&s->readers_inside) != 0)
			atomic_fetch_add(&s->writer_not_alone, 1);
		n = pread(fd, buf, sizeof(buf), 0);
		if (n < 0)
			die("read: %s", strerror(errno));
		count = n == 0 ? 0 : check_version(buf, (size_t)n);
		if (count < 0) {
			atomic_fetch_add(&s->torn, 1);
			count = 0;
		}
		len = make_version(buf, w, i, (unsigned long long)count + 1);
		if (pwrite(fd, buf, len, 0) != (ssize_t)len || ftruncate(fd, (off_t)len) != 0)
			die("write: %s", strerror(errno));
		atomic_fetch_add(&s->writes, 1);
		atomic_fetch_sub(&s->writers_inside, 1);
		ticket(r, s, fd, LOCK_UN);
	}
}

static void reader(const struct run *r, struct group_stats *s, int fd)
{
	char buf[FILE_MAX];

	for (unsigned long long i = 0; i < r->iterations; i++) {
		ssize_t n;

		ticket(r, s, fd, LOCK_SH);
		raise_max_u(&s->most_readers, atomic_fetch_add(&s->readers_inside, 1) + 1);
		if (atomic_load(&s->writers_inside) != 0)
			atomic_fetch_add(&s->reader_beside_writer, 1);
		n = pread(fd, buf, sizeof(buf), 0);
		if (n < 0)
			die("read: %s", strerror(errno));
		if (n > 0 && check_version(buf, (size_t)n) < 0)
			atomic_fetch_add(&s->torn, 1);
		atomic_fetch_add(&s->reads, 1);
		atomic_fetch_sub(&s->readers_inside, 1);
		ticket(r, s, fd, LOCK_UN);
	}
}

/* One process of group g: writer number w, or a reader when w is 0. */
static void member(const struct run *r, unsigned long long g, unsigned long long w)
{
	struct group_stats *s = &r->stats[g];
	char *path = group_path(r, g);
	int fd = open(path, O_RDWR);

	if (fd < 0) {
		atomic_store(&s->failed, errno);
		_exit(1);
	}
	seed_random();
	if (w)
		writer(r, s, fd, w);
	else
		reader(r, s, fd);
	close(fd);
	free(path);
	_exit(0);
}

/* Makes every group's file empty, then starts its processes. */
static unsigned long long start_all(const struct run *r)
{
	unsigned long long started = 0;

	for (unsigned long long g = 0; g < r->groups; g++) {
		char *path = group_path(r, g);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0)
			die("cannot make '%s': %s", path, strerror(errno));
		close(fd);
		free(path);
		for (unsigned long long k = 0; k < r->readers + r->writers; k++) {
			pid_t pid = fork();

			if (pid < 0)
				die("fork: %s", strerror(errno));
			if (pid == 0)
				member(r, g, k < r->writers ? k + 1 : 0);
			started++;
		}
	}
	return started;
}

static unsigned long long done_so_far(const struct run *r)
{
	unsigned long long done = 0;

	for (unsigned long long g = 0; g < r->groups; g++)
		done += atomic_load(&r->stats[g].reads) + atomic_load(&r->stats[g].writes);
	return done;
}

/* Waits for every process, showing the progress; false when one failed. */
static bool wait_all(const struct run *r, unsigned long long processes)
{
	struct progress progress;
	bool ok = true;
	int status;

	progress_init(&progress, true, "groups", processes * r->iterations);
	while (processes > 0) {
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid < 0)
			die("waitpid: %s", strerror(errno));
		if (pid == 0) {
			sleep_seconds(0.1);
			progress_update(&progress, done_so_far(r));
			continue;
		}
		ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
		processes--;
	}
	progress_end(&progress, done_so_far(r));
	return ok;
}

/* The writes the file's last version counts, or -1 when it is not one. */
static long long final_count(const struct run *r, unsigned long long g)
{
	char buf[FILE_MAX], *path = group_path(r, g);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		die("cannot open '%s': %s", path, strerror(errno));
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	free(path);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	return check_version(buf, (size_t)n);
}

/* Prints the table; returns the violations in all. */
static unsigned long long report(const struct run *r)
{
	unsigned long long all = 0;

	printf("%-6s %8s %8s %12s %16s %10s\n", "group", "reads", "writes", "most readers",
	       "longest wait ms", "violations");
	for (unsigned long long g = 0; g < r->groups; g++) {
		struct group_stats *s = &r->stats[g];
		long long count = final_count(r, g);
		unsigned long long writes = atomic_load(&s->writes);
		unsigned long long lost = count < 0 ? writes : writes - (unsigned long long)count;
		unsigned long long v = atomic_load(&s->torn) + atomic_load(&s->writer_not_alone) +
				       atomic_load(&s->reader_beside_writer) + lost;

		printf("%-6llu %8llu %8llu %12u %16.1f %10llu\n", g, atomic_load(&s->reads), writes,
		       atomic_load(&s->most_readers), atomic_load(&s->longest_wait_ns) / 1e6, v);
		if (v)
			printf("       torn %llu, writer not alone %llu, reader beside a writer %llu, "
			       "lost updates %llu\n",
			       atomic_load(&s->torn), atomic_load(&s->writer_not_alone),
			       atomic_load(&s->reader_beside_writer), lost);
		all += v;
	}
	return all;
}

static unsigned long long count_option(const char *name, const char *arg,
				       unsigned long long max)
{
	unsigned long long v;

	if (parse_count(arg, max, &v) != 0 || v == 0)
		bad_usage("%s takes a whole number 1..%llu, not '%s'", name, max, arg);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "mount", required_argument, NULL, 'm' },
		{ "groups", required_argument, NULL, 'g' },
		{ "readers", required_argument, NULL, 'r' },
		{ "writers", required_argument, NULL, 'w' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "no-tickets", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct run r = { .groups = 3, .readers = 4, .writers = 2, .iterations = 200,
			 .tickets = true };
	const char *mount_opt = NULL;
	unsigned long long violations, processes;
	bool ok;
	int opt;

	prog = "groups";
	while ((opt = getopt_long(argc, argv, "+:hV", options, NULL)) != -1) {
		switch (opt) {
		case 'm': mount_opt = optarg; break;
		case 'g': r.groups = count_option("--groups", optarg, 64); break;
		case 'r': r.readers = count_option("--readers", optarg, 64); break;
		case 'w': r.writers = count_option("--writers", optarg, 64); break;
		case 'n': r.iterations = count_option("--iterations", optarg, 1000000); break;
		case 'T': r.tickets = false; break;
		case 'h': usage(stdout); close_stdout(); return 0;
		case 'V': print_version(); return 0;
		default: bad_option(opt, argv);
		}
	}
	if (optind != argc)
		bad_usage("no arguments expected, not '%s'", argv[optind]);
	r.mount = find_mount(mount_opt);
	require_mount(r.mount);
	r.stats = mmap(NULL, r.groups * sizeof(*r.stats), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r.stats == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	fflush(stdout);
	processes = start_all(&r);
	ok = wait_all(&r, processes);
	for (unsigned long long g = 0; g < r.groups; g++)
		if (atomic_load(&r.stats[g].failed))
			die("cannot open the file of group %llu: %s", g,
			    strerror(atomic_load(&r.stats[g].failed)));
	if (!ok)
		die("a reader or writer failed");
	violations = report(&r);
	close_stdout();
	return violations ? 1 : 0;
}
