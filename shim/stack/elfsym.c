#include "stack/elfsym.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
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

/* Where Debian's *-dbgsym packages put split debug files. */
#define BW_DEBUG_ROOT "/usr/lib/debug"

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

/* The GNU build-id note (NT_GNU_BUILD_ID in a PT_NOTE segment, elf(5)):
 * its length, or -ENOENT. */
static int build_id(int fd, const Elf64_Ehdr *eh, uint8_t *id, size_t size)
{
	Elf64_Phdr ph;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		uint64_t off, end;
		if (read_phdr(fd, eh, i, &ph) < 0)
			return -ENOEXEC;
		if (ph.p_type != PT_NOTE)
			continue;
		off = ph.p_offset;
		end = ph.p_offset + ph.p_filesz;
		while (off + sizeof(Elf64_Nhdr) <= end) {
			Elf64_Nhdr nh;
			char name[4];
			uint64_t desc;
			if (read_at(fd, &nh, sizeof(nh), off) < 0)
				return -ENOEXEC;
			desc = off + sizeof(nh) + ((nh.n_namesz + 3u) & ~3u);
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && nh.n_descsz > 0 &&
			    nh.n_descsz <= size && desc + nh.n_descsz <= end &&
			    read_at(fd, name, 4, off + sizeof(nh)) == 0 && memcmp(name, "GNU", 4) == 0)
				return read_at(fd, id, nh.n_descsz, desc) < 0 ? -ENOEXEC : (int)nh.n_descsz;
			off = desc + ((nh.n_descsz + 3u) & ~3u);
		}
	}
	/* A separate debug file keeps the note as a section (its segments may
	 * be gone): look there too. */
	{
		Elf64_Shdr names, sh;
		unsigned n_sec, strndx;
		if (section_counts(fd, eh, &n_sec, &strndx) < 0 || strndx == SHN_UNDEF ||
		    read_shdr(fd, eh, strndx, &names) < 0)
			return -ENOENT;
		for (unsigned i = 1; i < n_sec; i++) {
			Elf64_Nhdr nh;
			if (read_shdr(fd, eh, i, &sh) < 0)
				return -ENOEXEC;
			if (sh.sh_type != SHT_NOTE || !section_named(fd, &names, &sh, ".note.gnu.build-id"))
				continue;
			if (sh.sh_size < sizeof(nh) + 4 || read_at(fd, &nh, sizeof(nh), sh.sh_offset) < 0 ||
			    nh.n_namesz != 4 || nh.n_descsz == 0 || nh.n_descsz > size ||
			    sizeof(nh) + 4 + nh.n_descsz > sh.sh_size)
				return -ENOENT;
			return read_at(fd, id, nh.n_descsz, sh.sh_offset + sizeof(nh) + 4) < 0
				       ? -ENOEXEC
				       : (int)nh.n_descsz;
		}
	}
	return -ENOENT;
}

/* Whether the file has a .symtab of its own, and its .gnu_debuglink name
 * (into link, "" when none). */
static int symtab_and_link(int fd, const Elf64_Ehdr *eh, bool *has_symtab, char *link, size_t size)
{
	Elf64_Shdr names, sh;
	unsigned n_sec, strndx;
	int r;

	*has_symtab = false;
	link[0] = '\0';
	r = section_counts(fd, eh, &n_sec, &strndx);
	if (r < 0)
		return r;
	if (strndx == SHN_UNDEF || read_shdr(fd, eh, strndx, &names) < 0)
		return 0;
	for (unsigned i = 1; i < n_sec; i++) {
		if (read_shdr(fd, eh, i, &sh) < 0)
			return -ENOEXEC;
		if (sh.sh_type == SHT_SYMTAB)
			*has_symtab = true;
		else if (sh.sh_type == SHT_PROGBITS && section_named(fd, &names, &sh, ".gnu_debuglink") &&
			 sh.sh_size > 1) {
			size_t n = sh.sh_size < size ? (size_t)sh.sh_size : size - 1;
			if (read_at(fd, link, n, sh.sh_offset) < 0)
				return -ENOEXEC;
			link[n] = '\0'; /* the name is NUL-terminated, then a CRC */
			if (strchr(link, '/'))
				link[0] = '\0'; /* a file name, never a path */
		}
	}
	return 0;
}

/* Opens path if it is an ELF file whose build-id (when both have one)
 * matches id. */
static int open_debug_candidate(const char *path, const uint8_t *id, int id_len)
{
	uint8_t other[64];
	Elf64_Ehdr eh;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int n;
	if (fd < 0)
		return -errno;
	if (read_ehdr(fd, &eh) < 0) {
		close(fd);
		return -ENOEXEC;
	}
	n = build_id(fd, &eh, other, sizeof(other));
	if (id_len > 0 && n > 0 && (n != id_len || memcmp(other, id, (size_t)n) != 0)) {
		close(fd);
		return -ESTALE; /* another build's debug file */
	}
	return fd;
}

int bw_elf_open_debug(int fd, const char *path)
{
	uint8_t id[64];
	char link[128], cand[512], dir[320];
	const char *slash;
	bool has_symtab;
	Elf64_Ehdr eh;
	int r, n, dfd;

	r = read_ehdr(fd, &eh);
	if (r < 0)
		return r;
	r = symtab_and_link(fd, &eh, &has_symtab, link, sizeof(link));
	if (r < 0)
		return r;
	if (has_symtab)
		return -EEXIST;
	/* gdb's order ("Separate Debug Files"): the build-id tree, then the
	 * debuglink name next to the file, in .debug/, and under the global
	 * debug directory. */
	n = build_id(fd, &eh, id, sizeof(id));
	if (n > 1) {
		size_t len = (size_t)snprintf(cand, sizeof(cand), BW_DEBUG_ROOT "/.build-id/%02x/", id[0]);
		for (int i = 1; i < n; i++)
			len += (size_t)snprintf(cand + len, sizeof(cand) - len, "%02x", id[i]);
		/* 64 id bytes at most: always fits in cand. */
		{
			memcpy(cand + len, ".debug", sizeof(".debug"));
			dfd = open_debug_candidate(cand, id, n);
			if (dfd >= 0)
				return dfd;
		}
	}
	slash = path ? strrchr(path, '/') : NULL;
	if (!link[0] || !slash || (size_t)(slash - path) >= sizeof(dir))
		return -ENOENT;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	{
		static const char *const forms[] = {"%s/%s", "%s/.debug/%s", BW_DEBUG_ROOT "%s/%s"};
		for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
			if (snprintf(cand, sizeof(cand), forms[i], dir, link) >= (int)sizeof(cand))
				continue;
			/* Not the file itself (a debuglink naming its own file). */
			if (strcmp(cand, path) == 0)
				continue;
			dfd = open_debug_candidate(cand, n > 0 ? id : NULL, n > 0 ? n : 0);
			if (dfd >= 0)
				return dfd;
		}
	}
	return -ENOENT;
}
