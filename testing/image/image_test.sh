#!/usr/bin/env bash
# The container image, built and run here: tools/image/build packs the
# programs this test depends on into an image (podman, Debian 12 base made
# with debootstrap); then central, two CPs (engine and monitor each) and a
# driver run as containers of that image (podman with runc, on the host's
# network), against a real broker on loopback, until the driver has its
# ticket. Also: the containers run as the image's non-root user, on the
# gRPC built for release that the image carries, and the image holds no
# compiler. Runs where podman is (tools/ev setup installs it;
# tools/ev test leaves it out otherwise: tag "podman").
#
# Containers run on these machines with runc rather than crun (which refuses
# cgroups in hybrid mode) and with resource limits at or under the host's
# (its defaults ask for more than an unprivileged root may set).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
runfiles="${TEST_SRCDIR:?}/${TEST_WORKSPACE:-evnet}"
tmp="${TEST_TMPDIR:?}"
tag="localhost/evnet-test:$$"
pids=() container="" started=()
run_flags=(--runtime runc)
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for c in "${started[@]}"; do podman "${run_flags[@]}" rm -f "$c" >/dev/null 2>&1 || true; done
  if [[ -n "$container" ]]; then
    podman umount "$container" >/dev/null 2>&1 || true
    podman rm -f "$container" >/dev/null 2>&1 || true
  fi
  podman rmi -f "$tag" >/dev/null 2>&1 || true
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# Waits up to $1 seconds for the command after it to succeed.
within() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# --- the image -----------------------------------------------------------------
programs="$tmp/programs"
mkdir -p "$programs/share"
cp "$runfiles/central/server" "$programs/central"
cp "$runfiles/cp_engine/engine" "$programs/cp_engine"
cp "$runfiles/cp_monitor/monitor" "$programs/cp_monitor"
cp "$runfiles/driver/driver" "$programs/driver"
cp "$runfiles/tools/evctl/evctl" "$programs/evctl"
cp "$runfiles/ocpp_gateway/ocpp_gateway" "$programs/ocpp_gateway"
cp -rL "$runfiles/central/dashboard" "$programs/share/dashboard"
mkdir -p "$programs/share/driver-examples"
# gRPC built for release (tools/ev test builds it once, and names it here).
grpc_libs="${EVNET_GRPC_RELEASE_LIBS:-}"
[[ -n "$grpc_libs" && -d "$grpc_libs" ]] ||
  fail "EVNET_GRPC_RELEASE_LIBS names no folder ('$grpc_libs'): run tools/ev test, which builds gRPC for release once"
"$runfiles/tools/image/build" --programs "$programs" --grpc_libs "$grpc_libs" --tag "$tag" ||
  fail "the image did not build"

user=$(podman image inspect --format '{{.Config.User}}' "$tag")
echo "image user: $user"
[[ "$user" == 65532:65532 ]] || fail "the image runs as '$user', not 65532:65532"
container=$(podman create "$tag")
rootfs=$(podman mount "$container")
for compiler in gcc cc g++ c++ clang clang++ cpp as ld make bazel; do
  for dir in usr/bin bin usr/local/bin; do
    [[ ! -e "$rootfs/$dir/$compiler" ]] || fail "the image holds /$dir/$compiler"
  done
done
ls "$rootfs"/usr/lib/gcc/x86_64-linux-gnu/*/cc1 >/dev/null 2>&1 && fail "the image holds cc1"
echo "no compiler in the image"

# --- a network of the image's containers ----------------------------------------
podman umount "$container" >/dev/null
work="$tmp/work"
mkdir -p "$work"
chown 65532:65532 "$work"
printf 'CP-001\nCP-002\n' >"$work/alice.txt"
limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=4096:4096")
as_image() {  # name, program and its arguments: a container of the image
  local name="evnet-test-$$-$1"
  shift
  podman "${run_flags[@]}" run -d --name "$name" --network host "${limits[@]}" \
    -v "$work:/work" "$tag" "$@" >/dev/null
  started+=("$name")
}
logs() { podman logs "evnet-test-$$-$1" 2>&1; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kafka=$(port) grpc=$(port) http=$(port) e1=$(port) e2=$(port)

"$runfiles/tools/kafka/broker" --port "$kafka" --data-dir "$tmp/kafka" >"$tmp/kafka.log" 2>&1 &
pids+=($!)
within 90 kcat -L -b "127.0.0.1:$kafka" -m 1 || fail "the broker did not start: $(tail -5 "$tmp/kafka.log")"

as_image central /usr/local/bin/central --insecure --grpc_port="$grpc" --http_port="$http" \
  --kafka_bootstrap="127.0.0.1:$kafka" --print_table=false
within 60 curl -sf "http://127.0.0.1:$http/readyz" || fail "central did not get ready: $(logs central | tail -5)"
for n in 1 2; do
  engine_port=$([[ $n == 1 ]] && echo "$e1" || echo "$e2")
  as_image "engine-$n" /usr/local/bin/cp_engine --insecure --cp_id="CP-00$n" \
    --listen="127.0.0.1:$engine_port" --kafka_bootstrap="127.0.0.1:$kafka" \
    --state_dir="/work/engine-$n" --session_duration=3s
  as_image "monitor-$n" /usr/local/bin/cp_monitor --insecure --cp_id="CP-00$n" \
    --engine_address="127.0.0.1:$engine_port" --central_address="127.0.0.1:$grpc"
done
as_image driver /usr/local/bin/driver --insecure --driver_id=driver-alice \
  --requests=/work/alice.txt --kafka_bootstrap="127.0.0.1:$kafka" --state_dir=/work/drivers
driver_has_ticket() { logs driver | grep -q "Ticket: CP-001"; }
within 120 driver_has_ticket || {
  for f in central engine-1 monitor-1 driver; do echo "--- $f"; logs "$f" | tail -5; done
  fail "driver-alice got no ticket from CP-001"
}
logs driver | grep "Ticket:"
# Every program ran as the image's user, not root, on the gRPC built for
# release (the libraries it mapped), not on Debian's.
for c in "${started[@]}"; do
  pid=$(podman "${run_flags[@]}" inspect --format '{{.State.Pid}}' "$c")
  uid=$(awk '/^Uid:/{print $2}' "/proc/$pid/status")
  [[ "$uid" == 65532 ]] || fail "$c runs as uid $uid"
  grep -q '/usr/local/lib/evnet-grpc/libgrpc++\.so' "/proc/$pid/maps" ||
    fail "$c does not run on the gRPC built for release: $(grep -o '/[^ ]*libgrpc++[^ ]*' "/proc/$pid/maps" | sort -u)"
done
echo "every container runs on /usr/local/lib/evnet-grpc"
echo "PASS: central, two CPs and a driver ran as containers of the image; a ticket came"
