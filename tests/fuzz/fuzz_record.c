/* fuzz_record.c - libFuzzer harness of the record decoder: any bytes either
 * decode, and then encode back to exactly themselves (a record of an older
 * version: to the current version's record, which decodes and encodes back
 * to itself) and format readably, or are refused; a batch's instructions
 * decode or are refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct isa_insn insns[ISA_MAX_BATCH_LINES];
	struct text again = TEXT_INIT, twice = TEXT_INIT;
	struct record r, current;
	char line[1024];
	size_t n;

	if (record_decode(data, size, &r))
		return 0;
	if (record_encode(&r, &again))
		abort();
	if (data[0] == RECORD_VERSION && (again.len != size || memcmp(again.buf, data, size)))
		abort();
	if (record_decode(again.buf, again.len, &current) || record_encode(&current, &twice) ||
	    twice.len != again.len || memcmp(twice.buf, again.buf, again.len))
		abort();
	text_free(&twice);
	text_free(&again);
	record_format(&r, line, sizeof(line));
	if (r.kind == RECORD_BATCH)
		record_get_insns(&r, insns, ISA_MAX_BATCH_LINES, &n);
	return 0;
}
