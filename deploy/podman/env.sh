# shellcheck shell=bash
# Source this before running podman for ward's pod tests:
#   . deploy/podman/env.sh
# Points podman at deploy/podman/containers.conf unless CONTAINERS_CONF is set.
ward_podman_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$ward_podman_dir/containers.conf}
# The limits in containers.conf must not exceed this shell's hard limits.
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 16384 ]; then
  echo "podman env: ulimit -Hn is $(ulimit -Hn) (< 16384 in $CONTAINERS_CONF): containers will fail to start" >&2
fi
unset ward_podman_dir
