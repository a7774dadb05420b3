/* logline.c - event lines that name the client: its pid and command name,
 * what it did and what came of it.  See fs.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs.h"

bool logging(struct rwfs *fs)
{
	return evlog_wanted(state_evlog(fs->st));
}

void log_event(struct rwfs *fs, fuse_req_t req, const char *fmt, ...)
{
	char message[EVLOG_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	evlog_append_client(state_evlog(fs->st), (int)fuse_req_ctx(req)->pid, message,
			    (size_t)n < sizeof(message) ? (size_t)n : sizeof(message) - 1);
}

static const char hex_digits[] = "0123456789abcdef";

/* Writes text as a C-like quoted string, cut after QUOTE_MAX bytes.  By
 * hand: it runs for every event line, and an escape is at most 4 bytes. */
void log_quote(const char *text, size_t len, char *out, size_t size)
{
	size_t o = 0;

	out[o++] = '"';
	for (size_t i = 0; i < len && i < QUOTE_MAX && o + 6 < size; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n' && i + 1 == len)
			break;
		if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex_digits[c >> 4];
			out[o++] = hex_digits[c & 0xf];
		} else {
			out[o++] = (char)c;
		}
	}
	if (len > QUOTE_MAX && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* Appends n bytes of s to line at *len, as far as size. */
static void put(char *line, size_t *len, size_t size, const char *s, size_t n)
{
	if (n > size - *len)
		n = size - *len;
	memcpy(line + *len, s, n);
	*len += n;
}

void log_outcome(struct rwfs *fs, fuse_req_t req, const char *what,
			const char *text, size_t len, const char *outcome)
{
	char quoted[QUOTED_SIZE], line[EVLOG_LINE_MAX];
	size_t n = 0;

	log_quote(text, len, quoted, sizeof(quoted));
	put(line, &n, sizeof(line), what, strlen(what));
	put(line, &n, sizeof(line), " ", 1);
	put(line, &n, sizeof(line), quoted, strlen(quoted));
	put(line, &n, sizeof(line), " -> ", 4);
	put(line, &n, sizeof(line), outcome, strlen(outcome));
	evlog_append_client(state_evlog(fs->st), (int)fuse_req_ctx(req)->pid, line, n);
}

