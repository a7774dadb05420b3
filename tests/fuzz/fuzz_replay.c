/* fuzz_replay.c - libFuzzer harness of the replay: the input is a sequence
 * of records (each u16le length, then its bytes), replayed into a new
 * state as a log would hand them over.  Apply must take any of them
 * without a crash or a leak, and the state it ends in must survive a
 * snapshot: saved, loaded into another state, it gives the same digest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "state.h"

/* Appends the input's records to a memory log, as a journal would hold them. */
static struct log *log_of(const uint8_t *data, size_t size)
{
	struct log *log = log_memory_new();
	uint64_t position;

	while (log && size >= 2) {
		size_t n = (size_t)data[0] | (size_t)data[1] << 8;

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		log_append(log, data, n, &position);
		data += n;
		size -= n;
	}
	return log;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char want[STATE_DIGEST_HEX + 1], got[STATE_DIGEST_HEX + 1], msg[160];
	struct state *st = state_new(NULL), *again = state_new(NULL);
	uint64_t at, at_again;
	struct log *log = log_of(data, size);

	if (!st || !again || !log)
		abort();
	/* A record that does not decode stops the replay, as damage would. */
	state_attach_log(st, log, msg, sizeof(msg));
	if (state_digest(st, &at, want))
		abort();
	if (state_compact(st) ||
	    state_attach_log(again, log_memory_copy(state_log(st)), msg, sizeof(msg)))
		abort();
	if (state_digest(again, &at_again, got) || strcmp(want, got))
		abort();
	state_free(st);
	state_free(again);
	return 0;
}
