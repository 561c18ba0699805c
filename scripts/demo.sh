#!/usr/bin/env bash
# One command to a working migration on this machine:
#   bash scripts/demo.sh        install what is missing, start Redis + two upstream MariaDB
#                               (binlog ROW/FULL) + a target, load a sample database, start
#                               dmq serve, register both sources, run the seed task (full copy,
#                               then binlog replication) and show a live change arriving
#   bash scripts/demo.sh stop   stop dmq and the local servers (data stays in .dmq-demo/)
# Running it again starts the task over from scratch (start-task --remove-meta).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=.dmq-demo
ADDR=127.0.0.1:8261
REDIS_PORT=6380
dmq() { node bin/dmq.js --master-addr "$ADDR" "$@"; }

stop_dmq() {
  if [ -f "$DIR/dmq.pid" ] && kill -0 "$(cat "$DIR/dmq.pid")" 2>/dev/null; then
    kill "$(cat "$DIR/dmq.pid")"
    for _ in $(seq 50); do kill -0 "$(cat "$DIR/dmq.pid")" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -f "$DIR/dmq.pid"
}

if [ "${1:-}" = "stop" ]; then
  stop_dmq
  npx tsx scripts/local-servers.ts stop --dir "$DIR"
  exit 0
fi

bash scripts/install-deps.sh
echo "demo: building dmq"
npm run build --silent

echo "demo: starting Redis :$REDIS_PORT, upstreams :3307 :3308 (binlog ROW/FULL), target :4000"
npx tsx scripts/local-servers.ts start --dir "$DIR" --redis-port "$REDIS_PORT"

echo "demo: loading the sample database test_db into both upstreams"
for i in 0 1; do
  port=$((3307 + i))
  { echo "SET @base = $((i * 1000000));"; cat scripts/demo-data.sql; } |
    mariadb -h 127.0.0.1 -P "$port" -u root -p123456
done

echo "demo: starting dmq serve on $ADDR (log: $DIR/dmq.log)"
stop_dmq
mkdir -p "$DIR/dump"
# The API, dashboard and metrics want this token; the CLI reads it from the same variable.
[ -s "$DIR/token" ] || node -e "console.log(require('crypto').randomBytes(16).toString('hex'))" >"$DIR/token"
DMQ_TOKEN=$(cat "$DIR/token")
export DMQ_TOKEN
REDIS_URL="redis://127.0.0.1:$REDIS_PORT" DMQ_PORT=8261 DMQ_DUMP_DIR="$DIR/dump" \
  nohup node bin/dmq.js serve >"$DIR/dmq.log" 2>&1 &
echo $! >"$DIR/dmq.pid"
for _ in $(seq 100); do
  node -e "fetch('http://$ADDR/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" && break
  sleep 0.2
done

echo "demo: registering the sources and starting the task"
dmq stop-task test >/dev/null || true
dmq operate-source stop mysql-replica-01 mysql-replica-02 >/dev/null || true
dmq operate-source create examples/source-01.yaml examples/source-02.yaml
dmq start-task --remove-meta examples/task.yaml

# Wait until both sources are copied and replicating with nothing left to apply.
for _ in $(seq 600); do
  state=$(dmq query-status test | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const j=JSON.parse(s);const subs=(j.sources??[]).map(x=>x.subTaskStatus[0]);const synced=subs.length>0&&subs.every(t=>t.unit==='Sync'&&t.sync&&t.sync.synced);console.log(j.stage, subs.map(t=>t.unit+' '+(t.unit==='Sync'?(t.sync&&t.sync.synced?'synced':'catching up'):t.load.progress)).join(', '), synced?'SYNCED':'')})")
  printf '\rdemo: task test: %s   ' "$state"
  case "$state" in *SYNCED*|Paused*|Finished*) break ;; esac
  sleep 0.5
done
echo

echo "demo: a live change on upstream 1 (id 999999) ..."
mariadb -h 127.0.0.1 -P 3307 -u root -p123456 -e "REPLACE INTO test_db.test_table VALUES (999999, 'live-customer', 42.00, NOW(6), 'written after the copy', NULL)"
for _ in $(seq 100); do
  seen=$(mariadb -h 127.0.0.1 -P 4000 -u root -N -e "SELECT customer FROM test_db.test_table WHERE id = 999999" 2>/dev/null || true)
  [ -n "$seen" ] && break
  sleep 0.1
done
echo "demo: ... arrived on the target: ${seen:-NOT YET (see query-status)}"

dmq query-status test
rows() { mariadb -h 127.0.0.1 -P "$1" -u root "${@:2}" -N -e 'SELECT COUNT(*) FROM test_db.test_table'; }
echo "demo: rows in test_db.test_table: upstream 1 $(rows 3307 -p123456), upstream 2 $(rows 3308 -p123456), target $(rows 4000)"
cat <<MSG

Where to look:
  token      export DMQ_TOKEN=$DMQ_TOKEN   (also in $DIR/token)
  tasks      http://$ADDR/tasks   (any user name, the token as password)
  status     node bin/dmq.js --master-addr $ADDR query-status test
  dashboard  http://$ADDR/dashboard   (any user name, the token as password)
  metrics    curl -H "Authorization: Bearer \$DMQ_TOKEN" http://$ADDR/metrics
  logs       $DIR/dmq.log
  target     mariadb -h 127.0.0.1 -P 4000 -u root test_db
Stop everything with: bash scripts/demo.sh stop
MSG
