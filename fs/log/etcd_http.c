/* etcd_http.c - etcd's v3 JSON gateway over libcurl.  See etcd_http.h.
 *
 * Each connection keeps its own curl handle (so its TCP connection stays
 * open between requests) and its own idea of which endpoint it talks to;
 * the cluster remembers whether the last answer was healthy, so that a
 * failover is reported once, not at every retry.
 */
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <nettle/base64.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "etcd_http.h"

#define CONNECT_TIMEOUT_MS 500
#define ROUND_PAUSE_US 50000    /* after every endpoint failed once */

struct etcd_cluster {
	char *urls[ETCD_MAX_ENDPOINTS];
	unsigned count;
	pthread_mutex_t lock;
	unsigned current;      /* under lock: the endpoint that answered last */
	bool troubled;         /* under lock: the last request failed somewhere */
	unsigned reported;     /* under lock: the troubles told since the last answer */
	uint64_t term;         /* under lock: the raft term of the last answer */
	etcd_notice_fn notice;
	void *notice_arg;
};

struct etcd_conn {
	struct etcd_cluster *cluster;
	CURL *curl;
	struct curl_slist *headers;
	unsigned at;           /* the endpoint this connection uses */
	long request_timeout_ms;
	char *buf;             /* the answer being received */
	size_t len, cap;
	bool overflow;
	/* the watch stream */
	etcd_message_fn fn;
	void *fn_arg;
	const bool *stop;
	bool fn_ended;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void init_curl(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int64_t etcd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void notice(struct etcd_cluster *c, const char *fmt, const char *url, const char *why)
{
	char line[256];

	if (!c->notice)
		return;
	snprintf(line, sizeof(line), fmt, url, why);
	c->notice(c->notice_arg, line);
}

/* --- the cluster -------------------------------------------------------------- */

static int add_url(struct etcd_cluster *c, const char *url, size_t len, char *msg, size_t size)
{
	if (c->count == ETCD_MAX_ENDPOINTS) {
		snprintf(msg, size, "--etcd: more than %d endpoints", ETCD_MAX_ENDPOINTS);
		return -EINVAL;
	}
	if (len < 8 || strncmp(url, "http://", 7) != 0) {
		snprintf(msg, size, "--etcd: '%.*s' is not an http:// URL", (int)len, url);
		return -EINVAL;
	}
	while (len > 7 && url[len - 1] == '/')
		len--;
	c->urls[c->count] = strndup(url, len);
	if (!c->urls[c->count])
		return -ENOMEM;
	c->count++;
	return 0;
}

struct etcd_cluster *etcd_cluster_new(const char *list, etcd_notice_fn fn, void *arg,
				      char *msg, size_t size)
{
	struct etcd_cluster *c = calloc(1, sizeof(*c));
	const char *p = list;

	pthread_once(&curl_once, init_curl);
	if (!c) {
		snprintf(msg, size, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->notice = fn;
	c->notice_arg = arg;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (add_url(c, p, len, msg, size))
			goto fail;
		p += len;
		if (*p == ',')
			p++;
	}
	if (c->count == 0) {
		snprintf(msg, size, "--etcd: no endpoint given");
		goto fail;
	}
	return c;

fail:
	etcd_cluster_free(c);
	return NULL;
}

void etcd_cluster_free(struct etcd_cluster *c)
{
	if (!c)
		return;
	for (unsigned k = 0; k < c->count; k++)
		free(c->urls[k]);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int etcd_cluster_format_stats(struct etcd_cluster *c, char *buf, size_t size)
{
	int len;

	pthread_mutex_lock(&c->lock);
	len = snprintf(buf, size, "etcd_endpoints %u\netcd_endpoint %s\netcd_healthy %d\n"
		       "etcd_raft_term %llu\n", c->count, c->urls[c->current], !c->troubled,
		       (unsigned long long)c->term);
	pthread_mutex_unlock(&c->lock);
	return len;
}

/* What went wrong at a member, each told once until something answers. */
enum trouble {
	TROUBLE_LOST = 1,      /* cannot be reached, or no answer in time */
	TROUBLE_NO_QUORUM = 2, /* it answers that it has no leader */
};

/* An answer came from endpoint at: reports the way back and a new term. */
static void answered(struct etcd_cluster *c, unsigned at, uint64_t term)
{
	bool back, new_term;

	pthread_mutex_lock(&c->lock);
	back = c->troubled;
	new_term = term && c->term && term != c->term;
	c->troubled = false;
	c->reported = 0;
	c->current = at;
	if (term)
		c->term = term;
	pthread_mutex_unlock(&c->lock);
	if (back)
		notice(c, "etcd: back: %s answers again%s", c->urls[at], "");
	if (new_term)
		notice(c, "etcd: the leader changed (seen at %s)%s", c->urls[at], "");
}

/* Endpoint at failed: each kind of trouble is reported once until
 * something answers again. */
static void failed(struct etcd_cluster *c, unsigned at, enum trouble kind, const char *why)
{
	bool first;

	pthread_mutex_lock(&c->lock);
	first = !(c->reported & kind);
	c->reported |= kind;
	c->troubled = true;
	pthread_mutex_unlock(&c->lock);
	if (!first)
		return;
	if (kind == TROUBLE_NO_QUORUM)
		notice(c, "etcd: quorum lost: %s has no leader (%s); operations wait, and fail "
			  "after --etcd-timeout", c->urls[at], why);
	else
		notice(c, "etcd: member lost: %s (%s); trying the other members", c->urls[at], why);
}

/* --- a connection ------------------------------------------------------------- */

struct etcd_conn *etcd_conn_new(struct etcd_cluster *c)
{
	struct etcd_conn *conn = calloc(1, sizeof(*conn));

	if (!conn)
		return NULL;
	conn->cluster = c;
	conn->request_timeout_ms = ETCD_REQUEST_TIMEOUT_MS;
	conn->curl = curl_easy_init();
	conn->headers = curl_slist_append(NULL, "Content-Type: application/json");
	/* libcurl waits for a 100 Continue over 1 MB; the gateway sends none.
	 * hasleader: a member without quorum fails at once instead of hanging. */
	conn->headers = curl_slist_append(conn->headers, "Expect:");
	conn->headers = curl_slist_append(conn->headers, "Grpc-Metadata-hasleader: true");
	if (!conn->curl || !conn->headers) {
		etcd_conn_free(conn);
		return NULL;
	}
	pthread_mutex_lock(&c->lock);
	conn->at = c->current;
	pthread_mutex_unlock(&c->lock);
	return conn;
}

void etcd_conn_free(struct etcd_conn *conn)
{
	if (!conn)
		return;
	curl_slist_free_all(conn->headers);
	if (conn->curl)
		curl_easy_cleanup(conn->curl);
	free(conn->buf);
	free(conn);
}

void etcd_conn_set_request_timeout(struct etcd_conn *conn, long ms)
{
	conn->request_timeout_ms = ms;
}

void etcd_conn_skip(struct etcd_conn *conn)
{
	conn->at = (conn->at + 1) % conn->cluster->count;
}

static bool keep_bytes(struct etcd_conn *conn, const char *data, size_t n)
{
	if (conn->len + n + 1 > conn->cap) {
		size_t cap = conn->cap ? conn->cap : 4096;
		char *p;

		while (cap < conn->len + n + 1)
			cap *= 2;
		p = realloc(conn->buf, cap);
		if (!p)
			return false;
		conn->buf = p;
		conn->cap = cap;
	}
	memcpy(conn->buf + conn->len, data, n);
	conn->len += n;
	conn->buf[conn->len] = '\0';
	return true;
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
	struct etcd_conn *conn = arg;

	if (!keep_bytes(conn, data, size * n)) {
		conn->overflow = true;
		return 0;
	}
	return size * n;
}

static void prepare(struct etcd_conn *conn, const char *path, const char *body)
{
	char url[512];

	snprintf(url, sizeof(url), "%s%s", conn->cluster->urls[conn->at], path);
	curl_easy_reset(conn->curl);
	curl_easy_setopt(conn->curl, CURLOPT_URL, url);
	curl_easy_setopt(conn->curl, CURLOPT_HTTPHEADER, conn->headers);
	curl_easy_setopt(conn->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(conn->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(conn->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(conn->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(conn->curl, CURLOPT_TCP_NODELAY, 1L);
	conn->len = 0;
	conn->overflow = false;
}

static int error_of_status(long status)
{
	if (status == 404)
		return -ENOENT;
	if (status == 413 || status == 429)
		return -EFBIG;
	return -EINVAL;
}

/* One try at the endpoint in use: 0 with *reply, 1 to try elsewhere, or
 * a final -errno. */
static int try_once(struct etcd_conn *conn, const char *path, const char *body, long timeout_ms,
		    struct json_object **reply)
{
	struct json_object *top, *header;
	long status = 0;
	CURLcode rc;

	prepare(conn, path, body);
	curl_easy_setopt(conn->curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(conn->curl, CURLOPT_WRITEDATA, conn);
	curl_easy_setopt(conn->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	rc = curl_easy_perform(conn->curl);
	if (conn->overflow)
		return -ENOMEM;
	if (rc != CURLE_OK) {
		failed(conn->cluster, conn->at, TROUBLE_LOST, curl_easy_strerror(rc));
		return 1;
	}
	curl_easy_getinfo(conn->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status == 503) {
		failed(conn->cluster, conn->at, TROUBLE_NO_QUORUM, "503");
		return 1;
	}
	if (status >= 500) {
		failed(conn->cluster, conn->at, TROUBLE_LOST, "server error");
		return 1;
	}
	if (status != 200)
		return error_of_status(status);
	top = json_tokener_parse(conn->buf ? conn->buf : "");
	if (!top) {
		failed(conn->cluster, conn->at, TROUBLE_LOST, "an answer that is not JSON");
		return 1;
	}
	header = etcd_json_get(top, "header");
	answered(conn->cluster, conn->at, (uint64_t)etcd_json_int(header, "raft_term"));
	*reply = top;
	return 0;
}

int etcd_call(struct etcd_conn *conn, const char *path, const char *body, int64_t deadline_ms,
	      struct json_object **reply)
{
	unsigned tries = 0;

	for (;;) {
		int64_t left = deadline_ms - etcd_now_ms();
		int ret;

		if (left <= 0)
			return -ETIMEDOUT;
		ret = try_once(conn, path, body,
			       left < conn->request_timeout_ms ? left : conn->request_timeout_ms, reply);
		if (ret <= 0)
			return ret;
		etcd_conn_skip(conn);
		if (++tries % conn->cluster->count == 0)
			usleep(ROUND_PAUSE_US);
	}
}

/* --- the watch stream ------------------------------------------------------- */

/* Hands every complete line of the buffer to fn and keeps the rest. */
static bool split_messages(struct etcd_conn *conn)
{
	char *start = conn->buf, *nl;

	while ((nl = memchr(start, '\n', conn->len - (size_t)(start - conn->buf)))) {
		struct json_object *msg;

		*nl = '\0';
		msg = json_tokener_parse(start);
		start = nl + 1;
		if (!msg)
			continue;
		if (conn->fn(conn->fn_arg, msg))
			conn->fn_ended = true;
		json_object_put(msg);
		if (conn->fn_ended)
			return false;
	}
	conn->len -= (size_t)(start - conn->buf);
	memmove(conn->buf, start, conn->len);
	return true;
}

static size_t stream(char *data, size_t size, size_t n, void *arg)
{
	struct etcd_conn *conn = arg;

	if (!keep_bytes(conn, data, size * n)) {
		conn->overflow = true;
		return 0;
	}
	return split_messages(conn) ? size * n : 0;
}

static int check_stop(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		      curl_off_t ulnow)
{
	const struct etcd_conn *conn = arg;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return __atomic_load_n(conn->stop, __ATOMIC_ACQUIRE) ? 1 : 0;
}

int etcd_watch(struct etcd_conn *conn, const char *body, etcd_message_fn fn, void *arg,
	       const bool *stop)
{
	CURLcode rc;
	long status = 0;

	prepare(conn, "/v3/watch", body);
	conn->fn = fn;
	conn->fn_arg = arg;
	conn->stop = stop;
	conn->fn_ended = false;
	curl_easy_setopt(conn->curl, CURLOPT_WRITEFUNCTION, stream);
	curl_easy_setopt(conn->curl, CURLOPT_WRITEDATA, conn);
	curl_easy_setopt(conn->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(conn->curl, CURLOPT_XFERINFOFUNCTION, check_stop);
	curl_easy_setopt(conn->curl, CURLOPT_XFERINFODATA, conn);
	rc = curl_easy_perform(conn->curl);
	curl_easy_getinfo(conn->curl, CURLINFO_RESPONSE_CODE, &status);
	if (conn->fn_ended || __atomic_load_n(stop, __ATOMIC_ACQUIRE))
		return 0;
	if (rc == CURLE_OK && status == 200)
		return 0;
	if (status == 503)
		failed(conn->cluster, conn->at, TROUBLE_NO_QUORUM, "the watch was refused");
	else
		failed(conn->cluster, conn->at, TROUBLE_LOST,
		       rc != CURLE_OK ? "the watch stream broke" : "the watch was refused");
	etcd_conn_skip(conn);
	return rc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
}

/* --- base64 and JSON ---------------------------------------------------------- */

char *etcd_b64(const void *data, size_t len)
{
	char *text = malloc(BASE64_ENCODE_RAW_LENGTH(len) + 1);

	if (!text)
		return NULL;
	base64_encode_raw(text, len, data);
	text[BASE64_ENCODE_RAW_LENGTH(len)] = '\0';
	return text;
}

int etcd_unb64(const char *text, void **data, size_t *len)
{
	size_t n = strlen(text), out = BASE64_DECODE_LENGTH(n);
	struct base64_decode_ctx ctx;
	uint8_t *p = malloc(out + 1);

	if (!p)
		return -ENOMEM;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &out, p, n, text) || !base64_decode_final(&ctx)) {
		free(p);
		return -EBADMSG;
	}
	*data = p;
	*len = out;
	return 0;
}

struct json_object *etcd_json_get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

int64_t etcd_json_int(struct json_object *o, const char *key)
{
	struct json_object *v = etcd_json_get(o, key);

	if (!v)
		return 0;
	if (json_object_is_type(v, json_type_string))
		return strtoll(json_object_get_string(v), NULL, 10);
	return json_object_get_int64(v);
}
