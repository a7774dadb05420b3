/* evlog.c - the event log ring.  See evlog.h. */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evlog.h"

struct slot {
	size_t len; /* bytes of text, the newline included */
	char text[EVLOG_LINE_MAX];
};

struct evlog {
	pthread_mutex_t lock;
	struct slot *slots;  /* EVLOG_SLOTS of them, under lock */
	uint64_t next_seq;   /* under lock: sequence of the next line */
	unsigned listeners;  /* atomic */
	FILE *console;
	evlog_notify_fn notify;
	void *notify_arg;
};

struct evlog *evlog_new(FILE *console)
{
	struct evlog *log = calloc(1, sizeof(*log));

	if (!log)
		return NULL;
	log->slots = calloc(EVLOG_SLOTS, sizeof(*log->slots));
	if (!log->slots || pthread_mutex_init(&log->lock, NULL)) {
		free(log->slots);
		free(log);
		return NULL;
	}
	log->console = console;
	return log;
}

void evlog_free(struct evlog *log)
{
	if (!log)
		return;
	pthread_mutex_destroy(&log->lock);
	free(log->slots);
	free(log);
}

void evlog_set_notify(struct evlog *log, evlog_notify_fn fn, void *arg)
{
	pthread_mutex_lock(&log->lock);
	log->notify = fn;
	log->notify_arg = arg;
	pthread_mutex_unlock(&log->lock);
}

void evlog_subscribe(struct evlog *log)
{
	__atomic_fetch_add(&log->listeners, 1, __ATOMIC_RELAXED);
}

void evlog_unsubscribe(struct evlog *log)
{
	__atomic_fetch_sub(&log->listeners, 1, __ATOMIC_RELAXED);
}

unsigned evlog_listeners(struct evlog *log)
{
	return __atomic_load_n(&log->listeners, __ATOMIC_RELAXED);
}

bool evlog_wanted(struct evlog *log)
{
	return log->console || evlog_listeners(log) > 0;
}

/* Writes "HH:MM:SS.mmm " into buf, which has room for 14 bytes. */
static size_t format_time(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	return (size_t)snprintf(buf, size, "%02d:%02d:%02d.%03ld ", tm.tm_hour,
				tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* Formats one whole line (time, message, newline) into slot. */
static void format_line(struct slot *slot, const char *fmt, va_list ap)
{
	static const char cut[] = "...\n";
	size_t room = sizeof(slot->text);
	size_t len = format_time(slot->text, room);
	int n = vsnprintf(slot->text + len, room - len, fmt, ap);

	if (n < 0)
		n = 0;
	/* One event, one line: a newline in a client's text (a queue name,
	 * say) must not forge another. */
	for (size_t i = len; i < len + (size_t)n && i < room; i++)
		if ((unsigned char)slot->text[i] < 0x20)
			slot->text[i] = '?';
	if (len + (size_t)n + 1 < room) {
		len += (size_t)n;
		slot->text[len++] = '\n';
	} else {
		len = room - sizeof(cut);
		memcpy(slot->text + len, cut, sizeof(cut));
		len += sizeof(cut) - 1;
	}
	slot->len = len;
}

void evlog_append(struct evlog *log, const char *fmt, ...)
{
	struct slot line;
	evlog_notify_fn notify;
	void *notify_arg;
	va_list ap;

	va_start(ap, fmt);
	format_line(&line, fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&log->lock);
	log->slots[log->next_seq % EVLOG_SLOTS] = line;
	log->next_seq++;
	if (log->console) {
		fwrite(line.text, 1, line.len, log->console);
		fflush(log->console);
	}
	notify = log->notify;
	notify_arg = log->notify_arg;
	pthread_mutex_unlock(&log->lock);

	if (notify)
		notify(notify_arg);
}

struct evlog_cursor evlog_tail(struct evlog *log)
{
	struct evlog_cursor cursor = { 0 };

	pthread_mutex_lock(&log->lock);
	cursor.seq = log->next_seq;
	pthread_mutex_unlock(&log->lock);
	return cursor;
}

bool evlog_ready(struct evlog *log, const struct evlog_cursor *cursor)
{
	bool ready;

	pthread_mutex_lock(&log->lock);
	ready = cursor->seq < log->next_seq || cursor->notice_off < cursor->notice_len;
	pthread_mutex_unlock(&log->lock);
	return ready;
}

/* Moves a cursor that fell out of the ring to the oldest kept line and
 * gives it the notice of what it missed, to be read first. */
static void skip_missed(struct evlog *log, struct evlog_cursor *cursor)
{
	uint64_t oldest = log->next_seq - EVLOG_SLOTS;
	size_t len = format_time(cursor->notice, sizeof(cursor->notice));

	len += (size_t)snprintf(cursor->notice + len, sizeof(cursor->notice) - len,
				"events: %llu lines missed (reader too slow)\n",
				(unsigned long long)(oldest - cursor->seq));
	cursor->notice_len = len < sizeof(cursor->notice) ? len : sizeof(cursor->notice) - 1;
	cursor->notice_off = 0;
	cursor->seq = oldest;
	cursor->offset = 0;
}

/* Copies what is left of text (after *offset) into buf if it all fits in
 * size, or only part of it when nothing was copied before (used == 0).
 * Returns the bytes copied; *offset moves past them. */
static size_t take(const char *text, size_t len, size_t *offset, char *buf, size_t used,
		   size_t size)
{
	size_t left = len - *offset;

	if (used + left > size)
		left = used == 0 ? size : 0;
	memcpy(buf + used, text + *offset, left);
	*offset += left;
	return left;
}

size_t evlog_read(struct evlog *log, struct evlog_cursor *cursor, char *buf, size_t size)
{
	size_t used = 0;

	pthread_mutex_lock(&log->lock);
	if (log->next_seq > EVLOG_SLOTS && cursor->seq < log->next_seq - EVLOG_SLOTS)
		skip_missed(log, cursor);
	if (cursor->notice_off < cursor->notice_len)
		used = take(cursor->notice, cursor->notice_len, &cursor->notice_off, buf, 0, size);
	while (cursor->notice_off == cursor->notice_len && cursor->seq < log->next_seq) {
		const struct slot *slot = &log->slots[cursor->seq % EVLOG_SLOTS];
		size_t n = take(slot->text, slot->len, &cursor->offset, buf, used, size);

		used += n;
		if (cursor->offset < slot->len)
			break;
		cursor->seq++;
		cursor->offset = 0;
	}
	pthread_mutex_unlock(&log->lock);
	return used;
}
