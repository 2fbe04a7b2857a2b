#!/bin/bash
# HeadNode OnNodeConfigured 1/5: the lab's users, each with a home on the shared EFS (/sbo/home).
# Args: user names. With the local provider /etc is the node's own (an overlay), so useradd never
# touches the machine running the cluster.
set -euo pipefail
. /etc/parallelcluster/cfnconfig
mkdir -p /sbo/home/.lab
for user in "$@"; do
  id "$user" >/dev/null 2>&1 || useradd --no-create-home --home-dir "/sbo/home/$user" --shell /bin/bash "$user"
  mkdir -p "/sbo/home/$user"
  chown "$user": "/sbo/home/$user"
done
echo "01-create-users $* on $cfn_node_type" >> /sbo/home/.lab/bootstrap.log
