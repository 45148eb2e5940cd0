/* libFuzzer target for the SPIFFE ID parser and the ID pattern matcher: both
 * read peer-supplied bytes (the URI SAN of a presented certificate). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spiffe/id.h"
#include "spiffe/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const patterns[] = {
    "spiffe://example.org/**",
    "spiffe://example.org/ns/*/sa/*",
    "spiffe://example.org/*/**",
    "spiffe://example.org",
};

/* The input as an ID against fixed patterns, and the input as a pattern (up
 * to its first NUL) against a fixed ID and against itself. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ward_spiffe_id id;
	const char *s = (const char *)data;
	char *pattern;
	bool valid = ward_spiffe_id_parse(s, size, &id) == 0;

	if (valid != (ward_spiffe_id_check(s, size) == NULL))
		abort();
	if (valid && (id.len != size || memcmp(id.text, s, size) || id.text[size]))
		abort();
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		if (ward_id_pattern_match(patterns[i], s, size) && !valid)
			abort(); /* an invalid ID must never match */

	pattern = strndup(s, size);
	if (!pattern)
		return 0;
	if (ward_id_pattern_validate(pattern) == 0 && !strchr(pattern, '*') &&
	    !ward_id_pattern_match(pattern, pattern, strlen(pattern)))
		abort(); /* a literal pattern matches itself */
	(void)ward_id_pattern_match(pattern, "spiffe://example.org/ns/prod/sa/web", 35);
	free(pattern);
	return 0;
}
