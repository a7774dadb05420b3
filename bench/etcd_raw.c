/* etcd_raw.c - the etcd part's load generator (bench/etcd.sh): etcd's JSON
 * gateway driven directly, the reference for rwfs on the same cluster, and
 * the two rwfs loops bench/bench has no form of.
 *
 *   put URL CLIENTS SECONDS     each client a thread with its own keep-alive
 *                               connection (one libcurl handle), putting a
 *                               64-byte value under its own key, one put at
 *                               a time
 *   range URL CLIENTS SECONDS   the same with a linearizable range of one key
 *   ctl FILE LINES SECONDS      one thread writes batches of LINES lines
 *                               "ADD A 1" to rwfs's ctl file (one write() is
 *                               one batch, one record)
 *   queue IN OUT SECONDS        a producer writes items to queue path IN, a
 *                               consumer reads them from path OUT (the same
 *                               queue through another mount); every item is
 *                               checked to arrive once and in order
 *
 * Each prints one line of `key value` pairs, the rate under ops_per_sec (for
 * range and put also p50_us, the median time of one request).  The threads
 * start together after one warm-up request each (the connection is made
 * before the clock starts); any error ends the program with status 1.  Keys
 * are under "bench-raw/", outside the prefix rwfs watches.
 *
 *     cc -std=gnu11 -O2 bench/etcd_raw.c -lcurl -ljson-c -lpthread -o bench/etcd_raw
 */
#include <curl/curl.h>
#include <json-c/json.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 256
#define VALUE_BYTES 64
#define ITEM_MAX 32

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("etcd_raw: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the run: threads that start together and stop on a flag ------------- */

struct run {
	pthread_barrier_t start;
	atomic_bool stop;
};

static void run_init(struct run *run, unsigned participants)
{
	if (pthread_barrier_init(&run->start, NULL, participants) != 0)
		die("pthread_barrier_init failed");
	atomic_init(&run->stop, false);
}

static void run_wait(struct run *run)
{
	int err = pthread_barrier_wait(&run->start);

	if (err != 0 && err != PTHREAD_BARRIER_SERIAL_THREAD)
		die("pthread_barrier_wait: %s", strerror(err));
}

/* Lets the participants go, sleeps for seconds, then sets stop. */
static void run_for(struct run *run, double seconds)
{
	struct timespec ts = { .tv_sec = (time_t)seconds,
			       .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9) };

	run_wait(run);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	atomic_store(&run->stop, true);
}

static bool stopping(struct run *run)
{
	return atomic_load_explicit(&run->stop, memory_order_relaxed);
}

static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int err = pthread_create(t, NULL, fn, arg);

	if (err != 0)
		die("pthread_create: %s", strerror(err));
}

/* ---- one keep-alive connection to the gateway ------------------------------ */

struct conn {
	CURL *curl;
	struct curl_slist *headers;
	char url[512];
	char *body;  /* the answer, NUL-terminated */
	size_t len, cap;
};

static size_t take_body(char *data, size_t size, size_t n, void *arg)
{
	struct conn *c = arg;
	size_t add = size * n;

	if (c->len + add + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;

		while (cap < c->len + add + 1)
			cap *= 2;
		c->body = realloc(c->body, cap);
		if (c->body == NULL)
			die("out of memory");
		c->cap = cap;
	}
	memcpy(c->body + c->len, data, add);
	c->len += add;
	c->body[c->len] = '\0';
	return add;
}

static void conn_init(struct conn *c, const char *base, const char *path)
{
	memset(c, 0, sizeof(*c));
	if ((size_t)snprintf(c->url, sizeof(c->url), "%s%s", base, path) >= sizeof(c->url))
		die("URL too long: %s", base);
	c->curl = curl_easy_init();
	if (c->curl == NULL)
		die("curl_easy_init failed");
	/* An empty Expect: libcurl would otherwise wait for 100-continue. */
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	c->headers = curl_slist_append(c->headers, "Expect:");
	curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, take_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, 10000L);
}

static void conn_release(struct conn *c)
{
	curl_slist_free_all(c->headers);
	curl_easy_cleanup(c->curl);
	free(c->body);
}

/* POSTs body and checks the answer: HTTP 200 and a JSON object with a
 * header (every successful answer of the gateway has one). */
static void conn_post(struct conn *c, const char *body)
{
	struct json_object *reply, *header;
	long status = 0;
	CURLcode rc;

	c->len = 0;
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK)
		die("%s: %s", c->url, curl_easy_strerror(rc));
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		die("%s: HTTP %ld: %.300s", c->url, status, c->len ? c->body : "");
	reply = json_tokener_parse(c->body);
	if (reply == NULL || !json_object_object_get_ex(reply, "header", &header))
		die("%s: not an answer: %.300s", c->url, c->body);
	json_object_put(reply);
}

/* ---- put and range ---------------------------------------------------------- */

static const char b64_digits[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* src as base64 into dst (room for 4 * ceil(n / 3) + 1). */
static void b64(char *dst, const unsigned char *src, size_t n)
{
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];

		*dst++ = b64_digits[v >> 18];
		*dst++ = b64_digits[(v >> 12) & 63];
		*dst++ = b64_digits[(v >> 6) & 63];
		*dst++ = b64_digits[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)src[i] << 16 | (i + 1 < n ? (uint32_t)src[i + 1] << 8 : 0);

		*dst++ = b64_digits[v >> 18];
		*dst++ = b64_digits[(v >> 12) & 63];
		*dst++ = i + 1 < n ? b64_digits[(v >> 6) & 63] : '=';
		*dst++ = '=';
	}
	*dst = '\0';
}

struct client {
	pthread_t thread;
	struct run *run;
	const char *base;
	bool put;
	unsigned id;
	uint64_t ops, elapsed_ns;
	uint64_t *lat_ns;  /* the time of each request, up to lat_cap */
	size_t lat_len, lat_cap;
};

static void *client_main(void *arg)
{
	struct client *cl = arg;
	char key[64], key64[96], value[VALUE_BYTES], value64[VALUE_BYTES * 2], body[512];
	struct conn c;
	uint64_t t0, t;

	/* Every client ranges over key 0, which the warm-up put makes. */
	snprintf(key, sizeof(key), "bench-raw/%u", cl->put ? cl->id : 0);
	b64(key64, (const unsigned char *)key, strlen(key));
	memset(value, 'v', sizeof(value));
	b64(value64, (const unsigned char *)value, sizeof(value));
	if (cl->put)
		snprintf(body, sizeof(body), "{\"key\":\"%s\",\"value\":\"%s\"}", key64, value64);
	else
		snprintf(body, sizeof(body), "{\"key\":\"%s\"}", key64);
	conn_init(&c, cl->base, cl->put ? "/v3/kv/put" : "/v3/kv/range");
	conn_post(&c, body);
	run_wait(cl->run);
	t0 = t = now_ns();
	while (!stopping(cl->run)) {
		uint64_t t1;

		conn_post(&c, body);
		t1 = now_ns();
		if (cl->lat_len < cl->lat_cap)
			cl->lat_ns[cl->lat_len++] = t1 - t;
		t = t1;
		cl->ops++;
	}
	cl->elapsed_ns = t - t0;
	conn_release(&c);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* A put of key 0 first, so that the ranges find a key. */
static void cmd_kv(const char *base, bool put, unsigned n, double seconds)
{
	struct client *cl = calloc(n, sizeof(*cl));
	uint64_t *all;
	size_t cap = (size_t)(seconds * 20000) + 16, len = 0;
	double rate = 0.0;
	struct run run;

	if (cl == NULL)
		die("out of memory");
	if (!put) {
		struct client seed = { .base = base, .put = true };
		struct run once;

		run_init(&once, 2);
		atomic_store(&once.stop, true);
		seed.run = &once;
		start_thread(&seed.thread, client_main, &seed);
		run_wait(&once);
		pthread_join(seed.thread, NULL);
		pthread_barrier_destroy(&once.start);
	}
	run_init(&run, n + 1);
	for (unsigned i = 0; i < n; i++) {
		cl[i] = (struct client){ .run = &run, .base = base, .put = put, .id = i,
					 .lat_cap = cap };
		cl[i].lat_ns = malloc(cap * sizeof(uint64_t));
		if (cl[i].lat_ns == NULL)
			die("out of memory");
		start_thread(&cl[i].thread, client_main, &cl[i]);
	}
	run_for(&run, seconds);
	all = malloc(n * cap * sizeof(uint64_t));
	if (all == NULL)
		die("out of memory");
	for (unsigned i = 0; i < n; i++) {
		pthread_join(cl[i].thread, NULL);
		if (cl[i].elapsed_ns > 0)
			rate += (double)cl[i].ops * 1e9 / (double)cl[i].elapsed_ns;
		memcpy(all + len, cl[i].lat_ns, cl[i].lat_len * sizeof(uint64_t));
		len += cl[i].lat_len;
		free(cl[i].lat_ns);
	}
	qsort(all, len, sizeof(uint64_t), cmp_u64);
	printf("ops_per_sec %.0f p50_us %.0f\n", rate, len ? (double)all[len / 2] / 1e3 : 0.0);
	free(all);
	free(cl);
	pthread_barrier_destroy(&run.start);
}

/* ---- rwfs: ctl batches -------------------------------------------------------- */

static void cmd_ctl(const char *path, unsigned lines, double seconds)
{
	static const char line[] = "ADD A 1\n";
	size_t len = (sizeof(line) - 1) * lines;
	char *batch = malloc(len);
	int fd = open(path, O_RDWR);
	uint64_t t0, end, n = 0;

	if (batch == NULL)
		die("out of memory");
	if (fd < 0)
		die("cannot open '%s': %s", path, strerror(errno));
	for (unsigned i = 0; i < lines; i++)
		memcpy(batch + i * (sizeof(line) - 1), line, sizeof(line) - 1);
	t0 = now_ns();
	end = t0 + (uint64_t)(seconds * 1e9);
	do {
		ssize_t w = write(fd, batch, len);

		if (w != (ssize_t)len)
			die("write '%s': %s", path, w < 0 ? strerror(errno) : "short write");
		n++;
	} while (now_ns() < end);
	printf("ops_per_sec %.0f instructions_per_sec %.0f\n",
	       (double)n * 1e9 / (double)(now_ns() - t0),
	       (double)n * lines * 1e9 / (double)(now_ns() - t0));
	close(fd);
	free(batch);
}

/* ---- rwfs: one queue through two mounts ------------------------------------- */

struct flow {
	struct run run;
	const char *in, *out;
	int in_fd, out_fd;
	uint64_t produced;     /* set by the producer as it ends */
	uint64_t consumed_ns;  /* from the start to the end marker */
};

static void write_item(int fd, const char *path, const char *item)
{
	ssize_t w = write(fd, item, strlen(item));

	if (w != (ssize_t)strlen(item))
		die("write '%s': %s", path, w < 0 ? strerror(errno) : "short write");
}

static void *producer_main(void *arg)
{
	struct flow *f = arg;
	char item[ITEM_MAX];
	uint64_t n = 0;

	run_wait(&f->run);
	while (!stopping(&f->run)) {
		snprintf(item, sizeof(item), "item-%08" PRIu64 "\n", n++);
		write_item(f->in_fd, f->in, item);
	}
	f->produced = n;
	write_item(f->in_fd, f->in, "end\n");
	return NULL;
}

static void *consumer_main(void *arg)
{
	struct flow *f = arg;
	char got[ITEM_MAX + 1], want[ITEM_MAX];
	uint64_t t0, n = 0;

	run_wait(&f->run);
	t0 = now_ns();
	for (;;) {
		ssize_t r = read(f->out_fd, got, ITEM_MAX);

		if (r <= 0)
			die("read '%s': %s", f->out, r < 0 ? strerror(errno) : "end of queue");
		got[r] = '\0';
		if (strcmp(got, "end\n") == 0)
			break;
		snprintf(want, sizeof(want), "item-%08" PRIu64 "\n", n);
		if (strcmp(got, want) != 0)
			die("'%s': expected %.*s, took %.*s", f->out, (int)strlen(want) - 1, want,
			    (int)r - 1, got);
		n++;
	}
	f->consumed_ns = now_ns() - t0;
	return NULL;
}

/* Waits up to 10 s for path to appear (the queue made on another mount). */
static int open_when_there(const char *path, int flags)
{
	for (int tries = 0; tries < 1000; tries++) {
		int fd = open(path, flags);

		if (fd >= 0 || errno != ENOENT)
			return fd;
		usleep(10000);
	}
	return -1;
}

static void cmd_queue(const char *in, const char *out, double seconds)
{
	struct flow f = { .in = in, .out = out };
	pthread_t p, c;
	uint64_t consumed;

	f.in_fd = open(in, O_WRONLY | O_CREAT, 0644);
	if (f.in_fd < 0)
		die("cannot open '%s': %s", in, strerror(errno));
	f.out_fd = open_when_there(out, O_RDONLY);
	if (f.out_fd < 0)
		die("cannot open '%s': %s", out, strerror(errno));
	run_init(&f.run, 3);
	start_thread(&p, producer_main, &f);
	start_thread(&c, consumer_main, &f);
	run_for(&f.run, seconds);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	consumed = f.produced;
	printf("ops_per_sec %.0f items %" PRIu64 "\n",
	       f.consumed_ns ? (double)consumed * 1e9 / (double)f.consumed_ns : 0.0, consumed);
	close(f.in_fd);
	close(f.out_fd);
	pthread_barrier_destroy(&f.run.start);
}

/* ---- command line -------------------------------------------------------------- */

static void usage(void)
{
	fputs("usage: etcd_raw put URL CLIENTS SECONDS\n"
	      "       etcd_raw range URL CLIENTS SECONDS\n"
	      "       etcd_raw ctl FILE LINES SECONDS\n"
	      "       etcd_raw queue IN OUT SECONDS\n",
	      stderr);
	exit(2);
}

static unsigned parse_count(const char *s, unsigned max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > max)
		die("bad count '%s' (1-%u)", s, max);
	return (unsigned)v;
}

static double parse_seconds(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0.0 && v <= 3600.0))
		die("bad duration '%s' (seconds, 0-3600)", s);
	return v;
}

int main(int argc, char *argv[])
{
	if (argc != 5)
		usage();
	/* Nothing here may hang a benchmark for good. */
	alarm(300);
	if (strcmp(argv[1], "put") == 0 || strcmp(argv[1], "range") == 0) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			die("curl_global_init failed");
		cmd_kv(argv[2], strcmp(argv[1], "put") == 0, parse_count(argv[3], MAX_CLIENTS),
		       parse_seconds(argv[4]));
		curl_global_cleanup();
	} else if (strcmp(argv[1], "ctl") == 0) {
		cmd_ctl(argv[2], parse_count(argv[3], 1000), parse_seconds(argv[4]));
	} else if (strcmp(argv[1], "queue") == 0) {
		cmd_queue(argv[2], argv[3], parse_seconds(argv[4]));
	} else {
		usage();
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		die("cannot write output: %s", strerror(errno));
	return 0;
}
