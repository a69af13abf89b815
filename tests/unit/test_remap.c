/* remap: how a wait:N action reports the wait it made (bw_remap_bind), with
 * a bind that always finds the port in use. */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "check.h"
#include "policy/policy.h"
#include "respond/remap.h"

static int always_in_use(int fd, const struct sockaddr *sa, socklen_t len)
{
	(void)fd;
	(void)sa;
	(void)len;
	errno = EADDRINUSE;
	return -1;
}

/* A wait:2 that an earlier, interrupted try began waited_ms ago ends after
 * one attempt and says how long the wait really was, to the nearest
 * second and never below N. */
static void wait_note(long waited_ms, const char *want)
{
	struct bw_policy p;
	struct bw_policy_error err;
	struct bw_conflict c = {.err = EADDRINUSE};
	struct bw_remap out = {0};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(8000)};
	struct bw_remap_ops ops = {.bind = always_in_use, .waited_ms = waited_ms};

	CHECK_EQ_INT(bw_policy_parse("8000=wait:2", &p, &err), 0);
	c.want.port = 8000;
	CHECK_EQ_INT(bw_remap_bind(&p.rules[0], &ops, -1, (struct sockaddr *)&sin, sizeof(sin), &c,
				   &out),
		     -EADDRINUSE);
	CHECK_EQ_INT(out.attempts, 1);
	CHECK_CONTAINS(out.note, want);
}

int main(void)
{
	wait_note(3760, "wait:2: still in use after 4s");
	wait_note(3400, "wait:2: still in use after 3s");
	wait_note(2050, "wait:2: still in use after 2s");
	return check_done("remap");
}
