#!/bin/sh
# docker-entrypoint.sh of the bench's Redis image (Debian's redis-server 7.0 on bookworm).
# The contract Kapture's manifests rely on, as with the official `redis` image:
#   - `docker-entrypoint.sh redis-server ARGS...` runs redis-server with ARGS;
#   - a first argument that is a flag or a *.conf file is given to redis-server;
#   - the container may run as any non-root uid (the manifests use 999, the image's `redis`).
# Not implemented: the official image's switch from root to `redis` (this image is never run as
# root by the bench) and its umask change for the data directory.
set -e
case "$1" in
  -* | *.conf) set -- redis-server "$@" ;;
esac
exec "$@"
