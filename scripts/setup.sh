#!/usr/bin/env bash
# Idempotent set-up of Corral on a fresh Debian 12 machine, as root:
#   - Debian's Slurm 22.05 and munge (the local provider runs them), iproute2 and util-linux
#     (namespaces), iptables (the AWS head node test restricts IMDS with it), and python3-venv when
#     the interpreter lacks venv/ensurepip;
#   - a virtualenv in .venv with every Python package pinned in requirements.lock, and Corral itself;
#   - debootstrap, and the local provider's official node image (Debian 13, Slurm 24.11), built once
#     per machine into /var/cache/corral/images and reused by every checkout, state dir and test run.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/setup.sh: run as root (it installs Debian packages): sudo bash $0" >&2
  exit 1
fi

# mariadb-server and slurmdbd: Slurm accounting (a MariaDB stand-in per Database/Uri, slurmdbd on the head)
apt_packages=(munge slurmctld slurmd slurm-client iproute2 util-linux procps iptables debootstrap)
apt_packages+=(mariadb-server slurmdbd)
# e2fsprogs: sized volumes (mkfs.ext4 on a sparse file, mounted through a loop device; debugfs in tests)
apt_packages+=(e2fsprogs)
# the web UI's end-to-end tests: Debian's chromium, driven by Playwright (no browser download)
apt_packages+=(chromium)
# openssh-server: each local cluster runs its own sshd inside its head node's namespaces (`corral ssh`);
# the host's own ssh service is never enabled or started by this script. socat carries the SSH
# connection from the host's ssh client into the head's network namespace (ProxyCommand).
apt_packages+=(openssh-server openssh-client socat)
command -v python3 >/dev/null || apt_packages+=(python3)
command -v python3 >/dev/null && python3 -c 'import ensurepip, venv' 2>/dev/null || apt_packages+=(python3-venv)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  # Corral starts the daemons it needs itself, inside clusters: keep the packages' own services
  # (the machine-wide MariaDB, slurmdbd, munge) from starting while they install.
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
  if [[ " ${missing[*]} " == *" openssh-server "* ]] && command -v systemctl >/dev/null; then
    systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.corral-lock-installed
if [ ! -f "$stamp" ] || ! cmp -s requirements.lock "$stamp"; then
  echo "setup: installing pinned Python packages (requirements.lock)"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock
  cp requirements.lock "$stamp"
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
# Cached by its recipe: instant once built (the first build downloads ~90 MB and takes minutes).
# (called, not run with -m: corral.providers.local imports the module first, and runpy warns)
.venv/bin/python -c 'import sys; from corral.providers.local.images import main; sys.exit(main(["ensure"]))'
# Local clusters come back after a reboot: the first corral command restores the clusters it touches,
# and at boot a oneshot unit restores those of the default state dir (/var/lib/corral) at once.
if [ -d /run/systemd/system ]; then
  sed -e "s#@CORRAL@#$PWD/.venv/bin/corral#" -e "s#@DOCS@#$PWD/docs#" scripts/corral-restore.service.in \
    > /etc/systemd/system/corral-restore.service
  systemctl daemon-reload && systemctl enable -q corral-restore.service
  echo "setup: corral-restore.service enabled (restores /var/lib/corral's local clusters at boot)"
else
  echo "setup: no systemd here: after a reboot the first corral command restores the clusters it" \
    "touches (or run 'corral restore-clusters' from your boot scripts)"
fi
echo "setup: ready ($(.venv/bin/corral --version))"
