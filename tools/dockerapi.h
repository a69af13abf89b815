/* dockerapi: Docker's local API (/var/run/docker.sock: HTTP over a unix
 * socket, no network) names a container for a caller who may use Docker
 * (root, or the docker group) but can't read /var/lib/docker. CLI only:
 * it allocates and talks to a daemon, which the shim never does. */
#pragma once
#include "diagnose/conflict.h"
#include "lookup/manager.h"
#include "lookup/socktab.h"

/* Completes m (kind BW_MGR_DOCKER, its state files not read) from GET
 * /containers/json: the container with m->id, or for docker-proxy the one
 * that publishes s's address; a proxy that no running container publishes
 * is marked orphaned. 0, or -errno (no daemon, no permission). */
int bw_dockerapi_complete(struct bw_manager *m, const struct bw_sock *s);

/* For every holder of c in a Docker container whose state files this user
 * can't read: bw_dockerapi_complete, then the causes, hints and the free
 * command are drawn again with the names (bw_diag_settle). */
void bw_cli_name_containers(struct bw_conflict *c);
