/* fuzz_btf: bw_btf_func_id and bw_btf_member_offset over a BTF blob (the
 * whole input, in an exact-size heap buffer), asked exactly what
 * shim/lookup/bpfiter.c asks of /sys/kernel/btf/vmlinux, plus a few names that
 * reach the anonymous-member and bitfield paths.
 * Checks: no read outside the blob; a type id is positive and within the
 * number of types the type section could hold; an offset is >= 0 and
 * within what nesting allows, or -ENOENT / -EINVAL. */
#include <errno.h>
#include <linux/btf.h>

#include "lookup/btf.h"
#include "fuzz.h"

static void check_func(const void *b, size_t len, const char *name)
{
	long r = bw_btf_func_id(b, len, name);
	FUZZ_CHECK(r == -ENOENT || r == -EINVAL || (r >= 1 && (size_t)r <= len / sizeof(struct btf_type)),
		   "func %s: %ld in %zu bytes", name, r, len);
}

static void check_member(const void *b, size_t len, const char *type, const char *member)
{
	long r = bw_btf_member_offset(b, len, type, member);
	/* A bit offset is a u32: at most 2^29 bytes per level, 5 levels. */
	FUZZ_CHECK(r == -ENOENT || r == -EINVAL || (r >= 0 && r <= 5L * (1L << 29)),
		   "%s.%s: %ld", type, member, r);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *b;

	b = fuzz_dup(data, size, false);

	check_func(b, size, "bpf_iter_task_file");
	check_member(b, size, "task_struct", "tgid");
	check_member(b, size, "file", "f_inode");
	check_member(b, size, "inode", "i_ino");
	check_func(b, size, "");
	check_member(b, size, "", "");
	free(b);
	return 0;
}
