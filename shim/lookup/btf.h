/* btf: the few facts bindwatch needs from the kernel's BPF Type Format
 * (/sys/kernel/btf/vmlinux): a function's type id and struct member
 * offsets. Parses a caller-supplied buffer; no allocation. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Type id of the BTF_KIND_FUNC named 'name', or -ENOENT / -EINVAL. */
long bw_btf_func_id(const void *btf, size_t len, const char *name);

/* Byte offset of 'member' in the first struct named 'type' that has it
 * (members of anonymous inner structs/unions included), or -ENOENT. */
long bw_btf_member_offset(const void *btf, size_t len, const char *type, const char *member);
