/* files.c - the files part's loops: one whole buffer read or written at
 * offset 0, O_APPEND lines, and flock lock/unlock pairs.
 *
 * Appends and locks run in processes, not threads: each its own open file,
 * as separate programs sharing a log or a lock file are.  The processes
 * share one mapping that holds the start barrier, the stop flag and each
 * one's count; every open happens before the fork, so a child cannot fail
 * before the barrier and leave the others waiting at it.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUFFER_MAX (16u << 20)  /* a shared file's bound */

size_t parse_bytes(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > BUFFER_MAX)
		die("bad size '%s' (bytes, 1-%u)", s, BUFFER_MAX);
	return (size_t)v;
}

/* A page-aligned buffer of len bytes of text, so that a direct-I/O
 * request carries it whole (see docs/PROTOCOL.md, Shared files). */
static char *page_buffer(size_t len)
{
	void *buf;
	int err = posix_memalign(&buf, (size_t)sysconf(_SC_PAGESIZE), len);

	if (err != 0)
		die("posix_memalign %zu: %s", len, strerror(err));
	memset(buf, 'x', len);
	((char *)buf)[len - 1] = '\n';
	return buf;
}

static void print_rate(uint64_t ops, uint64_t elapsed_ns, size_t len)
{
	double rate = elapsed_ns > 0 ? (double)ops * 1e9 / (double)elapsed_ns : 0.0;

	printf("ops_per_sec %.0f mb_per_sec %.1f\n", rate, rate * (double)len / 1e6);
}

void cmd_file_read(const char *path, size_t len, double seconds)
{
	char *buf = page_buffer(len);
	int fd = open_or_die(path, O_RDONLY);
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9), ops = 0;

	do {
		ssize_t n = pread(fd, buf, len, 0);

		if (n != (ssize_t)len)
			die("pread %zu bytes of '%s': %s", len, path,
			    n < 0 ? strerror(errno) : "short read (the file holds less)");
		ops++;
	} while (now_ns() < end);
	print_rate(ops, now_ns() - t0, len);
	close_or_die(fd, path);
	free(buf);
}

/* Makes path if needed; never truncates it (a shorter write leaves the
 * rest of a longer file for the reads). */
void cmd_file_write(const char *path, size_t len, double seconds)
{
	char *buf = page_buffer(len);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	uint64_t t0, end, ops = 0;

	if (fd < 0)
		die("cannot open '%s': %s", path, strerror(errno));
	t0 = now_ns();
	end = t0 + (uint64_t)(seconds * 1e9);
	do {
		ssize_t n = pwrite(fd, buf, len, 0);

		if (n != (ssize_t)len)
			die("pwrite %zu bytes to '%s': %s", len, path,
			    n < 0 ? strerror(errno) : "short write");
		ops++;
	} while (now_ns() < end);
	print_rate(ops, now_ns() - t0, len);
	close_or_die(fd, path);
	free(buf);
}

/* ---- processes ----------------------------------------------------------- */

struct proc_count {
	uint64_t ops, elapsed_ns;
};

/* In a shared anonymous mapping: struct run's barrier is made
 * process-shared, and its stop flag is lock-free, so both work across
 * fork. */
struct proc_run {
	struct run run;
	pid_t parent;
	struct proc_count count[];
};

/* One process's loop on its own descriptor: returns its operations. */
typedef uint64_t proc_loop(int fd, const char *path, unsigned index, struct run *run);

static struct proc_run *proc_run_new(unsigned procs, size_t *size)
{
	pthread_barrierattr_t attr;
	struct proc_run *p;
	int err;

	*size = sizeof(*p) + procs * sizeof(p->count[0]);
	p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	err = pthread_barrierattr_init(&attr);
	if (err == 0)
		err = pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	if (err == 0)
		err = pthread_barrier_init(&p->run.start, &attr, procs + 1);
	if (err != 0)
		die("process-shared barrier: %s", strerror(err));
	pthread_barrierattr_destroy(&attr);
	atomic_init(&p->run.stop, false);
	p->parent = getpid();
	return p;
}

static void proc_child(struct proc_run *p, unsigned index, int fd, const char *path,
		       proc_loop *loop)
{
	uint64_t t0, ops;

	/* Never outlive the controlling process (its alarm, a kill). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != p->parent)
		_exit(1);
	barrier_wait(&p->run);
	t0 = now_ns();
	ops = loop(fd, path, index, &p->run);
	p->count[index].elapsed_ns = now_ns() - t0;
	p->count[index].ops = ops;
	_exit(0);
}

/* Runs loop in procs processes, process i on fds[i], for seconds; puts
 * the total number of operations in *total and returns the summed rate. */
static double run_procs(const int *fds, unsigned procs, const char *path, proc_loop *loop,
			double seconds, uint64_t *total)
{
	size_t size;
	struct proc_run *p = proc_run_new(procs, &size);
	pid_t *pids = calloc(procs, sizeof(*pids));
	double rate = 0.0;

	if (pids == NULL)
		die("out of memory");
	fflush(stdout);
	for (unsigned i = 0; i < procs; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork: %s", strerror(errno));
		if (pids[i] == 0)
			proc_child(p, i, fds[i], path, loop);
	}
	barrier_wait(&p->run);
	sleep_ns((uint64_t)(seconds * 1e9));
	atomic_store(&p->run.stop, true);
	*total = 0;
	for (unsigned i = 0; i < procs; i++) {
		int status;

		if (waitpid(pids[i], &status, 0) != pids[i])
			die("waitpid: %s", strerror(errno));
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			die("a process on '%s' failed", path);
		*total += p->count[i].ops;
		if (p->count[i].elapsed_ns > 0)
			rate += (double)p->count[i].ops * 1e9 / (double)p->count[i].elapsed_ns;
	}
	pthread_barrier_destroy(&p->run.start);
	munmap(p, size);
	free(pids);
	return rate;
}

/* Opens path procs times with flags: one open file each. */
static int *open_each(const char *path, int flags, unsigned procs)
{
	int *fds = calloc(procs, sizeof(*fds));

	if (fds == NULL)
		die("out of memory");
	for (unsigned i = 0; i < procs; i++) {
		fds[i] = open(path, flags, 0644);
		if (fds[i] < 0)
			die("cannot open '%s': %s", path, strerror(errno));
	}
	return fds;
}

static void close_each(int *fds, unsigned procs, const char *path)
{
	for (unsigned i = 0; i < procs; i++)
		close_or_die(fds[i], path);
	free(fds);
}

/* ---- appends and locks --------------------------------------------------- */

/* "INDEX SEQ\n", one write() each: bench/run.sh checks that the file ends
 * with exactly as many such lines as were written. */
static uint64_t loop_append(int fd, const char *path, unsigned index, struct run *run)
{
	char line[48];
	uint64_t ops = 0;

	while (!stopping(run)) {
		int len = snprintf(line, sizeof(line), "%u %" PRIu64 "\n", index, ops);
		ssize_t n = write(fd, line, (size_t)len);

		if (n != len)
			die("append to '%s': %s", path, n < 0 ? strerror(errno) : "short write");
		ops++;
	}
	return ops;
}

static uint64_t loop_flock(int fd, const char *path, unsigned index, struct run *run)
{
	uint64_t ops = 0;

	(void)index;
	while (!stopping(run)) {
		if (flock(fd, LOCK_EX) != 0)
			die("flock LOCK_EX '%s': %s", path, strerror(errno));
		if (flock(fd, LOCK_UN) != 0)
			die("flock LOCK_UN '%s': %s", path, strerror(errno));
		ops++;
	}
	return ops;
}

void cmd_append(const char *path, unsigned procs, double seconds)
{
	int *fds = open_each(path, O_WRONLY | O_APPEND | O_CREAT, procs);
	uint64_t lines;
	double rate = run_procs(fds, procs, path, loop_append, seconds, &lines);

	close_each(fds, procs, path);
	printf("ops_per_sec %.0f lines %" PRIu64 "\n", rate, lines);
}

void cmd_flock(const char *path, unsigned procs, double seconds)
{
	int *fds = open_each(path, O_RDONLY | O_CREAT, procs);
	uint64_t pairs;
	double rate = run_procs(fds, procs, path, loop_flock, seconds, &pairs);

	close_each(fds, procs, path);
	printf("ops_per_sec %.0f pairs %" PRIu64 "\n", rate, pairs);
}
