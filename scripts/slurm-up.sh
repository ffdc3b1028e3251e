#!/usr/bin/env bash
# Starts a one-node Slurm cluster on 127.0.0.1 for awan's tests: munged, slurmctld and slurmd (22.05, Debian's
# slurm-wlm) with GPUS fake GPU devices (nodes pointing at /dev/null), state under DIR. Needs root (munge's
# key, mknod, slurmd) and the packages scripts/install-deps.sh installs. Prints the Slurm node name; export
# SLURM_CONF=DIR/slurm.conf to use it. Stop it with scripts/slurm-down.sh DIR.
#   scripts/slurm-up.sh DIR [GPUS=4] [CTLD_PORT=16817] [SLURMD_PORT=16818]
set -euo pipefail
DIR=${1:?usage: slurm-up.sh DIR [GPUS] [CTLD_PORT] [SLURMD_PORT]}
GPUS=${2:-4}
CTLD_PORT=${3:-16817}
SLURMD_PORT=${4:-16818}
if [ "$(id -u)" -ne 0 ]; then echo "slurm-up: needs root (munge key, device nodes, slurmd)" >&2; exit 2; fi
for b in slurmctld slurmd munged sinfo; do
  command -v "$b" > /dev/null || { echo "slurm-up: $b not found: run scripts/install-deps.sh" >&2; exit 2; }
done
HOST=$(hostname -s)
mkdir -p "$DIR"/{state,spool,log,dev}
for ((i = 0; i < GPUS; i++)); do [ -e "$DIR/dev/gpu$i" ] || mknod "$DIR/dev/gpu$i" c 1 3; done
chown -R slurm:slurm "$DIR"
# munge: one daemon for the machine; start it if none answers.
if ! munge -n > /dev/null 2>&1; then
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null; }
  chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  su -s /bin/sh munge -c /usr/sbin/munged
  for _ in $(seq 50); do munge -n > /dev/null 2>&1 && break; sleep 0.1; done
fi
CPUS=$(nproc)
cat > "$DIR/slurm.conf" <<CONF
ClusterName=awantest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
MpiDefault=none
MinJobAge=3600
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=8000 Gres=gpu:$GPUS State=UNKNOWN
PartitionName=gpu Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
echo "NodeName=$HOST Name=gpu File=$DIR/dev/gpu[0-$((GPUS - 1))]" > "$DIR/gres.conf"
export SLURM_CONF=$DIR/slurm.conf
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do
  if sinfo -h -o %t 2>/dev/null | grep -qE "^idle"; then echo "$HOST"; exit 0; fi
  sleep 0.2
done
echo "slurm-up: the node did not become idle; logs in $DIR/log" >&2
sinfo >&2 || true
exit 1
