#!/bin/sh
# nginx for deploy/several-origins/docker-compose.yml: the shipped deploy/nginx/tribune-edge.conf
# (mounted at /etc/tribune/tribune-edge.conf), with its one example upstream line replaced by one
# `server` line per edge in $EDGES (space-separated host:port), then nginx in the foreground.
set -eu
src=/etc/tribune/tribune-edge.conf
out=/etc/nginx/conf.d/default.conf
line='    server 127.0.0.1:8081 max_fails=3 fail_timeout=5s;'
if ! grep -qxF "$line" "$src"; then
  echo "nginx/start.sh: $src no longer has the line: $line" >&2
  exit 1
fi
awk -v line="$line" -v edges="${EDGES:?EDGES: space-separated edge host:port list}" '
  $0 == line {
    n = split(edges, e, " ")
    for (i = 1; i <= n; i++) printf "    server %s max_fails=3 fail_timeout=5s;\n", e[i]
    next
  }
  { print }
' "$src" > "$out"
exec nginx -g 'daemon off;'
