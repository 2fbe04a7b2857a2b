#!/bin/bash
# HeadNode OnNodeConfigured 5/5: record that the head node is configured. Arg: a status word.
set -euo pipefail
. /etc/parallelcluster/cfnconfig
echo "$1 $stack_name $cfn_node_type $(hostname)" > /sbo/home/.lab/head-status
echo "05-report $*" >> /sbo/home/.lab/bootstrap.log
