#include "stack/elfsym.h"

#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#define BW_EM EM_X86_64
#elif defined(__aarch64__)
#define BW_EM EM_AARCH64
#else
#define BW_EM EM_NONE
#endif

/* Bounds against hostile files: more is not a program we would run. */
#define SECTIONS_MAX 65536u
#define SEGMENTS_MAX 4096u
#define SYMS_CHUNK 128u

/* All n bytes at off, or -ENOEXEC for a file that ends early. */
static int read_at(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ENOEXEC;
		done += (size_t)r;
	}
	return 0;
}

static int read_ehdr(int fd, Elf64_Ehdr *eh)
{
	int r = read_at(fd, eh, sizeof(*eh), 0);
	if (r < 0)
		return r;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB
										  : ELFDATA2MSB) ||
	    eh->e_machine != BW_EM)
		return -ENOEXEC;
	return 0;
}

/* The i-th program header; -ENOEXEC past the table or for an odd entry size. */
static int read_phdr(int fd, const Elf64_Ehdr *eh, unsigned i, Elf64_Phdr *ph)
{
	if (eh->e_phentsize != sizeof(*ph) || eh->e_phnum > SEGMENTS_MAX || i >= eh->e_phnum)
		return -ENOEXEC;
	return read_at(fd, ph, sizeof(*ph), eh->e_phoff + (uint64_t)i * sizeof(*ph));
}

static int read_shdr(int fd, const Elf64_Ehdr *eh, unsigned i, Elf64_Shdr *sh)
{
	if (eh->e_shentsize != sizeof(*sh) || eh->e_shoff == 0)
		return -ENOEXEC;
	return read_at(fd, sh, sizeof(*sh), eh->e_shoff + (uint64_t)i * sizeof(*sh));
}

/* Section count and the index of the section-name table; e_shnum == 0 and
 * e_shstrndx == SHN_XINDEX defer to section 0 (elf(5), "Section header"). */
static int section_counts(int fd, const Elf64_Ehdr *eh, unsigned *n, unsigned *shstrndx)
{
	Elf64_Shdr s0;
	uint64_t count = eh->e_shnum, strndx = eh->e_shstrndx;

	if (eh->e_shoff == 0) {
		*n = 0;
		*shstrndx = 0;
		return 0;
	}
	if (count == 0 || strndx == SHN_XINDEX) {
		int r = read_shdr(fd, eh, 0, &s0);
		if (r < 0)
			return r;
		if (count == 0)
			count = s0.sh_size;
		if (strndx == SHN_XINDEX)
			strndx = s0.sh_link;
	}
	if (count > SECTIONS_MAX || (strndx != SHN_UNDEF && strndx >= count))
		return -ENOEXEC;
	*n = (unsigned)count;
	*shstrndx = (unsigned)strndx;
	return 0;
}

/* Whether section 'sh' is named 'want' in the name table 'names'. */
static bool section_named(int fd, const Elf64_Shdr *names, const Elf64_Shdr *sh,
			  const char *want)
{
	char buf[32];
	size_t len = strlen(want) + 1;
	if (len > sizeof(buf) || sh->sh_name >= names->sh_size || names->sh_size - sh->sh_name < len)
		return false;
	if (read_at(fd, buf, len, names->sh_offset + sh->sh_name) < 0)
		return false;
	return memcmp(buf, want, len) == 0;
}

int bw_elf_kind(int fd)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	Elf64_Shdr names, sh;
	unsigned n_sec, strndx;
	bool interp = false;
	int r, kind = 0;

	r = read_ehdr(fd, &eh);
	if (r < 0)
		return r;
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return -ENOEXEC;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		r = read_phdr(fd, &eh, i, &ph);
		if (r < 0)
			return r;
		if (ph.p_type == PT_INTERP)
			interp = true;
	}
	if (!interp)
		kind |= BW_ELF_STATIC;
	/* A stripped section table only costs the Go hint. */
	if (section_counts(fd, &eh, &n_sec, &strndx) < 0 || strndx == SHN_UNDEF ||
	    read_shdr(fd, &eh, strndx, &names) < 0)
		return kind;
	for (unsigned i = 1; i < n_sec; i++) {
		if (read_shdr(fd, &eh, i, &sh) < 0)
			break;
		if (section_named(fd, &names, &sh, ".go.buildinfo")) {
			kind |= BW_ELF_GO;
			break;
		}
	}
	return kind;
}

int bw_elf_offset_to_vaddr(int fd, uint64_t off, uint64_t *ret_vaddr)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int r = read_ehdr(fd, &eh);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		r = read_phdr(fd, &eh, i, &ph);
		if (r < 0)
			return r;
		if (ph.p_type == PT_LOAD && off >= ph.p_offset && off - ph.p_offset < ph.p_filesz) {
			*ret_vaddr = ph.p_vaddr + (off - ph.p_offset);
			return 0;
		}
	}
	return -ENOENT;
}

/* The best symbol of one table: a sized one containing vaddr wins over the
 * closest size-0 one below it. */
struct best {
	bool found, sized;
	uint64_t value;
	uint32_t name;
};

static bool is_code_symbol(const Elf64_Sym *s)
{
	unsigned t = ELF64_ST_TYPE(s->st_info);
	return s->st_shndx != SHN_UNDEF && s->st_shndx != SHN_ABS &&
	       (t == STT_FUNC || t == STT_GNU_IFUNC);
}

static int scan_table(int fd, const Elf64_Shdr *tab, uint64_t vaddr, struct best *b)
{
	Elf64_Sym syms[SYMS_CHUNK] = {0}; /* read_at fills k of them; the analyzer can't tell */
	uint64_t n;

	if (tab->sh_entsize != sizeof(Elf64_Sym))
		return -ENOEXEC;
	n = tab->sh_size / sizeof(Elf64_Sym);
	for (uint64_t i = 0; i < n; i += SYMS_CHUNK) {
		size_t k = n - i < SYMS_CHUNK ? (size_t)(n - i) : SYMS_CHUNK;
		int r = read_at(fd, syms, k * sizeof(Elf64_Sym), tab->sh_offset + i * sizeof(Elf64_Sym));
		if (r < 0)
			return r;
		for (size_t j = 0; j < k; j++) {
			const Elf64_Sym *s = &syms[j];
			if (!is_code_symbol(s) || s->st_value > vaddr)
				continue;
			if (s->st_size != 0) {
				if (vaddr - s->st_value >= s->st_size)
					continue;
				/* Aliases (bind, __bind): keep the first seen. */
				if (b->sized && s->st_value <= b->value)
					continue;
				*b = (struct best){true, true, s->st_value, s->st_name};
			} else if (!b->sized && (!b->found || s->st_value > b->value)) {
				*b = (struct best){true, false, s->st_value, s->st_name};
			}
		}
	}
	return 0;
}

int bw_elf_symbol(int fd, uint64_t vaddr, char *name, size_t size, uint64_t *ret_value)
{
	static const uint32_t kinds[] = {SHT_SYMTAB, SHT_DYNSYM};
	Elf64_Ehdr eh;
	Elf64_Shdr sh, strtab;
	unsigned n_sec, strndx;
	struct best b = {0};
	char tmp[512];
	uint64_t avail;
	size_t want;
	int r;

	if (size == 0)
		return -EINVAL;
	r = read_ehdr(fd, &eh);
	if (r < 0)
		return r;
	r = section_counts(fd, &eh, &n_sec, &strndx);
	if (r < 0)
		return r;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]) && !b.found; k++) {
		for (unsigned i = 1; i < n_sec; i++) {
			r = read_shdr(fd, &eh, i, &sh);
			if (r < 0)
				return r;
			if (sh.sh_type != kinds[k])
				continue;
			if (sh.sh_link == 0 || sh.sh_link >= n_sec)
				return -ENOEXEC;
			r = scan_table(fd, &sh, vaddr, &b);
			if (r < 0)
				return r;
			if (b.found)
				break;
		}
	}
	if (!b.found)
		return -ENOENT;
	r = read_shdr(fd, &eh, sh.sh_link, &strtab);
	if (r < 0)
		return r;
	if (b.name >= strtab.sh_size)
		return -ENOEXEC;
	avail = strtab.sh_size - b.name;
	want = avail < sizeof(tmp) - 1 ? (size_t)avail : sizeof(tmp) - 1;
	r = read_at(fd, tmp, want, strtab.sh_offset + b.name);
	if (r < 0)
		return r;
	tmp[want] = '\0';
	snprintf(name, size, "%s", tmp);
	*ret_value = b.value;
	return 0;
}
