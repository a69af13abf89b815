/* quote: prints bytes for a human reading a failure: in double quotes,
 * with control bytes, high bytes, backslash and '"' as \xNN. Shared by the unit
 * tests (check.h) and the fuzz targets (tests/fuzz/fuzz.h). */
#pragma once
#include <stddef.h>
#include <stdio.h>

static inline void quote_bytes(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '\\' || c == '"')
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}
