#!/usr/bin/env bash
# Prints ward's Kubernetes manifests with the cluster's one-time settings
# filled in, for `kubectl apply -f -`. The image is one setting here: it goes
# into the webhook Deployment, the ward server DaemonSet and the injector
# config (the image injected into every pod), which must all agree.
#
#   deploy/kubernetes/render.sh [--image IMAGE] [--mesh-cidrs CIDRS] [--ward-server] | kubectl apply -f -
#
#   --image IMAGE       the ward image (ghcr.io/ward-mesh/ward:0.1.0)
#   --mesh-cidrs CIDRS  the cluster's pod CIDRs, comma-separated: the mesh scope
#                       every injected proxy gets (the private ranges)
#   --ward-server       identities from ward server (server.yaml) instead of
#                       SPIRE: adds the DaemonSet and points the injector at its
#                       socket. Make the Secret ward-upstream-ca first
#                       (upstream-ca.sh).
# Printed: namespace.yaml, injector-config.yaml, webhook.yaml (and server.yaml).
# Then run webhook-cert.sh, and apply agent-config.yaml in each meshed namespace.
set -euo pipefail

default_image=ghcr.io/ward-mesh/ward:0.1.0
image=$default_image cidrs= server=0
while [ $# -gt 0 ]; do
  case $1 in
    --image) image=$2; shift 2 ;;
    --mesh-cidrs) cidrs=$2; shift 2 ;;
    --ward-server) server=1; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "render.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case $image in
  '' | *[!A-Za-z0-9./:@_-]*) echo "render.sh: --image '$image' is not an image reference" >&2; exit 2 ;;
esac
case $cidrs in
  *[!0-9a-fA-F.:/,]*) echo "render.sh: --mesh-cidrs '$cidrs' is not a list of CIDRs" >&2; exit 2 ;;
esac

dir=$(cd "$(dirname "$0")" && pwd)
files=("$dir/namespace.yaml" "$dir/injector-config.yaml" "$dir/webhook.yaml")
[ "$server" = 0 ] || files+=("$dir/server.yaml")
first=1
for f in "${files[@]}"; do
  [ "$first" = 1 ] || echo ---
  first=0
  sed -e "s|$default_image|$image|g" \
    -e "${cidrs:+s|\"mesh_cidrs\": \"[^\"]*\"|\"mesh_cidrs\": \"$cidrs\"|}" \
    -e "$([ "$server" = 1 ] && echo 's|^\( *\)"agent_config_map": |\1"workload_socket_hostpath": "/run/ward/sockets",\n&|')" \
    "$f"
done
