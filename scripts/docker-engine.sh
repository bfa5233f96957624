#!/usr/bin/env bash
# A private Docker engine for tests and local workers, kept entirely inside one folder.
#
#   scripts/docker-engine.sh start DIR   install docker.io/busybox-static if missing, start dockerd on
#                                        unix://DIR/docker.sock, make sure the image asman/busybox:latest exists
#   scripts/docker-engine.sh stop DIR    SIGTERM the engine, SIGKILL it after 20 s
#   scripts/docker-engine.sh env DIR     print `export DOCKER_HOST=unix://DIR/docker.sock`
#
# The engine never touches the host network: no iptables rules, no bridge (containers run with network "none").
# Pulls from registries may not work on this machine, so the test image is built locally from busybox-static.
# Keep DIR short: a unix socket path must stay under ~100 characters.
set -euo pipefail

readonly TEST_IMAGE="asman/busybox:latest"
readonly START_TIMEOUT_S=60
readonly STOP_TIMEOUT_S=20

usage() {
    echo "usage: $0 start|stop|env DIR" >&2
    exit 2
}

die() {
    echo "docker-engine: $*" >&2
    exit 1
}

[[ $# -eq 2 ]] || usage
readonly COMMAND="$1"
mkdir -p "$2"
DIR="$(cd "$2" && pwd)"
readonly DIR
readonly SOCK="$DIR/docker.sock"
readonly PIDFILE="$DIR/docker.pid"
readonly LOG="$DIR/dockerd.log"

(( ${#SOCK} < 100 )) || die "socket path $SOCK is too long for a unix socket: use a shorter DIR"

# The Debian client matches the Debian engine; any other `docker` on PATH works too.
if [[ -x /usr/bin/docker ]]; then DOCKER_CLI=/usr/bin/docker; else DOCKER_CLI=docker; fi

docker_cli() {
    "$DOCKER_CLI" -H "unix://$SOCK" "$@"
}

engine_pid() {
    [[ -s "$PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$PIDFILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

engine_answers() {
    docker_cli info >/dev/null 2>&1
}

ensure_packages() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    [[ -x /bin/busybox ]] || missing+=(busybox-static)
    if (( ${#missing[@]} )); then
        echo "docker-engine: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq docker.io busybox-static >/dev/null
    fi
}

# Start dockerd with the given storage driver; succeed once the engine answers, fail if it dies or is too slow.
launch() {
    local driver="$1"
    mkdir -p "$DIR/data" "$DIR/exec"
    # An empty config file: a host-wide /etc/docker/daemon.json must not leak into the private engine.
    [[ -f "$DIR/daemon.json" ]] || echo '{}' >"$DIR/daemon.json"
    echo "docker-engine: starting dockerd (storage driver $driver) on unix://$SOCK" >&2
    setsid dockerd \
        --config-file="$DIR/daemon.json" \
        --iptables=false --ip6tables=false --bridge=none \
        --storage-driver="$driver" \
        --data-root="$DIR/data" --exec-root="$DIR/exec" \
        -H "unix://$SOCK" --pidfile="$PIDFILE" \
        >>"$LOG" 2>&1 </dev/null &
    local pid=$! waited=0
    while (( waited < START_TIMEOUT_S * 2 )); do
        if engine_answers; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.5
        waited=$((waited + 1))
    done
    echo "docker-engine: dockerd did not answer within ${START_TIMEOUT_S}s" >&2
    kill -TERM "$pid" 2>/dev/null || true
    return 1
}

# asman/busybox:latest: one static busybox plus a symlink per applet, imported as an image (no registry needed).
ensure_test_image() {
    if docker_cli image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
        return 0
    fi
    echo "docker-engine: building $TEST_IMAGE from /bin/busybox" >&2
    local root
    root="$(mktemp -d "$DIR/rootfs.XXXXXX")"
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/home/user"
    cp /bin/busybox "$root/bin/busybox"
    local applet
    for applet in $(/bin/busybox --list); do
        [[ "$applet" == busybox ]] || ln -sf busybox "$root/bin/$applet"
    done
    chmod 1777 "$root/tmp"
    chown 1000:1000 "$root/home/user"
    printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
        >"$root/etc/passwd"
    printf 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
    tar -C "$root" --numeric-owner -cf - . | docker_cli import \
        --change 'CMD ["sh"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        - "$TEST_IMAGE" >/dev/null
    rm -rf "$root"
}

start() {
    ensure_packages
    if ! engine_pid >/dev/null || ! engine_answers; then
        if engine_pid >/dev/null; then
            stop
        fi
        rm -f "$SOCK" "$PIDFILE"
        if ! launch overlay2; then
            if engine_pid >/dev/null; then stop; fi
            echo "docker-engine: overlay2 failed, falling back to vfs; log tail:" >&2
            tail -n 5 "$LOG" >&2 || true
            rm -f "$SOCK" "$PIDFILE"
            if ! launch vfs; then
                echo "docker-engine: dockerd failed to start; last lines of $LOG:" >&2
                tail -n 30 "$LOG" >&2 || true
                exit 1
            fi
        fi
    fi
    ensure_test_image
    echo "export DOCKER_HOST=unix://$SOCK"
}

stop() {
    local pid
    if ! pid="$(engine_pid)"; then
        echo "docker-engine: no engine running for $DIR" >&2
        rm -f "$PIDFILE"
        return 0
    fi
    kill -TERM "$pid"
    local waited=0
    while kill -0 "$pid" 2>/dev/null && (( waited < STOP_TIMEOUT_S * 4 )); do
        sleep 0.25
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "docker-engine: dockerd $pid ignored SIGTERM for ${STOP_TIMEOUT_S}s, killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        # A killed dockerd leaves its managed containerd behind: stop that one too (it is ours, by its pidfile).
        local cpid_file="$DIR/exec/containerd/containerd.pid"
        if [[ -s "$cpid_file" ]]; then
            kill -KILL "$(cat "$cpid_file")" 2>/dev/null || true
        fi
    fi
    rm -f "$PIDFILE"
}

case "$COMMAND" in
    start) start ;;
    stop) stop ;;
    env) echo "export DOCKER_HOST=unix://$SOCK" ;;
    *) usage ;;
esac
