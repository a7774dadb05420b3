/* store.c - snapshot + journal in a state directory.  See store.h.
 *
 * Files in the directory: "lock" (flock'ed by the running daemon, holds its
 * pid), "snapshot", "journal", and transiently "snapshot.tmp" and
 * "journal.tmp".  A damaged journal kept by --recover is renamed
 * "journal.damaged-YYYYMMDD-HHMMSS".
 *
 * Tickets for group commit count bytes ever appended (across compactions),
 * so they keep growing when the journal file starts over.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define HEADER_SIZE 16
#define RECORD_HEADER 8
#define JOURNAL_MAGIC "rwfsjnl1"
#define SNAPSHOT_MAGIC "rwfssnp1"
#define SNAPSHOT_CHUNK_BYTES 60000 /* records of a snapshot stay under the batch limits */
#define SNAPSHOT_CHUNK_LINES 1000

/* openat is variadic; the table wants a fixed signature. */
static int libc_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat(dirfd, path, flags, mode);
}

const struct store_io store_io_libc = {
	.openat = libc_openat,
	.pwrite = pwrite,
	.fdatasync = fdatasync,
	.fsync = fsync,
	.ftruncate = ftruncate,
	.renameat = renameat,
};

struct store {
	const struct store_io *io;
	char *dir;
	int dirfd;
	int lockfd;
	int journal_fd;         /* swapped by compaction under sync_lock */
	uint64_t generation;    /* of the journal; under the caller's exclusive lock */
	uint64_t journal_size;  /* under the caller's exclusive lock */
	uint64_t compact_bytes;
	enum store_sync sync;
	FILE *notices;

	pthread_mutex_t sync_lock;
	pthread_cond_t sync_done;   /* a sync finished, or stop was asked */
	uint64_t appended;          /* under sync_lock: bytes ever appended */
	uint64_t synced;            /* under sync_lock: of those, on disk */
	bool syncing;               /* under sync_lock: an fdatasync is running */
	bool stopping;              /* under sync_lock */
	bool syncer_started;
	pthread_t syncer;
	bool stale_journal;         /* a snapshot includes the open journal */
	bool sync_failed;           /* under sync_lock: an fdatasync failed */
};

/* --- CRC-32 ---------------------------------------------------------- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t store_crc32(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t c = 0xffffffffu;

	pthread_once(&crc_once, crc_init);
	for (size_t i = 0; i < len; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* --- little helpers ---------------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static int say(char *msg, size_t size, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int say(char *msg, size_t size, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, size, fmt, ap);
	va_end(ap);
	return ret;
}

static void notice(struct store *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void notice(struct store *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->notices)
		return;
	va_start(ap, fmt);
	fprintf(s->notices, "rwfs: ");
	vfprintf(s->notices, fmt, ap);
	fprintf(s->notices, "\n");
	fflush(s->notices);
	va_end(ap);
}

/* Reads the whole file name in dirfd into a malloc'd buffer.  Returns 0,
 * -ENOENT when there is none, or -errno. */
static int read_file(int dirfd, const char *name, unsigned char **buf, size_t *len)
{
	struct stat st;
	size_t got = 0;
	int fd, ret = 0;

	*buf = NULL;
	*len = 0;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		goto out_close;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		ret = -ENOMEM;
		goto out_close;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, *buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			free(*buf);
			*buf = NULL;
			goto out_close;
		}
		got += (size_t)n;
	}
	*len = got;
out_close:
	close(fd);
	return ret;
}

/* Writes all of buf at off, through the io layer. */
static int write_all(const struct store_io *io, int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = io->pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENOSPC;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* --- parsing a file ------------------------------------------------------ */

/* Where the records of a file stand after a scan. */
struct scan {
	uint64_t generation;
	size_t good_end;     /* end of the last good record */
	size_t records;      /* good records */
	bool torn;           /* the file ends in an incomplete or bad final record */
	bool damaged;        /* a bad record with more data after it */
	const char *why;     /* what is wrong with the bad record */
};

/* Walks the records of buf, applying each good one, until the first bad
 * one.  Returns 0, or the -errno of apply. */
static int scan_records(const unsigned char *buf, size_t len, struct scan *sc,
			store_apply_fn apply, void *arg)
{
	size_t off = HEADER_SIZE;

	sc->good_end = off;
	while (off < len) {
		uint32_t n, crc;

		if (len - off < RECORD_HEADER) {
			sc->torn = true;
			sc->why = "incomplete record header";
			return 0;
		}
		n = get_u32(buf + off);
		crc = get_u32(buf + off + 4);
		if (n > len - off - RECORD_HEADER) {
			sc->torn = true;
			sc->why = "incomplete record";
			return 0;
		}
		if (n > STORE_MAX_RECORD || store_crc32(buf + off + RECORD_HEADER, n) != crc) {
			sc->why = n > STORE_MAX_RECORD ? "record length out of range"
							: "CRC mismatch";
			if (off + RECORD_HEADER + n == len)
				sc->torn = true;
			else
				sc->damaged = true;
			return 0;
		}
		if (apply) {
			int ret = apply(arg, (const char *)buf + off + RECORD_HEADER, n);

			if (ret) {
				sc->damaged = true;
				sc->why = "record does not parse as instructions";
				return ret;
			}
		}
		off += RECORD_HEADER + n;
		sc->good_end = off;
		sc->records++;
	}
	return 0;
}

static int check_header(const unsigned char *buf, size_t len, const char *magic,
			struct scan *sc)
{
	if (len < HEADER_SIZE || memcmp(buf, magic, 8) != 0)
		return -EBADMSG;
	sc->generation = get_u64(buf + 8);
	return 0;
}

/* --- creating files ------------------------------------------------------ */

static int sync_dir(struct store *s)
{
	return s->io->fsync(s->dirfd) ? -errno : 0;
}

/* Writes header + records of text into name.tmp, syncs it and renames it
 * to name, then syncs the directory.  Records are cut at line ends so each
 * stays within the batch limits.  Returns 0 or -errno, with no name.tmp
 * left behind on failure. */
static int write_file_atomically(struct store *s, const char *name, const char *magic,
				 uint64_t generation, const char *text, size_t len)
{
	char tmp[64];
	unsigned char header[HEADER_SIZE];
	off_t off = HEADER_SIZE;
	int fd, ret;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = s->io->openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	memcpy(header, magic, 8);
	put_u64(header + 8, generation);
	ret = write_all(s->io, fd, header, sizeof(header), 0);
	while (!ret && len > 0) {
		size_t chunk = 0, lines = 0;
		unsigned char rec[RECORD_HEADER];

		while (chunk < len && chunk < SNAPSHOT_CHUNK_BYTES && lines < SNAPSHOT_CHUNK_LINES) {
			const char *nl = memchr(text + chunk, '\n', len - chunk);

			chunk = nl ? (size_t)(nl - text) + 1 : len;
			lines++;
		}
		put_u32(rec, (uint32_t)chunk);
		put_u32(rec + 4, store_crc32(text, chunk));
		ret = write_all(s->io, fd, rec, sizeof(rec), off);
		if (!ret)
			ret = write_all(s->io, fd, text, chunk, off + RECORD_HEADER);
		off += RECORD_HEADER + (off_t)chunk;
		text += chunk;
		len -= chunk;
	}
	if (!ret && s->io->fsync(fd) != 0)
		ret = -errno;
	close(fd);
	if (!ret && s->io->renameat(s->dirfd, tmp, s->dirfd, name) != 0)
		ret = -errno;
	if (!ret)
		ret = sync_dir(s);
	if (ret)
		unlinkat(s->dirfd, tmp, 0);
	return ret;
}

/* Makes an empty journal of generation and opens it for appending. */
static int start_journal(struct store *s, uint64_t generation, int *fd)
{
	int ret = write_file_atomically(s, "journal", JOURNAL_MAGIC, generation, "", 0);

	if (ret)
		return ret;
	*fd = s->io->openat(s->dirfd, "journal", O_WRONLY | O_CLOEXEC, 0);
	return *fd < 0 ? -errno : 0;
}

/* --- opening ------------------------------------------------------------- */

static int take_lock(struct store *s, char *msg, size_t size)
{
	char pid[32];
	ssize_t n;

	s->lockfd = s->io->openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lockfd < 0) {
		int err = errno;

		return say(msg, size, -err, "state directory '%s' %s", s->dir,
			   err == EROFS || err == EACCES ? "is read-only" : strerror(err));
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
		n = pread(s->lockfd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		return say(msg, size, -EBUSY,
			   "state directory '%s' is in use by another rwfs (pid %s)", s->dir,
			   pid[0] ? pid : "?");
	}
	return 0;
}

/* Writes our pid into the lock file, for the message of a second daemon. */
static void record_pid(struct store *s)
{
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

	if (ftruncate(s->lockfd, 0) == 0 && pwrite(s->lockfd, pid, (size_t)n, 0) < 0)
		notice(s, "cannot record the pid in '%s/lock': %s", s->dir, strerror(errno));
}

static int load_snapshot(struct store *s, store_apply_fn apply, void *arg,
			 uint64_t *generation, char *msg, size_t size)
{
	unsigned char *buf;
	size_t len;
	struct scan sc = { 0 };
	int ret;

	*generation = 0;
	ret = read_file(s->dirfd, "snapshot", &buf, &len);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return say(msg, size, ret, "%s/snapshot: cannot read: %s", s->dir,
			   strerror(-ret));
	ret = check_header(buf, len, SNAPSHOT_MAGIC, &sc);
	if (ret) {
		say(msg, size, ret, "%s/snapshot: bad header at offset 0", s->dir);
		goto out;
	}
	ret = scan_records(buf, len, &sc, apply, arg);
	if (!ret && (sc.torn || sc.damaged))
		ret = -EBADMSG;
	if (ret)
		say(msg, size, ret, "%s/snapshot: damaged at offset %zu: %s", s->dir,
		    sc.good_end, sc.why);
	*generation = sc.generation;
out:
	free(buf);
	return ret;
}

/* Copies the damaged journal aside before it is cut. */
static int keep_damaged_copy(struct store *s, const unsigned char *buf, size_t len,
			     char *name, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;
	int fd, ret;

	localtime_r(&now, &tm);
	strftime(name, size, "journal.damaged-%Y%m%d-%H%M%S", &tm);
	fd = s->io->openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ret = write_all(s->io, fd, buf, len, 0);
	if (!ret && s->io->fsync(fd) != 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Counts the records that still frame correctly after a damaged one, for
 * the message of --recover. */
static size_t count_after(const unsigned char *buf, size_t len, size_t off)
{
	size_t n = 0;

	off += RECORD_HEADER + get_u32(buf + off);
	while (off + RECORD_HEADER <= len) {
		uint32_t rec = get_u32(buf + off);

		if (rec > len - off - RECORD_HEADER)
			break;
		off += RECORD_HEADER + rec;
		n++;
	}
	return n;
}

/* Opens the journal for appending at good_end, cutting what follows. */
static int open_journal_at(struct store *s, size_t good_end)
{
	s->journal_fd = s->io->openat(s->dirfd, "journal", O_WRONLY | O_CLOEXEC, 0);
	if (s->journal_fd < 0)
		return -errno;
	if (s->io->ftruncate(s->journal_fd, (off_t)good_end) != 0 ||
	    s->io->fsync(s->journal_fd) != 0)
		return -errno;
	s->journal_size = good_end;
	return 0;
}

static int recover_journal(struct store *s, const unsigned char *buf, size_t len,
			   const struct scan *sc, char *msg, size_t size)
{
	char copy[64];
	size_t after = count_after(buf, len, sc->good_end);
	int ret = keep_damaged_copy(s, buf, len, copy, sizeof(copy));

	if (ret)
		return say(msg, size, ret, "%s/journal: cannot keep a copy: %s", s->dir,
			   strerror(-ret));
	notice(s, "%s/journal: damaged record at offset %zu (%s); kept a copy in %s/%s, "
	       "dropped it and %zu record%s after it, %zu good records kept",
	       s->dir, sc->good_end, sc->why, s->dir, copy, after, after == 1 ? "" : "s",
	       sc->records);
	return open_journal_at(s, sc->good_end);
}

static int load_journal(struct store *s, uint64_t snapshot_gen, store_apply_fn apply,
			void *arg, bool recover, char *msg, size_t size)
{
	unsigned char *buf;
	size_t len;
	struct scan sc = { 0 };
	int ret;

	ret = read_file(s->dirfd, "journal", &buf, &len);
	if (ret == -ENOENT) {
		s->generation = snapshot_gen + 1;
		s->journal_size = HEADER_SIZE;
		return start_journal(s, s->generation, &s->journal_fd);
	}
	if (ret)
		return say(msg, size, ret, "%s/journal: cannot read: %s", s->dir,
			   strerror(-ret));
	if (check_header(buf, len, JOURNAL_MAGIC, &sc)) {
		ret = say(msg, size, -EBADMSG, "%s/journal: bad header at offset 0", s->dir);
		goto out;
	}
	if (sc.generation <= snapshot_gen) {
		/* Compaction stopped between the snapshot and the new journal:
		 * the snapshot already holds all of this journal. */
		s->generation = snapshot_gen + 1;
		s->journal_size = HEADER_SIZE;
		ret = start_journal(s, s->generation, &s->journal_fd);
		goto out;
	}
	s->generation = sc.generation;
	ret = scan_records(buf, len, &sc, apply, arg);
	if (ret || (sc.damaged && !recover)) {
		ret = say(msg, size, ret ? ret : -EBADMSG,
			  "%s/journal: damaged record at offset %zu: %s (start with --recover "
			  "to keep a copy and go on from the last good record)",
			  s->dir, sc.good_end, sc.why);
		goto out;
	}
	if (sc.damaged) {
		ret = recover_journal(s, buf, len, &sc, msg, size);
		goto out;
	}
	if (sc.torn)
		notice(s, "%s/journal: dropped a torn final record at offset %zu (%s)",
		       s->dir, sc.good_end, sc.why);
	ret = open_journal_at(s, sc.good_end);
	if (ret)
		say(msg, size, ret, "%s/journal: %s", s->dir, strerror(-ret));
out:
	free(buf);
	return ret;
}

static struct store *store_alloc(const struct store_options *opts)
{
	struct store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->dir = strdup(opts->dir);
	if (!s->dir || pthread_mutex_init(&s->sync_lock, NULL)) {
		free(s->dir);
		free(s);
		return NULL;
	}
	pthread_cond_init(&s->sync_done, NULL);
	s->io = opts->io ? opts->io : &store_io_libc;
	s->sync = opts->sync;
	s->compact_bytes = opts->compact_bytes ? opts->compact_bytes
					       : STORE_DEFAULT_COMPACT_BYTES;
	s->notices = opts->notices;
	s->dirfd = s->lockfd = s->journal_fd = -1;
	return s;
}

int store_open(const struct store_options *opts, store_apply_fn apply, void *arg,
	       struct store **out, char *msg, size_t msgsize)
{
	struct store *s = store_alloc(opts);
	uint64_t snapshot_gen;
	int ret;

	*out = NULL;
	if (!s)
		return say(msg, msgsize, -ENOMEM, "out of memory");
	s->dirfd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		ret = -errno;
		say(msg, msgsize, ret, "state directory '%s' %s", opts->dir,
		    ret == -ENOENT ? "does not exist" : strerror(-ret));
		goto out_free;
	}
	ret = take_lock(s, msg, msgsize);
	if (ret)
		goto out_free;
	ret = load_snapshot(s, apply, arg, &snapshot_gen, msg, msgsize);
	if (ret)
		goto out_free;
	ret = load_journal(s, snapshot_gen, apply, arg, opts->recover, msg, msgsize);
	if (ret) {
		if (!msg[0])
			say(msg, msgsize, ret, "%s: %s", opts->dir, strerror(-ret));
		goto out_free;
	}
	record_pid(s);
	*out = s;
	return 0;

out_free:
	store_close(s);
	return ret;
}

/* --- appending and syncing -------------------------------------------- */

int store_append(struct store *s, const char *text, size_t len, uint64_t *ticket)
{
	unsigned char small[512], *rec = small;
	size_t n = RECORD_HEADER + len;
	int ret;

	if (len > STORE_MAX_RECORD)
		return -EFBIG;
	if (s->stale_journal || __atomic_load_n(&s->sync_failed, __ATOMIC_RELAXED))
		return -EIO;
	/* One write per record, so a crash leaves it whole or torn, never
	 * interleaved; small ones (most) are built on the stack. */
	if (n > sizeof(small))
		rec = malloc(n);
	if (!rec)
		return -ENOMEM;
	put_u32(rec, (uint32_t)len);
	put_u32(rec + 4, store_crc32(text, len));
	memcpy(rec + RECORD_HEADER, text, len);
	ret = write_all(s->io, s->journal_fd, rec, n, (off_t)s->journal_size);
	if (rec != small)
		free(rec);
	if (ret) {
		/* Leave no partial record behind; if even that fails, the next
		 * append overwrites it, and start-up drops a torn tail. */
		s->io->ftruncate(s->journal_fd, (off_t)s->journal_size);
		return ret;
	}
	s->journal_size += n;
	pthread_mutex_lock(&s->sync_lock);
	s->appended += n;
	*ticket = s->appended;
	pthread_mutex_unlock(&s->sync_lock);
	return 0;
}

/* Runs one fdatasync covering everything appended so far.  Called with
 * sync_lock held and no sync running; drops the lock meanwhile. */
static int sync_now(struct store *s)
{
	uint64_t target = s->appended;
	int ret = 0;

	s->syncing = true;
	pthread_mutex_unlock(&s->sync_lock);
	if (s->io->fdatasync(s->journal_fd) != 0)
		ret = -errno;
	pthread_mutex_lock(&s->sync_lock);
	s->syncing = false;
	if (ret && !s->sync_failed) {
		/* What the kernel failed to write may be gone from its cache too,
		 * so nothing after it can be promised: stop taking changes. */
		__atomic_store_n(&s->sync_failed, true, __ATOMIC_RELAXED);
		notice(s, "%s/journal: fdatasync failed: %s; refusing changes until restarted",
		       s->dir, strerror(-ret));
	}
	if (target > s->synced)
		s->synced = target;
	pthread_cond_broadcast(&s->sync_done);
	return ret;
}

int store_commit(struct store *s, uint64_t ticket)
{
	if (s->sync != STORE_SYNC_ALWAYS)
		return 0;
	pthread_mutex_lock(&s->sync_lock);
	while (s->synced < ticket) {
		if (s->syncing)
			pthread_cond_wait(&s->sync_done, &s->sync_lock);
		else
			sync_now(s);
	}
	pthread_mutex_unlock(&s->sync_lock);
	return 0;
}

static void *syncer_main(void *arg)
{
	struct store *s = arg;
	struct timespec next;

	pthread_mutex_lock(&s->sync_lock);
	while (!s->stopping) {
		clock_gettime(CLOCK_REALTIME, &next);
		next.tv_sec += 1;
		while (!s->stopping &&
		       pthread_cond_timedwait(&s->sync_done, &s->sync_lock, &next) != ETIMEDOUT)
			;
		if (!s->stopping && !s->syncing && s->synced < s->appended)
			sync_now(s);
	}
	pthread_mutex_unlock(&s->sync_lock);
	return NULL;
}

int store_start(struct store *s)
{
	int err;

	record_pid(s);
	if (s->sync != STORE_SYNC_EVERYSEC)
		return 0;
	err = pthread_create(&s->syncer, NULL, syncer_main, s);
	if (err)
		return -err;
	s->syncer_started = true;
	return 0;
}

/* --- compaction ------------------------------------------------------------ */

bool store_wants_compaction(struct store *s)
{
	return s->stale_journal || s->journal_size > s->compact_bytes;
}

uint64_t store_journal_bytes(struct store *s)
{
	return s->journal_size;
}

int store_compact(struct store *s, const char *text, size_t len)
{
	int fd, ret;

	ret = write_file_atomically(s, "snapshot", SNAPSHOT_MAGIC, s->generation, text, len);
	if (ret) {
		notice(s, "%s/snapshot: compaction failed: %s", s->dir, strerror(-ret));
		return ret;
	}
	ret = start_journal(s, s->generation + 1, &fd);
	if (ret) {
		/* The snapshot now holds this journal, which start-up will skip:
		 * appending to it would lose those records.  Refuse writes until
		 * a compaction succeeds. */
		s->stale_journal = true;
		notice(s, "%s/journal: cannot start a new journal: %s", s->dir, strerror(-ret));
		return ret;
	}
	s->stale_journal = false;
	pthread_mutex_lock(&s->sync_lock);
	while (s->syncing)
		pthread_cond_wait(&s->sync_done, &s->sync_lock);
	close(s->journal_fd);
	s->journal_fd = fd;
	s->synced = s->appended; /* the snapshot is on disk and holds it all */
	pthread_mutex_unlock(&s->sync_lock);
	s->generation++;
	s->journal_size = HEADER_SIZE;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->syncer_started) {
		pthread_mutex_lock(&s->sync_lock);
		s->stopping = true;
		pthread_cond_broadcast(&s->sync_done);
		pthread_mutex_unlock(&s->sync_lock);
		pthread_join(s->syncer, NULL);
	}
	if (s->journal_fd >= 0) {
		if (s->io->fdatasync(s->journal_fd) != 0)
			notice(s, "%s/journal: fdatasync failed: %s", s->dir, strerror(errno));
		close(s->journal_fd);
	}
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	pthread_cond_destroy(&s->sync_done);
	pthread_mutex_destroy(&s->sync_lock);
	free(s->dir);
	free(s);
}

/* --- reading for a person ------------------------------------------------- */

struct dump {
	FILE *out;
	const char *file;
	size_t off;
};

static int dump_record(void *arg, const char *text, size_t len)
{
	struct dump *d = arg;
	size_t start = 0;

	fprintf(d->out, "%s @%zu:", d->file, d->off);
	while (start < len) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - text) : len;

		fprintf(d->out, "%s%.*s\n", start ? "    " : " ", (int)(end - start),
			text + start);
		start = end + 1;
	}
	if (len == 0)
		fprintf(d->out, "\n");
	d->off += RECORD_HEADER + len;
	return 0;
}

static int dump_file(int dirfd, const char *name, const char *magic, FILE *out)
{
	struct dump d = { out, name, HEADER_SIZE };
	struct scan sc = { 0 };
	unsigned char *buf;
	size_t len;
	int ret = read_file(dirfd, name, &buf, &len);

	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	if (check_header(buf, len, magic, &sc)) {
		fprintf(out, "%s: bad header at offset 0\n", name);
		ret = -EBADMSG;
		goto out;
	}
	fprintf(out, "%s: generation %llu, %zu bytes\n", name,
		(unsigned long long)sc.generation, len);
	scan_records(buf, len, &sc, dump_record, &d);
	if (sc.torn || sc.damaged) {
		fprintf(out, "%s: %s record at offset %zu: %s\n", name,
			sc.torn ? "torn final" : "damaged", sc.good_end, sc.why);
		ret = sc.damaged ? -EBADMSG : 0;
	}
	fprintf(out, "%s: %zu good records\n", name, sc.records);
out:
	free(buf);
	return ret;
}

int store_dump(const char *dir, FILE *out)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (dirfd < 0)
		return -errno;
	ret = dump_file(dirfd, "snapshot", SNAPSHOT_MAGIC, out);
	if (!ret)
		ret = dump_file(dirfd, "journal", JOURNAL_MAGIC, out);
	close(dirfd);
	return ret;
}
