# Shared by report.bats and symbols.bats: a small C program whose bind()
# sits three static functions deep (level3 <- level2 <- level1 <- main),
# for stacks with and without symbols.

# write_nested_c FILE VARIANT: writes the program to FILE; VARIANT (a
# number) changes its code, so two variants are two different builds.
write_nested_c() {
	cat >"$1" <<C
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>
static int __attribute__((noinline)) level3(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	__asm__ volatile("" ::: "memory");
	return r;
}
static int __attribute__((noinline)) level2(int port) { int r = level3(port); __asm__ volatile(""); return r + $2; }
static int __attribute__((noinline)) level1(int port) { int r = level2(port); __asm__ volatile(""); return r + 0; }
int main(int argc, char **argv) { (void)argc; return level1(atoi(argv[1])) == 0 ? 0 : 1; }
C
}
