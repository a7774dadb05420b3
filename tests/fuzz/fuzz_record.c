/* fuzz_record.c - libFuzzer harness of the record decoder: any bytes either
 * decode, and then encode back to exactly themselves and format readably,
 * or are refused; a batch's instructions decode or are refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct isa_insn insns[ISA_MAX_BATCH_LINES];
	struct text again = TEXT_INIT;
	struct record r;
	char line[1024];
	size_t n;

	if (record_decode(data, size, &r))
		return 0;
	if (record_encode(&r, &again) || again.len != size || memcmp(again.buf, data, size))
		abort();
	text_free(&again);
	record_format(&r, line, sizeof(line));
	if (r.kind == RECORD_BATCH)
		record_get_insns(&r, insns, ISA_MAX_BATCH_LINES, &n);
	return 0;
}
