/* store.h - durability: a snapshot and an append-only journal of executed
 * batches, in one state directory.
 *
 * The journal holds the canonical text of every batch that ran, one record
 * per batch, so a batch is restored whole or not at all.  Records are
 * framed with their length and a CRC-32:
 *
 *   file   = header record*
 *   header = magic[8] generation:u64le        ("rwfsjnl1" or "rwfssnp1")
 *   record = length:u32le crc32:u32le payload[length]
 *
 * The snapshot holds the whole state as instructions ("SET A 5", "WRITE 7
 * 100") and the generation of the journal it includes.  Compaction writes a
 * new snapshot (temporary file, fsync, rename, fsync of the directory) and
 * then starts a journal of the next generation; a crash between the two
 * leaves a journal the snapshot already includes, which start-up skips.
 *
 * Every system call on the state directory goes through a struct store_io,
 * so the tests can make any of them fail (ENOSPC, EIO).
 *
 * Locking: store_append and store_compact need the caller's exclusive lock
 * (one writer at a time); store_commit is called without it and may block.
 */
#ifndef RWFS_STORE_H
#define RWFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define STORE_MAX_RECORD (16u << 20) /* the items of one queue write fit */
#define STORE_DEFAULT_COMPACT_BYTES (64u << 20)

enum store_sync {
	STORE_SYNC_ALWAYS,   /* fdatasync before each write() returns (shared by concurrent writers) */
	STORE_SYNC_EVERYSEC, /* fdatasync once a second: a power cut loses at most a second */
	STORE_SYNC_NO,       /* the kernel decides: a power cut may lose more */
};

/* The system calls the store makes; tests replace them.  Same contracts as
 * the libc functions (return -1 and set errno on failure). */
struct store_io {
	int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
	ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
	int (*fdatasync)(int fd);
	int (*fsync)(int fd);
	int (*ftruncate)(int fd, off_t len);
	int (*renameat)(int olddirfd, const char *old, int newdirfd, const char *new);
};

/* The real system calls. */
extern const struct store_io store_io_libc;

struct store_options {
	const char *dir;             /* the state directory; it must exist */
	enum store_sync sync;
	uint64_t compact_bytes;      /* compact when the journal passes this */
	bool recover;                /* keep a copy of a damaged journal and go on */
	const struct store_io *io;   /* NULL: store_io_libc */
	FILE *notices;               /* one-line notices (torn tail, recovery); may be NULL */
};

struct store;

/* Called by store_open for each record to restore, in order. */
typedef int (*store_apply_fn)(void *arg, const char *text, size_t len);

/* Opens the state directory: takes its lock file (a second daemon on the
 * same directory gets -EBUSY), then replays the snapshot and the journal
 * through apply.  A torn final record (a crash mid-write) is dropped with a
 * notice.  A damaged record elsewhere, a bad header or an unreadable file
 * fails with -EBADMSG (or the -errno of the failing call), nothing written;
 * with opts->recover the damaged journal is copied aside and cut at the
 * last good record.  msg receives a one-line reason naming the path and
 * the offset.  Returns 0 and *out, or -errno. */
int store_open(const struct store_options *opts, store_apply_fn apply, void *arg,
	       struct store **out, char *msg, size_t msgsize);

/* Starts the once-a-second syncer of STORE_SYNC_EVERYSEC.  Separate from
 * store_open because a daemon forks between the two.  Returns 0 or -errno. */
int store_start(struct store *s);

/* Appends one record (the payload text of a batch).  When it returns 0 the
 * record has reached the kernel; *ticket is for store_commit.  On failure
 * (-ENOSPC, -EIO, ...) the journal is as it was.  Needs the caller's
 * exclusive lock. */
int store_append(struct store *s, const char *text, size_t len, uint64_t *ticket);

/* With STORE_SYNC_ALWAYS, returns once the record of ticket is on disk;
 * writers waiting together share one fdatasync.  Other modes return at
 * once.  Call without the exclusive lock.  Returns 0: the change stands
 * either way, as it is applied and in the kernel, and telling its client it
 * failed would make a retry do it twice.  A failed fdatasync (in any mode)
 * instead stops the store: every later append fails with -EIO until the
 * daemon restarts, and a notice says so. */
int store_commit(struct store *s, uint64_t ticket);

/* True when the journal has grown past opts->compact_bytes. */
bool store_wants_compaction(struct store *s);

/* Replaces the snapshot with text (the whole state as instructions) and
 * starts an empty journal of the next generation.  Needs the exclusive lock
 * (text must match every record so far).  Returns 0 or -errno; on failure
 * the old snapshot and journal stay valid. */
int store_compact(struct store *s, const char *text, size_t len);

/* The journal's current size in bytes, header included. */
uint64_t store_journal_bytes(struct store *s);

/* Syncs, stops the syncer, releases the lock file, frees; NULL is a no-op. */
void store_close(struct store *s);

/* Prints every record of the snapshot and journal in dir as
 * "FILE OFFSET: TEXT" lines to out, and damage as it finds it: the journal
 * is an audit log a person can read.  Returns 0 or -errno. */
int store_dump(const char *dir, FILE *out);

/* CRC-32 (IEEE 802.3, as zlib's crc32) of buf. */
uint32_t store_crc32(const void *buf, size_t len);

#endif
