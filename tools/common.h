/* common.h - what the rwfs client tools (producer, consumer, records, shop)
 * share: messages, finding the mount and a queue, numbers on the command
 * line, the record file format and a progress line on a terminal.
 *
 * Each tool is one .c file built together with common.c; nothing here
 * keeps state between calls except the program name and the CRC table.
 */
#ifndef RWFS_TOOLS_COMMON_H
#define RWFS_TOOLS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The version all of rwfs shares; the Makefile passes the one of the
 * daemon (fs/main.c) with -DRWFS_VERSION. */
#ifndef RWFS_VERSION
#define RWFS_VERSION "0.1.0"
#endif

/* The tool's name in messages ("producer"); main sets it first. */
extern const char *prog;

/* "PROG: MESSAGE\n" on stderr. */
void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* warnmsg, then exit status 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Each tool defines its usage text, which --help prints. */
void usage(FILE *out);

/* --version: "PROG rwfs VERSION" on stdout, then close_stdout. */
void print_version(void);

/* One line, "PROG: MESSAGE; see PROG --help", on stderr, then exit
 * status 2. */
void bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* bad_usage for what getopt_long returned: c is ':' (a missing argument)
 * or '?' (an unknown option); the optstring must start with "+:". */
void bad_option(int c, char **argv) __attribute__((noreturn));

/* Flushes and closes stdout; dies when what was written did not get out
 * (a full disk, a closed pipe).  Every tool calls it before exit 0. */
void close_stdout(void);

/* Writes all of buf with one write() (retried after a signal), so that
 * writers appending to one file never mix their bytes.  Returns 0, or -1
 * with errno set; a short write is reported as ENOSPC. */
int write_once(int fd, const void *buf, size_t len);

/* Mount and queues ------------------------------------------------------ */

#define QUEUE_NAME_MAX 64 /* a queue name: 1-64 of [A-Za-z0-9._-] */
#define QUEUE_ITEM_MAX 4096 /* bytes of one item, newline not counted */

/* The mount: option (from --mount) when not NULL, else $RWFS_MOUNT when set
 * and not empty, else "./mnt".  Never NULL; not a copy. */
const char *find_mount(const char *option);

/* True when MOUNT/ctl exists. */
bool is_mount(const char *mount);

/* Dies with "'MOUNT' is not an rwfs mount (no ctl file there)" unless
 * MOUNT/ctl exists. */
void require_mount(const char *mount);

/* True when name is a valid queue name and not "." or "..". */
bool queue_name_valid(const char *name);

/* The file of a QUEUE argument: the argument itself when it holds a slash
 * (a path), else MOUNT/queues/QUEUE.  Returns a malloc'd string the caller
 * frees; dies when out of memory. */
char *queue_path(const char *mount, const char *queue);

/* Numbers ------------------------------------------------------------------ */

/* A whole decimal number 0..max with nothing around it.  Returns 0, or -1
 * (and *out untouched) when s is not one. */
int parse_count(const char *s, unsigned long long max, unsigned long long *out);

/* A number of seconds 0..1e6, decimals allowed ("0.5").  0 or -1. */
int parse_seconds(const char *s, double *out);

/* Seconds on the monotonic clock. */
double now_seconds(void);

/* Sleeps that long, resuming after signals that do not kill. */
void sleep_seconds(double seconds);

/* Seeds random() from the clock and the pid (not for secrets). */
void seed_random(void);

/* Record files -------------------------------------------------------------
 *
 * A record file is what `consumer --records FILE` writes and `records` reads:
 *
 *   offset 0   8 bytes   magic "rwfsrec1" (no terminating NUL)
 *   then, for each record, back to back until the end of the file:
 *     u32 little endian  payload length in bytes (0..RECORD_MAX)
 *     u32 little endian  CRC-32 of the payload (IEEE 802.3, as zlib's crc32)
 *     the payload        the item as it came from the queue, without its
 *                        newline
 *
 * An empty file (0 bytes) holds no records.  Each record is appended with
 * one write() on an O_APPEND descriptor, so several writers never mix
 * their bytes; the magic is written under flock(), once.
 */
#define RECORD_MAGIC "rwfsrec1"
#define RECORD_MAGIC_LEN 8
#define RECORD_HEADER 8
#define RECORD_MAX (1u << 20) /* a longer length field is damage */

/* Opens path for appending records, creating it (mode 0644) and writing
 * the magic when it is empty; holds flock(LOCK_EX) while it checks and
 * writes, so two processes never both write the magic.  Returns the
 * descriptor, or -1 with errno set; errno EILSEQ means the file is not
 * empty and does not start with the magic. */
int record_open_append(const char *path);

/* Appends one record (len <= RECORD_MAX) with one write().  Returns 0, or
 * -1 with errno set (a short write is reported as ENOSPC). */
int record_append(int fd, const void *payload, size_t len);

/* What record_read found. */
enum record_status {
	RECORD_OK,       /* one good record in the buffer */
	RECORD_END,      /* clean end of the file */
	RECORD_DAMAGED,  /* torn or corrupt: *why says how; stop there */
	RECORD_IO_ERROR, /* reading failed: errno */
};

struct record_reader {
	FILE *file;
	uint64_t offset;  /* where the next record starts */
	char *payload;    /* the last good record, NUL added; owned here */
	size_t cap;
	uint32_t len;     /* its length */
};

/* Starts reading f (which the caller keeps and closes): checks the magic.
 * Returns 0 (a record file, possibly empty), 1 (not a record file: *why
 * says why) or -1 (read error, errno). */
int record_reader_init(struct record_reader *r, FILE *f, const char **why);

/* Reads the record at r->offset; on RECORD_OK the payload is in
 * r->payload/r->len and r->offset has moved past it.  On RECORD_DAMAGED,
 * r->offset stays at the start of the damaged record.  Dies when out of
 * memory. */
enum record_status record_read(struct record_reader *r, const char **why);

/* Frees the payload buffer (not the FILE). */
void record_reader_release(struct record_reader *r);

/* Progress on a terminal --------------------------------------------------- */

/* A "producer 3: 1200/2000 items, 850/s" line on stderr, redrawn in place
 * at most four times a second, once the run has lasted a second.  Off
 * unless stderr is a terminal and the caller allows it. */
struct progress {
	bool on;
	bool shown;
	char label[64];
	unsigned long long total; /* 0: unknown */
	double start, last;
};

void progress_init(struct progress *p, bool allowed, const char *label,
		   unsigned long long total);
void progress_update(struct progress *p, unsigned long long done);
/* Ends the line with a final count when one was shown. */
void progress_end(struct progress *p, unsigned long long done);

#endif
