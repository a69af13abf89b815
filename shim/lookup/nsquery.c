/* bw_netns_unix_query (netns.h): a file of its own so that the shim, which
 * never calls it, links no setns(2) (outside systemd's @system-service). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lookup/netns.h"

struct ns_query {
	int nsfd;
	bw_sock_cb cb;
	void *ctx;
	int result;
};

/* A thread's network namespace is its own (setns(2), CLONE_NEWNET): the
 * thread enters, asks sock_diag (whose socket then belongs to that
 * namespace) and ends; nothing else of the process moves. */
static void *query_thread(void *arg)
{
	struct ns_query *q = arg;
	if (setns(q->nsfd, CLONE_NEWNET) < 0)
		q->result = -errno;
	else
		q->result = bw_sockdiag_query(AF_UNIX, BW_PROTO_UNKNOWN, -1, q->cb, q->ctx);
	return NULL;
}

int bw_netns_unix_query(pid_t pid, bw_sock_cb cb, void *ctx)
{
	struct ns_query q = {.cb = cb, .ctx = ctx, .result = -EIO};
	char path[64];
	pthread_t t;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	q.nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (q.nsfd < 0)
		return -errno;
	r = pthread_create(&t, NULL, query_thread, &q);
	if (r == 0)
		pthread_join(t, NULL);
	close(q.nsfd);
	return r ? -r : q.result;
}
