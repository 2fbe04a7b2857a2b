#!/bin/bash
# HeadNode OnNodeConfigured 3/5: an sshd drop-in for the lab's port. Arg: the port.
set -euo pipefail
mkdir -p /etc/ssh/sshd_config.d
printf 'Port %s\nPasswordAuthentication no\n' "$1" > /etc/ssh/sshd_config.d/lab.conf
echo "03-setup-sshd $*" >> /sbo/home/.lab/bootstrap.log
