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

const char *log_outcome_text(int ret)
{
	static __thread char text[80];

	if (!ret)
		return "ok";
	snprintf(text, sizeof(text), "error: %s", strerror(-ret));
	return text;
}

/* A line made by hand, piece by piece: snprintf would cost more than all
 * the rest of an event. */
struct line {
	char text[EVLOG_LINE_MAX];
	size_t len;
};

/* Appends n bytes of s, as far as the line has room. */
static void put(struct line *line, const char *s, size_t n)
{
	if (n > sizeof(line->text) - line->len)
		n = sizeof(line->text) - line->len;
	memcpy(line->text + line->len, s, n);
	line->len += n;
}

static void put_string(struct line *line, const char *s)
{
	put(line, s, strlen(s));
}

/* Starts the line "WHAT PATH", or "WHAT" when node is NULL.  The path is
 * written in place; what is a verb of a few bytes, so there is room. */
static void put_subject(struct line *line, const char *what, const struct node *node)
{
	line->len = 0;
	put_string(line, what);
	if (node) {
		put(line, " ", 1);
		line->len += node_path(node, line->text + line->len,
				       sizeof(line->text) - line->len);
	}
}

static void append(struct rwfs *fs, fuse_req_t req, const struct line *line)
{
	evlog_append_client(state_evlog(fs->st), (int)fuse_req_ctx(req)->pid, line->text,
			    line->len);
}

void log_outcome(struct rwfs *fs, fuse_req_t req, const char *what, const struct node *node,
		 const char *text, size_t len, const char *outcome)
{
	char quoted[QUOTED_SIZE];
	struct line line;

	log_quote(text, len, quoted, sizeof(quoted));
	put_subject(&line, what, node);
	put(&line, " ", 1);
	put_string(&line, quoted);
	put(&line, " -> ", 4);
	put_string(&line, outcome);
	append(fs, req, &line);
}

void log_result(struct rwfs *fs, fuse_req_t req, const char *what, const struct node *node,
		const char *result, size_t len)
{
	struct line line;

	put_subject(&line, what, node);
	put(&line, " -> ", 4);
	put(&line, result, len);
	append(fs, req, &line);
}
