#!/bin/bash
# Queue "cpu" OnNodeConfigured: each compute node records itself. Arg: a status word.
set -euo pipefail
. /etc/parallelcluster/cfnconfig
mkdir -p /sbo/home/.lab/nodes
echo "$1 $cfn_node_type $CORRAL_QUEUE $CORRAL_COMPUTE_RESOURCE $(hostname)" > "/sbo/home/.lab/nodes/$(hostname)"
