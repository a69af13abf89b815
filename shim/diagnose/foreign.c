/* The lookups only the bindwatch process makes (diagnose.h,
 * bw_diag_extras). A file of its own so that the shim, which never calls
 * bw_diag_allow_foreign, does not link bpfiter.c, pidfd.c and nsquery.c at
 * all: no bpf(2), pidfd_getfd(2) or setns(2) exists in libbindwatch.so. */
#include "diagnose/diagnose.h"
#include "lookup/bpfiter.h"
#include "lookup/netns.h"
#include "lookup/pidfd.h"

void bw_diag_allow_foreign(void)
{
	static const struct bw_diag_extras x = {
		.owner_find = bw_bpf_owner_find,
		.pidfd_getfd = bw_pidfd_getfd,
		.netns_unix_query = bw_netns_unix_query,
	};
	bw_diag_use_extras(&x);
}
