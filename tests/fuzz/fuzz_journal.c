/* fuzz_journal.c - libFuzzer harness of the journal reader: the input is
 * the whole journal file of a state directory.  Opening must either
 * refuse it as damage or replay it into a state (its CRC-valid records
 * through the one apply), without a crash or a leak.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "state.h"

static char dir[64];

static void write_file(const char *name, const uint8_t *data, size_t size)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct log_file_options opts = { .sync = LOG_SYNC_NO, .compact_bytes = 1u << 30 };
	struct state *st;
	struct log *log;
	char msg[256], path[128];

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/fuzz-journal-%d", (int)getpid());
		mkdir(dir, 0700);
	}
	snprintf(path, sizeof(path), "%s/snapshot", dir);
	unlink(path);
	write_file("journal", data, size);
	opts.dir = dir;
	if (log_file_open(&opts, &log, msg, sizeof(msg)))
		return 0;
	st = state_new(NULL);
	if (!st)
		abort();
	state_attach_log(st, log, msg, sizeof(msg));
	state_free(st);
	return 0;
}
