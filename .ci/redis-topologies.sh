#!/usr/bin/env bash
# Start (or stop) the Redis topologies the tests run against: a 3-primary
# Redis Cluster and a primary + replica watched by a Sentinel, all on
# loopback, in memory, from Debian's redis-server package.
#
#   eval "$(.ci/redis-topologies.sh start)"   # prints the export lines
#   .ci/redis-topologies.sh stop
#
# start prints REDIS_CLUSTER_URL and REDIS_SENTINEL_URL (REDIS_MODE=cluster
# and sentinel URLs, go-redis syntax) on stdout, everything else on stderr.
# A topology that already answers on its ports is reused, so running start
# twice is harmless. Ports: cluster 7001-7003, primary 6390, replica 6391,
# Sentinel 26379 with master name "checkout"; change them with
# REDIS_CLUSTER_PORTS, REDIS_PRIMARY_PORT, REDIS_REPLICA_PORT and
# REDIS_SENTINEL_PORT. Files (logs, node tables) go to REDIS_TOPOLOGY_DIR
# (default ${TMPDIR:-/tmp}/checkout-redis-topologies).
set -euo pipefail

CLUSTER_PORTS=(${REDIS_CLUSTER_PORTS:-7001 7002 7003})
PRIMARY_PORT=${REDIS_PRIMARY_PORT:-6390}
REPLICA_PORT=${REDIS_REPLICA_PORT:-6391}
SENTINEL_PORT=${REDIS_SENTINEL_PORT:-26379}
MASTER_NAME=checkout
DIR=${REDIS_TOPOLOGY_DIR:-${TMPDIR:-/tmp}/checkout-redis-topologies}

say() { printf '%s\n' "$*" >&2; }

cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }

answers() { [[ "$(cli "$1" PING 2>/dev/null)" == "PONG" ]]; }

# wait_for runs "$@" until it succeeds, up to 30 s.
wait_for() {
	for _ in $(seq 1 300); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	return 1
}

install_missing() {
	local missing=()
	command -v redis-server >/dev/null || missing+=(redis-server)
	command -v redis-cli >/dev/null || missing+=(redis-tools)
	command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)
	((${#missing[@]} == 0)) && return
	say "installing ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2; then
		apt-get update >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2
	fi
}

# sentinel_cmd runs a Sentinel on a config file: redis-sentinel when the
# package is there, else redis-server's own sentinel mode (the same binary).
sentinel_cmd() {
	if command -v redis-sentinel >/dev/null; then
		redis-sentinel "$@"
	else
		redis-server "$@" --sentinel
	fi
}

start_server() { # port, extra args...
	local port=$1
	shift
	redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
		--dir "$DIR" --logfile "$DIR/redis-$port.log" --pidfile "$DIR/redis-$port.pid" "$@"
	wait_for answers "$port" || { say "redis-server on $port did not answer (log: $DIR/redis-$port.log)"; exit 1; }
}

cluster_ok() { cli "${CLUSTER_PORTS[0]}" CLUSTER INFO 2>/dev/null | grep -q '^cluster_state:ok'; }

start_cluster() {
	if answers "${CLUSTER_PORTS[0]}" && cluster_ok; then
		say "Redis Cluster already up on ${CLUSTER_PORTS[*]}"
		return
	fi
	local addrs=()
	for p in "${CLUSTER_PORTS[@]}"; do
		if ! answers "$p"; then
			rm -f "$DIR/nodes-$p.conf"
			start_server "$p" --cluster-enabled yes --cluster-config-file "nodes-$p.conf" --cluster-node-timeout 5000
		fi
		addrs+=("127.0.0.1:$p")
	done
	say "creating the cluster on ${addrs[*]}"
	redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >&2
	# Every node must agree before a test's first command.
	for p in "${CLUSTER_PORTS[@]}"; do
		wait_for bash -c "redis-cli -h 127.0.0.1 -p $p CLUSTER INFO | grep -q '^cluster_state:ok'" ||
			{ say "node $p did not reach cluster_state:ok"; exit 1; }
	done
	say "Redis Cluster up on ${CLUSTER_PORTS[*]}"
}

sentinel_ok() {
	[[ "$(cli "$SENTINEL_PORT" SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | head -1)" != "" ]] &&
		cli "$SENTINEL_PORT" SENTINEL replicas "$MASTER_NAME" 2>/dev/null | grep -q "$REPLICA_PORT\|$PRIMARY_PORT"
}

start_sentinel() {
	if answers "$SENTINEL_PORT" && sentinel_ok; then
		say "Sentinel set already up (sentinel $SENTINEL_PORT)"
		return
	fi
	answers "$PRIMARY_PORT" || start_server "$PRIMARY_PORT"
	answers "$REPLICA_PORT" || start_server "$REPLICA_PORT" --replicaof 127.0.0.1 "$PRIMARY_PORT"
	if ! answers "$SENTINEL_PORT"; then
		# A Sentinel rewrites its config file: give it its own.
		cat >"$DIR/sentinel-$SENTINEL_PORT.conf" <<-EOF
			port $SENTINEL_PORT
			bind 127.0.0.1
			daemonize yes
			dir $DIR
			logfile $DIR/sentinel-$SENTINEL_PORT.log
			pidfile $DIR/sentinel-$SENTINEL_PORT.pid
			sentinel monitor $MASTER_NAME 127.0.0.1 $PRIMARY_PORT 1
			sentinel down-after-milliseconds $MASTER_NAME 2000
			sentinel failover-timeout $MASTER_NAME 10000
			sentinel parallel-syncs $MASTER_NAME 1
		EOF
		sentinel_cmd "$DIR/sentinel-$SENTINEL_PORT.conf"
		wait_for answers "$SENTINEL_PORT" || { say "Sentinel on $SENTINEL_PORT did not answer"; exit 1; }
	fi
	# The replica is in sync and the Sentinel knows it: a failover can be asked for.
	wait_for bash -c "redis-cli -h 127.0.0.1 -p $REPLICA_PORT INFO replication | grep -q 'master_link_status:up'" ||
		{ say "replica $REPLICA_PORT did not sync"; exit 1; }
	wait_for sentinel_ok || { say "Sentinel does not know the replica"; exit 1; }
	say "Sentinel set up: primary $PRIMARY_PORT, replica $REPLICA_PORT, sentinel $SENTINEL_PORT (master $MASTER_NAME)"
}

stop_all() {
	for p in "${CLUSTER_PORTS[@]}" "$PRIMARY_PORT" "$REPLICA_PORT" "$SENTINEL_PORT"; do
		if answers "$p"; then
			cli "$p" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
			say "stopped $p"
		fi
	done
	rm -f "$DIR"/nodes-*.conf
}

case "${1:-start}" in
start)
	install_missing
	mkdir -p "$DIR"
	start_cluster
	start_sentinel
	cluster_url="redis://127.0.0.1:${CLUSTER_PORTS[0]}"
	sep="?"
	for p in "${CLUSTER_PORTS[@]:1}"; do
		cluster_url+="${sep}addr=127.0.0.1:$p"
		sep="&"
	done
	echo "export REDIS_CLUSTER_URL='$cluster_url'"
	echo "export REDIS_SENTINEL_URL='redis://127.0.0.1:$SENTINEL_PORT?master_name=$MASTER_NAME'"
	;;
stop)
	stop_all
	;;
*)
	say "usage: $0 [start|stop]"
	exit 2
	;;
esac
