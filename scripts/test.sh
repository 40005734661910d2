#!/usr/bin/env bash
# The whole test suite: system packages, npm deps, typecheck, lint, build, then every test layer.
# Installs what npm cannot (Debian's chromium, ffmpeg, python3, nginx, varnish, postgresql,
# redis-server) when missing and running as root; otherwise stops with a message naming the
# missing package. Never skips a test.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
# The stream tests use a python3 client that can shrink its receive window (Node cannot).
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# The proxy tests run nginx and Varnish from deploy/ in front of an edge (their own instances, in
# temp dirs, on 127.0.0.1; the packages' system services are not used).
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx)
[ -x /usr/sbin/varnishd ] || command -v varnishd >/dev/null 2>&1 || missing+=(varnish)
# The storage suite also runs against a real PostgreSQL: test/support/postgres.ts starts its own
# cluster from the package's binaries (/usr/lib/postgresql/<version>/bin) in a temp dir.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
# The shared-state tests start their own redis-server (test/support/redis.ts) on a free port.
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Installing nginx or varnish enables (and on a systemd machine starts) a system service on
    # ports 80 / 6081: the tests start their own, so turn off the ones just installed.
    if [[ " ${missing[*]} " == *" nginx "* ]]; then
      systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
    if [[ " ${missing[*]} " == *" varnish "* ]]; then
      systemctl disable --now varnish varnishncsa >/dev/null 2>&1 || true
    fi
    if [[ " ${missing[*]} " == *" postgresql "* ]]; then
      systemctl disable --now postgresql >/dev/null 2>&1 || true
    fi
    if [[ " ${missing[*]} " == *" redis-server "* ]]; then
      systemctl disable --now redis-server >/dev/null 2>&1 || true
    fi
  else
    echo "test: missing Debian package(s): ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "test: installing npm dependencies"
  npm ci --no-audit --no-fund
fi

# The edge tests hold 1,000+ concurrent listener connections in one process (client and server
# sides, 2,000+ descriptors); many machines default to 1,024 open files. Raise the soft limit
# (root may raise the hard one too) and refuse to run with a limit the tests cannot fit in.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
  echo "test: the open-files limit is $(ulimit -n); the edge tests need 4096. Raise it (ulimit -Hn, or LimitNOFILE / limits.conf) and retry." >&2
  exit 1
fi

echo "test: typecheck"; npx tsc --noEmit -p tsconfig.json
echo "test: lint"; npx eslint . && npx prettier --check . >/dev/null
echo "test: build"; npm run build --silent
echo "test: vitest"; npx vitest run "$@"
