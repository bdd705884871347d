#!/bin/bash
# docker-entrypoint.sh of the bench's PostgreSQL image (Debian's postgresql-15 on bookworm).
# The environment contract of the official `postgres` image that Kapture's manifests use:
#   POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE), POSTGRES_USER (default postgres),
#   POSTGRES_DB (default: the user's name), PGDATA, POSTGRES_INITDB_ARGS,
#   POSTGRES_HOST_AUTH_METHOD (default scram-sha-256), /docker-entrypoint-initdb.d/*.sql|*.sh.
# On first start (no PG_VERSION in PGDATA) it runs initdb as the current uid, allows password
# logins from any host, creates POSTGRES_DB through a socket-only temporary server, then execs
# `postgres` listening on every address. Later starts exec postgres at once.
# Not implemented: running as root (the official image then switches to `postgres`; the
# manifests never run it as root), *.sql.gz/xz/zst init scripts, POSTGRES_INITDB_WALDIR.
set -euo pipefail

file_env() { # VAR: VAR may come from VAR_FILE instead
  local var=$1 file_var="${1}_FILE"
  if [[ -n "${!var:-}" && -n "${!file_var:-}" ]]; then
    echo "error: both $var and $file_var are set" >&2
    exit 1
  fi
  if [[ -n "${!file_var:-}" ]]; then
    export "$var"="$(<"${!file_var}")"
  fi
}

if [[ "${1:0:1}" == "-" ]]; then
  set -- postgres "$@"
fi
if [[ "$1" != postgres ]]; then
  exec "$@"
fi
if [[ "$(id -u)" == 0 ]]; then
  echo "error: this image does not run PostgreSQL as root; set runAsUser (999 is postgres)" >&2
  exit 1
fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
file_env POSTGRES_PASSWORD
file_env POSTGRES_USER
file_env POSTGRES_DB
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  if [[ -z "${POSTGRES_PASSWORD:-}" && "$POSTGRES_HOST_AUTH_METHOD" != trust ]]; then
    echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA"
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of words, as in the official image
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
    --encoding=UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-}
  printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

  # A temporary server on the socket only, so nobody connects before initialisation is done.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
  psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres)
  if [[ "$POSTGRES_DB" != postgres ]]; then
    "${psql[@]}" --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  shopt -s nullglob
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        echo "running $f"
        # shellcheck disable=SC1090  # the image user's own scripts
        . "$f"
        ;;
      *.sql) echo "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *) echo "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
