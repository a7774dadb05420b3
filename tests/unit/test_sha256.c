/* test_sha256.c - unit tests of SHA-256 (fs/engine/sha256.h) against the
 * FIPS 180-4 example vectors and lengths around the padding boundaries
 * (expected values from coreutils' sha256sum).
 *
 * Inputs are heap copies of exactly their length, so that AddressSanitizer
 * catches a read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sha256.h"

static void check(const void *data, size_t len, const char *want)
{
	char *copy = malloc(len ? len : 1);
	char hex[2 * SHA256_BYTES + 1];
	uint8_t raw[SHA256_BYTES];

	assert_non_null(copy);
	memcpy(copy, data, len);
	sha256_hex(copy, len, hex);
	if (strcmp(hex, want) != 0)
		fail_msg("length %zu: got %s, want %s", len, hex, want);
	sha256(copy, len, raw);
	for (int i = 0; i < SHA256_BYTES; i++) {
		unsigned byte;

		sscanf(want + 2 * i, "%2x", &byte);
		assert_int_equal(raw[i], byte);
	}
	free(copy);
}

static void test_standard_vectors(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		  "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(cases[i].text, strlen(cases[i].text), cases[i].want);
}

/* 55 bytes is the most that pads into one block, 56 the least that needs
 * two; 64 and 128 are whole blocks. */
static void test_padding_boundaries(void **state)
{
	static const struct {
		size_t len;
		const char *want;
	} cases[] = {
		{ 55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072" },
		{ 56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e" },
		{ 63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2" },
		{ 64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c" },
		{ 65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9" },
		{ 119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c" },
		{ 120, "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98" },
		{ 128, "24da1b81d0b16df6428eee73c69fcb2a93c76bc6df706f0c6670fe6bfe800464" },
	};
	char text[128];

	(void)state;
	memset(text, 'x', sizeof(text));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(text, cases[i].len, cases[i].want);
}

static void test_million_a(void **state)
{
	size_t len = 1000000;
	char *text = malloc(len);

	(void)state;
	assert_non_null(text);
	memset(text, 'a', len);
	check(text, len, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(text);
}

static void test_null_when_empty(void **state)
{
	char hex[2 * SHA256_BYTES + 1];

	(void)state;
	sha256_hex(NULL, 0, hex);
	assert_string_equal(hex,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_standard_vectors),
		cmocka_unit_test(test_padding_boundaries),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_null_when_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
