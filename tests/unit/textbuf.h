/* textbuf.h - a growing text for the unit tests that compare states by
 * what they dump: append, printf, and bytes shown escaped.
 */
#ifndef RWFS_TEST_TEXTBUF_H
#define RWFS_TEST_TEXTBUF_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
	char *text;
	size_t len, cap;
};

static inline void buf_add(struct buf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->text = realloc(b->text, b->cap);
		assert_non_null(b->text);
	}
	memcpy(b->text + b->len, s, n);
	b->len += n;
	b->text[b->len] = '\0';
}

static inline void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(tmp));
	buf_add(b, tmp, (size_t)n);
}

/* Bytes as [text], anything unusual as \xNN. */
static inline void buf_escaped(struct buf *b, const void *data, size_t len)
{
	const unsigned char *p = data;

	buf_add(b, "[", 1);
	for (size_t i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '[' && p[i] != ']' && p[i] != '\\')
			buf_add(b, p + i, 1);
		else
			buf_printf(b, "\\x%02x", p[i]);
	}
	buf_add(b, "]", 1);
}

#endif
