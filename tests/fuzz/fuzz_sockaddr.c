/* fuzz_sockaddr: bw_addr_from_sockaddr on the (sockaddr, addrlen) pairs a
 * program may pass bind(), bw_addr_format on the result, and bw_addr_parse
 * on the same bytes as a string (what `bindwatch who ADDR` gets).
 * Input: the first byte picks the family written into sa_family (bits 0-1:
 * AF_INET, AF_INET6, AF_UNIX, or leave the bytes as they are) and whether
 * the sockaddr starts at an odd address (bit 2: callers' buffers may be
 * unaligned); the rest is the sockaddr and its length is addrlen.
 * Checks: *ret untouched on failure; the lengths the kernel needs are
 * enforced; ip, port and path are the bytes given (a pathname stops at
 * its first NUL, an abstract name keeps them); formatting is in bounds and
 * an inet address formatted then parsed comes back the same; whatever
 * bw_addr_parse accepts is in range and survives the same round trip. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "fuzz.h"

static bool same_addr(const struct bw_addr *x, const struct bw_addr *y)
{
	size_t n = x->family == AF_INET ? 4 : x->family == AF_INET6 ? 16 : 0;
	if (x->family != y->family || x->port != y->port || memcmp(x->ip, y->ip, n) != 0)
		return false;
	if (x->family == AF_UNIX)
		return x->abstract == y->abstract && x->path_len == y->path_len &&
		       memcmp(x->path, y->path, x->path_len) == 0;
	return true;
}

/* Formats a and parses the text back; for inet (and a unix name that
 * needed no escaping) that is the same address. */
static void round_trip(const struct bw_addr *a)
{
	char text[512];
	struct bw_addr back;
	bool plain = true;

	fuzz_check_addr(a);
	if (a->family != AF_INET && a->family != AF_INET6 && a->family != AF_UNSPEC &&
	    a->family != AF_UNIX)
		return;
	if (a->family == AF_UNIX) {
		/* Escaped bytes, the "(unnamed)" placeholder and names that
		 * don't start like a path are not meant to parse back. */
		for (size_t i = 0; i < a->path_len; i++)
			if ((unsigned char)a->path[i] < 0x20 || (unsigned char)a->path[i] >= 0x7f ||
			    a->path[i] == '\\' || a->path[i] == '"')
				plain = false;
		if (!a->abstract && (a->path_len == 0 || (a->path[0] != '/' && a->path[0] != '.')))
			plain = false;
		if (a->abstract && a->path_len >= BW_UNIX_PATH_MAX)
			plain = false;
	}
	bw_addr_format(a, text, sizeof(text));
	memset(&back, 0, sizeof(back));
	if (!plain)
		return;
	FUZZ_CHECK(bw_addr_parse(text, &back) == 0, "\"%s\" (family %d) does not parse back", text,
		   a->family);
	FUZZ_CHECK(same_addr(a, &back), "\"%s\" parses back to a different address", text);
}

static void from_sockaddr(const uint8_t *b, size_t len, bool odd)
{
	uint8_t *mem = malloc(len + odd);
	uint8_t *sa = mem + odd;
	struct bw_addr a, pattern;
	sa_family_t fam = 0;
	int r;

	if (!mem && len + odd)
		abort();
	if (len)
		memcpy(sa, b, len);
	memset(&a, 0x5a, sizeof(a));
	memset(&pattern, 0x5a, sizeof(pattern));
	r = bw_addr_from_sockaddr((const struct sockaddr *)sa, (socklen_t)len, &a);
	if (len >= sizeof(fam))
		memcpy(&fam, b, sizeof(fam));
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL, "returned %d", r);
		FUZZ_CHECK(memcmp(&a, &pattern, sizeof(a)) == 0, "*ret written on failure");
		FUZZ_CHECK(len < sizeof(fam) || (fam == AF_INET && len < sizeof(struct sockaddr_in)) ||
				   (fam == AF_INET6 && len < 24),
			   "family %u with %zu bytes refused", fam, len);
		goto out;
	}
	FUZZ_CHECK(r == 0, "returned %d", r);
	FUZZ_CHECK(len >= sizeof(fam), "accepted %zu bytes", len);
	FUZZ_CHECK(a.family == fam, "family %d from sa_family %u", a.family, fam);
	if (fam == AF_INET) {
		FUZZ_CHECK(len >= sizeof(struct sockaddr_in), "AF_INET in %zu bytes", len);
		FUZZ_CHECK(memcmp(a.ip, b + 4, 4) == 0 && a.port == (b[2] << 8 | b[3]), "AF_INET fields");
	} else if (fam == AF_INET6) {
		FUZZ_CHECK(len >= 24, "AF_INET6 in %zu bytes", len);
		FUZZ_CHECK(memcmp(a.ip, b + 8, 16) == 0 && a.port == (b[2] << 8 | b[3]),
			   "AF_INET6 fields");
	} else if (fam == AF_UNIX) {
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t n = len > off ? len - off : 0;
		const uint8_t *p = b + off;
		if (n > BW_UNIX_PATH_MAX)
			n = BW_UNIX_PATH_MAX;
		FUZZ_CHECK(a.abstract == (n > 0 && p[0] == 0), "abstract %d", a.abstract);
		if (a.abstract) {
			FUZZ_CHECK(a.path_len == n - 1 && memcmp(a.path, p + 1, n - 1) == 0,
				   "abstract name of %zu bytes from %zu", a.path_len, n);
		} else {
			const uint8_t *nul = memchr(p, 0, n);
			size_t want = nul ? (size_t)(nul - p) : n;
			FUZZ_CHECK(a.path_len == want && memcmp(a.path, p, want) == 0,
				   "path of %zu bytes, expected %zu", a.path_len, want);
		}
	}
	round_trip(&a);
out:
	free(mem);
}

static void from_string(const uint8_t *b, size_t len)
{
	char *s = fuzz_dup(b, len, true);
	struct bw_addr a, pattern;
	int r;

	memset(&a, 0x5a, sizeof(a));
	memset(&pattern, 0x5a, sizeof(pattern));
	r = bw_addr_parse(s, &a);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL, "returned %d", r);
		FUZZ_CHECK(memcmp(&a, &pattern, sizeof(a)) == 0, "*ret written on failure");
	} else {
		FUZZ_CHECK(r == 0, "returned %d", r);
		FUZZ_CHECK(a.family == AF_UNSPEC || a.family == AF_INET || a.family == AF_INET6 ||
				   a.family == AF_UNIX, "family %d", a.family);
		if (a.family == AF_UNIX)
			FUZZ_CHECK(a.path_len == strlen(s) - a.abstract &&
					   memcmp(a.path, s + a.abstract, a.path_len) == 0,
				   "unix path of %zu bytes from \"%s\"", a.path_len, s);
		round_trip(&a);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const sa_family_t fams[] = {AF_INET, AF_INET6, AF_UNIX};
	uint8_t *b;
	size_t len;

	if (size < 1)
		return 0;
	len = size - 1;
	b = (uint8_t *)fuzz_dup(data + 1, len, false);
	if ((data[0] & 3) != 3 && len >= sizeof(sa_family_t))
		memcpy(b, &fams[data[0] & 3], sizeof(sa_family_t));
	from_sockaddr(b, len, data[0] & 4);
	from_string(data + 1, len);
	free(b);
	return 0;
}
