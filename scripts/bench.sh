#!/usr/bin/env bash
# make bench: the benchmark suite. Prints a table and writes docs/benchmarks.md. Never part of `make test`.
#
#   bash scripts/bench.sh                  the full run (~15 minutes on 2 cores)
#   BENCH_QUICK=1 bash scripts/bench.sh    the quick pass (~2-3 minutes)
#   bash scripts/bench.sh submit scale     only some benchmarks (dispatch lifecycle submit container scale watchers)
#
# Installs what it needs if missing: Debian's wrk and redis-server (apt-get), and the peers (Celery, RQ,
# Dramatiq with Redis, plus py-spy for profiling) into a separate venv, bench/.venv-peers, so the product's
# lock file stays clean. The private Docker engine and PostgreSQL are started by the benchmarks themselves.
# A benchmark that cannot run is reported as skipped; targets missed are reported, never turned into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PEERS=bench/.venv-peers

apt_install() {
    local missing=()
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    (( ${#missing[@]} )) || return 0
    local packages=()
    for tool in "${missing[@]}"; do
        case "$tool" in
            redis-server) packages+=(redis-server) ;;
            *) packages+=("$tool") ;;
        esac
    done
    echo "bench: installing ${packages[*]} (apt-get)" >&2
    if [[ $(id -u) -eq 0 ]]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null 2>&1 || true
        apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1 \
            || echo "bench: could not install ${packages[*]}; those benchmarks will be skipped" >&2
    else
        echo "bench: not root; install ${packages[*]} to run every benchmark" >&2
    fi
}

apt_install wrk redis-server

# Debian's redis-server package starts a system redis on port 6379 where an init system runs: the benchmarks
# never use it (they start their own on a free port).
if [[ ! -x "$PEERS/bin/python" ]] || ! "$PEERS/bin/python" -c "import celery, rq, dramatiq, redis, packaging" 2>/dev/null; then
    echo "bench: making $PEERS (celery, rq, dramatiq[redis], py-spy)" >&2
    if command -v uv >/dev/null 2>&1; then
        uv venv -q --allow-existing "$PEERS"
        VIRTUAL_ENV="$PEERS" uv pip install -q celery rq "dramatiq[redis]" redis packaging py-spy \
            || echo "bench: could not install the peers; the peer rows will be missing" >&2
    else
        python3 -m venv "$PEERS"
        "$PEERS/bin/pip" install -q celery rq "dramatiq[redis]" redis packaging py-spy \
            || echo "bench: could not install the peers; the peer rows will be missing" >&2
    fi
fi

# 5,000 SSE clients need 5,000 descriptors in the server and 2,500 in each client process.
hard=$(ulimit -Hn)
if [[ "$hard" == unlimited ]] || (( hard >= 65536 )); then
    ulimit -n 65536
else
    ulimit -n "$hard"
fi
(( $(ulimit -n) >= 12000 )) || echo "bench: ulimit -n is $(ulimit -n): the watchers benchmark needs ~12000" >&2

exec "$BIN/python" -m bench.run "$@"
