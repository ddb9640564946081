#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft: broker and controller in one JVM) for tests, CI and local trials.
#
#   bash scripts/kafka.sh start    start it (idempotent); the LAST line printed is the URL, kafka://127.0.0.1:PORT
#   bash scripts/kafka.sh stop     stop it (exit 0 also when it was not running)
#   bash scripts/kafka.sh status   print the URL and exit 0 when running, else exit 3 (LSB convention)
#
# The broker's jars come from Maven Central (org.apache.kafka, pinned below) and are resolved once with Maven into
# .servers/kafka/libs. Data, configs and logs live under .servers/kafka (git-ignored). Environment:
#   PULSE_KAFKA_PORT   client port on 127.0.0.1 (default 19092; the controller listens on PORT+1)
#   PULSE_KAFKA_HEAP   JVM heap flags (default "-Xms256m -Xmx1g")
set -euo pipefail
cd "$(dirname "$0")/.."

KAFKA_VERSION=4.4.0
SLF4J_VERSION=2.0.17   # Kafka's pom still names slf4j-api 1.7, which finds no log4j2 binding: pin 2.x explicitly
LOG4J_VERSION=2.25.3

PORT=${PULSE_KAFKA_PORT:-19092}
CONTROLLER_PORT=$((PORT + 1))
HEAP=${PULSE_KAFKA_HEAP:--Xms256m -Xmx1g}
BASE=$(pwd)/.servers/kafka
LIBS=$BASE/libs
DATA=$BASE/data
LOG=$BASE/server.log
PIDFILE=$BASE/kafka.pid
URL="kafka://127.0.0.1:$PORT"
START_TIMEOUT_S=90

say() { printf 'kafka.sh: %s\n' "$*"; }
SHOW_LOGS=0  # set once a broker process exists: only then do its logs say why something failed
die() {
  printf 'kafka.sh: %s\n' "$*" >&2
  if [ "$SHOW_LOGS" = 1 ]; then
    for f in "$LOG" "$BASE/stdout.log"; do
      if [ -s "$f" ]; then printf -- '--- last lines of %s ---\n' "$f" >&2; tail -n 30 "$f" >&2; fi
    done
  fi
  exit 1
}

# The pid of our broker if it is alive; the command line check guards against a recycled pid.
running_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid=$(cat "$PIDFILE")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "kafka.Kafka $BASE/server.properties" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

resolve_jars() {
  local stamp="$LIBS/.resolved-$KAFKA_VERSION-$SLF4J_VERSION-$LOG4J_VERSION"
  [ -f "$stamp" ] && return 0
  command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is needed once to fetch the broker's jars; on Debian: apt-get install -y maven"
  command -v java >/dev/null 2>&1 || die "Java 17+ is needed to run the broker; on Debian: apt-get install -y openjdk-17-jre-headless"
  say "resolving Kafka $KAFKA_VERSION jars from Maven Central into $LIBS (once)"
  mkdir -p "$BASE"
  cat > "$BASE/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>networkpulse</groupId>
  <artifactId>kafka-broker-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$SLF4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$LIBS.tmp"
  mvn -q -B -f "$BASE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" \
    > "$BASE/maven.log" 2>&1 || { tail -n 30 "$BASE/maven.log" >&2; die "mvn could not resolve the broker's jars (log: $BASE/maven.log)"; }
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
  touch "$stamp"
}

write_configs() {
  cat > "$BASE/server.properties" <<EOF
# Written by scripts/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA
num.partitions=1
# Topics are created on purpose, with their partition count (networkpulse.bus.create_topics): a typo must not
# create one.
auto.create.topics.enable=false
# GH Archive records carry event times from years ago; time-based retention would delete fresh segments at once.
log.retention.ms=-1
# One node: every internal topic has one replica, and fewer partitions than the default 50 start faster.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
# The first consumer of a group starts at once instead of waiting 3 s for others to join.
group.initial.rebalance.delay.ms=0
EOF
  cat > "$BASE/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $LOG
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
EOF
}

# shellcheck disable=SC2206  # HEAP is a list of JVM flags
JAVA=(java $HEAP -Djava.awt.headless=true -Dlog4j2.configurationFile="$BASE/log4j2.properties" -cp "$LIBS/*")

format_storage() {
  [ -f "$DATA/meta.properties" ] && return 0
  if [ ! -s "$BASE/cluster.id" ]; then
    "${JAVA[@]}" kafka.tools.StorageTool random-uuid > "$BASE/cluster.id.tmp" || die "kafka-storage random-uuid failed"
    mv "$BASE/cluster.id.tmp" "$BASE/cluster.id"
  fi
  "${JAVA[@]}" kafka.tools.StorageTool format -t "$(cat "$BASE/cluster.id")" -c "$BASE/server.properties" \
    > "$BASE/format.log" 2>&1 || { cat "$BASE/format.log" >&2; die "formatting $DATA failed"; }
}

# The port the running broker was started with (its config), which may differ from PULSE_KAFKA_PORT now.
running_url() {
  local port
  port=$(sed -n 's|^advertised.listeners=PLAINTEXT://127.0.0.1:\([0-9]*\)$|\1|p' "$BASE/server.properties")
  [ "$port" = "$PORT" ] || say "running on port $port; PULSE_KAFKA_PORT=$PORT applies after a stop" >&2
  echo "kafka://127.0.0.1:$port"
}

start() {
  if pid=$(running_pid); then
    say "already running (pid $pid), data in $DATA"
    local url
    url=$(running_url)
    PORT=${url##*:}  # wait_ready checks the port the broker listens on
    wait_ready "$pid"
    echo "$url"
    return 0
  fi
  port_open "$PORT" && die "127.0.0.1:$PORT is taken by another process; choose another with PULSE_KAFKA_PORT=..."
  port_open "$CONTROLLER_PORT" && die "127.0.0.1:$CONTROLLER_PORT (controller) is taken; choose another PULSE_KAFKA_PORT"
  mkdir -p "$BASE"
  [ -f .servers/.gitignore ] || echo '*' > .servers/.gitignore
  resolve_jars
  write_configs
  format_storage
  # A fresh log per start, so that the readiness line found below is this start's.
  [ -f "$LOG" ] && mv -f "$LOG" "$LOG.1"
  : > "$BASE/stdout.log"
  # setsid: the broker outlives this shell and a Ctrl-C in it; the inner shell records the JVM's own pid.
  setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' _ "$PIDFILE" \
    "${JAVA[@]}" kafka.Kafka "$BASE/server.properties" >> "$BASE/stdout.log" 2>&1 < /dev/null &
  local t0=$SECONDS
  sleep 0.2
  pid=$(cat "$PIDFILE")
  wait_ready "$pid"
  say "started in $((SECONDS - t0)) s (pid $pid), data in $DATA, log $LOG"
  echo "$URL"
}

wait_ready() {
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT_S))
  SHOW_LOGS=1
  until grep -q 'Kafka Server started' "$LOG" 2>/dev/null && port_open "$PORT"; do
    kill -0 "$pid" 2>/dev/null || die "the broker exited while starting"
    [ "$SECONDS" -lt "$deadline" ] || die "the broker did not answer on 127.0.0.1:$PORT within $START_TIMEOUT_S s"
    sleep 0.2
  done
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    say "not running"
    rm -f "$PIDFILE"
    return 0
  fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "no clean shutdown within 30 s; killing pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.2
  done
  rm -f "$PIDFILE"
  say "stopped (pid $pid)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    if pid=$(running_pid); then say "running (pid $pid)"; running_url; else say "not running"; exit 3; fi ;;
  *) echo "usage: scripts/kafka.sh start|stop|status" >&2; exit 2 ;;
esac
