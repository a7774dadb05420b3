/* fuzz_isa.c - libFuzzer harness of the instruction parser: any text
 * either parses, and then each instruction's canonical text parses to the
 * same instruction, or is refused with an error that names a line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"

static void same_again(const struct isa_insn *in)
{
	struct isa_insn back;
	struct isa_error err;
	char text[64];
	size_t n;

	isa_format(in, text, sizeof(text));
	if (isa_parse_batch(text, strlen(text), &back, 1, &n, &err) || n != 1)
		abort();
	if (back.op != in->op || back.reg != in->reg || back.cell != in->cell ||
	    back.src.is_register != in->src.is_register || back.src.value != in->src.value)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct isa_insn insns[ISA_MAX_BATCH_LINES];
	struct isa_error err;
	int64_t value;
	size_t n;

	isa_parse_value((const char *)data, size, &value);
	if (isa_parse_batch((const char *)data, size, insns, ISA_MAX_BATCH_LINES, &n, &err))
		return 0;
	for (size_t k = 0; k < n; k++)
		same_again(&insns[k]);
	return 0;
}
