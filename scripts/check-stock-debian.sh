#!/usr/bin/env bash
# Prove the README's set-up on a clean Debian 13: build a root file system, install there
# only the README's prerequisites, clone this repository and run `make up` and `make test`.
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: scripts/check-stock-debian.sh [options] DIR

Checks the README's set-up on a clean Debian 13 (trixie), as root on a Debian-like machine
with debootstrap, unshare and ip (apt-get install debootstrap iproute2):

  1. debootstrap trixie into DIR (skipped when DIR holds a system already; keep DIR outside
     the repository);
  2. install in DIR only the packages of the README's apt line (fetched with the machine's
     network, installed without it, services not started meanwhile); then, with the
     machine's network, clone this repository's branch from the local clone and fetch what
     needs the internet: `make bootstrap` (uv and the locked environment from PyPI) and
     `scripts/ensure-browser.sh` (Debian's chromium);
  3. in a network namespace of its own (only loopback, so its PostgreSQL, Redis and ports
     are its own, not this machine's): `make up` as a new user would run it; when PostgreSQL
     refuses the password-less login, do what the message says (a password, CRM_POSTGRES_URL
     and CRM_TEST_POSTGRES_URL) and run `make up` again until it is ready (demo data
     loaded), stop it with SIGTERM, then run `make test`.

Everything runs as root inside DIR. Each step's outcome is printed as "== step: outcome" and
the whole output is kept in DIR/root/stock-check.log.

options:
  --mirror URL     Debian mirror (default: http://deb.debian.org/debian)
  --branch NAME    branch to clone (default: the current branch)
  --tests ARGS     what `make test` runs, as PYTEST_ARGS (default: everything)
  --ca-cert FILE   a certificate authority to trust inside DIR besides Debian's (repeatable):
                   for networks whose proxy re-signs TLS (PyPI); the root file system gets
                   it in /usr/local/share/ca-certificates, and pip and uv are pointed at the
                   system bundle with PIP_CERT and SSL_CERT_FILE
  --no-up          skip the `make up` step
  -h, --help       this text
USAGE
}

MIRROR=http://deb.debian.org/debian
REPO="$(cd "$(dirname "$0")/.." && pwd)"
BRANCH="$(git -C "$REPO" rev-parse --abbrev-ref HEAD)"
TESTS=""
RUN_UP=1
DIR=""
CA_CERTS=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --mirror) MIRROR="$2"; shift 2 ;;
        --branch) BRANCH="$2"; shift 2 ;;
        --tests) TESTS="$2"; shift 2 ;;
        --no-up) RUN_UP=0; shift ;;
        --ca-cert) CA_CERTS+=("$(realpath "$2")"); shift 2 ;;
        -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
        *) DIR="$1"; shift ;;
    esac
done
[ -n "$DIR" ] || { usage >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap, chroot, unshare)" >&2; exit 1; }
for tool in debootstrap unshare ip chroot; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "$tool is missing: apt-get install -y debootstrap iproute2" >&2
        exit 1
    }
done
DIR="$(mkdir -p "$DIR" && cd "$DIR" && pwd)"
case "$DIR/" in
    "$REPO"/*) echo "DIR must be outside the repository" >&2; exit 2 ;;
esac
# The README's own prerequisites line, so the check installs exactly what it says.
PACKAGES="$(sed -n 's/^sudo apt-get install -y //p' "$REPO/README.md" | head -n1)"
[ -n "$PACKAGES" ] || { echo "no 'sudo apt-get install -y' line in README.md" >&2; exit 1; }
SOURCE_GIT="$(cd "$REPO" && cd "$(git rev-parse --git-common-dir)" && pwd)"
LOG="$DIR/root/stock-check.log"
TLS_ENV=()
if [ "${#CA_CERTS[@]}" -gt 0 ]; then
    BUNDLE=/etc/ssl/certs/ca-certificates.crt
    TLS_ENV=("SSL_CERT_FILE=$BUNDLE" "PIP_CERT=$BUNDLE")
fi

step() { echo "== $*" | tee -a "$LOG" >&2; }

# --- 1. the root file system --------------------------------------------------------------
if [ ! -e "$DIR/etc/debian_version" ]; then
    mkdir -p "$DIR/root"
    step "debootstrap trixie $DIR $MIRROR"
    debootstrap trixie "$DIR" "$MIRROR"
fi
mkdir -p "$DIR/root" "$DIR/mnt/source.git"
: >"$LOG"
step "system: Debian $(cat "$DIR/etc/debian_version"); prerequisites (README): $PACKAGES"

# The commands run inside DIR; mounts live in a mount namespace of their own and vanish with it.
in_root() {
    local network="$1" script="$2"
    local unshare=(unshare --mount --propagation private)
    [ "$network" = own ] && unshare+=(--net)
    # shellcheck disable=SC2016 # expanded by the inner shell
    "${unshare[@]}" bash -c '
        set -e
        dir="$1"; source_git="$2"; shift 2
        ip link set lo up
        mount -t proc proc "$dir/proc"
        mount -t sysfs sys "$dir/sys"
        mount --rbind /dev "$dir/dev"
        mount --bind -o ro "$source_git" "$dir/mnt/source.git"
        exec chroot "$dir" env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
    ' in-root "$DIR" "$SOURCE_GIT" "${TLS_ENV[@]}" bash -c "$script" 2>&1 | tee -a "$LOG"
    return "${PIPESTATUS[0]}"
}

# --- 2. packages and downloads, with this machine's network ---------------------------------
for cert in "${CA_CERTS[@]}"; do
    mkdir -p "$DIR/usr/local/share/ca-certificates"
    cp "$cert" "$DIR/usr/local/share/ca-certificates/$(basename "${cert%.*}").crt"
    step "trusting $(basename "$cert") inside DIR (--ca-cert)"
done
step "fetch the prerequisites' packages"
# shellcheck disable=SC2016
in_root host "
    set -e
    apt-get -o DPkg::Lock::Timeout=600 -q update
    apt-get -o DPkg::Lock::Timeout=600 -q install -y --download-only $PACKAGES
" && step "fetched: OK" || { step "fetched: FAILED"; exit 1; }
# Installed without this machine's network: PostgreSQL's new cluster would otherwise take
# the next free port (5433) when this machine's own PostgreSQL holds 5432.
step "install the prerequisites (apt-get install -y $PACKAGES)"
in_root own "
    set -e
    # No service starts while packages install (there is no init system here to stop it).
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q install -y $PACKAGES
    rm -f /usr/sbin/policy-rc.d
    [ -z \"\${SSL_CERT_FILE:-}\" ] || update-ca-certificates >/dev/null
" && step "installed: OK" || { step "installed: FAILED"; exit 1; }
step "clone $BRANCH, make bootstrap, scripts/ensure-browser.sh"
# shellcheck disable=SC2016
in_root host "
    set -e
    rm -rf /root/relata
    git clone --quiet --branch '$BRANCH' file:///mnt/source.git /root/relata
    cd /root/relata
    echo \"cloned \$(git log -1 --format='%h %s')\"
    make bootstrap
    scripts/ensure-browser.sh
" && step "prepared: OK" || { step "prepared: FAILED"; exit 1; }

# --- 3. make up and make test, on a network of their own -------------------------------------
UP_STEP=""
if [ "$RUN_UP" = 1 ]; then
    UP_STEP='
    up_until_ready() {
        setsid make up >/root/make-up.out 2>&1 </dev/null &
        local pid=$!
        for _ in $(seq 1 600); do
            if ! kill -0 "$pid" 2>/dev/null; then
                wait "$pid"; return $?
            fi
            if grep -q "Demo logins" /root/make-up.out; then
                echo "== make up: ready and seeded"
                grep -E "^Relata is up|^demo association" /root/make-up.out || true
                kill -TERM -- "-$pid"
                wait "$pid" || true
                return 0
            fi
            sleep 1
        done
        echo "== make up: not ready in 600 s"; kill -TERM -- "-$pid"; wait "$pid"; return 1
    }
    if up_until_ready; then
        echo "== make up (first run): OK"
    else
        cat /root/make-up.out
        if grep -q "ALTER USER" /root/make-up.out; then
            echo "== make up (first run): refused by PostgreSQL authentication, as on a stock"
            echo "   system; following the printed advice"
            runuser -u postgres -- psql -q -c "ALTER USER postgres PASSWORD '"'"'relata'"'"'"
            touch /root/postgres-password
            export CRM_POSTGRES_URL=postgresql+asyncpg://postgres:relata@127.0.0.1:5432
            export CRM_TEST_POSTGRES_URL="$CRM_POSTGRES_URL"
            up_until_ready && echo "== make up (second run): OK" ||
                { cat /root/make-up.out; echo "== make up (second run): FAILED"; exit 1; }
        else
            echo "== make up: FAILED"; exit 1
        fi
    fi
    cat /root/make-up.out | tail -n 30
'
fi
step "make up and make test in a network namespace of their own"
# shellcheck disable=SC2016
in_root own "
    set -u
    cd /root/relata
    stop_servers() {
        pg_lsclusters -h 2>/dev/null | awk '{print \$1, \$2}' |
            while read -r version cluster; do pg_ctlcluster \$version \$cluster stop || true; done
        redis-cli shutdown nosave >/dev/null 2>&1 || true
    }
    trap stop_servers EXIT
    if [ -f /root/postgres-password ]; then
        export CRM_POSTGRES_URL=postgresql+asyncpg://postgres:relata@127.0.0.1:5432
        export CRM_TEST_POSTGRES_URL=\"\$CRM_POSTGRES_URL\"
    fi
    $UP_STEP
    started=\$(date +%s)
    if make test PYTEST_ARGS='$TESTS'; then
        echo \"== make test PYTEST_ARGS='$TESTS': OK in \$(( \$(date +%s) - started )) s\"
    else
        echo \"== make test PYTEST_ARGS='$TESTS': FAILED after \$(( \$(date +%s) - started )) s\"
        exit 1
    fi
" && step "stock Debian 13 check: OK" || { step "stock Debian 13 check: FAILED"; exit 1; }
