/* journal_gen.c - writes a long rwfs journal without going through FUSE.
 *
 * Opens an empty state directory with the engine's own store and appends
 * COUNT records, as the daemon would journal them: three in four are the
 * batch "ADD A 1", every fourth is "ADD A 1" then "WRITE A 7" (one record,
 * two instructions).  A replay therefore ends with A = COUNT and, when COUNT
 * is a multiple of 4, mem/7 = COUNT.  bench/run.sh times a daemon's start
 * on the result.
 *
 *     bench/journal_gen DIR COUNT
 */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The directory must be empty: any record found there is an error. */
static int refuse_record(void *arg, const char *text, size_t len)
{
	(void)arg;
	(void)text;
	(void)len;
	return -EBADMSG;
}

static void usage(void)
{
	fprintf(stderr, "usage: journal_gen DIR COUNT   (DIR: an existing, empty directory)\n");
	exit(2);
}

int main(int argc, char *argv[])
{
	static const char add[] = "ADD A 1";
	static const char add_write[] = "ADD A 1\nWRITE A 7";
	struct store_options opts = {
		.sync = STORE_SYNC_NO,
		.compact_bytes = UINT64_MAX,
		.notices = stderr,
	};
	struct store *store;
	char msg[512] = "";
	unsigned long long count;
	char *end;
	int ret;

	if (argc != 3)
		usage();
	errno = 0;
	count = strtoull(argv[2], &end, 10);
	if (errno != 0 || end == argv[2] || *end != '\0' || count > 100000000ull)
		usage();
	opts.dir = argv[1];
	ret = store_open(&opts, refuse_record, NULL, &store, msg, sizeof(msg));
	if (ret) {
		fprintf(stderr, "journal_gen: %s\n", msg[0] ? msg : strerror(-ret));
		return 1;
	}
	for (unsigned long long i = 0; i < count; i++) {
		const char *text = i % 4 == 3 ? add_write : add;
		size_t len = i % 4 == 3 ? sizeof(add_write) - 1 : sizeof(add) - 1;
		uint64_t ticket;

		ret = store_append(store, text, len, &ticket);
		if (ret) {
			fprintf(stderr, "journal_gen: record %llu: %s\n", i + 1, strerror(-ret));
			store_close(store);
			return 1;
		}
	}
	printf("records %llu journal_bytes %" PRIu64 "\n", count, store_journal_bytes(store));
	store_close(store);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "journal_gen: cannot write output: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
