/* common.c - what the rwfs client tools share; see common.h. */
#define _GNU_SOURCE /* asprintf */
#include "../fs/engine/le.h"
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

const char *prog = "rwfs";

/* A progress line is on the terminal without its newline: a message
 * first clears it. */
static bool progress_dirty;

static void vmsg(const char *fmt, va_list ap)
{
	fflush(stdout);
	if (progress_dirty) {
		fputs("\r\033[K", stderr);
		progress_dirty = false;
	}
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void warnmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(1);
}

void print_version(void)
{
	printf("%s rwfs %s\n", prog, RWFS_VERSION);
	close_stdout();
}

void bad_usage(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see %s --help\n", prog);
	exit(2);
}

void bad_option(int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		bad_usage("option '%s' needs an argument", arg);
	if (optopt)
		bad_usage("unknown option '-%c'", optopt);
	bad_usage("unknown option '%s'", arg);
}

void close_stdout(void)
{
	/* ferror catches an earlier failed write that fclose would not. */
	bool failed = ferror(stdout);

	if (fclose(stdout) != 0 || failed)
		die("cannot write the output: %s", strerror(errno ? errno : EIO));
}

/* Mount and queues ------------------------------------------------------ */

const char *find_mount(const char *option)
{
	const char *env = getenv("RWFS_MOUNT");

	if (option)
		return option;
	if (env && *env)
		return env;
	return "./mnt";
}

bool is_mount(const char *mount)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/ctl", mount);
	return stat(path, &st) == 0;
}

void require_mount(const char *mount)
{
	if (!is_mount(mount))
		die("'%s' is not an rwfs mount (no ctl file there)", mount);
}

bool queue_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len > QUEUE_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789._-") == len;
}

char *queue_path(const char *mount, const char *queue)
{
	char *path;

	if (strchr(queue, '/'))
		path = strdup(queue);
	else if (asprintf(&path, "%s/queues/%s", mount, queue) < 0)
		path = NULL;
	if (!path)
		die("out of memory");
	return path;
}

/* Numbers ------------------------------------------------------------------ */

int parse_count(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long n;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end || n > max)
		return -1;
	*out = n;
	return 0;
}

int parse_seconds(const char *s, double *out)
{
	double d;
	char *end;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -1;
	errno = 0;
	d = strtod(s, &end);
	if (errno || *end || !isfinite(d) || d < 0 || d > 1e6)
		return -1;
	*out = d;
	return 0;
}

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void sleep_seconds(double seconds)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void seed_random(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	srandom((unsigned)(ts.tv_nsec ^ ts.tv_sec ^ ((unsigned)getpid() << 16)));
}

/* Record files ------------------------------------------------------------- */

int write_once(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

int record_open_append(const char *path)
{
	char magic[RECORD_MAGIC_LEN];
	struct stat st;
	int fd, saved;

	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR)
			goto out_close;
	}
	if (fstat(fd, &st) != 0)
		goto out_close;
	if (st.st_size == 0) {
		if (write_once(fd, RECORD_MAGIC, RECORD_MAGIC_LEN) != 0)
			goto out_close;
	} else if (pread(fd, magic, sizeof(magic), 0) != sizeof(magic) ||
		   memcmp(magic, RECORD_MAGIC, RECORD_MAGIC_LEN) != 0) {
		errno = EILSEQ;
		goto out_close;
	}
	flock(fd, LOCK_UN);
	return fd;

out_close:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int record_append(int fd, const void *payload, size_t len)
{
	unsigned char stack[RECORD_HEADER + QUEUE_ITEM_MAX + 1];
	unsigned char *buf = stack;
	int ret;

	if (len > RECORD_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (len > sizeof(stack) - RECORD_HEADER) {
		buf = malloc(RECORD_HEADER + len);
		if (!buf)
			return -1;
	}
	le_put32(buf, (uint32_t)len);
	le_put32(buf + 4, (uint32_t)crc32(0, (const Bytef *)payload, (uInt)len));
	memcpy(buf + RECORD_HEADER, payload, len);
	ret = write_once(fd, buf, RECORD_HEADER + len);
	if (buf != stack) {
		int saved = errno;
		free(buf);
		errno = saved;
	}
	return ret;
}

int record_reader_init(struct record_reader *r, FILE *f, const char **why)
{
	char magic[RECORD_MAGIC_LEN];
	size_t n;

	memset(r, 0, sizeof(*r));
	r->file = f;
	n = fread(magic, 1, sizeof(magic), f);
	if (ferror(f))
		return -1;
	if (n == 0)
		return 0;
	r->offset = n;
	if (n < sizeof(magic) || memcmp(magic, RECORD_MAGIC, RECORD_MAGIC_LEN) != 0) {
		*why = "not a record file (no \"" RECORD_MAGIC "\" at its start)";
		return 1;
	}
	return 0;
}

enum record_status record_read(struct record_reader *r, const char **why)
{
	static char torn[80];
	unsigned char head[RECORD_HEADER];
	uint32_t len;
	size_t n;

	n = fread(head, 1, sizeof(head), r->file);
	if (ferror(r->file))
		return RECORD_IO_ERROR;
	if (n == 0)
		return RECORD_END;
	if (n < sizeof(head)) {
		snprintf(torn, sizeof(torn), "torn header (%zu of %d bytes)", n, RECORD_HEADER);
		*why = torn;
		return RECORD_DAMAGED;
	}
	len = le_get32(head);
	if (len > RECORD_MAX) {
		snprintf(torn, sizeof(torn), "length %lu over the limit of %u",
			 (unsigned long)len, RECORD_MAX);
		*why = torn;
		return RECORD_DAMAGED;
	}
	if (r->cap < (size_t)len + 1) {
		char *p = realloc(r->payload, (size_t)len + 1);
		if (!p)
			die("out of memory");
		r->payload = p;
		r->cap = (size_t)len + 1;
	}
	n = fread(r->payload, 1, len, r->file);
	if (ferror(r->file))
		return RECORD_IO_ERROR;
	if (n < len) {
		snprintf(torn, sizeof(torn), "torn record (%zu of %lu payload bytes)", n,
			 (unsigned long)len);
		*why = torn;
		return RECORD_DAMAGED;
	}
	if ((uint32_t)crc32(0, (const Bytef *)r->payload, (uInt)len) != le_get32(head + 4)) {
		*why = "checksum mismatch";
		return RECORD_DAMAGED;
	}
	r->payload[len] = '\0';
	r->len = len;
	r->offset += RECORD_HEADER + len;
	return RECORD_OK;
}

void record_reader_release(struct record_reader *r)
{
	free(r->payload);
	r->payload = NULL;
	r->cap = 0;
}

/* Progress on a terminal --------------------------------------------------- */

void progress_init(struct progress *p, bool allowed, const char *label,
		   unsigned long long total)
{
	memset(p, 0, sizeof(*p));
	p->on = allowed && isatty(STDERR_FILENO);
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->total = total;
	p->start = now_seconds();
}

static void progress_draw(struct progress *p, unsigned long long done, double now)
{
	double secs = now - p->start;
	double rate = secs > 0 ? done / secs : 0;

	if (p->total)
		fprintf(stderr, "\r%s: %llu/%llu items, %.0f/s\033[K", p->label, done,
			p->total, rate);
	else
		fprintf(stderr, "\r%s: %llu items, %.0f/s\033[K", p->label, done, rate);
	p->shown = true;
	p->last = now;
	progress_dirty = true;
}

void progress_update(struct progress *p, unsigned long long done)
{
	double now;

	if (!p->on)
		return;
	now = now_seconds();
	if (now - p->start < 1.0 || now - p->last < 0.25)
		return;
	progress_draw(p, done, now);
}

void progress_end(struct progress *p, unsigned long long done)
{
	if (!p->shown)
		return;
	progress_draw(p, done, now_seconds());
	fputc('\n', stderr);
	progress_dirty = false;
}
