/* text.h - a growing text buffer: replies, journal records, snapshots.
 *
 * Errors are sticky: after a failed allocation every append is a no-op and
 * `oom` stays set, so a caller checks once at the end.
 */
#ifndef RWFS_TEXT_H
#define RWFS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

struct text {
	char *buf;  /* NUL-terminated when not NULL */
	size_t len;
	size_t cap;
	bool oom;
	bool borrowed; /* buf is the caller's (on its stack) until it grows */
};

#define TEXT_INIT { NULL, 0, 0, false, false }

/* A text that starts in the caller's array (a hot path's small texts need
 * no malloc); it moves to the heap when it outgrows it. */
#define TEXT_ON_STACK(array) { (array), 0, sizeof(array), false, true }

/* Appends len bytes (any bytes). */
void text_append(struct text *t, const char *bytes, size_t len);

/* Appends len bytes for the caller to fill in, and returns where they
 * start; NULL (and oom set) when out of memory. */
char *text_extend(struct text *t, size_t len);

/* Appends formatted text. */
void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hands the buffer to the caller (an empty string rather than NULL) and
 * resets t.  Returns NULL when an allocation failed (t is freed then). */
char *text_take(struct text *t, size_t *len);

/* Frees the buffer and resets t. */
void text_free(struct text *t);

#endif
