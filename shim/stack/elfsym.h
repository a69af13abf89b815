/* elfsym: the few facts bindwatch needs from an ELF64 file, read with
 * pread() from an fd into stack buffers (no libelf, no mmap, no malloc:
 * safe on the shim's failure path): what kind of program it is, the
 * link-time address of a file offset, and the function symbol covering an
 * address. A malformed or foreign file gives -ENOEXEC. */
#pragma once
#include <stddef.h>
#include <stdint.h>

enum {
	BW_ELF_STATIC = 1, /* no PT_INTERP: LD_PRELOAD never reaches it */
	BW_ELF_GO = 2,     /* a .go.buildinfo section: makes raw syscalls, bypassing libc */
};

/* BW_ELF_* flags (0: a dynamically linked C-ABI program), or -errno;
 * -ENOEXEC when fd is not an ELF64 file for this machine. */
int bw_elf_kind(int fd);

/* The link-time address (what the symbol table and addr2line use) of the
 * byte at file offset off, through the PT_LOAD segment that holds it.
 * 0, -ENOENT (no segment), -ENOEXEC. */
int bw_elf_offset_to_vaddr(int fd, uint64_t off, uint64_t *ret_vaddr);

/* The function symbol covering vaddr, from .symtab, else .dynsym: one whose
 * [value, value+size) holds it, else the closest size-0 one below it. Its
 * name (NUL-terminated, truncated to size) and value are written only on
 * success. 0, -ENOENT (no symbol covers it), -ENOEXEC, -errno. */
int bw_elf_symbol(int fd, uint64_t vaddr, char *name, size_t size, uint64_t *ret_value);

/* The separate debug file of the ELF file open at fd (path: where it was
 * opened from), as Debian installs them: /usr/lib/debug/.build-id/xx/
 * yyyy.debug by the NT_GNU_BUILD_ID note, else the .gnu_debuglink name
 * next to the file, in its .debug/ directory, or under /usr/lib/debug plus
 * its directory (gdb's search, "Separate Debug Files"). A candidate whose
 * build-id differs is skipped. Returns an O_CLOEXEC fd (its .symtab serves
 * bw_elf_symbol at the same addresses), -EEXIST when the file has a
 * .symtab of its own (no need), -ENOENT, -ENOEXEC. */
int bw_elf_open_debug(int fd, const char *path);
