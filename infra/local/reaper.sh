#!/usr/bin/env bash
# Usage: reaper.sh OWNER_PID STATE_DIR keep|remove
# Waits until OWNER_PID has exited, then stops every process group listed in STATE_DIR/pids
# (SIGTERM, then SIGKILL after 5 s) and removes STATE_DIR unless told to keep it.
owner=$1 dir=$2 mode=$3
while kill -0 "$owner" 2>/dev/null; do sleep 0.5; done
[ -f "$dir/pids" ] || exit 0
pids=$(cat "$dir/pids")
for pid in $pids; do kill -TERM -- "-$pid" 2>/dev/null; done
for _ in $(seq 50); do
  alive=0
  for pid in $pids; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break
  sleep 0.1
done
for pid in $pids; do kill -KILL -- "-$pid" 2>/dev/null; done
[ "$mode" = keep ] || rm -rf "$dir"
