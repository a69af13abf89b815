/* leak_bind: many failing binds in one process, and what they left behind,
 * for tests/integration/hardening.bats. Usage:
 *   leak_bind PORT N
 * Makes one TCP socket, binds it N times to 127.0.0.1:PORT (which the
 * caller holds; each must fail with EADDRINUSE) and measures, before the
 * first and after the last bind: open fds (/proc/self/fd entries), the
 * heap in use (mallinfo2().uordblks, or the sanitizer allocator's count in
 * an ASan build), mappings (/proc/self/maps lines) and resident pages
 * (/proc/self/statm). Heap and resident pages are also taken after the
 * first 100 binds (W): code paged in once, or a chunk glibc keeps in its
 * tcache after a malloc/free pair, is not growth per call, but A != W for
 * the heap means the failure path called malloc at all. Prints one line:
 *   conflicts=C other=O fds=A/B heap=A/W/B maps=A/B rss_kb=A/W/B
 * (A before, W after warm-up, B after) and exits 0 iff every bind failed
 * with EADDRINUSE. If the fd count changed, the open fds are listed on
 * stderr. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Present only in a sanitizer build: ASan's allocator replaces malloc,
 * and mallinfo2() then describes glibc's unused heap. */
size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

static long count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	long n = 0;
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d))
			n++;
	closedir(d);
	return n;
}

/* Lists the open fds on stderr, to tell what a growth is. */
static void show_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		char link[300], target[256];
		ssize_t n;
		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "leak_bind: fd %s -> %s\n", de->d_name, target);
	}
	closedir(d);
}

/* Counted with read(2) into a fixed buffer: no allocation of its own. */
static long count_maps(void)
{
	char buf[4096];
	long n = 0;
	ssize_t r;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < r; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

static long rss_kb(void)
{
	char buf[128];
	long size = 0, res = 0;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ssize_t r = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	if (sscanf(buf, "%ld %ld", &size, &res) != 2)
		return -1;
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static size_t heap(void)
{
	if (__sanitizer_get_current_allocated_bytes)
		return __sanitizer_get_current_allocated_bytes();
	return mallinfo2().uordblks;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	long n, conflicts = 0, other = 0, fds0, fds1, maps0, maps1, rss0, rss_w = 0, rss1;
	size_t heap0, heap_w = 0, heap1;
	int fd;

	if (argc != 3)
		return 64;
	sin.sin_port = htons((unsigned short)atoi(argv[1]));
	n = atol(argv[2]);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 65;
	/* stdout's buffer is allocated by the first printf: do it now. */
	printf("leak_bind: %ld binds\n", n);
	fflush(stdout);
	fds0 = count_fds();
	maps0 = count_maps();
	rss0 = rss_kb();
	heap0 = heap();
	for (long i = 0; i < n; i++) {
		int r;
		errno = 0;
		r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
		if (r == -1 && errno == EADDRINUSE)
			conflicts++;
		else
			other++;
		if (i == 99 || (n < 100 && i == n - 1)) {
			heap_w = heap();
			rss_w = rss_kb();
		}
	}
	heap1 = heap();
	rss1 = rss_kb();
	maps1 = count_maps();
	fds1 = count_fds();
	printf("conflicts=%ld other=%ld fds=%ld/%ld heap=%zu/%zu/%zu maps=%ld/%ld rss_kb=%ld/%ld/%ld\n",
	       conflicts, other, fds0, fds1, heap0, heap_w, heap1, maps0, maps1, rss0, rss_w, rss1);
	if (fds1 != fds0)
		show_fds();
	close(fd);
	return other == 0 ? 0 : 1;
}
