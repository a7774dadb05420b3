/* file.h - the log as files in one state directory: an append-only journal
 * of records and the latest snapshot.  See log.h for what a log promises.
 *
 *   journal  = header record* zero*
 *   snapshot = header blob
 *   header   = magic[8] version:u32le flags:u32le base:u64le extra:u64le crc:u32le
 *   record   = length:u32le crc:u32le bytes[length]
 *
 * journal: magic "rwfsjnl2", version 2 (records' crc: CRC-32C) or 1
 * (records' crc: zlib's crc32, still read and appended to), base = the
 * position before its first record, extra = 0.  snapshot: magic
 * "rwfssnp2", version 1, base = the position it includes, extra = the
 * blob's length; the blob follows, then its crc32:u32le.  The header's crc
 * covers the bytes before it.  Headers and blobs use zlib's crc32 (crc.h).
 *
 * A running journal is grown ahead of its records (fallocate), so its tail
 * is zero bytes, which a clean close cuts; after a crash, zeros from the
 * end of a record to the end of the file are the end.  Each record is
 * copied header first, so a crash in mid-copy leaves a record whose CRC
 * fails followed by zeros: the torn tail, as one at the very end of the
 * file.
 *
 * Compaction writes snapshot.tmp (fsync, rename over snapshot, fsync of the
 * directory) and then a journal whose base is the snapshot's position the
 * same way.  A crash between the two leaves a journal whose records the
 * snapshot includes exactly (its base plus its record count is the
 * snapshot's position): start-up skips it.  Any other disagreement of the
 * two is damage.  So that a crash can leave only that, compaction first
 * syncs the old journal; if the new journal cannot be made, the next
 * append makes it before it writes, and never appends to the old one.
 * A fresh directory gets its first journal (base 0) at log_follow.
 *
 * Every system call on the directory goes through a struct log_file_io,
 * so the tests can make any of them fail (ENOSPC, EIO, short writes).
 */
#ifndef RWFS_LOG_FILE_H
#define RWFS_LOG_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "log.h"

#define LOG_FILE_DEFAULT_COMPACT_BYTES (64u << 20)

enum log_file_sync {
	LOG_SYNC_ALWAYS,   /* fdatasync before each write() returns (shared by concurrent writers) */
	LOG_SYNC_EVERYSEC, /* fdatasync once a second: a power cut loses at most a second */
	LOG_SYNC_NO,       /* the kernel decides: a power cut may lose more */
};

/* The system calls the file log makes; tests replace them.  Same contracts
 * as the libc functions (return -1 and set errno on failure; mmap returns
 * MAP_FAILED).  A fallocate failing with EOPNOTSUPP (or ENOSYS), or an
 * mmap with ENODEV, makes the log append with pwrite from then on. */
struct log_file_io {
	int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
	ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
	int (*fallocate)(int fd, int mode, off_t off, off_t len);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
	int (*fdatasync)(int fd);
	int (*fsync)(int fd);
	int (*ftruncate)(int fd, off_t len);
	int (*renameat)(int olddirfd, const char *old, int newdirfd, const char *new);
};

/* The real system calls. */
extern const struct log_file_io log_file_io_libc;

struct log_file_options {
	const char *dir;               /* the state directory; it must exist */
	enum log_file_sync sync;
	uint64_t compact_bytes;        /* log_wants_compaction past this journal size (again
					* this much later after a failed compaction) */
	bool recover;                  /* keep a copy of a damaged journal, cut it, go on */
	const struct log_file_io *io;  /* NULL: log_file_io_libc */
	FILE *notices;                 /* one-line notices (torn tail, recovery); may be NULL */
};

/* Opens the state directory: takes its lock file (a second daemon on the
 * same directory gets -EBUSY) and reads and checks the snapshot and the
 * journal (log_follow delivers them).  Zero bytes after the last record
 * are the end of the journal, cut with no notice.  A torn final record
 * (incomplete, or a bad CRC on the last one, with only zeros after it: a
 * crash in mid-write) is dropped with a notice.  Anything else wrong (a
 * damaged header field, a length no record can have, a damaged record or
 * a length 0 with other bytes after it, a snapshot and a journal that no
 * crash can leave) fails with -EBADMSG and nothing is
 * written; with opts->recover a damaged journal is copied aside
 * (journal.damaged-DATE) and cut at the last good record.  msg receives a
 * one-line reason naming the path and the offset.  Returns 0 and *out, or
 * -errno. */
int log_file_open(const struct log_file_options *opts, struct log **out, char *msg,
		  size_t msgsize);

/* Starts the once-a-second syncer of LOG_SYNC_EVERYSEC.  Separate from
 * log_file_open because a daemon forks between the two.  0 or -errno. */
int log_file_start(struct log *log);

/* The journal's size in bytes, header included, to the end of its last
 * record (not the zero tail grown ahead). */
uint64_t log_file_journal_bytes(struct log *log);

/* Calls fn for the snapshot (as one item, rec = the blob, is_snapshot set)
 * and each record of the journal in dir, in order, with its file offset;
 * damage is reported on out as it is found.  For --dump: the journal is
 * also an audit log.  Needs no lock file (a running daemon's directory can
 * be dumped).  Returns 0 or -errno. */
typedef void (*log_file_dump_fn)(void *arg, const char *file, uint64_t offset,
				 uint64_t position, bool is_snapshot, const void *rec,
				 size_t len);
int log_file_dump(const char *dir, log_file_dump_fn fn, void *arg, FILE *out);

#endif
