#!/usr/bin/env bash
# bench/run.sh: multiftpd vs vsftpd and pure-ftpd, side by side, in one run. See bench/README.md.
#
#   bench/run.sh            full run (1 GiB files, 10 s loops, 10,000-file folder,
#                           1,000 and 10,000 idle sessions); ~10-20 min on 2 cores
#   bench/run.sh --quick    smoke test with small sizes (~1 min after the builds)
#   bench/run.sh --baseline REV
#                           also an earlier multiftpd (git commit REV) as a third server, with a
#                           "now / baseline" ratio column; ~1.5x the time, plus its build once
#
# Needs root (apt-get, useradd, the peers' logins), loopback only. Leaves the servers stopped and the
# scratch folder removed on exit (--keep keeps the scratch folder).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

usage() {
    cat <<'EOF'
usage: bench/run.sh [options]
  --cluster [ARGS]    instead: multiftpd behind HAProxy, one node and two (bench/cluster.sh
                      ARGS; see bench/cluster.sh --help)
  --quick             small sizes: a smoke test of the whole pipeline
  --only LIST         workloads to run, e.g. 1,2,7 (default 1,2,3,4,5,6,7,8,9)
  --peers LIST        the other servers to compare with, comma-separated, from vsftpd and
                      pure-ftpd (default: vsftpd,pure-ftpd); the table's ratio is multiftpd /
                      the best of them on each row
  --first-users N     W5 first logins: N users (each logs in once) per server (default 400;
                      --quick: 24)
  --rounds N          rounds of W1, W2, W3, W4, W6 and W8, rotating which server goes first; the
                      table shows the median of the rounds (default 3, W2 and W8 STOR at least 7;
                      --quick: 1)
  --sessions LIST     W7 session counts, e.g. 1000,10000 (default: 1000,10000; --quick: 100)
  --w7-fresh          restart every server just before W7, so "PSS of the whole server /
                      sessions" does not include the heap the earlier workloads left behind
  --no-build          use the binaries already built (target/release, bench/loadgen/target)
  --out FILE          Markdown results file (default bench/results.md)
  --tmp DIR           scratch parent folder (default /tmp); needs ~4 GiB free for a full run
  --keep              keep the scratch folder (server logs, raw results, multiftpd's smaps at
                      W7) after the run
  --wait-quiet SECS   before the workloads, wait up to SECS for the CPUs to be under 20% busy
                      (other work on the machine skews the figures); default 0 = don't wait
  --baseline REV      also run multiftpd as built from git commit REV (e.g. d5e683c, main~5)
                      as a third server "baseline": own port, passive range and data root with
                      the same user and files (made with REV's own ftpadm), same flags and
                      MFTPD_ENV. Every workload runs against all three servers, and the table
                      gains a baseline column and a "now / baseline" ratio. REV's tree is taken
                      with `git archive` and built once (cargo build --release --locked -j1) in
                      a persistent cache, DIR/<full commit id>/{src,target}: reruns with the
                      same REV reuse that build (delete the folder to rebuild).
  --baseline-cache DIR  the cache for --baseline builds (default /tmp/multiftp-baseline)
  --pureftpd-cache DIR  where Debian's pure-ftpd package is downloaded (apt-get download) and
                      unpacked (dpkg-deb -x) once (default /tmp/multiftp-pureftpd); it is never
                      installed: its package conflicts with vsftpd's
  -h, --help          this text
Environment:
  MFTP_PORT (21210), VSFTPD_PORT (21211), BASELINE_PORT (21212), PUREFTPD_PORT (21213)
                      control ports; the passive ranges are 20000-24999 (multiftpd), 25000-29999
                      (vsftpd), 15000-19999 (baseline) and 10000-14999 (pure-ftpd), below the
                      kernel's ephemeral range
  MFTPD_ENV           extra VAR=value words for multiftpd's (and the baseline's) environment,
                      e.g. MFTPD_ENV=MALLOC_MMAP_THRESHOLD_=1048576 (recorded in the results)
  MEM_FLOOR_MIB       W7 stops opening sessions when MemAvailable drops below this (2048)
EOF
}

BASELINE="" BASELINE_CACHE=/tmp/multiftp-baseline WAIT_QUIET=0 QUICK=0 BUILD=1 KEEP=0 ONLY="1 2 3 4 5 6 7 8 9" SESSIONS="" ROUNDS="" OUT="$HERE/results.md" TMPPARENT=/tmp
PEERS="vsftpd pure-ftpd" PURE_CACHE=/tmp/multiftp-pureftpd FIRST_USERS="" W7_FRESH=0
while [ $# -gt 0 ]; do
    case "$1" in
        --cluster) shift; exec "$HERE/cluster.sh" "$@" ;;
        --quick) QUICK=1 ;;
        --only) ONLY=$(tr ',' ' ' <<<"$2"); shift ;;
        --sessions) SESSIONS=$(tr ',' ' ' <<<"$2"); shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --no-build) BUILD=0 ;;
        --out) OUT=$2; shift ;;
        --tmp) TMPPARENT=$2; shift ;;
        --keep) KEEP=1 ;;
        --wait-quiet) WAIT_QUIET=$2; shift ;;
        --baseline) BASELINE=$2; shift ;;
        --baseline-cache) BASELINE_CACHE=$2; shift ;;
        --pureftpd-cache) PURE_CACHE=$2; shift ;;
        --peers) PEERS=$(tr ',' ' ' <<<"$2"); shift ;;
        --first-users) FIRST_USERS=$2; shift ;;
        --w7-fresh) W7_FRESH=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

if [ "$QUICK" = 1 ]; then
    BIG_MIB=64 RUNS=1 STOR_MIB=64 MANY_CLIENTS=8 MANY_SECS=2 MID_KIB=1024 SMALL_COUNT=100
    SMALL_SIZE=4096 LOGIN_CLIENTS=4 LOGIN_SECS=2 LIST_FILES=1000 LIST_RUNS=2
    SESSIONS=${SESSIONS:-100}
    ROUNDS=${ROUNDS:-1}
    FIRST_USERS=${FIRST_USERS:-24}
else
    BIG_MIB=1024 RUNS=3 STOR_MIB=1024 MANY_CLIENTS=32 MANY_SECS=10 MID_KIB=1024 SMALL_COUNT=1000
    SMALL_SIZE=4096 LOGIN_CLIENTS=8 LOGIN_SECS=10 LIST_FILES=10000 LIST_RUNS=5
    SESSIONS=${SESSIONS:-1000 10000}
    ROUNDS=${ROUNDS:-3}
    FIRST_USERS=${FIRST_USERS:-400}
fi
for p in $PEERS; do
    case $p in vsftpd | pure-ftpd) ;; *) echo "--peers: unknown server $p (vsftpd, pure-ftpd)" >&2; exit 2 ;; esac
done
has_peer() { [[ " $PEERS " == *" $1 "* ]]; }
M_PORT=${MFTP_PORT:-21210}
V_PORT=${VSFTPD_PORT:-21211}
B_PORT=${BASELINE_PORT:-21212}
P_PORT=${PUREFTPD_PORT:-21213}
M_PASV=20000-24999
V_PASV_MIN=25000 V_PASV_MAX=29999
B_PASV=15000-19999
P_PASV=10000:14999
# The servers, in the order of the first round (later rounds rotate it).
SERVERS=(multiftpd $PEERS)
[ -z "$BASELINE" ] || SERVERS+=(baseline)
# USER_P: pure-ftpd's own unix user, because a unix user's home (its chroot) is its passwd
# entry and vsftpd's user already has one. FIRST_PREFIX: W5 first logins' users, 00000...
USER_M=bench PASS=benchpass1 USER_V=benchftp USER_P=benchpure FIRST_PREFIX=benchfl
MFTPD_ENV=${MFTPD_ENV:-}
MEM_FLOOR_MIB=${MEM_FLOOR_MIB:-2048}
# busy_pct SECONDS: share of all CPUs busy over a short sample (from /proc/stat).
busy_pct() {
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    sleep "$1"
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        d = y[2] - x[2]; printf "%.0f", (d > 0 ? 100 * (y[1] - x[1]) / d : 0) }'
}

# write_probe: MB/s of plain 1 GiB writes into the page cache (dd, no FTP), with 64 KiB and
# 1 MiB blocks, each after a 5 s pause. On a VM whose balloon reports free memory back to the
# host (free page reporting), a write into memory freed seconds ago pays the host's page
# faults; how much varies from minute to minute and with the block size (bench/README.md, W2).
# The figures go into the results, so a W2 row read on a slow host can be told apart.
write_probe() {
    local bs t0 t1 out=""
    for bs in 64K 1M; do
        sleep 5
        t0=$(date +%s%N)
        dd if=/dev/zero of="$TMP/probe.bin" bs="$bs" count=1G iflag=count_bytes status=none
        t1=$(date +%s%N)
        rm -f "$TMP/probe.bin"
        out="$out${out:+, }$bs blocks $(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", 1073.741824 / (ns / 1e9) }') MB/s"
    done
    echo "$out"
}

log() { printf '\n== %s\n' "$*" >&2; }
runs() { [[ " $ONLY " == *" $1 "* ]]; }

[ "$(id -u)" = 0 ] || { echo "run.sh needs root (apt-get, useradd, vsftpd)" >&2; exit 1; }

# git on the work tree, also when it belongs to another user than root (sudo).
repo_git() { git -c safe.directory="$REPO" -C "$REPO" "$@"; }
if [ -n "$BASELINE" ]; then
    B_SHA=$(repo_git rev-parse --verify --quiet "$BASELINE^{commit}") ||
        { echo "--baseline $BASELINE: not a commit of $REPO" >&2; exit 2; }
    B_SHORT=$(repo_git rev-parse --short "$B_SHA")
    B_SUBJECT=$(repo_git log -1 --format='%cs %s' "$B_SHA" | cut -c1-100)
    B_DIR=$BASELINE_CACHE/$B_SHA
    B_MFTPD=$B_DIR/target/release/multiftpd
    B_FTPADM=$B_DIR/target/release/ftpadm
fi

# ---------------------------------------------------------------------------------- set-up
VSFTPD=$(command -v vsftpd || true)
[ -n "$VSFTPD" ] || [ ! -x /usr/sbin/vsftpd ] || VSFTPD=/usr/sbin/vsftpd
if has_peer vsftpd && [ -z "$VSFTPD" ]; then
    log "installing vsftpd (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq vsftpd >/dev/null
    VSFTPD=/usr/sbin/vsftpd
fi

# pure-ftpd: Debian's package conflicts with vsftpd's (both provide ftp-server), so it is not
# installed: the .deb is downloaded and unpacked into a cache folder and its binary run from
# there with flags (no service, no inetd, no pure-ftpd-common wrapper).
PUREFTPD=$PURE_CACHE/root/usr/sbin/pure-ftpd
if has_peer pure-ftpd && [ ! -x "$PUREFTPD" ]; then
    log "fetching pure-ftpd into $PURE_CACHE (apt-get download + dpkg-deb -x; not installed)"
    mkdir -p "$PURE_CACHE"
    rm -f "$PURE_CACHE"/pure-ftpd_*.deb
    (cd "$PURE_CACHE" && { apt-get download pure-ftpd 2>/dev/null ||
        { apt-get update -qq && apt-get download pure-ftpd; }; })
    rm -rf "$PURE_CACHE/root"
    dpkg-deb -x "$PURE_CACHE"/pure-ftpd_*.deb "$PURE_CACHE/root"
    [ -x "$PUREFTPD" ] || { echo "no $PUREFTPD in the pure-ftpd package" >&2; exit 1; }
fi
PUREV=$(dpkg-deb -f "$PURE_CACHE"/pure-ftpd_*.deb Version 2>/dev/null || echo unknown)

if [ "$BUILD" = 1 ]; then
    log "building multiftpd (cargo build --release -j1)"
    (cd "$REPO" && cargo build --release -j1)
    log "building the load generator"
    (cd "$HERE/loadgen" && cargo build --release -j1)
fi
MFTPD=$REPO/target/release/multiftpd
FTPADM=$REPO/target/release/ftpadm
LG=$HERE/loadgen/target/release/loadgen
if [ -n "$BASELINE" ]; then
    if [ -x "$B_MFTPD" ] && [ -x "$B_FTPADM" ]; then
        log "baseline $B_SHORT: using the build in $B_DIR (delete that folder to rebuild)"
    elif [ "$BUILD" = 1 ]; then
        if [ ! -d "$B_DIR/src" ]; then # unpacked whole or not at all
            rm -rf "$B_DIR/src.tmp"
            mkdir -p "$B_DIR/src.tmp"
            repo_git archive "$B_SHA" | tar -x -C "$B_DIR/src.tmp"
            mv "$B_DIR/src.tmp" "$B_DIR/src"
        fi
        log "building the baseline $B_SHORT in $B_DIR (cargo build --release --locked -j1; once)"
        (cd "$B_DIR/src" && cargo build --release --locked -j1 --bins --target-dir "$B_DIR/target")
    fi
fi
for b in "$MFTPD" "$FTPADM" "$LG" ${BASELINE:+"$B_MFTPD" "$B_FTPADM"}; do
    [ -x "$b" ] || { echo "missing $b (build it, or drop --no-build)" >&2; exit 1; }
done

# File descriptors: each idle session is one socket in the client and one in the server.
MAX_SESSIONS=0
for n in $SESSIONS; do [ "$n" -gt "$MAX_SESSIONS" ] && MAX_SESSIONS=$n; done
want=$((MAX_SESSIONS * 2 + 4096))
[ "$want" -lt 65536 ] && want=65536
ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
FD_LIMIT=$(ulimit -n)

mkdir -p "$TMPPARENT"
TMP=$(mktemp -d "$TMPPARENT/multiftp-bench.XXXXXX")
chmod 755 "$TMP"
RESULTS=$TMP/results.jsonl
: >"$RESULTS"
M_PID="" V_PID="" B_PID="" P_PID="" IDLE_PID=""
FIRST_UNIX_MADE=0

# All descendants of $1 (children first listed after their parent).
descendants() {
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { kids[$2] = kids[$2] " " $1 }
        END { q[1] = root; n = 1; i = 1
              while (i <= n) { split(kids[q[i]], k, " "); for (j in k) { q[++n] = k[j] }; i++ }
              for (i = 2; i <= n; i++) print q[i] }'
}

stop_tree() { # stop server $1 and (for vsftpd) its session processes
    local pid=$1 kids
    [ -n "$pid" ] || return 0
    kids=$(descendants "$pid" || true)
    kill "$pid" 2>/dev/null || true
    for k in $kids; do kill "$k" 2>/dev/null || true; done
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    for k in $kids; do kill -9 "$k" 2>/dev/null || true; done
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    set +e
    exec 9>&- 2>/dev/null
    [ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null
    stop_tree "$M_PID"
    stop_tree "$V_PID"
    stop_tree "$B_PID"
    stop_tree "$P_PID"
    if [ "$FIRST_UNIX_MADE" = 1 ]; then # the W5 first-login unix users made for this run
        for i in $(seq 0 $((FIRST_USERS - 1))); do
            userdel "$(printf '%s%05d' "$FIRST_PREFIX" "$i")" 2>/dev/null
        done
    fi
    if [ "$KEEP" = 1 ]; then
        echo "scratch folder kept: $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # wait_port PORT PID NAME
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        kill -0 "$2" 2>/dev/null || { echo "$3 died at start; log:" >&2; cat "$TMP/$3.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "$3 is not listening on $1 after 30 s" >&2
    exit 1
}

for p in "$M_PORT" "$V_PORT" "$P_PORT" ${BASELINE:+"$B_PORT"}; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        echo "port $p is already in use; set MFTP_PORT / VSFTPD_PORT / BASELINE_PORT / PUREFTPD_PORT" >&2
        exit 1
    fi
done

log "preparing identical test data in $TMP/data"
DATA=$TMP/data
mkdir -p "$DATA/list"
head -c "$((BIG_MIB << 20))" /dev/urandom >"$DATA/big.bin"
head -c "$((MID_KIB << 10))" /dev/urandom >"$DATA/mid.bin"
(cd "$DATA/list" && seq -f 'file-%05g.txt' 0 $((LIST_FILES - 1)) | xargs truncate -s 1234)
chmod -R a+rX "$DATA"

# multiftpd: data root, user, home.
M_ROOT=$TMP/multiftp
mkdir -p "$M_ROOT"
# ftpadm creates no database by itself (it says where it looked): `init` makes one first.
"$FTPADM" --root "$M_ROOT" init >/dev/null
printf '%s\n' "$PASS" | "$FTPADM" --root "$M_ROOT" user add "$USER_M" --password-stdin >/dev/null
M_HOME=$M_ROOT/home/$USER_M
[ -d "$M_HOME" ] || { echo "ftpadm did not create $M_HOME" >&2; exit 1; }
# The baseline: its own data root, the same user made by its own ftpadm.
B_HOME=""
if [ -n "$BASELINE" ]; then
    B_ROOT=$TMP/baseline
    mkdir -p "$B_ROOT"
    # Builds from before `ftpadm init` create their database themselves.
    "$B_FTPADM" --root "$B_ROOT" init >/dev/null 2>&1 || true
    printf '%s\n' "$PASS" | "$B_FTPADM" --root "$B_ROOT" user add "$USER_M" --password-stdin >/dev/null
    B_HOME=$B_ROOT/home/$USER_M
    [ -d "$B_HOME" ] || { echo "the baseline's ftpadm did not create $B_HOME" >&2; exit 1; }
fi
# vsftpd and pure-ftpd: a local unix user each, whose home (the chroot) holds the same files.
# Their passwords are set by chpasswd (PAM: the system's hash, yescrypt on Debian 12).
unix_user() { # unix_user NAME HOME
    if ! id "$1" >/dev/null 2>&1; then
        useradd -M -d "$2" -s /bin/bash "$1"
    else
        usermod -d "$2" "$1"
    fi
    printf '%s:%s\n' "$1" "$PASS" | chpasswd
}
V_HOME=$TMP/vsftpd/home P_HOME=$TMP/pure-ftpd/home
mkdir -p "$V_HOME" "$P_HOME" /var/run/vsftpd/empty
has_peer vsftpd && unix_user "$USER_V" "$V_HOME"
has_peer pure-ftpd && unix_user "$USER_P" "$P_HOME"
# Same bytes for all: hard links for the big files, a copy of the listing folder.
for home in "$M_HOME" "$V_HOME" "$P_HOME" ${B_HOME:+"$B_HOME"}; do
    ln "$DATA/big.bin" "$home/big.bin"
    ln "$DATA/mid.bin" "$home/mid.bin"
    cp -a "$DATA/list" "$home/list"
done
has_peer vsftpd && chown -R "$USER_V" "$V_HOME"
has_peer pure-ftpd && chown -R "$USER_P" "$P_HOME"

# W5 first logins: FIRST_USERS users per server that each log in once, so every login checks
# a password hash (no credential cache can help): made with ftpadm for multiftpd (and the
# baseline's own ftpadm), and as unix users sharing one empty home for the peers (newusers,
# then chpasswd so they get the same PAM hash as the users above; removed again on exit).
if runs 5; then
    log "W5: making $FIRST_USERS first-login users per server"
    for i in $(seq 0 $((FIRST_USERS - 1))); do
        u=$(printf '%s%05d' "$FIRST_PREFIX" "$i")
        printf '%s\n' "$PASS" | "$FTPADM" --root "$M_ROOT" user add "$u" --password-stdin >/dev/null
        [ -z "$BASELINE" ] ||
            printf '%s\n' "$PASS" | "$B_FTPADM" --root "$B_ROOT" user add "$u" --password-stdin >/dev/null
    done
    if has_peer vsftpd || has_peer pure-ftpd; then
        FIRST_HOME=$TMP/first-home
        mkdir -p "$FIRST_HOME"
        for i in $(seq 0 $((FIRST_USERS - 1))); do # leftovers of a run that was killed
            u=$(printf '%s%05d' "$FIRST_PREFIX" "$i")
            ! id "$u" >/dev/null 2>&1 || userdel "$u"
        done
        FIRST_UNIX_MADE=1
        for i in $(seq 0 $((FIRST_USERS - 1))); do
            printf '%s%05d:%s::100::%s:/bin/bash\n' "$FIRST_PREFIX" "$i" "$PASS" "$FIRST_HOME"
        done | newusers
        for i in $(seq 0 $((FIRST_USERS - 1))); do
            printf '%s%05d:%s\n' "$FIRST_PREFIX" "$i" "$PASS"
        done | chpasswd
    fi
fi
cat "$DATA/big.bin" >/dev/null # warm the page cache for all

# FTPS (W8, W9): one self-signed certificate per run, RSA 2048 like Debian's default
# snakeoil, for every server. The client does not verify it (loopback, see loadgen/src/ftps.rs).
CERT=$TMP/tls/cert.pem KEY=$TMP/tls/key.pem
mkdir -p "$TMP/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout "$KEY" -out "$CERT" 2>/dev/null
chmod 644 "$CERT"

cat >"$TMP/vsftpd/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$V_PORT
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
chroot_local_user=YES
allow_writeable_chroot=YES
pasv_enable=YES
pasv_min_port=$V_PASV_MIN
pasv_max_port=$V_PASV_MAX
max_clients=20000
max_per_ip=20000
idle_session_timeout=3600
data_connection_timeout=600
seccomp_sandbox=NO
pam_service_name=vsftpd
secure_chroot_dir=/var/run/vsftpd/empty
xferlog_enable=NO
dirmessage_enable=NO
userlist_enable=NO
# FTPS for W8/W9, optional so W1-W7 stay plain; data connections may resume the control
# session but need not (require_ssl_reuse=NO: the client decides, and the count shows it).
ssl_enable=YES
rsa_cert_file=$CERT
rsa_private_key_file=$KEY
allow_anon_ssl=NO
force_local_logins_ssl=NO
force_local_data_ssl=NO
require_ssl_reuse=NO
ssl_sslv2=NO
ssl_sslv3=NO
ssl_tlsv1=YES
ssl_ciphers=HIGH
vsftpd_log_file=$TMP/vsftpd/vsftpd.log
EOF

# The daemon runs from a private copy under another name: a concurrent `cargo build` cannot
# swap the binary mid-run, and a `pkill multiftpd` / `killall multiftpd` aimed at other test
# servers on the same machine does not hit it. (Both happened while this was written.)
mkdir -p "$TMP/bin"
cp "$MFTPD" "$TMP/bin/mftpd-bench"
# The work tree the binary comes from, read now: edits made while the run goes on are not in it.
GITREV=$(repo_git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(repo_git status --porcelain --untracked-files=no -- src vendor Cargo.toml Cargo.lock 2>/dev/null)" ] || GITREV="$GITREV + uncommitted changes"
MFTPD_RUN=$TMP/bin/mftpd-bench
BASE_RUN=$TMP/bin/mftpd-baseline
[ -z "$BASELINE" ] || cp "$B_MFTPD" "$BASE_RUN"
# FTPS flags for multiftpd, and for the baseline if its build has them (older ones may not).
M_TLS=(--tls-cert "$CERT" --tls-key "$KEY")
B_TLS=()
[ -z "$BASELINE" ] || ! "$B_MFTPD" --help 2>/dev/null | grep -q -- --tls-cert || B_TLS=("${M_TLS[@]}")
start_baseline() { # the same flags and environment as multiftpd, its own port and root
    env $MFTPD_ENV "$BASE_RUN" --root "$B_ROOT" --bind 127.0.0.1 --port "$B_PORT" \
        --passive-ports "$B_PASV" --idle-timeout 3600 ${B_TLS[@]+"${B_TLS[@]}"} >>"$TMP/baseline.log" 2>&1 &
    B_PID=$!
    wait_port "$B_PORT" "$B_PID" baseline
}
start_mftpd() {
    env $MFTPD_ENV "$MFTPD_RUN" --root "$M_ROOT" --bind 127.0.0.1 --port "$M_PORT" \
        --passive-ports "$M_PASV" --idle-timeout 3600 "${M_TLS[@]}" >>"$TMP/multiftpd.log" 2>&1 &
    M_PID=$!
    wait_port "$M_PORT" "$M_PID" multiftpd
}
start_vsftpd() {
    "$VSFTPD" "$TMP/vsftpd/vsftpd.conf" >>"$TMP/vsftpd.log" 2>&1 &
    V_PID=$!
    wait_port "$V_PORT" "$V_PID" vsftpd
}
# pure-ftpd in the foreground (no -B), as configured as vsftpd: 127.0.0.1 only (-S, -4), its
# passive range (-p), unix users (-l unix: crypt(3) against /etc/shadow, the same hash as
# vsftpd's PAM login), chroot for everyone (-A), no anonymous (-E), no DNS lookups (-H), the
# same client limits and idle time (-c, -C, -I minutes), no refusal under load (-m), umask
# 022, no syslog (-f none), and optional TLS (-Y 1) with the run's certificate (-2 cert,key).
start_pureftpd() {
    "$PUREFTPD" -S "127.0.0.1,$P_PORT" -4 -p "$P_PASV" -l unix -A -E -H -c 20000 -C 20000 \
        -I 60 -m 10000 -U 022:022 -f none -Y 1 -2 "$CERT,$KEY" >>"$TMP/pure-ftpd.log" 2>&1 &
    P_PID=$!
    wait_port "$P_PORT" "$P_PID" pure-ftpd
}
alive() { # alive PID: the process exists and is not a zombie
    local st
    st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}
# Per server LABEL: its pid, control address and FTP user.
pid_of() { case $1 in multiftpd) echo "$M_PID" ;; vsftpd) echo "$V_PID" ;; pure-ftpd) echo "$P_PID" ;; baseline) echo "$B_PID" ;; esac; }
addr_of() { case $1 in multiftpd) echo "127.0.0.1:$M_PORT" ;; vsftpd) echo "127.0.0.1:$V_PORT" ;; pure-ftpd) echo "127.0.0.1:$P_PORT" ;; baseline) echo "127.0.0.1:$B_PORT" ;; esac; }
user_of() { case $1 in vsftpd) echo "$USER_V" ;; pure-ftpd) echo "$USER_P" ;; *) echo "$USER_M" ;; esac; }
start_server() { case $1 in multiftpd) start_mftpd ;; vsftpd) start_vsftpd ;; pure-ftpd) start_pureftpd ;; baseline) start_baseline ;; esac; }
RESTARTS=""
ensure_up() { # ensure_up LABEL WHAT: restart the server if it died (noted in the results)
    local pid
    pid=$(pid_of "$1")
    alive "$pid" && return 0
    echo "WARNING: $1 (pid $pid) is gone before $2; restarting it" >&2
    wait "$pid" 2>/dev/null || true
    RESTARTS="$RESTARTS $1-before-$2"
    start_server "$1"
}

log "starting ${SERVERS[*]} (control ports: multiftpd $M_PORT, vsftpd $V_PORT, pure-ftpd $P_PORT, baseline $B_PORT)"
for s in "${SERVERS[@]}"; do start_server "$s"; done

# ---------------------------------------------------------------------------- workloads
# lg LABEL SUBCOMMAND ARGS...: one loadgen run against server LABEL; its JSON line is kept.
lg() {
    local label=$1 sub=$2 addr user out
    shift 2
    ensure_up "$label" "$sub"
    addr=$(addr_of "$label") user=$(user_of "$label")
    out=$("$LG" "$sub" --label "$label" --addr "$addr" --user "$user" --pass "$PASS" "$@" \
        2>>"$TMP/loadgen.stderr") || true
    [ -n "$out" ] || out="{\"workload\":\"$sub\",\"label\":\"$label\",\"error\":\"loadgen printed nothing (crashed?)\"}"
    printf '%s\n' "$out" >>"$RESULTS"
    printf '  %s\n' "$out" >&2
}

# mem_of PID: "VmRSS_KiB Pss_KiB processes open_fds" summed over PID and its live descendants
# (one awk and one find for all of them: vsftpd has 20,000 processes at 10,000 sessions).
mem_of() {
    local p stats=() live=() status=() rollups=() fddirs=()
    for p in $1 $(descendants "$1"); do
        [ -r "/proc/$p/stat" ] && stats+=("/proc/$p/stat")
    done
    [ "${#stats[@]}" -gt 0 ] || { echo "0 0 0 0"; return; }
    mapfile -t live < <(awk '$3 != "Z" { print $1 }' "${stats[@]}" 2>/dev/null)
    [ "${#live[@]}" -gt 0 ] || { echo "0 0 0 0"; return; }
    for p in "${live[@]}"; do
        status+=("/proc/$p/status") rollups+=("/proc/$p/smaps_rollup") fddirs+=("/proc/$p/fd")
    done
    local rss pss fds
    rss=$(awk '/^VmRSS:/ { s += $2 } END { print s + 0 }' "${status[@]}" 2>/dev/null)
    pss=$(awk '/^Pss:/ { s += $2 } END { print s + 0 }' "${rollups[@]}" 2>/dev/null)
    fds=$(find "${fddirs[@]}" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    echo "$rss $pss ${#live[@]} $fds"
}

# idle LABEL N: W7 with N sessions; reads the server's memory before and once all are open.
idle() {
    local label=$1 n=$2 pid addr user src_ips=1 fifo=$TMP/idle.fifo out=$TMP/idle.$1.$2.out
    ensure_up "$label" "idle-$n"
    pid=$(pid_of "$label") addr=$(addr_of "$label") user=$(user_of "$label")
    # ~28k ephemeral ports per (source, destination) pair: add 127.0.0.x sources above 20k.
    [ "$n" -gt 20000 ] && src_ips=$(((n + 19999) / 20000))
    if [ $((n + 1024)) -gt "$FD_LIMIT" ]; then
        printf '{"workload":"idle-mem","label":"%s","sessions":%d,"error":"fd limit %s too low"}\n' \
            "$label" "$n" "$FD_LIMIT" | tee -a "$RESULTS" >&2
        return
    fi
    if [ "$label" = vsftpd ] || [ "$label" = pure-ftpd ]; then # forking: up to two per session
        local procs pidmax
        procs=$(ps -e --no-headers | wc -l)
        pidmax=$(cat /proc/sys/kernel/pid_max)
        if [ $((procs + 2 * n + 100)) -gt "$pidmax" ]; then
            printf '{"workload":"idle-mem","label":"%s","sessions":%d,"error":"kernel.pid_max %s < 2 processes per session"}\n' \
                "$label" "$n" "$pidmax" | tee -a "$RESULTS" >&2
            return
        fi
    fi
    sleep 1
    local before after
    before=$(mem_of "$pid")
    rm -f "$fifo"
    mkfifo "$fifo"
    "$LG" idle --label "$label" --addr "$addr" --user "$user" --pass "$PASS" --sessions "$n" \
        --src-ips "$src_ips" --hold-secs 900 --timeout 2400 <"$fifo" >"$out" 2>>"$TMP/loadgen.stderr" &
    IDLE_PID=$!
    exec 9>"$fifo" # keeps the loadgen's stdin open until we write
    local waited=0 avail aborted=""
    while ! grep -q '"event":"ready"' "$out" 2>/dev/null; do
        kill -0 "$IDLE_PID" 2>/dev/null || break
        avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
        if [ "$avail" -lt "$MEM_FLOOR_MIB" ]; then
            aborted="stopped: MemAvailable fell below $MEM_FLOOR_MIB MiB while opening sessions"
            break
        fi
        sleep 0.5
        waited=$((waited + 1))
        if [ "$waited" -gt 4000 ]; then aborted="stopped: sessions not open after 2000 s"; break; fi
    done
    if [ -n "$aborted" ]; then
        echo "  W7 $label $n: $aborted" >&2
        kill "$IDLE_PID" 2>/dev/null || true
    fi
    sleep 2 # let the server settle
    after=$(mem_of "$pid")
    # --keep: the server's memory map too, to see where the memory sits (multiftpd: one process)
    if [ "$KEEP" = 1 ] && [ "$label" = multiftpd ]; then cat "/proc/$pid/smaps" >"$TMP/smaps.$label.$n" || true; fi
    echo "release" >&9 || true
    exec 9>&-
    wait "$IDLE_PID" 2>/dev/null || true
    IDLE_PID=""
    rm -f "$fifo"
    cat "$out" >>"$RESULTS"
    sed 's/^/  /' "$out" >&2
    local opened
    opened=$(grep '"event":"ready"' "$out" | sed -n 's/.*"sessions_open":\([0-9]*\).*/\1/p')
    opened=${opened:-0}
    read -r rss0 pss0 np0 fd0 <<<"$before"
    read -r rss1 pss1 np1 fd1 <<<"$after"
    local line
    if [ "$np1" = 0 ]; then # the server died while the sessions were open
        local why
        why=$(grep -h -A1 'panicked at' "$TMP/$label.log" 2>/dev/null | tail -2 | tr '\n"\\' '  /' | cut -c1-200)
        aborted="server exited with $opened sessions open${why:+: $why}"
    fi
    if [ -n "$aborted" ]; then
        line=$(printf '{"workload":"idle-mem","label":"%s","sessions":%d,"error":"%s"}' "$label" "$n" "$aborted")
    elif [ "$opened" -gt 0 ]; then
        line=$(awk -v l="$label" -v n="$n" -v o="$opened" -v r0="$rss0" -v r1="$rss1" -v p0="$pss0" \
            -v p1="$pss1" -v c0="$np0" -v c1="$np1" -v f0="$fd0" -v f1="$fd1" 'BEGIN {
            printf "{\"workload\":\"idle-mem\",\"label\":\"%s\",\"sessions\":%d,\"sessions_open\":%d,", l, n, o
            printf "\"rss_kib_before\":%d,\"rss_kib_after\":%d,\"pss_kib_before\":%d,\"pss_kib_after\":%d,", r0, r1, p0, p1
            printf "\"processes_before\":%d,\"processes_after\":%d,", c0, c1
            printf "\"fds_before\":%d,\"fds_after\":%d,\"fds_per_session\":%.2f,", f0, f1, (f1 - f0) / o
            printf "\"rss_kib_per_session\":%.1f,\"pss_kib_per_session\":%.1f,", (r1 - r0) / o, (p1 - p0) / o
            printf "\"pss_kib_whole_per_session\":%.1f}\n", p1 / o }')
    else
        line=$(printf '{"workload":"idle-mem","label":"%s","sessions":%d,"error":"no session opened"}' "$label" "$n")
    fi
    printf '%s\n' "$line" >>"$RESULTS"
    printf '  %s\n' "$line" >&2
    sleep 2 # let the server reap the closed sessions
}

both() { # both SUBCOMMAND ARGS...: run against every server (multiftpd, the peers, baseline)
    local s
    for s in "${SERVERS[@]}"; do lg "$s" "$@"; done
}

# rounds SUBCOMMAND ARGS...: $ROUNDS rounds of all servers, rotating which goes first (so none
# always meets another's leftovers, such as dirty pages still being written back); the report
# takes the median per server. Files written are synced between runs. Round 1 runs the servers
# in SERVERS order (multiftpd, the peers, the baseline), round 2 starts with the second, ...
rounds() {
    local r k n=$ROUNDS count=${#SERVERS[@]}
    # W2 writes 1 GiB a run into freshly allocated page-cache memory, which on this VM the host
    # may have taken back (free page reporting): the same upload then runs at a third of its
    # speed, for any server, in phases that come and go within minutes (bench/README.md). So it
    # gets at least 7 rounds in a full run; so does W8's FTPS upload, which writes the same 1 GiB.
    if [[ "$1" == stor-big || "$1" == ftps-stor-big ]] && [ "$QUICK" = 0 ] && [ "$n" -lt 7 ]; then n=7; fi
    for r in $(seq 1 "$n"); do
        for k in $(seq 0 $((count - 1))); do
            lg "${SERVERS[$(((r - 1 + k) % count))]}" "$@"
            sync
        done
    done
}

BUSY_BEFORE=$(busy_pct 5) # other work on the machine, measured with both servers idle
if [ "$WAIT_QUIET" -gt 0 ] && [ "$BUSY_BEFORE" -ge 20 ]; then
    log "CPUs ${BUSY_BEFORE}% busy with other work: waiting up to ${WAIT_QUIET} s for under 20%"
    quiet_deadline=$(($(date +%s) + WAIT_QUIET))
    while [ "$BUSY_BEFORE" -ge 20 ] && [ "$(date +%s)" -lt "$quiet_deadline" ]; do
        BUSY_BEFORE=$(busy_pct 5)
    done
fi
START=$(date +%s)
if runs 1; then
    # Rounds too: whichever server went first always read a file whose pages were still
    # being written back (1.0-1.9 GB/s against 2.0-2.7 for the others in the same run).
    log "W1 retr-big: RETR ${BIG_MIB} MiB, 1 session, $RUNS runs in each of $ROUNDS rounds"
    # And the files the set-up just wrote are written back first, so the first server does not
    # read while the disk is still busy with them (W1 read 0.83-0.91 for whichever went first).
    sync
    rounds retr-big --file big.bin --runs "$RUNS"
fi
if runs 2; then
    log "W2 stor-big: STOR ${STOR_MIB} MiB, 1 session"
    sync # the test data written at setup, so it is not flushed during the first upload
    PROBE_W2_BEFORE=$(write_probe)
    rounds stor-big --size-mib "$STOR_MIB"
    PROBE_W2_AFTER=$(write_probe)
fi
if runs 3; then
    log "W3 retr-many: $MANY_CLIENTS sessions looping RETR of 1 MiB for $MANY_SECS s"
    rounds retr-many --clients "$MANY_CLIENTS" --seconds "$MANY_SECS" --file mid.bin
fi
if runs 4; then
    log "W4 small-files: $SMALL_COUNT STOR then RETR of $SMALL_SIZE B"
    rounds small-files --count "$SMALL_COUNT" --size "$SMALL_SIZE" --dir small
fi
if runs 5; then
    log "W5 logins: $LOGIN_CLIENTS clients looping connect+login+QUIT for $LOGIN_SECS s"
    both logins --clients "$LOGIN_CLIENTS" --seconds "$LOGIN_SECS"
    log "W5 first logins: $FIRST_USERS users log in once each (connect+login+QUIT), $LOGIN_CLIENTS clients"
    both first-logins --clients "$LOGIN_CLIENTS" --user-prefix "$FIRST_PREFIX" --users "$FIRST_USERS"
fi
if runs 6; then
    log "W6 listing: LIST and MLSD of $LIST_FILES files, median of $LIST_RUNS"
    rounds listing --dir list --runs "$LIST_RUNS"
fi
if runs 8; then
    log "W8 FTPS: RETR ${BIG_MIB} MiB ($RUNS runs) and STOR ${STOR_MIB} MiB, AUTH TLS + PROT P, TLS 1.3, data connections offered the session"
    rounds ftps-retr-big --file big.bin --runs "$RUNS"
    sync
    rounds ftps-stor-big --size-mib "$STOR_MIB"
fi
if runs 9; then
    log "W9 FTPS logins: $LOGIN_CLIENTS clients looping connect+AUTH TLS+login+QUIT for $LOGIN_SECS s"
    both ftps-logins --clients "$LOGIN_CLIENTS" --seconds "$LOGIN_SECS"
fi
if runs 7; then
    if [ "$W7_FRESH" = 1 ]; then
        log "W7: restarting the servers first (--w7-fresh)"
        for s in "${SERVERS[@]}"; do
            stop_tree "$(pid_of "$s")"
            start_server "$s"
        done
    fi
    for n in $SESSIONS; do
        log "W7 idle: $n logged-in idle sessions (fd limit $FD_LIMIT)"
        for s in "${SERVERS[@]}"; do idle "$s" "$n"; done
    done
fi
ELAPSED=$(($(date +%s) - START))

# ------------------------------------------------------------------------------- report
alive "$M_PID" || RESTARTS="$RESTARTS multiftpd-gone-at-end"
! has_peer vsftpd || alive "$V_PID" || RESTARTS="$RESTARTS vsftpd-gone-at-end"
! has_peer pure-ftpd || alive "$P_PID" || RESTARTS="$RESTARTS pure-ftpd-gone-at-end"
[ -z "$BASELINE" ] || alive "$B_PID" || RESTARTS="$RESTARTS baseline-gone-at-end"
[ -z "$RESTARTS" ] || echo "WARNING: server restarts/exits during the run:$RESTARTS" >&2

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
BUILT=$(date -u -r "$MFTPD" '+%Y-%m-%d %H:%M UTC')
# The peers' password hash, from whichever of their unix users this run set up.
HASH_USER=$USER_V
has_peer vsftpd || HASH_USER=$USER_P
case "$(awk -F: -v u="$HASH_USER" '$1 == u { print $2 }' /etc/shadow)" in
    '$y$'*) HASH=yescrypt ;; '$6$'*) HASH=sha512crypt ;; '$5$'*) HASH=sha256crypt ;; *) HASH=unknown ;;
esac
VSV=$(dpkg-query -W -f '${Version}' vsftpd 2>/dev/null || echo unknown)
MODE=$([ "$QUICK" = 1 ] && echo "--quick (smoke-test sizes)" || echo "full")
REPORT_ARGS=(--peers "$(tr ' ' ',' <<<"$PEERS")")
[ -z "$BASELINE" ] || REPORT_ARGS+=(--c baseline --c-title "baseline $B_SHORT")
TABLE=$("$LG" report --results "$RESULTS" ${REPORT_ARGS[@]+"${REPORT_ARGS[@]}"})

{
    echo "# multiftpd vs $(sed 's/ / vs /g' <<<"$PEERS")${BASELINE:+ vs multiftpd at $B_SHORT}: benchmark results"
    echo
    echo "Produced by \`bench/run.sh$([ "$QUICK" = 1 ] && echo ' --quick')${BASELINE:+ --baseline $BASELINE}\` ($MODE) in ${ELAPSED} s. See bench/README.md for what each row measures."
    echo
    echo "$TABLE"
    echo
    echo "\"multiftpd / best peer\" divides multiftpd's figure by the best peer's on that row (named in"
    echo "brackets when there are several peers): the highest figure on throughput rows, where >= 1 means"
    echo "multiftpd is at or above every peer, and the lowest on rows marked \"lower is better\" (latency,"
    echo "time, memory), where <= 1 means multiftpd is at or below every peer. \"loadgen CPU\" is"
    echo "the load generator's own CPU (user+sys) over the measured window, 100% = one core: near 100%"
    echo "per busy task, or near 200% in total on this 2-core machine, means the client was a bottleneck."
    if [ -n "$BASELINE" ]; then
        echo
        echo "\"now / baseline\" is multiftpd (this work tree) / multiftpd built from $B_SHORT, on the same"
        echo "machine in the same run: for throughput rows (MB/s, transfers/s, files/s, logins/s) above 1"
        echo "means today's build is faster; for rows marked \"lower is better\" (W3 p99, W5 latencies, W6"
        echo "listing times, W7 time to open and memory/open files per session) below 1 means today's build"
        echo "is better. \"no slower than the baseline\" reads: throughput ratios >= 1, lower-is-better ratios <= 1."
    fi
    echo
    echo "\"Failed operations\" counts every failed FTP operation per server and workload over all rounds"
    echo "(a workload that stopped on an error counts 1; a command the server does not implement, reply"
    echo "500/502/504, is noted but not counted). The raw JSON below has the first error of each run."
    echo
    echo "## Machine and versions"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- CPU: $CPU; nproc: $(nproc); memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "- kernel: $(uname -sr)"
    echo "- multiftpd: $("$MFTPD_RUN" --version 2>/dev/null | head -1), release build of $BUILT (work tree at run time: $GITREV), default logging (info, to a file)${MFTPD_ENV:+, environment: $MFTPD_ENV}"
    [ -z "$BASELINE" ] || echo "- baseline: multiftpd at $B_SHA ($B_SUBJECT), release build of $(date -u -r "$B_MFTPD" '+%Y-%m-%d %H:%M UTC') in $B_DIR/target; the same flags${MFTPD_ENV:+, environment} and logging as multiftpd, port $B_PORT, passive ports $B_PASV, its own data root with the same user (made by its own ftpadm) and files"
    has_peer vsftpd && echo "- vsftpd: $VSV (Debian), PAM login ($HASH hash, set by chpasswd), seccomp_sandbox=NO, one process pair per session, FTPS with ssl_enable=YES, require_ssl_reuse=NO"
    has_peer pure-ftpd && echo "- pure-ftpd: $PUREV (Debian's package, unpacked, not installed), \`-l unix\` (crypt(3) on the same $HASH hash), privsep, chroot, FTPS optional (-Y 1)"
    echo "- multiftpd: argon2id m=19456 KiB, t=2, p=1; FTPS with --tls-cert/--tls-key. All servers: one self-signed RSA 2048 certificate made for the run"
    echo "- loadgen: suppaftp 12 (tokio) for plain FTP, its own client on rustls 0.23 (ring, TLS 1.3 only) for FTPS; passive mode, TYPE I; client and servers share the same $(nproc) cores over loopback"
    echo "- sizes: W1 ${BIG_MIB} MiB x $RUNS runs; W2 ${STOR_MIB} MiB; W3 $MANY_CLIENTS clients x ${MANY_SECS} s on a 1 MiB file; W4 $SMALL_COUNT x $SMALL_SIZE B; W5 $LOGIN_CLIENTS clients x ${LOGIN_SECS} s; W5 first logins $FIRST_USERS users; W6 $LIST_FILES files x $LIST_RUNS runs; W8 RETR ${BIG_MIB} MiB x $RUNS runs, STOR ${STOR_MIB} MiB; W9 $LOGIN_CLIENTS clients x ${LOGIN_SECS} s; W3, W4, W6, W8: median of $ROUNDS rounds and W2 and the W8 STOR of $([ "$QUICK" = 0 ] && [ "$ROUNDS" -lt 7 ] && echo 7 || echo "$ROUNDS"), $([ -n "$BASELINE" ] && echo "rotating which server goes first" || echo "rotating which server goes first"); W7 $(echo $SESSIONS | tr ' ' ',') sessions"
    echo "- CPU busy on the machine just before the workloads (5 s sample, servers idle): ${BUSY_BEFORE}% of $(nproc) cores; anything well above 0 means other work (e.g. a build) shared the cores and the figures are noisy"
    [ -z "${PROBE_W2_BEFORE:-}" ] || echo "- plain 1 GiB writes into the page cache (dd, after a 5 s pause), just before W2: $PROBE_W2_BEFORE; just after: $PROBE_W2_AFTER (a slow host phase shows here as well as in W2)"
    echo "- server restarts during the run: ${RESTARTS:-none}$([ "$W7_FRESH" = 1 ] && echo "; all servers restarted just before W7 (--w7-fresh)")"
    echo "- open-file limit for servers and loadgen: $FD_LIMIT; kernel.pid_max: $(cat /proc/sys/kernel/pid_max)"
    echo
    echo "## Raw results (one JSON line per loadgen run)"
    echo
    echo '```'
    cat "$RESULTS"
    echo '```'
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"

echo
echo "$TABLE"
echo
echo "written to $OUT"
