#!/bin/bash
# HeadNode OnNodeConfigured 4/5: a small service that keeps running on the head node.
# Arg: the service name (it writes a heartbeat file under /sbo/home/.lab).
set -euo pipefail
name=$1
nohup bash -c "while true; do date -u +%FT%TZ > /sbo/home/.lab/$name.heartbeat; sleep 5; done" \
  >/dev/null 2>&1 &
echo "04-start-services $*" >> /sbo/home/.lab/bootstrap.log
