/* journal_gen.c - writes a long rwfs journal without going through FUSE.
 *
 * Opens an empty state directory with the engine and its file log, as the
 * daemon does, and runs COUNT batches: three in four are "ADD A 1", every
 * fourth is "ADD A 1" then "WRITE A 7" (one record, two instructions).  A
 * replay therefore ends with A = COUNT and, when COUNT is a multiple of 4,
 * mem/7 = COUNT.  bench/run.sh times a daemon's start on the result.
 *
 *     bench/journal_gen DIR COUNT
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "state.h"

static void usage(void)
{
	fprintf(stderr, "usage: journal_gen DIR COUNT   (DIR: an existing, empty directory)\n");
	exit(2);
}

/* The engine on the log of dir, with its session begun; NULL with a message. */
static struct state *open_state(const char *dir)
{
	struct log_file_options opts = {
		.dir = dir,
		.sync = LOG_SYNC_NO,
		.compact_bytes = UINT64_MAX,
		.notices = stderr,
	};
	struct state *st = state_new(NULL);
	struct log *log;
	char msg[512] = "out of memory";

	if (st && log_file_open(&opts, &log, msg, sizeof(msg)) == 0 &&
	    state_attach_log(st, log, msg, sizeof(msg)) == 0 &&
	    state_begin(st, 1, STATE_DEFAULT_CELLS, msg, sizeof(msg)) == 0)
		return st;
	fprintf(stderr, "journal_gen: %s\n", msg);
	state_free(st);
	return NULL;
}

int main(int argc, char *argv[])
{
	static const char add[] = "ADD A 1";
	static const char add_write[] = "ADD A 1\nWRITE A 7";
	unsigned long long count;
	struct state *st;
	char *end;
	int ret;

	if (argc != 3)
		usage();
	errno = 0;
	count = strtoull(argv[2], &end, 10);
	if (errno != 0 || end == argv[2] || *end != '\0' || count > 100000000ull)
		usage();
	st = open_state(argv[1]);
	if (!st)
		return 1;
	for (unsigned long long i = 0; i < count; i++) {
		const char *text = i % 4 == 3 ? add_write : add;
		size_t len = i % 4 == 3 ? sizeof(add_write) - 1 : sizeof(add) - 1;

		ret = state_execute(st, text, len, 0, NULL, NULL);
		if (ret) {
			fprintf(stderr, "journal_gen: record %llu: %s\n", i + 1, strerror(-ret));
			state_free(st);
			return 1;
		}
	}
	printf("records %llu journal_bytes %" PRIu64 "\n", count,
	       log_file_journal_bytes(state_log(st)));
	state_free(st);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "journal_gen: cannot write output: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
