/* logline.c - event lines that name the client: its pid and command name,
 * what it did and what came of it.  See fs.h.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"


/* The command name of pid, as ps shows it, or "?" when it is gone. */
static void command_name(pid_t pid, char *buf, size_t size)
{
	char path[32];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(buf, size, "?");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

bool logging(struct rwfs *fs)
{
	return evlog_wanted(state_evlog(fs->st));
}

void log_event(struct rwfs *fs, fuse_req_t req, const char *fmt, ...)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char comm[32], message[EVLOG_LINE_MAX];
	va_list ap;

	command_name(ctx->pid, comm, sizeof(comm));
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	evlog_append(state_evlog(fs->st), "pid %d (%s) %s", (int)ctx->pid, comm, message);
}

/* Writes text as a C-like quoted string, cut after QUOTE_MAX bytes. */
void log_quote(const char *text, size_t len, char *out, size_t size)
{
	size_t o = 0;

	out[o++] = '"';
	for (size_t i = 0; i < len && i < QUOTE_MAX && o + 6 < size; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n' && i + 1 == len)
			break;
		if (c == '\n')
			o += (size_t)snprintf(out + o, size - o, "\\n");
		else if (c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (len > QUOTE_MAX && o + 4 < size)
		o += (size_t)snprintf(out + o, size - o, "...");
	snprintf(out + o, size - o, "\"");
}

void log_outcome(struct rwfs *fs, fuse_req_t req, const char *what,
			const char *text, size_t len, const char *outcome)
{
	char quoted[QUOTE_MAX * 4 + 8];

	log_quote(text, len, quoted, sizeof(quoted));
	log_event(fs, req, "%s %s -> %s", what, quoted, outcome);
}

