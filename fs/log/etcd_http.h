/* etcd_http.h - a small client of etcd's v3 JSON gateway: HTTP/1.1 POSTs
 * over libcurl, one keep-alive connection per struct etcd_conn (one per
 * thread), failover across the cluster's endpoints, base64 both ways, and
 * the watch stream split into its JSON objects.
 *
 * Every int64 of the gateway comes back as a JSON string and zero values
 * are left out: etcd_json_int reads both, and a missing field as 0.
 */
#ifndef RWFS_ETCD_HTTP_H
#define RWFS_ETCD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define ETCD_MAX_ENDPOINTS 16

/* Called on a change of the cluster's health as this client sees it (a
 * member lost, the leader changed, no quorum, back).  One line, no
 * newline.  From whichever thread saw it. */
typedef void (*etcd_notice_fn)(void *arg, const char *line);

/* The cluster: its endpoints and which of them answered last, shared by
 * every connection. */
struct etcd_cluster;

/* Parses a comma-separated list of http:// URLs ("http://127.0.0.1:2379,
 * ...").  Returns NULL with msg on a malformed list or when out of
 * memory.  notice may be NULL. */
struct etcd_cluster *etcd_cluster_new(const char *list, etcd_notice_fn notice, void *arg,
				      char *msg, size_t size);
void etcd_cluster_free(struct etcd_cluster *c);

/* Appends "etcd_endpoints N\netcd_endpoint URL\netcd_raft_term T\n" (the
 * endpoint last answered) like snprintf. */
int etcd_cluster_format_stats(struct etcd_cluster *c, char *buf, size_t size);

/* One keep-alive connection.  NULL when out of memory. */
struct etcd_conn;
struct etcd_conn *etcd_conn_new(struct etcd_cluster *c);
void etcd_conn_free(struct etcd_conn *conn);

/* Sets how long one try at one member may take before the next member
 * is asked (default ETCD_REQUEST_TIMEOUT_MS). */
#define ETCD_REQUEST_TIMEOUT_MS 2000 /* a member forwarding to a dead leader hangs ~7 s */
void etcd_conn_set_request_timeout(struct etcd_conn *conn, long ms);

/* Leaves the endpoint in use: the next request goes to the next one. */
void etcd_conn_skip(struct etcd_conn *conn);

/* Posts the JSON body to path ("/v3/kv/put") and parses the answer.  A
 * member that cannot be reached, answers 503 (no leader) or does not answer
 * within its request timeout is left for the next endpoint, again until
 * deadline_ms (CLOCK_MONOTONIC, ms).  Returns 0 and *reply (the caller
 * puts it with json_object_put), -ETIMEDOUT (no answer by the deadline:
 * the request may or may not have taken effect), -ENOENT (404: no such
 * lease), -EFBIG (the request is too large), -EINVAL (another 4xx),
 * -EIO (a 5xx other than 503), -ENOMEM. */
int etcd_call(struct etcd_conn *conn, const char *path, const char *body, int64_t deadline_ms,
	      struct json_object **reply);

/* Called for each JSON object of a watch stream, in order.  A nonzero
 * return ends the stream. */
typedef int (*etcd_message_fn)(void *arg, struct json_object *message);

/* Opens a watch (body: the create_request) on the endpoint in use and
 * calls fn for every object it streams, until the stream ends (0: the
 * member closed it or fn asked), *stop becomes true (checked at least once
 * a second: 0), or it fails (-EIO, -ECONNREFUSED...; the next call tries
 * the next endpoint). */
int etcd_watch(struct etcd_conn *conn, const char *body, etcd_message_fn fn, void *arg,
	       const bool *stop);

/* The milliseconds of CLOCK_MONOTONIC. */
int64_t etcd_now_ms(void);

/* data as base64, NUL-terminated, malloc'd; NULL when out of memory. */
char *etcd_b64(const void *data, size_t len);

/* Decodes base64 text into a malloc'd *data (never NULL on success, even
 * for an empty text).  Returns 0, -EBADMSG or -ENOMEM. */
int etcd_unb64(const char *text, void **data, size_t *len);

/* The integer field key of o (a JSON string or number); 0 when missing. */
int64_t etcd_json_int(struct json_object *o, const char *key);

/* The member named key of o, or NULL. */
struct json_object *etcd_json_get(struct json_object *o, const char *key);

#endif
