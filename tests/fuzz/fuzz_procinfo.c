/* fuzz_procinfo: the pure /proc/<pid> parsers. Input: the first byte sizes
 * the output buffers (comm: 1 + b % 64, cmdline: b * 2 + 1, unit b % 97,
 * container 64 + b % 9, and the real sizes), the rest is at once the text
 * of /proc/<pid>/stat and a cgroup path (cut at the first NUL, as
 * bw_read_file_at terminates it) and the raw bytes of /proc/<pid>/cmdline.
 * Checks: comm is what lies between the first '(' and the last ')',
 * truncated to its buffer and terminated; outputs never pass their
 * exact-size heap buffers; the joined command line is the raw bytes with
 * NULs as spaces, trailing NULs dropped, cut to size - 1; a unit is a whole
 * path component ending in .service, .scope or .socket, a container id 64
 * lowercase hex digits out of the path. */
#include <errno.h>

#include "fuzz.h"
#include "lookup/procinfo.h"

static void stat_text(const uint8_t *data, size_t len, size_t comm_size)
{
	char *text = fuzz_dup(data, len, true);
	char *comm = malloc(comm_size);
	pid_t ppid = -7;
	unsigned long long start = 7;
	int r;

	if (!comm)
		abort();
	memset(comm, 0x5a, comm_size);
	r = bw_proc_parse_stat(text, comm, comm_size, &ppid, &start);
	FUZZ_CHECK(r == 0 || r == -EINVAL, "returned %d", r);
	if (r == 0) {
		const char *open = strchr(text, '('), *close = strrchr(text, ')');
		FUZZ_CHECK(open && close && open < close, "parsed without \"(comm)\"");
		size_t want = (size_t)(close - open - 1);
		if (want > comm_size - 1)
			want = comm_size - 1;
		FUZZ_CHECK(strnlen(comm, comm_size) == want && memcmp(comm, open + 1, want) == 0,
			   "comm of %zu bytes, expected %zu", strnlen(comm, comm_size), want);
	}
	free(comm);
	free(text);
}

static void cmdline(const uint8_t *raw, size_t n, size_t size)
{
	char *out = malloc(size);
	size_t len, want = n;

	if (!out && size)
		abort();
	len = bw_proc_join_cmdline((const char *)raw, n, out, size);
	while (want > 0 && raw[want - 1] == 0)
		want--;
	if (size == 0) {
		FUZZ_CHECK(len == 0, "length %zu for a 0-byte buffer", len);
	} else {
		if (want > size - 1)
			want = size - 1;
		FUZZ_CHECK(len == want, "length %zu, expected %zu", len, want);
		FUZZ_CHECK(out[len] == '\0', "not terminated");
		for (size_t i = 0; i < len; i++)
			FUZZ_CHECK(out[i] == (raw[i] ? (char)raw[i] : ' '), "byte %zu", i);
	}
	free(out);
}

/* [s, s + n) is a whole '/'-separated component of path. */
FUZZ_NOCOV static bool is_component(const char *path, const char *s, size_t n)
{
	for (const char *p = path;; p++) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && memcmp(p, s, n) == 0)
			return true;
		if (!end)
			return false;
		p = end;
	}
}

FUZZ_NOCOV static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t sl = strlen(suffix);
	return n > sl && memcmp(s + n - sl, suffix, sl) == 0;
}

static void cgroup_identity(const uint8_t *data, size_t len, size_t unit_size, size_t container_size)
{
	char *path = fuzz_dup(data, len, true);
	char *unit = malloc(unit_size), *container = malloc(container_size);
	size_t un, cn;

	if ((!unit && unit_size) || (!container && container_size))
		abort();
	bw_proc_cgroup_identity(path, unit, unit_size, container, container_size);
	if (unit_size) {
		un = strnlen(unit, unit_size);
		FUZZ_CHECK(un < unit_size, "unit not terminated in %zu bytes", unit_size);
		if (un)
			FUZZ_CHECK(is_component(path, unit, un) &&
					   (ends_with(unit, un, ".service") || ends_with(unit, un, ".scope") ||
					    ends_with(unit, un, ".socket")),
				   "unit \"%s\" is no unit component of \"%s\"", unit, path);
	}
	if (container_size) {
		cn = strnlen(container, container_size);
		FUZZ_CHECK(cn < container_size, "container not terminated in %zu bytes", container_size);
		FUZZ_CHECK(cn == 0 || (cn == 64 && strspn(container, "0123456789abcdef") == 64 &&
				       strstr(path, container)),
			   "container \"%s\" from \"%s\"", container, path);
	}
	free(unit);
	free(container);
	free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *raw;
	size_t n;
	uint8_t b;

	if (size < 1)
		return 0;
	b = data[0];
	raw = data + 1;
	n = size - 1;
	stat_text(raw, n, 1 + b % BW_COMM_MAX);
	stat_text(raw, n, BW_COMM_MAX);
	{
		/* Exact-size copy of the raw bytes: no read past n. */
		uint8_t *copy = (uint8_t *)fuzz_dup(raw, n, false);
		cmdline(copy, n, (size_t)b * 2 + 1);
		cmdline(copy, n, BW_CMDLINE_MAX);
		cmdline(copy, n, 0);
		free(copy);
	}
	cgroup_identity(raw, n, 96, 72);
	cgroup_identity(raw, n, b % 97, 64 + b % 9);
	return 0;
}
