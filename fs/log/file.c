/* file.c - the log as a journal and a snapshot in one state directory.
 * See file.h for the format and log.h for what a log promises.
 *
 * Files in the directory: "lock" (flock'ed by the running daemon, holds its
 * pid), "snapshot", "journal", and transiently "snapshot.tmp" and
 * "journal.tmp".  A damaged journal kept by recovery is copied to
 * "journal.damaged-YYYYMMDD-HHMMSS".
 *
 * Lock order: append_lock, then sync_lock.  log_file_open reads and checks
 * both files and keeps them in memory until log_follow delivers them.
 *
 * Appends are copies into a shared mapping of the journal, not write()s:
 * the mapping's pages are the page cache, so a record copied there
 * survives a kill -9 of the daemon as a written one does, and fdatasync of
 * the journal writes them back.  A write() costs the kernel far more per
 * record than the copy.  The file is grown ahead of the records with
 * fallocate, so the tail past the last record is zeros; a clean close cuts
 * it.  On a filesystem that cannot preallocate or map, appends are
 * pwrite()s as before.
 */
#define _GNU_SOURCE /* fallocate */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "../engine/le.h"
#include "crc.h"
#include "file.h"

#define HEADER_SIZE 36
#define HEADER_CRC_OFFSET 32
#define RECORD_HEADER 8
#define BLOB_CRC 4
#define SNAPSHOT_VERSION 1
#define JOURNAL_VERSION 2    /* 1: records checked by crc_ieee; 2: by crc_castagnoli */
#define JOURNAL_MAGIC "rwfsjnl2"
#define SNAPSHOT_MAGIC "rwfssnp2"
/* The journal grows by its own size, from 1 MiB up to steps of 16 MiB
 * (and never by more than the size that asks for a compaction): rarely
 * enough that growing costs nothing per record, with a zero tail small
 * beside the journal.  Sizes are whole pages. */
#define GROW_MIN (1u << 20)
#define RELEASE_STEP (1u << 20) /* resident pages behind the tail: see release_behind */
#define GATHER_NS 100000        /* an fdatasync waits this long at most: see group_deadline */
#define GROW_MAX (16u << 20)
#define GROW_ALIGN 4096u

/* openat is variadic; the table wants a fixed signature. */
static int libc_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat(dirfd, path, flags, mode);
}

const struct log_file_io log_file_io_libc = {
	.openat = libc_openat,
	.pwrite = pwrite,
	.fallocate = fallocate,
	.mmap = mmap,
	.fdatasync = fdatasync,
	.fsync = fsync,
	.ftruncate = ftruncate,
	.renameat = renameat,
};

typedef uint32_t (*crc_fn)(const void *buf, size_t len);

struct log_file {
	struct log log;
	const struct log_file_io *io;
	char *dir;
	int dirfd;
	int lockfd;
	enum log_file_sync sync;
	uint64_t compact_bytes;
	FILE *notices;

	/* What log_file_open read, until log_follow delivers it. */
	unsigned char *snapshot_buf;  /* NULL: there is no snapshot */
	uint64_t snapshot_position;
	unsigned char *journal_buf;   /* NULL: no journal records to deliver */
	size_t journal_good_end;

	pthread_mutex_t append_lock;
	bool followed;                /* under append_lock */
	log_deliver_fn deliver;       /* under append_lock, set by follow */
	void *arg;
	uint64_t position;            /* under append_lock: last position written */
	uint64_t base;                /* written under append_lock, read atomically:
				       * the open journal's base */
	uint64_t journal_size;        /* written under append_lock, read atomically */
	bool journal_pending;         /* under append_lock, read atomically: no journal
				       * to append to, make one of base = position first */
	bool tail_dirty;              /* under append_lock: a failed write's bytes may
				       * be past journal_size, cut them first */
	bool pwrite_only;             /* under append_lock: the filesystem cannot
				       * preallocate or map the journal */
	uint64_t file_size;           /* under append_lock: the journal file's size,
				       * journal_size and the zero tail grown ahead */
	crc_fn record_crc;            /* under append_lock: the open journal's check */
	unsigned char *map;           /* under append_lock: the journal's first
				       * map_size bytes, shared; NULL: not mapped */
	size_t map_size;
	bool compacting;              /* written under append_lock, read atomically */
	uint64_t compact_at;          /* written under append_lock, read atomically:
				       * the journal size that asks for a compaction */

	pthread_mutex_t sync_lock;
	int journal_fd;               /* swapped under both locks; -1: none open */
	uint64_t written;             /* written atomically under append_lock: last
				       * position written (no lock on the append's way) */
	uint64_t synced;              /* written under sync_lock, read atomically:
				       * of those, on disk */
	uint32_t sync_seq;            /* written under sync_lock, read atomically:
				       * bumped as each fdatasync ends and at the
				       * stop: see sleep_on_seq */
	struct timespec synced_at;    /* under sync_lock: CLOCK_MONOTONIC of the last
				       * fdatasync that succeeded; 0: none yet */
	bool syncing;                 /* under sync_lock: an fdatasync is running */
	unsigned sync_waiters;        /* atomic: writers in wait_synced */
	unsigned group;               /* under sync_lock: writers the next fdatasync
				       * waits for, those waiting as the last ended */
	int64_t gather_until;         /* under sync_lock: CLOCK_MONOTONIC ns until which
				       * writers wait for the group; 0: none waits */
	bool sync_failed;             /* written under sync_lock, read atomically:
				       * the log is stopped */
	bool stopping;                /* under sync_lock */
	bool syncer_started;
	pthread_t syncer;
};

static struct log_file *to_file(struct log *log)
{
	return (struct log_file *)log;
}

/* --- little helpers ---------------------------------------------------- */

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

static void notice(struct log_file *lf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void notice(struct log_file *lf, const char *fmt, ...)
{
	va_list ap;

	if (!lf->notices)
		return;
	va_start(ap, fmt);
	fprintf(lf->notices, "rwfs: ");
	vfprintf(lf->notices, fmt, ap);
	fprintf(lf->notices, "\n");
	fflush(lf->notices);
	va_end(ap);
}

/* Reads the whole file name in dirfd into a malloc'd buffer.  Returns 0,
 * -ENOENT when there is none, or -errno. */
static int read_whole(int dirfd, const char *name, unsigned char **buf, size_t *len)
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

/* Writes all of buf at off, through the io layer; a write that makes no
 * progress is a full disk. */
static int write_all(const struct log_file_io *io, int fd, const void *buf, size_t len,
		     off_t off)
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

/* --- the format ------------------------------------------------------------ */

struct header {
	uint32_t version;
	uint64_t base;
	uint64_t extra;
};

/* The check of a journal's records, by its format version. */
static crc_fn record_crc(uint32_t version)
{
	return version >= 2 ? crc_castagnoli : crc_ieee;
}

static void header_build(unsigned char *h, const char *magic, uint32_t version, uint64_t base,
			 uint64_t extra)
{
	memcpy(h, magic, 8);
	le_put32(h + 8, version);
	le_put32(h + 12, 0);
	le_put64(h + 16, base);
	le_put64(h + 24, extra);
	le_put32(h + HEADER_CRC_OFFSET, crc_ieee(h, HEADER_CRC_OFFSET));
}

/* Checks the header at the start of buf, of a format version from 1 to
 * newest.  Returns 0 and *h, or -EBADMSG with the offset of the bad field
 * in *off and what is wrong in *why. */
static int header_check(const unsigned char *buf, size_t len, const char *magic,
			uint32_t newest, struct header *h, size_t *off, const char **why)
{
	*off = 0;
	if (len < HEADER_SIZE) {
		*why = "file too short for its header";
		return -EBADMSG;
	}
	if (memcmp(buf, magic, 8) != 0) {
		*why = "bad magic";
		return -EBADMSG;
	}
	*off = HEADER_CRC_OFFSET;
	if (le_get32(buf + HEADER_CRC_OFFSET) != crc_ieee(buf, HEADER_CRC_OFFSET)) {
		*why = "header CRC mismatch";
		return -EBADMSG;
	}
	*off = 8;
	h->version = le_get32(buf + 8);
	if (h->version < 1 || h->version > newest) {
		*why = "unknown format version";
		return -EBADMSG;
	}
	*off = 12;
	if (le_get32(buf + 12) != 0) {
		*why = "unknown flags";
		return -EBADMSG;
	}
	h->base = le_get64(buf + 16);
	h->extra = le_get64(buf + 24);
	return 0;
}

/* header_check, and a journal's extra field is 0. */
static int journal_header_check(const unsigned char *buf, size_t len, struct header *h,
				size_t *off, const char **why)
{
	int ret = header_check(buf, len, JOURNAL_MAGIC, JOURNAL_VERSION, h, off, why);

	if (!ret && h->extra != 0) {
		*off = 24;
		*why = "nonzero extra field";
		ret = -EBADMSG;
	}
	return ret;
}

enum frame {
	FRAME_GOOD,
	FRAME_TORN,       /* what a crash in mid-write leaves at the end of the records */
	FRAME_BAD_CRC,    /* its length holds, so the records after it can be found */
	FRAME_BAD_LENGTH, /* nothing after it can be found */
};

/* A journal's bytes: len in all, data_end the end of what is not the zero
 * tail (the offset after its last nonzero byte).  From data_end on there
 * are no records: the file was grown ahead of them (or a crash came before
 * the next one was copied).  A record's own last bytes may be zero, so a
 * good record can end past data_end. */
struct bytes {
	const unsigned char *buf;
	size_t len;
	size_t data_end;
	crc_fn crc;  /* the records' check */
};

static struct bytes bytes_of(const unsigned char *buf, size_t len, crc_fn crc)
{
	size_t end = len;

	while (end > 0 && buf[end - 1] == 0)
		end--;
	return (struct bytes){ .buf = buf, .len = len, .data_end = end, .crc = crc };
}

/* Classifies the record at off, which is below b->data_end: *n is its
 * length, *why what is wrong with it.  A bad record with nothing but zeros
 * after it is the torn tail; with other bytes after it, damage. */
static enum frame frame_at(const struct bytes *b, size_t off, uint32_t *n, const char **why)
{
	const unsigned char *buf = b->buf;

	*n = 0;
	if (b->len - off < RECORD_HEADER) {
		*why = "incomplete record header";
		return FRAME_TORN;
	}
	*n = le_get32(buf + off);
	if (*n == 0 || *n > LOG_MAX_RECORD) {
		*why = *n ? "record length out of range" : "record length 0";
		return off + RECORD_HEADER >= b->data_end ? FRAME_TORN : FRAME_BAD_LENGTH;
	}
	if (*n > b->len - off - RECORD_HEADER) {
		*why = "incomplete record";
		return FRAME_TORN;
	}
	if (le_get32(buf + off + 4) != b->crc(buf + off + RECORD_HEADER, *n)) {
		*why = "CRC mismatch";
		return off + RECORD_HEADER + *n >= b->data_end ? FRAME_TORN : FRAME_BAD_CRC;
	}
	return FRAME_GOOD;
}

/* Where the records of a journal stand. */
struct scan {
	size_t good_end;     /* end of the last good record */
	size_t data_end;     /* end of the bytes before the zero tail */
	uint64_t records;    /* good records */
	enum frame end;      /* FRAME_GOOD: good records, then at most zeros */
	const char *why;     /* what is wrong with the record at good_end */
};

static void scan_journal(const unsigned char *buf, size_t len, crc_fn crc, struct scan *sc)
{
	struct bytes b = bytes_of(buf, len, crc);
	size_t off = HEADER_SIZE;
	uint32_t n = 0;

	*sc = (struct scan){ .good_end = off, .data_end = b.data_end, .end = FRAME_GOOD };
	while (off < b.data_end) {
		sc->end = frame_at(&b, off, &n, &sc->why);
		if (sc->end != FRAME_GOOD)
			return;
		off += RECORD_HEADER + n;
		sc->good_end = off;
		sc->records++;
	}
}

/* Checks a snapshot file: header, then exactly extra bytes of blob and its
 * CRC.  Returns 0 and *h, or -EBADMSG with *off and *why. */
static int snapshot_check(const unsigned char *buf, size_t len, struct header *h,
			  size_t *off, const char **why)
{
	int ret = header_check(buf, len, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, h, off, why);

	if (ret)
		return ret;
	*off = 24;
	if (len < HEADER_SIZE + BLOB_CRC || h->extra != len - HEADER_SIZE - BLOB_CRC) {
		*why = "blob length does not match the file size";
		return -EBADMSG;
	}
	*off = HEADER_SIZE + h->extra;
	if (le_get32(buf + *off) != crc_ieee(buf + HEADER_SIZE, h->extra)) {
		*why = "blob CRC mismatch";
		return -EBADMSG;
	}
	return 0;
}

/* --- creating files ------------------------------------------------------ */

static int sync_dir(struct log_file *lf)
{
	return lf->io->fsync(lf->dirfd) ? -errno : 0;
}

/* Writes header, body and (with_crc) the body's CRC into name.tmp, syncs
 * it, renames it to name and syncs the directory.  Returns 0 or -errno,
 * with no name.tmp left behind on failure. */
static int write_file_atomically(struct log_file *lf, const char *name,
				 const unsigned char *header, const void *body, size_t len,
				 bool with_crc)
{
	unsigned char crc[BLOB_CRC];
	char tmp[64];
	int fd, ret;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = lf->io->openat(lf->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ret = write_all(lf->io, fd, header, HEADER_SIZE, 0);
	if (!ret && len)
		ret = write_all(lf->io, fd, body, len, HEADER_SIZE);
	if (!ret && with_crc) {
		le_put32(crc, crc_ieee(body, len));
		ret = write_all(lf->io, fd, crc, sizeof(crc), (off_t)(HEADER_SIZE + len));
	}
	if (!ret && lf->io->fsync(fd) != 0)
		ret = -errno;
	close(fd);
	if (!ret && lf->io->renameat(lf->dirfd, tmp, lf->dirfd, name) != 0)
		ret = -errno;
	if (!ret)
		ret = sync_dir(lf);
	if (ret)
		unlinkat(lf->dirfd, tmp, 0);
	return ret;
}

/* --- the mapped journal ------------------------------------------------ */

static void unmap_journal(struct log_file *lf)
{
	if (lf->map)
		munmap(lf->map, lf->map_size);
	lf->map = NULL;
	lf->map_size = 0;
}

/* Cuts the zero tail grown ahead of the records, so that a journal closed
 * cleanly ends at its last record.  Unmaps first: the mapping must not
 * reach past the end of the file.  0 or -errno. */
static int cut_zero_tail(struct log_file *lf)
{
	unmap_journal(lf);
	if (lf->file_size > lf->journal_size) {
		if (lf->io->ftruncate(lf->journal_fd, (off_t)lf->journal_size) != 0)
			return -errno;
		lf->file_size = lf->journal_size;
	}
	return 0;
}

static uint64_t round_up(uint64_t n)
{
	return (n + GROW_ALIGN - 1) / GROW_ALIGN * GROW_ALIGN;
}

/* Extends the journal file to size with blocks really allocated (mode 0,
 * not a hole): a copy into a mapped hole on a full disk would be a
 * SIGBUS, not an error.  0 or -errno, the file as it was. */
static int reserve(struct log_file *lf, uint64_t size)
{
	int err;

	if (lf->io->fallocate(lf->journal_fd, 0, (off_t)lf->file_size,
			      (off_t)(size - lf->file_size)) == 0) {
		lf->file_size = size;
		return 0;
	}
	err = errno;
	/* A fallocate that fails may have kept what it allocated first (ext4
	 * does): give it back to the full disk.  Should that fail too, the
	 * zeros read as the tail and the next growth covers them. */
	if (lf->io->ftruncate(lf->journal_fd, (off_t)lf->file_size) != 0)
		notice(lf, "%s/journal: cannot cut a failed growth: %s", lf->dir, strerror(errno));
	return -err;
}

/* Maps the journal far enough for a record ending at need, growing the
 * file first if it is too short.  Needs append_lock.  0 or -errno (from
 * fallocate: -ENOSPC, -EDQUOT, -EIO, -EOPNOTSUPP; from mmap); on failure
 * the records and the old mapping are as they were (after a failed mmap
 * the file keeps what it grew, zeros that read as the tail). */
static int grow_journal(struct log_file *lf, uint64_t need)
{
	uint64_t size = lf->file_size;
	uint64_t step = size < GROW_MIN ? GROW_MIN : size > GROW_MAX ? GROW_MAX : size;
	void *map;
	int ret;

	if (step > lf->compact_bytes)
		step = lf->compact_bytes;
	if (need > size) {
		ret = reserve(lf, round_up(need > size + step ? need : size + step));
		/* Near a full disk, room for this one record is enough. */
		if (ret == -ENOSPC || ret == -EDQUOT)
			ret = reserve(lf, round_up(need));
		if (ret)
			return ret;
	}
	map = lf->io->mmap(NULL, lf->file_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   lf->journal_fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	unmap_journal(lf);
	lf->map = map;
	lf->map_size = lf->file_size;
	return 0;
}

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleeps until sync_seq is no longer seq, or until deadline if it is not
 * 0 (CLOCK_MONOTONIC ns).  Whoever waits for an fdatasync to end, or for
 * the stop, sleeps on sync_seq. */
static void sleep_on_seq(struct log_file *lf, uint32_t seq, int64_t deadline)
{
	struct timespec left, *timeout = NULL;

	if (deadline) {
		int64_t ns = deadline - monotonic_ns();

		if (ns <= 0)
			return;
		left.tv_sec = ns / 1000000000;
		left.tv_nsec = ns % 1000000000;
		timeout = &left;
	}
	syscall(SYS_futex, &lf->sync_seq, FUTEX_WAIT_PRIVATE, seq, timeout, NULL, 0);
}

/* The same, called with sync_lock held: drops it meanwhile. */
static void sleep_locked(struct log_file *lf, int64_t deadline)
{
	uint32_t seq = lf->sync_seq;

	pthread_mutex_unlock(&lf->sync_lock);
	sleep_on_seq(lf, seq, deadline);
	pthread_mutex_lock(&lf->sync_lock);
}

/* Wakes everyone sleeping on sync_seq.  Under sync_lock. */
static void wake_sleepers(struct log_file *lf)
{
	__atomic_store_n(&lf->sync_seq, lf->sync_seq + 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &lf->sync_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Swaps the journal being synced, once no fdatasync runs on the old one. */
static void swap_journal_fd(struct log_file *lf, int fd)
{
	pthread_mutex_lock(&lf->sync_lock);
	while (lf->syncing)
		sleep_locked(lf, 0);
	if (lf->journal_fd >= 0)
		close(lf->journal_fd);
	lf->journal_fd = fd;
	pthread_mutex_unlock(&lf->sync_lock);
}

/* Replaces the journal with an empty one of base lf->position and opens it
 * for appending.  Needs append_lock.  0 or -errno (the old one stays). */
static int make_journal(struct log_file *lf)
{
	unsigned char header[HEADER_SIZE];
	int fd, ret;

	header_build(header, JOURNAL_MAGIC, JOURNAL_VERSION, lf->position, 0);
	ret = write_file_atomically(lf, "journal", header, NULL, 0, false);
	if (ret)
		return ret;
	fd = lf->io->openat(lf->dirfd, "journal", O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The old journal's zero tail goes with it: the rename has replaced
	 * it, and a crash before the rename left a journal the snapshot
	 * includes, whose zeros read as its end. */
	unmap_journal(lf);
	swap_journal_fd(lf, fd);
	__atomic_store_n(&lf->base, lf->position, __ATOMIC_RELAXED);
	lf->file_size = HEADER_SIZE;
	__atomic_store_n(&lf->journal_size, HEADER_SIZE, __ATOMIC_RELAXED);
	__atomic_store_n(&lf->journal_pending, false, __ATOMIC_RELAXED);
	lf->tail_dirty = false;
	lf->record_crc = record_crc(JOURNAL_VERSION);
	return 0;
}

/* --- opening ------------------------------------------------------------- */

static int take_lock(struct log_file *lf, char *msg, size_t size)
{
	char pid[32];
	ssize_t n;

	lf->lockfd = lf->io->openat(lf->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lf->lockfd < 0) {
		int err = errno;

		return say(msg, size, -err, "state directory '%s' %s", lf->dir,
			   err == EROFS || err == EACCES ? "is read-only" : strerror(err));
	}
	if (flock(lf->lockfd, LOCK_EX | LOCK_NB) != 0) {
		n = pread(lf->lockfd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		return say(msg, size, -EBUSY,
			   "state directory '%s' is in use by another rwfs (pid %s)", lf->dir,
			   pid[0] ? pid : "?");
	}
	return 0;
}

/* Writes our pid into the lock file, for the message of a second daemon. */
static void record_pid(struct log_file *lf)
{
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

	if (ftruncate(lf->lockfd, 0) != 0 || pwrite(lf->lockfd, pid, (size_t)n, 0) < 0)
		notice(lf, "cannot record the pid in '%s/lock': %s", lf->dir, strerror(errno));
}

static int read_snapshot(struct log_file *lf, char *msg, size_t size)
{
	struct header h;
	const char *why;
	size_t len, off;
	int ret = read_whole(lf->dirfd, "snapshot", &lf->snapshot_buf, &len);

	if (ret == -ENOENT)
		return 0;
	if (ret)
		return say(msg, size, ret, "%s/snapshot: cannot read: %s", lf->dir,
			   strerror(-ret));
	ret = snapshot_check(lf->snapshot_buf, len, &h, &off, &why);
	if (ret)
		return say(msg, size, ret, "%s/snapshot: damaged at offset %zu: %s", lf->dir,
			   off, why);
	lf->snapshot_position = h.base;
	return 0;
}

/* Copies the damaged journal aside before it is cut. */
static int keep_damaged_copy(struct log_file *lf, const unsigned char *buf, size_t len,
			     char *name, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;
	int fd, ret;

	localtime_r(&now, &tm);
	strftime(name, size, "journal.damaged-%Y%m%d-%H%M%S", &tm);
	fd = lf->io->openat(lf->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ret = write_all(lf->io, fd, buf, len, 0);
	if (!ret && lf->io->fsync(fd) != 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Counts the records that still frame after the damaged one at off, for
 * the notice of recovery. */
static size_t count_after(const unsigned char *buf, size_t len, crc_fn crc, size_t off)
{
	struct bytes b = bytes_of(buf, len, crc);
	const char *why;
	uint32_t n = 0;
	size_t count = 0;

	if (frame_at(&b, off, &n, &why) != FRAME_BAD_CRC)
		return 0;
	for (off += RECORD_HEADER + n; off < b.data_end; off += RECORD_HEADER + n) {
		enum frame f = frame_at(&b, off, &n, &why);

		if (f != FRAME_GOOD && f != FRAME_BAD_CRC)
			break;
		count++;
	}
	return count;
}

/* Opens the journal for appending at good_end, cutting what follows: a
 * torn record, damage kept aside, or the zero tail a crash left (the
 * journal grows again at the next append). */
static int open_journal_at(struct log_file *lf, size_t good_end, size_t len)
{
	int fd = lf->io->openat(lf->dirfd, "journal", O_RDWR | O_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	lf->journal_fd = fd;
	if (good_end < len && (lf->io->ftruncate(fd, (off_t)good_end) != 0 ||
			       lf->io->fsync(fd) != 0))
		return -errno;
	lf->journal_size = lf->file_size = good_end;
	return 0;
}

static int recover_journal(struct log_file *lf, const unsigned char *buf, size_t len,
			   const struct scan *sc, char *msg, size_t size)
{
	char copy[64];
	size_t after = count_after(buf, len, lf->record_crc, sc->good_end);
	int ret = keep_damaged_copy(lf, buf, len, copy, sizeof(copy));

	if (ret)
		return say(msg, size, ret, "%s/journal: cannot keep a copy: %s", lf->dir,
			   strerror(-ret));
	notice(lf, "%s/journal: damaged record at offset %zu (%s); kept a copy in %s/%s, "
	       "dropped it and %zu record%s after it (%zu bytes), kept %llu good records",
	       lf->dir, sc->good_end, sc->why, lf->dir, copy, after, after == 1 ? "" : "s",
	       sc->data_end - sc->good_end, (unsigned long long)sc->records);
	return open_journal_at(lf, sc->good_end, len);
}

/* Checks the journal's base against the snapshot.  Returns 0 (and *skip
 * when the snapshot includes every record: the crash between the two
 * renames of compaction) or -EBADMSG. */
static int check_base(struct log_file *lf, uint64_t base, uint64_t records, bool *skip,
		      char *msg, size_t size)
{
	uint64_t snap = lf->snapshot_position;

	*skip = false;
	if (!lf->snapshot_buf && base == 0)
		return 0;
	if (!lf->snapshot_buf)
		return say(msg, size, -EBADMSG,
			   "%s/journal: damaged header at offset 16: base %llu with no snapshot",
			   lf->dir, (unsigned long long)base);
	if (base == snap)
		return 0;
	if (base < snap && base + records == snap) {
		*skip = true;
		return 0;
	}
	return say(msg, size, -EBADMSG,
		   "%s/journal: damaged header at offset 16: base %llu and %llu records do not "
		   "follow %s/snapshot at position %llu",
		   lf->dir, (unsigned long long)base, (unsigned long long)records, lf->dir,
		   (unsigned long long)snap);
}

/* Makes the journal read at open ready to append to: recovered, cut after
 * its last good record, or left alone when the snapshot holds it all. */
static int settle_journal(struct log_file *lf, const unsigned char *buf, size_t len,
			  const struct header *h, const struct scan *sc, char *msg,
			  size_t size)
{
	bool skip;
	int ret = check_base(lf, h->base, sc->records, &skip, msg, size);

	if (ret)
		return ret;
	lf->base = h->base;
	lf->position = h->base + sc->records;
	if (sc->end == FRAME_BAD_CRC || sc->end == FRAME_BAD_LENGTH) {
		ret = recover_journal(lf, buf, len, sc, msg, size);
	} else if (!skip) {
		if (sc->end == FRAME_TORN)
			notice(lf, "%s/journal: dropped a torn final record at offset %zu (%s)",
			       lf->dir, sc->good_end, sc->why);
		ret = open_journal_at(lf, sc->good_end, len);
		if (ret)
			say(msg, size, ret, "%s/journal: %s", lf->dir, strerror(-ret));
	}
	/* Never append to a journal the snapshot already holds. */
	lf->journal_pending = skip;
	return ret;
}

static int read_journal(struct log_file *lf, bool recover, char *msg, size_t size)
{
	unsigned char *buf;
	struct header h;
	struct scan sc;
	const char *why;
	size_t len, off;
	int ret = read_whole(lf->dirfd, "journal", &buf, &len);

	if (ret == -ENOENT && lf->snapshot_buf)
		return say(msg, size, -EBADMSG, "%s/journal: missing, but %s/snapshot exists",
			   lf->dir, lf->dir);
	if (ret == -ENOENT) {
		lf->journal_pending = true;
		return 0;
	}
	if (ret)
		return say(msg, size, ret, "%s/journal: cannot read: %s", lf->dir,
			   strerror(-ret));
	ret = journal_header_check(buf, len, &h, &off, &why);
	if (ret) {
		say(msg, size, ret, "%s/journal: damaged header at offset %zu: %s", lf->dir, off,
		    why);
		goto out_free;
	}
	/* Appends go on in the journal's own format until a compaction
	 * makes a new one. */
	lf->record_crc = record_crc(h.version);
	scan_journal(buf, len, lf->record_crc, &sc);
	if ((sc.end == FRAME_BAD_CRC || sc.end == FRAME_BAD_LENGTH) && !recover) {
		ret = say(msg, size, -EBADMSG,
			  "%s/journal: damaged record at offset %zu: %s (start with --recover "
			  "to keep a copy and go on from the last good record)",
			  lf->dir, sc.good_end, sc.why);
		goto out_free;
	}
	ret = settle_journal(lf, buf, len, &h, &sc, msg, size);
	if (ret || lf->journal_pending)
		goto out_free;
	lf->journal_buf = buf;
	lf->journal_good_end = sc.good_end;
	return 0;

out_free:
	free(buf);
	return ret;
}

static const struct log_ops file_ops;

static struct log_file *log_file_alloc(const struct log_file_options *opts)
{
	struct log_file *lf = calloc(1, sizeof(*lf));

	if (!lf)
		return NULL;
	lf->dir = strdup(opts->dir);
	if (!lf->dir) {
		free(lf);
		return NULL;
	}
	pthread_mutex_init(&lf->append_lock, NULL);
	pthread_mutex_init(&lf->sync_lock, NULL);
	lf->log.ops = &file_ops;
	lf->io = opts->io ? opts->io : &log_file_io_libc;
	lf->sync = opts->sync;
	lf->compact_bytes = opts->compact_bytes ? opts->compact_bytes
						: LOG_FILE_DEFAULT_COMPACT_BYTES;
	lf->compact_at = lf->compact_bytes;
	lf->notices = opts->notices;
	lf->dirfd = lf->lockfd = lf->journal_fd = -1;
	return lf;
}

static void file_close(struct log *log);

int log_file_open(const struct log_file_options *opts, struct log **out, char *msg,
		  size_t msgsize)
{
	struct log_file *lf = log_file_alloc(opts);
	int ret;

	*out = NULL;
	if (msgsize)
		msg[0] = '\0';
	if (!lf)
		return say(msg, msgsize, -ENOMEM, "out of memory");
	lf->dirfd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lf->dirfd < 0) {
		ret = -errno;
		say(msg, msgsize, ret, "state directory '%s' %s", opts->dir,
		    ret == -ENOENT ? "does not exist" : strerror(-ret));
		goto out_close;
	}
	ret = take_lock(lf, msg, msgsize);
	if (ret)
		goto out_close;
	ret = read_snapshot(lf, msg, msgsize);
	if (ret)
		goto out_close;
	ret = read_journal(lf, opts->recover, msg, msgsize);
	if (ret)
		goto out_close;
	record_pid(lf);
	*out = &lf->log;
	return 0;

out_close:
	file_close(&lf->log);
	return ret;
}

/* --- following ------------------------------------------------------------ */

/* Delivers the journal records read at open, from position base + 1. */
static int deliver_journal(struct log_file *lf)
{
	const unsigned char *buf = lf->journal_buf;
	size_t off = HEADER_SIZE;
	uint64_t position = lf->base;

	while (off < lf->journal_good_end) {
		uint32_t n = le_get32(buf + off);
		int ret = lf->deliver(lf->arg, ++position, buf + off + RECORD_HEADER, n);

		if (ret) {
			notice(lf, "%s/journal: record at offset %zu (position %llu) does not "
			       "apply: %s", lf->dir, off, (unsigned long long)position,
			       strerror(-ret));
			return ret;
		}
		off += RECORD_HEADER + n;
	}
	return 0;
}

static int file_follow(struct log *log, log_load_fn load, log_deliver_fn deliver, void *arg)
{
	struct log_file *lf = to_file(log);
	int ret = 0;

	pthread_mutex_lock(&lf->append_lock);
	if (lf->followed) {
		ret = -EINVAL;
		goto out_unlock;
	}
	lf->deliver = deliver;
	lf->arg = arg;
	if (lf->snapshot_buf) {
		ret = load(arg, lf->snapshot_position, lf->snapshot_buf + HEADER_SIZE,
			   le_get64(lf->snapshot_buf + 24));
		if (ret) {
			notice(lf, "%s/snapshot: does not load: %s", lf->dir, strerror(-ret));
			goto out_unlock;
		}
	}
	if (lf->journal_buf) {
		ret = deliver_journal(lf);
		if (ret)
			goto out_unlock;
	}
	free(lf->snapshot_buf);
	free(lf->journal_buf);
	lf->snapshot_buf = lf->journal_buf = NULL;
	pthread_mutex_lock(&lf->sync_lock);
	lf->synced = lf->position;
	__atomic_store_n(&lf->written, lf->position, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lf->sync_lock);
	lf->followed = true;
	if (lf->journal_pending) {
		int err = make_journal(lf);

		if (err)
			notice(lf, "%s/journal: cannot start a journal: %s; writes fail until it "
			       "can be made", lf->dir, strerror(-err));
	}
out_unlock:
	pthread_mutex_unlock(&lf->append_lock);
	return ret;
}

/* --- appending and syncing -------------------------------------------- */

static bool log_stopped(struct log_file *lf)
{
	return __atomic_load_n(&lf->sync_failed, __ATOMIC_ACQUIRE);
}

/* Makes the journal ready for the next record: a new one after a failed
 * compaction, or cut back after a failed write.  Needs append_lock. */
static int prepare_journal(struct log_file *lf)
{
	if (lf->journal_pending)
		return make_journal(lf);
	if (lf->tail_dirty) {
		if (lf->io->ftruncate(lf->journal_fd, (off_t)lf->journal_size) != 0)
			return -errno;
		lf->tail_dirty = false;
	}
	return 0;
}

/* Writes one framed record at the end of the journal in one write, so a
 * crash leaves it whole or torn, never mixed with another.  Needs
 * append_lock.  On failure the journal is cut back to its previous size. */
static int pwrite_record(struct log_file *lf, const void *rec, size_t len)
{
	unsigned char small[512], *frame = small;
	size_t n = RECORD_HEADER + len;
	int ret;

	if (n > sizeof(small))
		frame = malloc(n);
	if (!frame)
		return -ENOMEM;
	le_put32(frame, (uint32_t)len);
	le_put32(frame + 4, lf->record_crc(rec, len));
	memcpy(frame + RECORD_HEADER, rec, len);
	ret = write_all(lf->io, lf->journal_fd, frame, n, (off_t)lf->journal_size);
	if (frame != small)
		free(frame);
	if (ret && lf->io->ftruncate(lf->journal_fd, (off_t)lf->journal_size) != 0)
		lf->tail_dirty = true;
	if (!ret)
		__atomic_store_n(&lf->journal_size, lf->journal_size + n, __ATOMIC_RELAXED);
	return ret;
}

/* Copies one framed record to at, in the zeros past the last record: the
 * header first, the payload after it.  A kill -9 stops this thread between
 * two stores, and what it stored before is in the page cache in program
 * order (nothing else reads the mapping meanwhile), so a compiler barrier
 * is all the ordering needed.  Header first, a stopped copy leaves a header
 * whose CRC fails (or is still zero) and then only zeros: the torn tail.
 * The other way round it could leave payload bytes after a header still
 * zero, which is damage (nonzero bytes after a length 0). */
static void copy_record(unsigned char *at, crc_fn crc, const void *rec, size_t len)
{
	le_put32(at, (uint32_t)len);
	le_put32(at + 4, crc(rec, len));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	memcpy(at + RECORD_HEADER, rec, len);
}

/* Whether err says the filesystem cannot preallocate or map a file. */
static bool cannot_map(int err)
{
	return err == -EOPNOTSUPP || err == -ENOSYS || err == -ENODEV;
}

/* The pages of the journal behind the tail are never looked at again:
 * each MiB is let go of once the next one starts, so the daemon's resident
 * memory does not grow with the journal.  Their contents stay in the page
 * cache, dirty until written back, as a pwrite's would. */
static void release_behind(struct log_file *lf, uint64_t from, uint64_t to)
{
	uint64_t boundary = to & ~(uint64_t)(RELEASE_STEP - 1);

	if (boundary > from && boundary >= RELEASE_STEP)
		madvise(lf->map + boundary - RELEASE_STEP, RELEASE_STEP, MADV_DONTNEED);
}

/* Appends one framed record: copied into the mapping, grown first when it
 * does not reach; written with pwrite where the filesystem cannot do that.
 * Needs append_lock.  0 or -errno, with the journal as it was. */
static int write_record(struct log_file *lf, const void *rec, size_t len)
{
	uint64_t end = lf->journal_size + RECORD_HEADER + len;
	int ret;

	if (!lf->pwrite_only && end > lf->map_size) {
		ret = grow_journal(lf, end);
		if (cannot_map(ret)) {
			notice(lf, "%s/journal: cannot preallocate and map it (%s); appending "
			       "with write()", lf->dir, strerror(-ret));
			unmap_journal(lf);
			lf->pwrite_only = true;
		} else if (ret) {
			return ret;
		}
	}
	if (lf->pwrite_only)
		return pwrite_record(lf, rec, len);
	copy_record(lf->map + lf->journal_size, lf->record_crc, rec, len);
	release_behind(lf, lf->journal_size, end);
	__atomic_store_n(&lf->journal_size, end, __ATOMIC_RELAXED);
	return 0;
}

static int file_append(struct log *log, const void *rec, size_t len, uint64_t *position)
{
	struct log_file *lf = to_file(log);
	int ret;

	if (len > LOG_MAX_RECORD)
		return -EFBIG;
	if (len == 0)
		return -EINVAL;
	pthread_mutex_lock(&lf->append_lock);
	ret = -EINVAL;
	if (!lf->followed)
		goto out_unlock;
	ret = -EIO;
	if (log_stopped(lf))
		goto out_unlock;
	ret = prepare_journal(lf);
	if (ret)
		goto out_unlock;
	log_stamp(log, rec, len);
	ret = write_record(lf, rec, len);
	if (ret)
		goto out_unlock;
	*position = ++lf->position;
	__atomic_store_n(&lf->written, lf->position, __ATOMIC_RELEASE);
	ret = lf->deliver(lf->arg, lf->position, rec, len);
out_unlock:
	pthread_mutex_unlock(&lf->append_lock);
	return ret;
}

/* Runs one fdatasync covering everything written so far.  Called with
 * sync_lock held and no sync running; drops the lock meanwhile. */
static void sync_now(struct log_file *lf)
{
	uint64_t target = __atomic_load_n(&lf->written, __ATOMIC_ACQUIRE);
	int fd = lf->journal_fd;
	int err = 0;

	lf->syncing = true;
	lf->gather_until = 0;
	pthread_mutex_unlock(&lf->sync_lock);
	if (fd >= 0 && lf->io->fdatasync(fd) != 0)
		err = errno;
	pthread_mutex_lock(&lf->sync_lock);
	lf->syncing = false;
	if (err && !lf->sync_failed) {
		/* What the kernel failed to write may be gone from its cache too,
		 * so nothing after it can be promised: stop taking changes. */
		__atomic_store_n(&lf->sync_failed, true, __ATOMIC_RELEASE);
		notice(lf, "%s/journal: fdatasync failed: %s; refusing changes until restarted",
		       lf->dir, strerror(err));
	}
	if (!err && target > lf->synced)
		__atomic_store_n(&lf->synced, target, __ATOMIC_RELEASE);
	lf->group = __atomic_load_n(&lf->sync_waiters, __ATOMIC_RELAXED);
	if (!err)
		clock_gettime(CLOCK_MONOTONIC, &lf->synced_at);
	wake_sleepers(lf);
}

/* The writers an fdatasync released write again a round trip later.  An
 * fdatasync started at once leaves them for the one after, and concurrent
 * writers settle into two groups that take turns (measured: 2.0 records a
 * fdatasync with 4 writers waiting).  So the next fdatasync waits for a
 * record from every writer that was waiting as the last one ended, 100 us
 * at most from the first, and the writer that completes the group starts
 * it.  Waiting instead for as many records as the last one covered kept
 * two groups of two as they were (3.1-3.7 records a fdatasync with 4
 * writers through FUSE; 3.9-4.0 this way).  A lone writer never waits.
 * Returns the CLOCK_MONOTONIC ns to wait until, or 0: sync now.  Under
 * sync_lock. */
static int64_t group_deadline(struct log_file *lf)
{
	int64_t now;

	if (lf->sync != LOG_SYNC_ALWAYS || lf->group < 2 ||
	    __atomic_load_n(&lf->written, __ATOMIC_ACQUIRE) >= lf->synced + lf->group)
		return 0;
	now = monotonic_ns();
	if (!lf->gather_until)
		lf->gather_until = now + GATHER_NS;
	return now < lf->gather_until ? lf->gather_until : 0;
}

/* One turn of wait_synced: runs the fdatasync that covers position, or
 * sleeps until one ends or the group's deadline passes.  It sleeps without
 * sync_lock and does not take it again on waking: with a condition
 * variable each writer an fdatasync released took it in turn, and on 2
 * CPUs those turns held their replies back one after the other. */
static void sync_or_sleep(struct log_file *lf, uint64_t position)
{
	int64_t deadline = 0;
	uint32_t seq;
	bool wait;

	pthread_mutex_lock(&lf->sync_lock);
	seq = lf->sync_seq;
	wait = lf->syncing;
	if (!wait && lf->synced < position && !lf->sync_failed) {
		deadline = group_deadline(lf);
		wait = deadline != 0;
		if (!wait)
			sync_now(lf);
	}
	pthread_mutex_unlock(&lf->sync_lock);
	if (wait)
		sleep_on_seq(lf, seq, deadline);
}

/* Waits until position is on disk, syncing if no one else is.  0 or -EIO. */
static int wait_synced(struct log_file *lf, uint64_t position)
{
	uint64_t written = __atomic_load_n(&lf->written, __ATOMIC_ACQUIRE);

	if (position > written)
		position = written;
	if (__atomic_load_n(&lf->synced, __ATOMIC_ACQUIRE) >= position)
		return 0;
	__atomic_fetch_add(&lf->sync_waiters, 1, __ATOMIC_RELAXED);
	while (__atomic_load_n(&lf->synced, __ATOMIC_ACQUIRE) < position &&
	       !__atomic_load_n(&lf->sync_failed, __ATOMIC_ACQUIRE))
		sync_or_sleep(lf, position);
	__atomic_fetch_sub(&lf->sync_waiters, 1, __ATOMIC_RELAXED);
	return __atomic_load_n(&lf->synced, __ATOMIC_ACQUIRE) >= position ? 0 : -EIO;
}

static int file_sync(struct log *log, uint64_t position)
{
	struct log_file *lf = to_file(log);

	if (lf->sync == LOG_SYNC_ALWAYS)
		return wait_synced(lf, position);
	return log_stopped(lf) ? -EIO : 0;
}

static void *syncer_main(void *arg)
{
	struct log_file *lf = arg;

	pthread_mutex_lock(&lf->sync_lock);
	while (!lf->stopping) {
		int64_t next = monotonic_ns() + 1000000000;

		while (!lf->stopping && monotonic_ns() < next)
			sleep_locked(lf, next);
		if (!lf->stopping && !lf->syncing && !lf->sync_failed &&
		    lf->synced < __atomic_load_n(&lf->written, __ATOMIC_ACQUIRE))
			sync_now(lf);
	}
	pthread_mutex_unlock(&lf->sync_lock);
	return NULL;
}

int log_file_start(struct log *log)
{
	struct log_file *lf = to_file(log);
	int err;

	record_pid(lf);
	if (lf->sync != LOG_SYNC_EVERYSEC)
		return 0;
	err = pthread_create(&lf->syncer, NULL, syncer_main, lf);
	if (err)
		return -err;
	lf->syncer_started = true;
	return 0;
}

/* --- compaction ------------------------------------------------------------ */

uint64_t log_file_journal_bytes(struct log *log)
{
	return __atomic_load_n(&to_file(log)->journal_size, __ATOMIC_RELAXED);
}

static bool file_wants_compaction(struct log *log)
{
	struct log_file *lf = to_file(log);

	return !__atomic_load_n(&lf->compacting, __ATOMIC_RELAXED) &&
	       !__atomic_load_n(&lf->journal_pending, __ATOMIC_RELAXED) &&
	       log_file_journal_bytes(log) > __atomic_load_n(&lf->compact_at, __ATOMIC_RELAXED);
}

/* Writes the snapshot of the state as of lf->position.  Needs append_lock. */
static int write_snapshot(struct log_file *lf, log_save_fn save, void *arg)
{
	unsigned char header[HEADER_SIZE];
	void *blob = NULL;
	size_t len = 0;
	int ret = save(arg, &blob, &len);

	if (ret)
		return ret;
	header_build(header, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, lf->position, len);
	ret = write_file_atomically(lf, "snapshot", header, blob, len, true);
	free(blob);
	return ret;
}

static int file_compact(struct log *log, log_save_fn save, void *arg)
{
	struct log_file *lf = to_file(log);
	int ret;

	pthread_mutex_lock(&lf->append_lock);
	ret = -EINVAL;
	if (!lf->followed)
		goto out_unlock;
	__atomic_store_n(&lf->compacting, true, __ATOMIC_RELAXED);
	/* The old journal must be whole on disk before a snapshot says it is
	 * included, or a crash between the renames would look like damage. */
	ret = wait_synced(lf, lf->position);
	if (ret)
		goto out_done;
	ret = write_snapshot(lf, save, arg);
	if (ret) {
		/* Not again at every write: a full disk would make each of them
		 * write a whole snapshot in vain. */
		__atomic_store_n(&lf->compact_at, lf->journal_size + lf->compact_bytes,
				 __ATOMIC_RELAXED);
		notice(lf, "%s/snapshot: compaction failed: %s; tried again when the journal has "
		       "grown by %llu bytes", lf->dir, strerror(-ret),
		       (unsigned long long)lf->compact_bytes);
		goto out_done;
	}
	__atomic_store_n(&lf->compact_at, lf->compact_bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&lf->journal_pending, true, __ATOMIC_RELAXED);
	ret = make_journal(lf);
	if (ret)
		notice(lf, "%s/journal: cannot start a new journal: %s; the next write tries "
		       "again", lf->dir, strerror(-ret));
out_done:
	__atomic_store_n(&lf->compacting, false, __ATOMIC_RELAXED);
out_unlock:
	pthread_mutex_unlock(&lf->append_lock);
	return ret;
}

/* --- stats and closing ------------------------------------------------------ */

static const char *const sync_names[] = {
	[LOG_SYNC_ALWAYS] = "always",
	[LOG_SYNC_EVERYSEC] = "everysec",
	[LOG_SYNC_NO] = "no",
};

/* Milliseconds since t on CLOCK_MONOTONIC. */
static uint64_t age_ms(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - t->tv_sec) * 1000 +
	       (uint64_t)((now.tv_nsec - t->tv_nsec) / 1000000);
}

static int file_format_stats(struct log *log, char *buf, size_t size)
{
	struct log_file *lf = to_file(log);
	uint64_t written, synced, base = __atomic_load_n(&lf->base, __ATOMIC_RELAXED);
	struct timespec synced_at;
	char age[24] = "never";

	pthread_mutex_lock(&lf->sync_lock);
	written = __atomic_load_n(&lf->written, __ATOMIC_ACQUIRE);
	synced = lf->synced;
	synced_at = lf->synced_at;
	pthread_mutex_unlock(&lf->sync_lock);
	if (synced_at.tv_sec || synced_at.tv_nsec)
		snprintf(age, sizeof(age), "%llu", (unsigned long long)age_ms(&synced_at));
	return snprintf(buf, size,
			"state_dir %s\nlog_journal_bytes %llu\nlog_journal_records %llu\n"
			"log_position %llu\nlog_sync %s\nlog_synced_position %llu\n"
			"log_last_fsync_ms_ago %s\n",
			lf->dir, (unsigned long long)log_file_journal_bytes(log),
			(unsigned long long)(written > base ? written - base : 0),
			(unsigned long long)written, sync_names[lf->sync],
			(unsigned long long)synced, age);
}

static void file_close(struct log *log)
{
	struct log_file *lf = to_file(log);

	if (lf->syncer_started) {
		pthread_mutex_lock(&lf->sync_lock);
		lf->stopping = true;
		wake_sleepers(lf);
		pthread_mutex_unlock(&lf->sync_lock);
		pthread_join(lf->syncer, NULL);
	}
	if (lf->journal_fd >= 0) {
		int err = cut_zero_tail(lf);

		/* Left uncut, the zeros only read as the end at the next start. */
		if (err)
			notice(lf, "%s/journal: cannot cut its zero tail: %s", lf->dir,
			       strerror(-err));
		if (lf->followed && lf->io->fdatasync(lf->journal_fd) != 0)
			notice(lf, "%s/journal: fdatasync failed: %s", lf->dir, strerror(errno));
		close(lf->journal_fd);
	}
	if (lf->lockfd >= 0)
		close(lf->lockfd);
	if (lf->dirfd >= 0)
		close(lf->dirfd);
	pthread_mutex_destroy(&lf->sync_lock);
	pthread_mutex_destroy(&lf->append_lock);
	free(lf->snapshot_buf);
	free(lf->journal_buf);
	free(lf->dir);
	free(lf);
}

static const struct log_ops file_ops = {
	.follow = file_follow,
	.append = file_append,
	.sync = file_sync,
	.wants_compaction = file_wants_compaction,
	.compact = file_compact,
	.format_stats = file_format_stats,
	.close = file_close,
};

/* --- reading for a person ------------------------------------------------- */

static int dump_snapshot(int dirfd, log_file_dump_fn fn, void *arg, FILE *out)
{
	unsigned char *buf;
	struct header h;
	const char *why;
	size_t len, off;
	int ret = read_whole(dirfd, "snapshot", &buf, &len);

	if (ret == -ENOENT)
		return 0;
	if (ret) {
		fprintf(out, "snapshot: cannot read: %s\n", strerror(-ret));
		return ret;
	}
	ret = snapshot_check(buf, len, &h, &off, &why);
	if (ret)
		fprintf(out, "snapshot: offset %zu: %s\n", off, why);
	else
		fn(arg, "snapshot", HEADER_SIZE, h.base, true, buf + HEADER_SIZE, h.extra);
	free(buf);
	return ret;
}

/* Walks every record that frames, reporting damage and going on past a
 * record whose CRC fails (its length still says where the next begins). */
static int dump_records(const unsigned char *buf, size_t len, const struct header *h,
			log_file_dump_fn fn, void *arg, FILE *out)
{
	struct bytes b = bytes_of(buf, len, record_crc(h->version));
	uint64_t position = h->base;
	size_t off = HEADER_SIZE;
	int ret = 0;

	while (off < b.data_end) {
		const char *why;
		uint32_t n = 0;
		enum frame f = frame_at(&b, off, &n, &why);

		position++;
		if (f == FRAME_GOOD) {
			fn(arg, "journal", off, position, false, buf + off + RECORD_HEADER, n);
		} else if (f == FRAME_TORN) {
			fprintf(out, "journal: offset %zu: torn final record (%s), dropped at "
				"start-up\n", off, why);
			break;
		} else {
			fprintf(out, "journal: offset %zu: %s\n", off, why);
			ret = -EBADMSG;
			if (f == FRAME_BAD_LENGTH)
				break;
		}
		off += RECORD_HEADER + n;
	}
	return ret;
}

static int dump_journal(int dirfd, log_file_dump_fn fn, void *arg, FILE *out)
{
	unsigned char *buf;
	struct header h;
	const char *why;
	size_t len, off;
	int ret = read_whole(dirfd, "journal", &buf, &len);
	int walk;

	if (ret == -ENOENT)
		return 0;
	if (ret) {
		fprintf(out, "journal: cannot read: %s\n", strerror(-ret));
		return ret;
	}
	ret = journal_header_check(buf, len, &h, &off, &why);
	if (ret) {
		fprintf(out, "journal: offset %zu: %s\n", off, why);
		if (off == 0)
			goto out_free;
		/* Past the magic the records may still be readable; their
		 * positions then rest on a base that may be wrong. */
		h.version = le_get32(buf + 8);
		h.base = le_get64(buf + 16);
	}
	walk = dump_records(buf, len, &h, fn, arg, out);
	if (!ret)
		ret = walk;
out_free:
	free(buf);
	return ret;
}

int log_file_dump(const char *dir, log_file_dump_fn fn, void *arg, FILE *out)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int snapshot, journal;

	if (dirfd < 0) {
		int err = errno;

		fprintf(out, "%s: %s\n", dir, strerror(err));
		return -err;
	}
	snapshot = dump_snapshot(dirfd, fn, arg, out);
	journal = dump_journal(dirfd, fn, arg, out);
	close(dirfd);
	return snapshot ? snapshot : journal;
}
