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
	buf = realloc(t->buf, cap);
	if (!buf) {
		t->oom = true;
		return false;
	}
	t->buf = buf;
	t->cap = cap;
	return true;
}

void text_append(struct text *t, const char *bytes, size_t len)
{
	if (!reserve(t, len))
		return;
	memcpy(t->buf + t->len, bytes, len);
	t->len += len;
	t->buf[t->len] = '\0';
}

void text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(t, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

char *text_take(struct text *t, size_t *len)
{
	char *buf;

	if (!t->oom && !t->buf)
		reserve(t, 0);
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
	free(t->buf);
	*t = (struct text)TEXT_INIT;
}
