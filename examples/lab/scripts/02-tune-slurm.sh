#!/bin/bash
# HeadNode OnNodeConfigured 2/5: Slurm settings the lab wants on a partition.
# Args: partition, then KEY=VALUE settings for `scontrol update PartitionName=...`.
set -euo pipefail
partition=$1; shift
scontrol update "PartitionName=$partition" "$@"
echo "02-tune-slurm $partition $*" >> /sbo/home/.lab/bootstrap.log
