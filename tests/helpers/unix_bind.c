/* unix_bind: binds an AF_UNIX stream socket to PATH once and prints
 * "bind=R errno=E" (built static by tests/integration/supervise.bats, to
 * run in a chroot with nothing else in it). Usage: unix_bind PATH */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, r;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sun.sun_path))
		return 64;
	memcpy(sun.sun_path, argv[1], strlen(argv[1]));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return 65;
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	printf("bind=%d errno=%d\n", r, r < 0 ? errno : 0);
	return 0;
}
