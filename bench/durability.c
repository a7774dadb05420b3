/* durability.c - the durability part's helpers: the disk's own fdatasync
 * rate (the reference for --sync=always), one timed write (the one that
 * triggers a compaction), and waiting for a file to appear (a daemon's
 * start-up, timed to the millisecond).
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Appends a record-sized line and fdatasyncs it, over and over, in a
 * temporary file in dir: what one journal commit of --sync=always costs
 * at least on that filesystem. */
void cmd_fsync(const char *dir, double seconds)
{
	static const char line[] = "probe ADD A 1\n";  /* about one journal record */
	char path[4096];
	uint64_t t0, end, elapsed, ops = 0;
	int fd;

	if (snprintf(path, sizeof(path), "%s/fsync-probe.XXXXXX", dir) >= (int)sizeof(path))
		die("path too long: '%s'", dir);
	fd = mkstemp(path);
	if (fd < 0)
		die("cannot make a file in '%s': %s", dir, strerror(errno));
	t0 = now_ns();
	end = t0 + (uint64_t)(seconds * 1e9);
	do {
		if (write(fd, line, sizeof(line) - 1) != (ssize_t)sizeof(line) - 1)
			die("write '%s': %s", path, strerror(errno));
		if (fdatasync(fd) != 0)
			die("fdatasync '%s': %s", path, strerror(errno));
		ops++;
	} while (now_ns() < end);
	elapsed = now_ns() - t0;
	if (unlink(path) != 0)
		die("unlink '%s': %s", path, strerror(errno));
	close_or_die(fd, path);
	printf("ops_per_sec %.0f\n", (double)ops * 1e9 / (double)elapsed);
}

/* One write() of text to path (opened for writing), timed. */
void cmd_write_once(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open_or_die(path, O_WRONLY);
	uint64_t t0 = now_ns();
	ssize_t n = write(fd, text, len);
	uint64_t t1 = now_ns();

	if (n != (ssize_t)len)
		die("write '%s': %s", path, n < 0 ? strerror(errno) : "short write");
	close_or_die(fd, path);
	printf("us %.1f\n", (double)(t1 - t0) / 1e3);
}

/* Polls every 200 us until path exists; prints the wall-clock time it
 * appeared (seconds since the epoch, as bash's EPOCHREALTIME), so the
 * caller can subtract the time it started the daemon.  Dies after
 * `seconds`, or as soon as process pid (when given) is gone. */
void cmd_wait_path(const char *path, double seconds, const char *pid)
{
	uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
	long p = 0;
	struct timespec ts;

	if (pid) {
		char *e;

		errno = 0;
		p = strtol(pid, &e, 10);
		if (errno != 0 || e == pid || *e != '\0' || p <= 0)
			die("bad pid '%s'", pid);
	}
	while (access(path, F_OK) != 0) {
		if (p > 0 && kill((pid_t)p, 0) != 0 && errno == ESRCH)
			die("process %ld ended before '%s' appeared", p, path);
		if (now_ns() > end)
			die("'%s' did not appear within %.0f s", path, seconds);
		sleep_ns(200000);
	}
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	printf("realtime %lld.%06ld\n", (long long)ts.tv_sec, ts.tv_nsec / 1000);
}
