/* evlog.c - the event log ring, its console writer and the names of its
 * clients.  See evlog.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evlog.h"

#define STAMP_LEN 13              /* "HH:MM:SS.mmm " */
#define TEXT_MAX (EVLOG_LINE_MAX - STAMP_LEN) /* a longer text is cut anyway */
#define COMM_MAX 16               /* a command name as the kernel keeps it, NUL included */
#define NAMES 64                  /* pids whose names are remembered */
#define NAME_TTL_NS 1000000000LL  /* a name older than this is looked up again */
#define GATHER_NS 10000000LL      /* how long the writer lets lines gather */
#define WRITE_CHUNK 65536         /* bytes of lines the writer hands stdio at once */

/* One event as it came: the line is made from it when read or written. */
struct slot {
	int64_t ns;  /* wall-clock time, since the epoch */
	bool client; /* the line names a client: "pid N (comm) " */
	int pid;
	char comm[COMM_MAX];
	size_t len;  /* bytes of text */
	char text[TEXT_MAX];
};

struct name {
	int pid;
	int64_t looked_up; /* ns, the clock of the events */
	char comm[COMM_MAX];
};

struct evlog {
	pthread_mutex_t lock;
	pthread_cond_t more;  /* the writer: lines to write, or stop */
	pthread_cond_t room;  /* appenders: the writer moved on */
	struct slot *slots;   /* EVLOG_SLOTS of them, under lock */
	uint64_t next_seq;    /* under lock: sequence of the next line */
	uint64_t written_seq; /* under lock: the first line not yet on the console */
	unsigned listeners;   /* atomic */
	FILE *console;
	pthread_t writer;
	bool writing;         /* under lock: the writer runs */
	bool writer_idle;     /* under lock: it waits for a first line */
	bool stopping;        /* under lock: the writer is to finish */
	evlog_notify_fn notify;
	void *notify_arg;
	pthread_mutex_t names_lock;
	struct name names[NAMES]; /* under names_lock: by pid % NAMES */
};

/* The text of the clock for one second, kept while lines share it. */
struct stamp_cache {
	int64_t sec;
	char hms[8]; /* "HH:MM:SS" */
};

struct evlog *evlog_new(FILE *console)
{
	struct evlog *log = calloc(1, sizeof(*log));
	pthread_condattr_t attr;

	if (!log)
		return NULL;
	log->slots = calloc(EVLOG_SLOTS, sizeof(*log->slots));
	if (!log->slots)
		goto out_log;
	if (pthread_condattr_init(&attr))
		goto out_slots;
	/* The writer's wait for lines to gather must not stretch when the
	 * wall clock is set back. */
	if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) ||
	    pthread_cond_init(&log->more, &attr))
		goto out_attr;
	if (pthread_cond_init(&log->room, NULL))
		goto out_more;
	if (pthread_mutex_init(&log->lock, NULL))
		goto out_room;
	if (pthread_mutex_init(&log->names_lock, NULL))
		goto out_lock;
	pthread_condattr_destroy(&attr);
	log->console = console;
	return log;

out_lock:
	pthread_mutex_destroy(&log->lock);
out_room:
	pthread_cond_destroy(&log->room);
out_more:
	pthread_cond_destroy(&log->more);
out_attr:
	pthread_condattr_destroy(&attr);
out_slots:
	free(log->slots);
out_log:
	free(log);
	return NULL;
}

static int64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put_two_digits(char *buf, int v)
{
	buf[0] = (char)('0' + v / 10 % 10);
	buf[1] = (char)('0' + v % 10);
}

/* Writes "HH:MM:SS.mmm " (STAMP_LEN bytes, local time) for ns into buf. */
static size_t put_stamp(struct stamp_cache *cache, int64_t ns, char *buf)
{
	int64_t sec = ns / 1000000000;
	int ms = (int)(ns % 1000000000 / 1000000);

	if (sec != cache->sec || cache->hms[0] == '\0') {
		time_t t = (time_t)sec;
		struct tm tm;

		localtime_r(&t, &tm);
		put_two_digits(cache->hms, tm.tm_hour);
		cache->hms[2] = ':';
		put_two_digits(cache->hms + 3, tm.tm_min);
		cache->hms[5] = ':';
		put_two_digits(cache->hms + 6, tm.tm_sec);
		cache->sec = sec;
	}
	memcpy(buf, cache->hms, sizeof(cache->hms));
	buf[8] = '.';
	buf[9] = (char)('0' + ms / 100);
	put_two_digits(buf + 10, ms % 100);
	buf[12] = ' ';
	return STAMP_LEN;
}

/* Copies n bytes of text to buf + len, as far as EVLOG_LINE_MAX; returns
 * the new length.  One event, one line: a newline in a client's text (a
 * queue name, say) must not forge another. */
static size_t put_text(char *buf, size_t len, const char *text, size_t n)
{
	if (n > EVLOG_LINE_MAX - len)
		n = EVLOG_LINE_MAX - len;
	for (size_t i = 0; i < n; i++)
		buf[len + i] = (unsigned char)text[i] < 0x20 ? '?' : text[i];
	return len + n;
}

static size_t put_number(char *buf, size_t len, int v)
{
	char digits[12];
	size_t n = 0;
	unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;

	do {
		digits[sizeof(digits) - ++n] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		digits[sizeof(digits) - ++n] = '-';
	return put_text(buf, len, digits + sizeof(digits) - n, n);
}

/* Makes the line of slot in buf (EVLOG_LINE_MAX bytes): stamp, client,
 * text, newline; a line too long is cut and ends with "...".  Returns its
 * length. */
static size_t format_line(const struct slot *slot, struct stamp_cache *cache, char *buf)
{
	static const char cut[] = "...\n";
	size_t len = put_stamp(cache, slot->ns, buf);

	if (slot->client) {
		len = put_text(buf, len, "pid ", 4);
		len = put_number(buf, len, slot->pid);
		len = put_text(buf, len, " (", 2);
		len = put_text(buf, len, slot->comm, strlen(slot->comm));
		len = put_text(buf, len, ") ", 2);
	}
	len = put_text(buf, len, slot->text, slot->len);
	if (len + 1 < EVLOG_LINE_MAX) {
		buf[len++] = '\n';
		return len;
	}
	len = EVLOG_LINE_MAX - sizeof(cut);
	memcpy(buf + len, cut, sizeof(cut) - 1);
	return len + sizeof(cut) - 1;
}

/* Hands len bytes of lines to the console: straight to its descriptor
 * when it has one, because a line-buffered stream writes the tail of a big
 * buffer one line, and one system call, at a time. */
static void console_write(FILE *console, const char *buf, size_t len)
{
	int fd = fileno(console);

	if (fd < 0) {
		fwrite(buf, 1, len, console);
		return;
	}
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* Writes the lines [from, to) to the console and flushes it.  Appenders
 * leave those slots alone until written_seq passes them. */
static void write_lines(struct evlog *log, uint64_t from, uint64_t to,
			struct stamp_cache *cache)
{
	char out[WRITE_CHUNK];
	size_t used = 0;

	/* Whatever the stream still holds goes first. */
	fflush(log->console);
	for (uint64_t seq = from; seq < to; seq++) {
		if (used + EVLOG_LINE_MAX > sizeof(out)) {
			console_write(log->console, out, used);
			used = 0;
		}
		used += format_line(&log->slots[seq % EVLOG_SLOTS], cache, out + used);
	}
	console_write(log->console, out, used);
	fflush(log->console);
}

static uint64_t unwritten(const struct evlog *log)
{
	return log->next_seq - log->written_seq;
}

/* With the lock held: waits for a line to write, or the stop.  False when
 * stopping with nothing left to write. */
static bool wait_for_lines(struct evlog *log)
{
	log->writer_idle = true;
	while (!log->stopping && unwritten(log) == 0)
		pthread_cond_wait(&log->more, &log->lock);
	log->writer_idle = false;
	return unwritten(log) > 0;
}

/* With the lock held, after a write: lines that keep coming gather for a
 * while into the next write, unless the ring half fills or the log stops.
 * A line after a quiet spell is written at once. */
static void let_lines_gather(struct evlog *log)
{
	int64_t deadline = now_ns(CLOCK_MONOTONIC) + GATHER_NS;
	struct timespec until = { .tv_sec = (time_t)(deadline / 1000000000),
				  .tv_nsec = (long)(deadline % 1000000000) };

	while (!log->stopping && unwritten(log) < EVLOG_SLOTS / 2)
		if (pthread_cond_timedwait(&log->more, &log->lock, &until) == ETIMEDOUT)
			break;
}

static void *write_console(void *arg)
{
	struct evlog *log = arg;
	struct stamp_cache cache = { 0 };

	pthread_mutex_lock(&log->lock);
	while (wait_for_lines(log)) {
		uint64_t from = log->written_seq, to = log->next_seq;

		pthread_mutex_unlock(&log->lock);
		write_lines(log, from, to, &cache);
		pthread_mutex_lock(&log->lock);
		log->written_seq = to;
		pthread_cond_broadcast(&log->room);
		let_lines_gather(log);
	}
	pthread_mutex_unlock(&log->lock);
	return NULL;
}

int evlog_start(struct evlog *log)
{
	sigset_t all, old;
	int ret = 0;

	pthread_mutex_lock(&log->lock);
	if (!log->console)
		goto out;
	if (log->writing) {
		ret = -EALREADY;
		goto out;
	}
	/* Signals are for the threads that libfuse wakes with them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&log->writer, NULL, write_console, log))
		ret = -EAGAIN;
	else
		log->writing = true;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
	pthread_mutex_unlock(&log->lock);
	return ret;
}

void evlog_free(struct evlog *log)
{
	bool writing;

	if (!log)
		return;
	pthread_mutex_lock(&log->lock);
	writing = log->writing;
	log->stopping = true;
	pthread_cond_signal(&log->more);
	pthread_mutex_unlock(&log->lock);
	if (writing)
		pthread_join(log->writer, NULL);
	pthread_mutex_destroy(&log->names_lock);
	pthread_mutex_destroy(&log->lock);
	pthread_cond_destroy(&log->room);
	pthread_cond_destroy(&log->more);
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

/* Takes the lock and returns the slot of the next line, to be filled in
 * place (a slot is too big to copy twice).  Once the writer runs, an
 * append waits here while it is a whole ring behind. */
static struct slot *reserve(struct evlog *log)
{
	pthread_mutex_lock(&log->lock);
	while (log->writing && unwritten(log) >= EVLOG_SLOTS)
		pthread_cond_wait(&log->room, &log->lock);
	return &log->slots[log->next_seq % EVLOG_SLOTS];
}

/* Adds the reserved slot to the log and drops the lock.  Before the
 * writer runs, the console gets the line here; once it runs, it is woken
 * for a first line or a half-full ring. */
static void commit(struct evlog *log)
{
	evlog_notify_fn notify;
	void *notify_arg;

	log->next_seq++;
	if (log->writing) {
		if (log->writer_idle || unwritten(log) >= EVLOG_SLOTS / 2)
			pthread_cond_signal(&log->more);
	} else if (log->console) {
		struct stamp_cache cache = { 0 };

		write_lines(log, log->written_seq, log->next_seq, &cache);
		log->written_seq = log->next_seq;
	}
	/* Only a reader of mnt/events, counted in, waits to be told. */
	notify = evlog_listeners(log) > 0 ? log->notify : NULL;
	notify_arg = log->notify_arg;
	pthread_mutex_unlock(&log->lock);

	if (notify)
		notify(notify_arg);
}

void evlog_append(struct evlog *log, const char *fmt, ...)
{
	int64_t ns = now_ns(CLOCK_REALTIME);
	struct slot *slot = reserve(log);
	va_list ap;
	int n;

	slot->ns = ns;
	slot->client = false;
	va_start(ap, fmt);
	n = vsnprintf(slot->text, sizeof(slot->text), fmt, ap);
	va_end(ap);
	slot->len = n < 0 ? 0 : (size_t)n < sizeof(slot->text) ? (size_t)n : sizeof(slot->text) - 1;
	commit(log);
}

/* The command name of pid, as ps shows it, or "?" when it is gone. */
static void read_command_name(int pid, char comm[COMM_MAX])
{
	char path[32];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, COMM_MAX - 1);
		close(fd);
	}
	if (n <= 0) {
		strcpy(comm, "?");
		return;
	}
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
}

/* The command name of pid at time ns, from what is remembered if it was
 * looked up less than NAME_TTL_NS before: a pid reused within that time
 * may show the name of the process before it. */
static void command_name(struct evlog *log, int pid, int64_t ns, char comm[COMM_MAX])
{
	struct name *name = &log->names[(unsigned)pid % NAMES];
	bool known;

	pthread_mutex_lock(&log->names_lock);
	known = name->pid == pid && ns >= name->looked_up && ns - name->looked_up < NAME_TTL_NS;
	if (known)
		memcpy(comm, name->comm, COMM_MAX);
	pthread_mutex_unlock(&log->names_lock);
	if (known)
		return;
	read_command_name(pid, comm);
	pthread_mutex_lock(&log->names_lock);
	name->pid = pid;
	name->looked_up = ns;
	memcpy(name->comm, comm, COMM_MAX);
	pthread_mutex_unlock(&log->names_lock);
}

void evlog_append_client(struct evlog *log, int pid, const char *text, size_t len)
{
	int64_t ns = now_ns(CLOCK_REALTIME);
	char comm[COMM_MAX];
	struct slot *slot;

	command_name(log, pid, ns, comm);
	slot = reserve(log);
	slot->ns = ns;
	slot->client = true;
	slot->pid = pid;
	memcpy(slot->comm, comm, COMM_MAX);
	slot->len = len < sizeof(slot->text) ? len : sizeof(slot->text);
	memcpy(slot->text, text, slot->len);
	commit(log);
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
	struct stamp_cache cache = { 0 };
	size_t len = put_stamp(&cache, now_ns(CLOCK_REALTIME), cursor->notice);

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
	struct stamp_cache cache = { 0 };
	char line[EVLOG_LINE_MAX];
	size_t used = 0;

	pthread_mutex_lock(&log->lock);
	if (log->next_seq > EVLOG_SLOTS && cursor->seq < log->next_seq - EVLOG_SLOTS)
		skip_missed(log, cursor);
	if (cursor->notice_off < cursor->notice_len)
		used = take(cursor->notice, cursor->notice_len, &cursor->notice_off, buf, 0, size);
	while (cursor->notice_off == cursor->notice_len && cursor->seq < log->next_seq) {
		size_t len = format_line(&log->slots[cursor->seq % EVLOG_SLOTS], &cache, line);
		size_t n = take(line, len, &cursor->offset, buf, used, size);

		used += n;
		if (cursor->offset < len)
			break;
		cursor->seq++;
		cursor->offset = 0;
	}
	pthread_mutex_unlock(&log->lock);
	return used;
}
