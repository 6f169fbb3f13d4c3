#!/usr/bin/env bash
# Installs what the containerd runtime's tests need, from Debian's
# packages, when it is missing: containerd (1.6), runc, the CNI plugins
# (/usr/lib/cni), iptables, iproute2 and a static busybox (test images). Idempotent:
# exits 0 at once when everything is installed. Needs root (or sudo).
set -euo pipefail
need=()
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iptables >/dev/null || need+=(iptables)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -eq 0 ]; then
	echo "install-containerd: already installed ($(containerd --version))"
	exit 0
fi
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "install-containerd: installing ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
containerd --version
