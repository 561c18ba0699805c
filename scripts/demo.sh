#!/usr/bin/env bash
# One command to a working migration on this machine:
#   bash scripts/demo.sh        install what is missing, start Redis + two upstream MariaDB
#                               (binlog ROW/FULL) + a TiDB v8.5.6 target, load a sample
#                               database, start dmq serve, register both sources, run the seed
#                               task (full copy, then binlog replication) and show a live change
#                               arriving
#   bash scripts/demo.sh stop   stop dmq and the local servers (data stays in .dmq-demo/)
# Running it again starts the task over from scratch (start-task --remove-meta).
# The target is tidb-server with its embedded store: DMQ_TIDB_SERVER, else the one
# scripts/build-tidb.sh builds once (~15 min) and caches. Without one, or with
# DMQ_DEMO_TARGET=mariadb, a MariaDB target stands in and the demo says why.
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

wanted=${DMQ_DEMO_TARGET:-tidb}
case "$wanted" in
  tidb) bash scripts/install-deps.sh --tidb ;;
  mariadb) bash scripts/install-deps.sh ;;
  *) echo "demo: DMQ_DEMO_TARGET=$wanted: expected tidb or mariadb" >&2; exit 2 ;;
esac
echo "demo: building dmq"
npm run build --silent
mkdir -p "$DIR"

target=mariadb
why=""
if [ "$wanted" = mariadb ]; then
  why="DMQ_DEMO_TARGET=mariadb"
elif [ -n "${DMQ_TIDB_SERVER:-}" ]; then
  if [ -x "$DMQ_TIDB_SERVER" ]; then target=tidb; else why="DMQ_TIDB_SERVER=$DMQ_TIDB_SERVER is not an executable file"; fi
else
  echo "demo: getting tidb-server v8.5.6 (scripts/build-tidb.sh: built once from the Go module proxy, ~15 min; log: $DIR/build-tidb.log)"
  if DMQ_TIDB_SERVER=$(bash scripts/build-tidb.sh 2>"$DIR/build-tidb.log"); then
    target=tidb
  else
    # Go indents the details under its error line; the last unindented line names the failure.
    why="scripts/build-tidb.sh failed: $(grep -v -e '^[[:space:]]' -e '^$' "$DIR/build-tidb.log" | tail -n 1 || true) (log: $DIR/build-tidb.log)"
  fi
fi
if [ "$target" = tidb ]; then
  export DMQ_TIDB_SERVER
  target_name=TiDB
else
  target_name=MariaDB
  echo "demo: falling back to a MariaDB target on :4000, not TiDB: $why"
fi

# A dmq left by an earlier run would keep replicating into the target while the servers and the
# sample data are replaced under it.
stop_dmq
echo "demo: starting Redis :$REDIS_PORT, upstreams :3307 :3308 (binlog ROW/FULL), target :4000 ($target_name)"
npx tsx scripts/local-servers.ts start --dir "$DIR" --redis-port "$REDIS_PORT" --target "$target"

echo "demo: loading the sample database test_db into both upstreams"
for i in 0 1; do
  port=$((3307 + i))
  { echo "SET @base = $((i * 1000000));"; cat scripts/demo-data.sql; } |
    mariadb -h 127.0.0.1 -P "$port" -u root -p123456
done

echo "demo: starting dmq serve on $ADDR (log: $DIR/dmq.log)"
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

# A value of this run: the target keeps the row an earlier run wrote, which must not pass for it.
live="live-customer-$(date +%H%M%S)"
echo "demo: a live change on upstream 1 (id 999999, customer $live) ..."
mariadb -h 127.0.0.1 -P 3307 -u root -p123456 -e "REPLACE INTO test_db.test_table VALUES (999999, '$live', 42.00, NOW(6), 'written after the copy', NULL)"
for _ in $(seq 100); do
  seen=$(mariadb -h 127.0.0.1 -P 4000 -u root -N -e "SELECT customer FROM test_db.test_table WHERE id = 999999" 2>/dev/null || true)
  [ "$seen" = "$live" ] && break
  sleep 0.1
done
if [ "$seen" = "$live" ]; then
  echo "demo: ... arrived on the target ($target_name): $seen"
else
  echo "demo: ... NOT on the target ($target_name) yet (it has ${seen:-no row 999999}): see query-status below"
fi

dmq query-status test
echo "demo: migrated into $target_name on 127.0.0.1:4000: SELECT VERSION() says $(mariadb -h 127.0.0.1 -P 4000 -u root -N -e 'SELECT VERSION()')${why:+ (not TiDB because $why)}"
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
  target     mariadb -h 127.0.0.1 -P 4000 -u root test_db   ($target_name; its log is in $DIR/target/)
Stop everything with: bash scripts/demo.sh stop
MSG
