#!/usr/bin/env bash
# Stops the Slurm daemons scripts/slurm-up.sh started under DIR (munged, shared by the machine, keeps running).
set -uo pipefail
DIR=${1:?usage: slurm-down.sh DIR}
for p in slurmd slurmctld; do
  [ -f "$DIR/$p.pid" ] && kill "$(cat "$DIR/$p.pid")" 2> /dev/null
done
sleep 0.5
for p in slurmd slurmctld; do
  [ -f "$DIR/$p.pid" ] && kill -9 "$(cat "$DIR/$p.pid")" 2> /dev/null
done
exit 0
