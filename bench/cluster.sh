#!/usr/bin/env bash
# bench/cluster.sh: multiftpd behind HAProxy (README "Scaling out"), W5 logins/s and W3 RETR of
# 1 MiB by 32 sessions, in three set-ups on one machine: one node reached directly, one node
# through HAProxy, two nodes through HAProxy. `bench/run.sh --cluster ARGS` runs this script.
#
#   bench/cluster.sh                     SQLite (the data root's multiftp.db)
#   bench/cluster.sh --db URL            the database every node and ftpadm use (--db)
#   bench/cluster.sh --quick             small sizes, one round: checks the pipeline
#
# HAProxy runs with the shipped config/haproxy/multiftp.cfg, filled in from the environment
# like in production. Needs root only to install haproxy when it is missing. Loopback only:
# the balancer on 127.0.0.2, the nodes on 127.0.0.11 and 127.0.0.12. Leaves nothing running.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

usage() {
    cat <<'EOF'
usage: bench/cluster.sh [options]        (also: bench/run.sh --cluster [options])
  --db URL            the database for both nodes and ftpadm, passed as --db (default: the
                      data root's SQLite file); with PostgreSQL, an empty database
  --quick             small sizes (2 s loops, 8 W3 sessions, 1 round): a smoke test
  --rounds N          rounds; each runs every set-up, rotating which goes first; the table
                      shows medians (default 3; --quick: 1)
  --only LIST         workloads, from 3 and 5 (default 3,5)
  --no-build          use the binaries already built (target/release, bench/loadgen/target)
  --out FILE          Markdown results (default bench/results-cluster.md)
  --tmp DIR           scratch parent folder (default /tmp)
  --keep              keep the scratch folder (logs, raw results)
  -h, --help          this text
Environment: CLUSTER_PORT (21220) the balancer's FTP port; the nodes use the next ports
(21221, 21222 FTP; 21231, 21232 /health) and passive ports 22000-23249 and 23250-24499.
EOF
}

DB="" QUICK=0 ROUNDS="" ONLY="3 5" BUILD=1 OUT="$HERE/results-cluster.md" TMPPARENT=/tmp KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --db) DB=$2; shift ;;
        --quick) QUICK=1 ;;
        --rounds) ROUNDS=$2; shift ;;
        --only) ONLY=$(tr ',' ' ' <<<"$2"); shift ;;
        --no-build) BUILD=0 ;;
        --out) OUT=$2; shift ;;
        --tmp) TMPPARENT=$2; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
if [ "$QUICK" = 1 ]; then
    MANY_CLIENTS=8 MANY_SECS=2 LOGIN_CLIENTS=4 LOGIN_SECS=2 ROUNDS=${ROUNDS:-1}
else
    MANY_CLIENTS=32 MANY_SECS=10 LOGIN_CLIENTS=8 LOGIN_SECS=10 ROUNDS=${ROUNDS:-3}
fi
runs() { [[ " $ONLY " == *" $1 "* ]]; }
log() { printf '\n== %s\n' "$*" >&2; }

PUBLIC=127.0.0.2 NODE_IPS=(127.0.0.11 127.0.0.12)
LB_PORT=${CLUSTER_PORT:-21220}
NODE_PORTS=($((LB_PORT + 1)) $((LB_PORT + 2)))
HTTP_PORTS=($((LB_PORT + 11)) $((LB_PORT + 12)))
NODE_PASV=(22000-23249 23250-24499)
# HAProxy binds every passive port at start, beside the FTP port: a port in both would get
# some control connections forwarded to a node's passive port, which refuses them.
for p in "$LB_PORT" "${NODE_PORTS[@]}" "${HTTP_PORTS[@]}"; do
    if [ "$p" -ge 22000 ] && [ "$p" -le 24499 ]; then
        echo "CLUSTER_PORT: port $p lies in the passive ranges 22000-24499; choose another" >&2
        exit 2
    fi
done
USER_M=bench PASS=benchpass1
# The set-ups, in the order of the first round (later rounds rotate it).
SETUPS=(direct lb-1-node lb-2-nodes)

HAPROXY=$(command -v haproxy || true)
[ -n "$HAPROXY" ] || [ ! -x /usr/sbin/haproxy ] || HAPROXY=/usr/sbin/haproxy
if [ -z "$HAPROXY" ]; then
    [ "$(id -u)" = 0 ] || { echo "haproxy is missing: apt-get install haproxy (as root)" >&2; exit 1; }
    log "installing haproxy (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null
    HAPROXY=/usr/sbin/haproxy
fi
if [ "$BUILD" = 1 ]; then
    log "building multiftpd (cargo build --release -j1) and the load generator"
    (cd "$REPO" && cargo build --release -j1)
    (cd "$HERE/loadgen" && cargo build --release -j1)
fi
MFTPD=$REPO/target/release/multiftpd FTPADM=$REPO/target/release/ftpadm
LG=$HERE/loadgen/target/release/loadgen
for b in "$MFTPD" "$FTPADM" "$LG"; do
    [ -x "$b" ] || { echo "missing $b (build it, or drop --no-build)" >&2; exit 1; }
done
for p in "$LB_PORT" "${NODE_PORTS[@]}" "${HTTP_PORTS[@]}"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        echo "port $p is already in use; set CLUSTER_PORT" >&2
        exit 1
    fi
done

mkdir -p "$TMPPARENT"
TMP=$(mktemp -d "$TMPPARENT/multiftp-cluster.XXXXXX")
RESULTS=$TMP/results.jsonl
: >"$RESULTS"
NODE_PIDS=("" "") LB_PID=""
stop() { # stop PID: SIGTERM, then SIGKILL after 5 s
    [ -n "$1" ] || return 0
    kill "$1" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    set +e
    stop "$LB_PID"
    stop "${NODE_PIDS[0]}"
    stop "${NODE_PIDS[1]}"
    if [ "$KEEP" = 1 ]; then echo "scratch folder kept: $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One data root for both nodes (their homes: shared storage in production), one database.
ROOT=$TMP/root
mkdir -p "$ROOT"
DB_ARGS=()
[ -z "$DB" ] || DB_ARGS=(--db "$DB")
"$FTPADM" --root "$ROOT" "${DB_ARGS[@]+"${DB_ARGS[@]}"}" init >/dev/null
printf '%s\n' "$PASS" | "$FTPADM" --root "$ROOT" "${DB_ARGS[@]+"${DB_ARGS[@]}"}" user add "$USER_M" --password-stdin >/dev/null
head -c $((1 << 20)) /dev/urandom >"$ROOT/home/$USER_M/mid.bin"
mkdir -p "$TMP/bin"
cp "$MFTPD" "$TMP/bin/mftpd-cluster" # a private copy: a concurrent cargo build cannot swap it

wait_greeting() { # wait_greeting IP PORT PID NAME [PROXY]: until it answers 220 (30 s)
    local line
    for _ in $(seq 300); do
        kill -0 "$3" 2>/dev/null || { echo "$4 died at start:" >&2; cat "$TMP/$4.log" >&2; exit 1; }
        # In PROXY mode a node says nothing before the header a balancer's own probe sends.
        line=$( (exec 3<>"/dev/tcp/$1/$2" || exit 1
            [ -z "${5:-}" ] || printf 'PROXY UNKNOWN\r\n' >&3
            timeout 5 head -c 3 <&3) 2>/dev/null || true)
        [ "$line" = 220 ] && return 0
        sleep 0.1
    done
    echo "$4 does not greet on $1:$2 after 30 s" >&2
    exit 1
}
# start_node I MODE: node I (0 or 1), MODE "direct" (plain FTP) or "proxy" (behind HAProxy).
start_node() {
    local i=$1 args=()
    [ "$2" = direct ] || args=(--proxy-protocol-port 21 --passive-host "$PUBLIC")
    "$TMP/bin/mftpd-cluster" --root "$ROOT" "${DB_ARGS[@]+"${DB_ARGS[@]}"}" --bind "${NODE_IPS[$i]}" \
        --port "${NODE_PORTS[$i]}" --passive-ports "${NODE_PASV[$i]}" --idle-timeout 3600 \
        --http-bind "${NODE_IPS[$i]}:${HTTP_PORTS[$i]}" "${args[@]}" >>"$TMP/node$((i + 1)).log" 2>&1 &
    NODE_PIDS[$i]=$!
    wait_greeting "${NODE_IPS[$i]}" "${NODE_PORTS[$i]}" "${NODE_PIDS[$i]}" "node$((i + 1))" \
        "$([ "$2" = direct ] || echo proxy)"
}
admin() { # admin COMMAND: one command on HAProxy's admin socket, its answer on stdout
    python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode()); out = b""
while (chunk := s.recv(65536)): out += chunk
sys.stdout.write(out.decode())' "$TMP/haproxy.sock" "$1"
}
server_status() { # server_status NODE: "UP", "DOWN", "MAINT" ... of ftp_control/NODE
    admin "show stat" 2>/dev/null | awk -F, -v sv="$1" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == "status") c = i }
        $1 == "ftp_control" && $2 == sv { print $c }'
}
wait_status() { # wait_status NODE STATUS: at most 30 s
    for _ in $(seq 300); do
        [ "$(server_status "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    echo "haproxy: $1 not $2 after 30 s; log:" >&2
    tail -20 "$TMP/haproxy.log" >&2
    exit 1
}
start_balancer() {
    FTPLB_BIND=$PUBLIC FTPLB_PORT=$LB_PORT FTPLB_CHECK_INTER=500ms \
        FTPLB_STATS_SOCKET=$TMP/haproxy.sock FTPLB_USER='' FTPLB_GROUP='' FTPLB_LOG=stderr \
        FTPLB_NODE1_ADDR=${NODE_IPS[0]} FTPLB_NODE1_PORT=${NODE_PORTS[0]} \
        FTPLB_NODE1_HTTP=${HTTP_PORTS[0]} FTPLB_NODE1_PASSIVE=${NODE_PASV[0]} \
        FTPLB_NODE2_ADDR=${NODE_IPS[1]} FTPLB_NODE2_PORT=${NODE_PORTS[1]} \
        FTPLB_NODE2_HTTP=${HTTP_PORTS[1]} FTPLB_NODE2_PASSIVE=${NODE_PASV[1]} \
        "$HAPROXY" -db -f "$REPO/config/haproxy/multiftp.cfg" >>"$TMP/haproxy.log" 2>&1 &
    LB_PID=$!
    for _ in $(seq 100); do [ -S "$TMP/haproxy.sock" ] && break; sleep 0.1; done
    wait_status node1 UP
    wait_status node2 UP
}

# setup NAME: the processes as that set-up needs them (not in a subshell: it keeps their pids).
CURRENT=""
setup() {
    [ "$1" != "$CURRENT" ] || return 0
    case $1 in
        direct)
            stop "$LB_PID"; LB_PID=""
            stop "${NODE_PIDS[0]}"; stop "${NODE_PIDS[1]}"; NODE_PIDS=("" "")
            start_node 0 direct ;;
        lb-*)
            if [ -z "$LB_PID" ]; then
                stop "${NODE_PIDS[0]}"; NODE_PIDS[0]=""
                start_node 0 proxy
                start_node 1 proxy
                start_balancer
            fi
            if [ "$1" = lb-1-node ]; then
                admin "set server ftp_control/node2 state maint" >/dev/null
                wait_status node2 MAINT
            else
                admin "set server ftp_control/node2 state ready" >/dev/null
                wait_status node2 UP
            fi ;;
    esac
    CURRENT=$1
}
addr_of() { case $1 in direct) echo "${NODE_IPS[0]}:${NODE_PORTS[0]}" ;; *) echo "$PUBLIC:$LB_PORT" ;; esac; }

# lg SETUP SUBCOMMAND ARGS...: one loadgen run against that set-up; its JSON line is kept.
lg() {
    local name=$1 sub=$2 addr out
    shift 2
    setup "$name"
    addr=$(addr_of "$name")
    out=$("$LG" "$sub" --label "$name" --addr "$addr" --user "$USER_M" --pass "$PASS" "$@" \
        2>>"$TMP/loadgen.stderr") || true
    [ -n "$out" ] || out="{\"workload\":\"$sub\",\"label\":\"$name\",\"error\":\"loadgen printed nothing (crashed?)\"}"
    printf '%s\n' "$out" >>"$RESULTS"
    printf '  %s\n' "$out" >&2
}
# rounds SUBCOMMAND ARGS...: every set-up, $ROUNDS times, rotating which goes first.
rounds() {
    local r k n=${#SETUPS[@]}
    for r in $(seq 1 "$ROUNDS"); do
        for k in $(seq 0 $((n - 1))); do lg "${SETUPS[$(((r - 1 + k) % n))]}" "$@"; done
    done
}

START=$(date +%s)
if runs 5; then
    log "W5 logins: $LOGIN_CLIENTS clients looping connect+login+QUIT for $LOGIN_SECS s"
    rounds logins --clients "$LOGIN_CLIENTS" --seconds "$LOGIN_SECS"
fi
if runs 3; then
    log "W3 retr-many: $MANY_CLIENTS sessions looping RETR of 1 MiB for $MANY_SECS s"
    rounds retr-many --clients "$MANY_CLIENTS" --seconds "$MANY_SECS" --file mid.bin
fi
ELAPSED=$(($(date +%s) - START))

# ------------------------------------------------------------------------------- report
# median WORKLOAD SETUP FIELD: the median of FIELD over that set-up's runs ("-" if none).
median() {
    grep "\"workload\":\"$1\"" "$RESULTS" | grep "\"label\":\"$2\"" |
        sed -n "s/.*\"$3\":\([0-9.]*\).*/\1/p" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
                                  else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
failed() { # failed WORKLOAD SETUP: failed operations over all runs (a run that stopped: 1)
    grep "\"workload\":\"$1\"" "$RESULTS" | grep "\"label\":\"$2\"" | awk '
        /"error":/ && !/"errors":/ { n++; next }
        { if (match($0, /"errors":[0-9]+/)) n += substr($0, RSTART + 9, RLENGTH - 9) }
        END { print n + 0 }'
}
row() { # row TITLE WORKLOAD FIELD
    printf '| %s |' "$1"
    for s in "${SETUPS[@]}"; do printf ' %s |' "$(median "$2" "$s" "$3")"; done
    echo
}
TABLE=$(
    echo "| | one node, direct | one node through HAProxy | two nodes through HAProxy |"
    echo "|---|---:|---:|---:|"
    if runs 5; then
        row "W5 logins/s (cached)" logins logins_per_s
        row "W5 p99 ms (lower is better)" logins p99_ms
        row "W5 loadgen CPU %" logins client_cpu_pct
    fi
    if runs 3; then
        row "W3 MB/s, $MANY_CLIENTS sessions x 1 MiB RETR" retr-many mbps
        row "W3 transfers/s" retr-many transfers_per_s
        row "W3 p99 ms (lower is better)" retr-many p99_ms
        row "W3 loadgen CPU %" retr-many client_cpu_pct
    fi
    for w in logins retr-many; do
        { [ "$w" = logins ] && runs 5; } || { [ "$w" = retr-many ] && runs 3; } || continue
        printf '| failed operations, %s |' "$w"
        for s in "${SETUPS[@]}"; do printf ' %s |' "$(failed "$w" "$s")"; done
        echo
    done
)
{
    echo "# multiftpd behind HAProxy: benchmark results"
    echo
    echo "Produced by \`bench/cluster.sh$([ "$QUICK" = 1 ] && echo ' --quick')${DB:+ --db ...}\` in ${ELAPSED} s; medians of $ROUNDS round(s). See bench/README.md, \"Cluster mode\"."
    echo
    echo "$TABLE"
    echo
    echo "## Machine and versions"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); CPU: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo); nproc: $(nproc)"
    echo "- multiftpd: $("$MFTPD" --version 2>/dev/null | head -1), work tree at $(git -c safe.directory="$REPO" -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    # The URL's scheme only: a password in it stays out of the results.
    echo "- database: $(if [ -z "$DB" ]; then echo "SQLite (the data root's file)"; elif [[ "$DB" == *://* ]]; then echo "${DB%%://*} (--db)"; else echo "SQLite file (--db)"; fi)"
    echo "- HAProxy: $("$HAPROXY" -v | head -1), config/haproxy/multiftp.cfg as shipped; all processes and the load generator on the same $(nproc) cores over loopback"
    echo "- sizes: W5 $LOGIN_CLIENTS clients x $LOGIN_SECS s; W3 $MANY_CLIENTS clients x $MANY_SECS s"
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
