/* text.c - a growing text buffer.  See text.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* Makes room for n more bytes and the NUL. */
static bool reserve(struct text *t, size_t n)
{
	size_t cap;
	char *buf;

	if (t->oom)
		return false;
	if (t->len + n + 1 <= t->cap)
		return true;
	cap = 2 * t->cap + n + 64;
	buf = t->borrowed ? malloc(cap) : realloc(t->buf, cap);
	if (!buf) {
		t->oom = true;
		return false;
	}
	if (t->borrowed && t->len)
		memcpy(buf, t->buf, t->len);
	t->borrowed = false;
	t->buf = buf;
	t->cap = cap;
	return true;
}

void text_append(struct text *t, const char *bytes, size_t len)
{
	char *at = text_extend(t, len);

	if (at && len) /* an empty field may come as NULL */
		memcpy(at, bytes, len);
}

char *text_extend(struct text *t, size_t len)
{
	char *at;

	if (!reserve(t, len))
		return NULL;
	at = t->buf + t->len;
	t->len += len;
	t->buf[t->len] = '\0';
	return at;
}

void text_printf(struct text *t, const char *fmt, ...)
{
	size_t room = t->buf ? t->cap - t->len : 0;
	va_list ap;
	int n;

	if (t->oom)
		return;
	/* Formats once when it fits (the usual case), twice when it grows. */
	va_start(ap, fmt);
	n = vsnprintf(room ? t->buf + t->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= room) {
		if (!reserve(t, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	t->len += (size_t)n;
}

char *text_take(struct text *t, size_t *len)
{
	char *buf;

	if (!t->oom && (!t->buf || t->borrowed)) {
		t->borrowed = true; /* so reserve copies it to the heap */
		reserve(t, t->cap);
	}
	if (t->oom) {
		text_free(t);
		return NULL;
	}
	t->buf[t->len] = '\0';
	buf = t->buf;
	if (len)
		*len = t->len;
	*t = (struct text)TEXT_INIT;
	return buf;
}

void text_free(struct text *t)
{
	if (!t->borrowed)
		free(t->buf);
	*t = (struct text)TEXT_INIT;
}
