#include "lookup/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/sysio.h"

struct netns_list {
	const char *proc_root;
	struct stat self;
	struct bw_netns *v;
	size_t max, n, unseen;
};

static int netns_entry(const char *name, void *ctx)
{
	struct netns_list *l = ctx;
	char path[96];
	struct stat st;
	char *end;
	long pid = strtol(name, &end, 10);
	if (*end || pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%ld/net/unix", l->proc_root, pid);
	if (stat(path, &st) < 0) {
		l->unseen += errno != ENOENT;
		return 0;
	}
	if (st.st_dev == l->self.st_dev && st.st_ino == l->self.st_ino)
		return 0;
	for (size_t i = 0; i < l->n && i < l->max; i++)
		if (l->v[i].dev == st.st_dev && l->v[i].ino == st.st_ino)
			return 0;
	if (l->n < l->max)
		l->v[l->n] = (struct bw_netns){.dev = st.st_dev, .ino = st.st_ino, .pid = (pid_t)pid};
	l->n++;
	return 0;
}

int bw_netns_list(const char *proc_root, struct bw_netns *v, size_t max, size_t *ret_unseen)
{
	struct netns_list l = {.proc_root = proc_root, .v = v, .max = max};
	char path[96];
	int dfd, r;

	*ret_unseen = 0;
	snprintf(path, sizeof(path), "%s/self/net/unix", proc_root);
	if (stat(path, &l.self) < 0)
		return -errno;
	dfd = openat(AT_FDCWD, proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = bw_dir_each(dfd, netns_entry, &l);
	close(dfd);
	*ret_unseen = l.unseen;
	return r < 0 ? r : (int)l.n;
}
