/* elfsym: ELF files built byte by byte in a memfd (static or dynamic, Go,
 * symbols of every kind, broken ones), then this test program itself. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "stack/elfsym.h"

#if defined(__x86_64__)
#define MACHINE EM_X86_64
#elif defined(__aarch64__)
#define MACHINE EM_AARCH64
#endif

/* Layout of the fake file. */
enum {
	OFF_PHDR = 0x40,
	OFF_INTERP = 0x200,
	OFF_SYMTAB = 0x300,
	OFF_STRTAB = 0x600,
	OFF_SHSTR = 0x700,
	OFF_SHDR = 0x800,
	FILE_SIZE = 0x2000,
	TEXT_VADDR = 0x401000,
};

struct fake {
	bool interp;       /* a PT_INTERP segment: dynamically linked */
	bool go;           /* a .go.buildinfo section */
	bool symtab;       /* symbols in .symtab (else .dynsym) */
	uint16_t shentsize;
	unsigned char class;
	size_t truncate;   /* file size, 0: whole */
};

static const char strtab[] = "\0alpha\0alpha_alias\0beta\0gamma\0undef\0absolute\0";
enum { S_ALPHA = 1, S_ALIAS = 7, S_BETA = 19, S_GAMMA = 24, S_UNDEF = 30, S_ABS = 36 };
static const char shstr[] = "\0.text\0.symtab\0.strtab\0.shstrtab\0.go.buildinfo\0.interp\0";
enum { N_TEXT = 1, N_SYMTAB = 7, N_STRTAB = 15, N_SHSTR = 23, N_GO = 33, N_INTERP = 47 };

static Elf64_Sym sym(uint32_t name, unsigned type, uint64_t value, uint64_t size, uint16_t shndx)
{
	return (Elf64_Sym){.st_name = name, .st_info = ELF64_ST_INFO(STB_GLOBAL, type),
			   .st_shndx = shndx, .st_value = value, .st_size = size};
}

/* Writes the file into a memfd; returns its fd. */
static int make(const struct fake *f)
{
	static unsigned char img[FILE_SIZE];
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + OFF_PHDR);
	Elf64_Shdr *sh = (Elf64_Shdr *)(img + OFF_SHDR);
	Elf64_Sym syms[] = {
		sym(0, STT_NOTYPE, 0, 0, SHN_UNDEF),
		sym(S_ALPHA, STT_FUNC, TEXT_VADDR, 0x100, 1),
		sym(S_ALIAS, STT_FUNC, TEXT_VADDR, 0x100, 1),
		sym(S_BETA, STT_FUNC, TEXT_VADDR + 0x100, 0, 1),
		sym(S_GAMMA, STT_OBJECT, TEXT_VADDR + 0x200, 0x10, 1),
		sym(S_UNDEF, STT_FUNC, TEXT_VADDR + 0x300, 0x10, SHN_UNDEF),
		sym(S_ABS, STT_FUNC, TEXT_VADDR + 0x400, 0x10, SHN_ABS),
	};
	unsigned n_ph = 0, n_sh = 0;
	int fd;

	memset(img, 0, sizeof(img));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = f->class ? f->class : ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = MACHINE;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = OFF_PHDR;
	eh->e_shoff = OFF_SHDR;
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_shentsize = f->shentsize ? f->shentsize : sizeof(Elf64_Shdr);

	if (f->interp) {
		memcpy(img + OFF_INTERP, "/lib64/ld-linux-x86-64.so.2", 28);
		ph[n_ph++] = (Elf64_Phdr){.p_type = PT_INTERP, .p_offset = OFF_INTERP,
					  .p_filesz = 28};
	}
	/* Text: file 0x1000..0x2000 at TEXT_VADDR. */
	ph[n_ph++] = (Elf64_Phdr){.p_type = PT_LOAD, .p_offset = 0x1000, .p_vaddr = TEXT_VADDR,
				  .p_filesz = 0x1000, .p_memsz = 0x1000, .p_flags = PF_R | PF_X};
	eh->e_phnum = (uint16_t)n_ph;

	memcpy(img + OFF_SYMTAB, syms, sizeof(syms));
	memcpy(img + OFF_STRTAB, strtab, sizeof(strtab));
	memcpy(img + OFF_SHSTR, shstr, sizeof(shstr));
	sh[n_sh++] = (Elf64_Shdr){0};
	sh[n_sh++] = (Elf64_Shdr){.sh_name = N_TEXT, .sh_type = SHT_PROGBITS, .sh_addr = TEXT_VADDR,
				  .sh_offset = 0x1000, .sh_size = 0x1000};
	sh[n_sh++] = (Elf64_Shdr){.sh_name = N_SYMTAB, .sh_type = f->symtab ? SHT_SYMTAB : SHT_DYNSYM,
				  .sh_offset = OFF_SYMTAB, .sh_size = sizeof(syms), .sh_link = 3,
				  .sh_entsize = sizeof(Elf64_Sym)};
	sh[n_sh++] = (Elf64_Shdr){.sh_name = N_STRTAB, .sh_type = SHT_STRTAB,
				  .sh_offset = OFF_STRTAB, .sh_size = sizeof(strtab)};
	sh[n_sh++] = (Elf64_Shdr){.sh_name = N_SHSTR, .sh_type = SHT_STRTAB, .sh_offset = OFF_SHSTR,
				  .sh_size = sizeof(shstr)};
	eh->e_shstrndx = 4;
	if (f->go)
		sh[n_sh++] = (Elf64_Shdr){.sh_name = N_GO, .sh_type = SHT_PROGBITS,
					  .sh_offset = 0x1f00, .sh_size = 0x20};
	eh->e_shnum = (uint16_t)n_sh;

	fd = memfd_create("fake-elf", MFD_CLOEXEC);
	if (fd < 0 || write(fd, img, f->truncate ? f->truncate : sizeof(img)) < 0) {
		perror("memfd");
		exit(1);
	}
	return fd;
}

static void test_kind(void)
{
	int fd;

	fd = make(&(struct fake){.symtab = true});
	CHECK_EQ_INT(bw_elf_kind(fd), BW_ELF_STATIC);
	close(fd);
	fd = make(&(struct fake){.interp = true, .symtab = true});
	CHECK_EQ_INT(bw_elf_kind(fd), 0);
	close(fd);
	fd = make(&(struct fake){.interp = true, .go = true});
	CHECK_EQ_INT(bw_elf_kind(fd), BW_ELF_GO);
	close(fd);
	fd = make(&(struct fake){.go = true});
	CHECK_EQ_INT(bw_elf_kind(fd), BW_ELF_STATIC | BW_ELF_GO);
	close(fd);

	/* Not ours: ELF32, not ELF at all, cut short. */
	fd = make(&(struct fake){.class = ELFCLASS32});
	CHECK_EQ_INT(bw_elf_kind(fd), -ENOEXEC);
	close(fd);
	fd = memfd_create("script", MFD_CLOEXEC);
	CHECK(write(fd, "#!/bin/sh\nexit 0\n", 17) == 17);
	CHECK_EQ_INT(bw_elf_kind(fd), -ENOEXEC);
	close(fd);
	fd = make(&(struct fake){.truncate = 0x30});
	CHECK_EQ_INT(bw_elf_kind(fd), -ENOEXEC);
	close(fd);
	/* The section table is gone: still static, no Go hint. */
	fd = make(&(struct fake){.go = true, .truncate = 0x700});
	CHECK_EQ_INT(bw_elf_kind(fd), BW_ELF_STATIC);
	close(fd);
	CHECK_EQ_INT(bw_elf_kind(-1), -EBADF);
}

static void test_vaddr(void)
{
	uint64_t v = 0;
	int fd = make(&(struct fake){.symtab = true});
	CHECK_EQ_INT(bw_elf_offset_to_vaddr(fd, 0x1500, &v), 0);
	CHECK_EQ_INT(v, TEXT_VADDR + 0x500);
	CHECK_EQ_INT(bw_elf_offset_to_vaddr(fd, 0x1000, &v), 0);
	CHECK_EQ_INT(v, TEXT_VADDR);
	v = 7;
	CHECK_EQ_INT(bw_elf_offset_to_vaddr(fd, 0x2000, &v), -ENOENT);
	CHECK_EQ_INT(bw_elf_offset_to_vaddr(fd, 0x10, &v), -ENOENT);
	CHECK_EQ_INT(v, 7);
	close(fd);
}

static void lookup(int fd, uint64_t vaddr, int want_r, const char *want_name, uint64_t want_value)
{
	char name[64] = "untouched";
	uint64_t value = 1;
	int r = bw_elf_symbol(fd, vaddr, name, sizeof(name), &value);
	CHECK_EQ_INT(r, want_r);
	if (want_r == 0) {
		CHECK_STREQ(name, want_name);
		CHECK_EQ_INT(value, want_value);
	} else {
		CHECK_STREQ(name, "untouched");
		CHECK_EQ_INT(value, 1);
	}
}

static void test_symbols(void)
{
	for (int symtab = 0; symtab < 2; symtab++) {
		int fd = make(&(struct fake){.symtab = symtab != 0});
		/* Sized: the first of two aliases. */
		lookup(fd, TEXT_VADDR, 0, "alpha", TEXT_VADDR);
		lookup(fd, TEXT_VADDR + 0xff, 0, "alpha", TEXT_VADDR);
		/* Past alpha: the size-0 beta below. Objects, undefined and
		 * absolute symbols are not code. */
		lookup(fd, TEXT_VADDR + 0x100, 0, "beta", TEXT_VADDR + 0x100);
		lookup(fd, TEXT_VADDR + 0x205, 0, "beta", TEXT_VADDR + 0x100);
		lookup(fd, TEXT_VADDR + 0x405, 0, "beta", TEXT_VADDR + 0x100);
		lookup(fd, TEXT_VADDR - 1, -ENOENT, NULL, 0);
		close(fd);
	}
	/* A short buffer truncates the name. */
	{
		char name[4];
		uint64_t value;
		int fd = make(&(struct fake){.symtab = true});
		CHECK_EQ_INT(bw_elf_symbol(fd, TEXT_VADDR + 8, name, sizeof(name), &value), 0);
		CHECK_STREQ(name, "alp");
		CHECK_EQ_INT(bw_elf_symbol(fd, TEXT_VADDR + 8, name, 0, &value), -EINVAL);
		close(fd);
	}
	/* Broken: an odd section entry size, a file cut inside the symbols. */
	{
		int fd = make(&(struct fake){.symtab = true, .shentsize = 32});
		lookup(fd, TEXT_VADDR, -ENOEXEC, NULL, 0);
		close(fd);
		fd = make(&(struct fake){.symtab = true, .truncate = OFF_SYMTAB + 40});
		lookup(fd, TEXT_VADDR, -ENOEXEC, NULL, 0);
		close(fd);
	}
}

/* A real file: this program, looking itself up through /proc/self/maps
 * as the supervisor does for its target. */
__attribute__((noinline)) void bw_test_elfsym_marker(void);
__attribute__((noinline)) void bw_test_elfsym_marker(void)
{
	__asm__ volatile("" ::: "memory");
}

static void test_self(void)
{
	uint64_t pc = (uint64_t)(uintptr_t)&bw_test_elfsym_marker, vaddr = 0, value = 0;
	unsigned long long start, end, off;
	char line[512], name[64];
	bool found = false;
	FILE *maps = fopen("/proc/self/maps", "r");
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	CHECK(maps != NULL && fd >= 0);
	if (!maps || fd < 0)
		return;
	CHECK_EQ_INT(bw_elf_kind(fd), 0);
	while (fgets(line, sizeof(line), maps))
		if (sscanf(line, "%llx-%llx %*s %llx", &start, &end, &off) == 3 && pc >= start &&
		    pc < end) {
			found = true;
			break;
		}
	fclose(maps);
	CHECK(found);
	if (found) {
		CHECK_EQ_INT(bw_elf_offset_to_vaddr(fd, pc - start + off, &vaddr), 0);
		CHECK_EQ_INT(bw_elf_symbol(fd, vaddr, name, sizeof(name), &value), 0);
		CHECK_STREQ(name, "bw_test_elfsym_marker");
		CHECK_EQ_INT(value, vaddr);
	}
	close(fd);
}

int main(void)
{
	test_kind();
	test_vaddr();
	test_symbols();
	test_self();
	return check_done("elfsym");
}
