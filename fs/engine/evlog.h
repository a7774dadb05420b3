/* evlog.h - the event log: a ring of recent events with a sequence.
 *
 * Each processed operation can become one line ("12:00:01.204 pid 4242
 * (cat) read A -> 42").  The log keeps the last EVLOG_SLOTS events, each as
 * compact as it came (a time, a pid, a text); the time and the client's
 * name become text only when a line is read or written out, so an append
 * is a copy under a lock.  Readers hold a cursor (a sequence number) and
 * take whole lines from it.  Lines are only worth making when someone
 * listens, so producers ask evlog_wanted() first.  Readers never block:
 * waiting for lines is the caller's business, and the notify hook tells it
 * when to look again.
 *
 * The console copy is written by a thread of the log's own once
 * evlog_start() has run, many lines at a time; before that, each append
 * writes its line itself.  An append waits only when that thread is a whole
 * ring behind, so the console loses nothing; evlog_free() writes what is
 * left before it returns.
 */
#ifndef RWFS_EVLOG_H
#define RWFS_EVLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EVLOG_SLOTS 1024
#define EVLOG_LINE_MAX 256 /* longer lines are cut, with "..." */

struct evlog;

/* Called after each append while a listener is counted in, outside the
 * log's lock. */
typedef void (*evlog_notify_fn)(void *arg);

/* A new empty log.  console (may be NULL, else the caller's to close after
 * evlog_free) receives every line.  Returns NULL when out of memory. */
struct evlog *evlog_new(FILE *console);

/* Starts the thread that writes the console, for a log that has one (else
 * a no-op).  Call it after any fork: the thread would not survive one.
 * Lines appended before are written first.  0, -EALREADY when started, or
 * -EAGAIN when no thread can be made (the log then stays as it was). */
int evlog_start(struct evlog *log);

/* Writes out and flushes every line not yet on the console, stops the
 * thread, and frees the log; NULL is a no-op. */
void evlog_free(struct evlog *log);

/* Sets the hook called after every append (one hook; NULL clears it). */
void evlog_set_notify(struct evlog *log, evlog_notify_fn fn, void *arg);

/* Counts a listener in or out (an open mnt/events). */
void evlog_subscribe(struct evlog *log);
void evlog_unsubscribe(struct evlog *log);

/* How many listeners are counted in. */
unsigned evlog_listeners(struct evlog *log);

/* True when a line appended now would be seen by someone. */
bool evlog_wanted(struct evlog *log);

/* Appends one line, prefixed with the wall-clock time (HH:MM:SS.mmm);
 * printf-style, no trailing newline needed. */
void evlog_append(struct evlog *log, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends the line "HH:MM:SS.mmm pid PID (COMM) TEXT" for client pid,
 * COMM its command name as ps shows it ("?" when it is gone).  The name is
 * looked up at most once a second per pid, and the pid's later lines reuse
 * it.  text (len bytes, no NUL needed) is copied. */
void evlog_append_client(struct evlog *log, int pid, const char *text, size_t len);

#define EVLOG_NOTICE_MAX 96

/* A reader's place: the next line, how much of it was already read, and
 * the notice of missed lines still to be read, if it fell behind. */
struct evlog_cursor {
	uint64_t seq;
	size_t offset;
	char notice[EVLOG_NOTICE_MAX];
	size_t notice_len;
	size_t notice_off;
};

/* The place of the next appended line: a new reader's cursor, so that it
 * starts at "now". */
struct evlog_cursor evlog_tail(struct evlog *log);

/* True when lines wait after cursor. */
bool evlog_ready(struct evlog *log, const struct evlog_cursor *cursor);

/* Copies whole lines from *cursor into buf (at most size bytes) and moves
 * *cursor past them.  Only when size cannot hold the next line does a read
 * return part of it (the rest comes next), so a reader with a tiny buffer
 * still gets the stream.  A cursor that fell out of the ring first gets one
 * line saying how many lines it missed.  Returns the number of bytes, 0
 * when nothing is new. */
size_t evlog_read(struct evlog *log, struct evlog_cursor *cursor, char *buf, size_t size);

#endif
