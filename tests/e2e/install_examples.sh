#!/usr/bin/env bash
# install_examples.sh — the installed package works for an application:
#
#   1. `cmake --install` the build tree into a temporary prefix and check the
#      headers, libtcpu.so (SONAME libtcpu.so.0), libtcpu.a, libtcpu.pc and
#      the CMake package files are there;
#   2. build libtcpu/examples against that prefix with find_package(libtcpu),
#      and echo_client once more through pkg-config (shared) and once with
#      `pkg-config --static` against libtcpu.a;
#   3. run echo_server with the three echo_clients, stop it with SIGTERM
#      (it must exit 0), and copy a 3 MB file with file_send;
#   4. run the installed `tcpu rendezvous` and two nat-connect that meet
#      through it and swap files both ways, in plain and in sealed mode.
#
# usage: install_examples.sh BUILD_DIR SOURCE_DIR WORK_DIR C_COMPILER [C_FLAGS]
set -euo pipefail

build=$1 src=$2 work=$3 cc=$4 flags=${5:-}
prefix=$work/prefix
srv_pid= rcv_pid= rdv_pid= nat_pid=
cleanup() {
  # Only the processes this script started, if they are still running.
  for pid in $srv_pid $rcv_pid $rdv_pid $nat_pid; do
    kill "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
step() { printf 'install_examples: %s\n' "$*"; }

rm -rf "$work"
mkdir -p "$work"

step "cmake --install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
so=$(find "$prefix" -name libtcpu.so.0 -print -quit)
[[ -n $so ]] || { echo "libtcpu.so.0 not installed" >&2; exit 1; }
libdir=$(dirname "$so")
for f in "$prefix"/include/tcpu/{tcpu.h,tcpu_cc.h,tcpu_uv.h} "$libdir/libtcpu.a" \
  "$libdir/libtcpu.so" "$libdir/pkgconfig/libtcpu.pc" \
  "$libdir/cmake/libtcpu/libtcpuConfig.cmake" \
  "$libdir/cmake/libtcpu/libtcpuConfigVersion.cmake"; do
  [[ -e $f ]] || { echo "missing: $f" >&2; exit 1; }
done
soname=$(readelf -d "$libdir/libtcpu.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[[ $soname == libtcpu.so.0 ]] || { echo "SONAME is '$soname'" >&2; exit 1; }

step "examples with find_package(libtcpu)"
cmake -S "$src/libtcpu/examples" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$flags -Wall -Wextra -Werror" \
  >"$work/configure.log"
cmake --build "$work/build" >"$work/build.log"

step "echo_client with pkg-config (shared and --static)"
export PKG_CONFIG_PATH=$libdir/pkgconfig
# shellcheck disable=SC2046,SC2086
"$cc" $flags -Wall -Wextra -Werror "$src/libtcpu/examples/echo_client.c" \
  $(pkg-config --cflags --libs libtcpu) -Wl,-rpath,"$libdir" \
  -o "$work/echo_client_pc"
static_libs=$(pkg-config --static --libs libtcpu)
# shellcheck disable=SC2086
"$cc" $flags -Wall -Wextra -Werror "$src/libtcpu/examples/echo_client.c" \
  $(pkg-config --cflags libtcpu) ${static_libs/-ltcpu/-l:libtcpu.a} \
  -o "$work/echo_client_static"
if readelf -d "$work/echo_client_static" | grep -q 'libtcpu\.so'; then
  echo "echo_client_static needs libtcpu.so" >&2
  exit 1
fi

step "echo_server + echo_client"
coproc SRV { exec "$work/build/echo_server" 127.0.0.1 0; }
srv_pid=$SRV_PID
read -r -t 20 line <&"${SRV[0]}"
port=$(sed -n 's/.*UDP port \([0-9]*\),.*/\1/p' <<<"$line")
[[ -n $port ]] || { echo "echo_server said: $line" >&2; exit 1; }
timeout 60 "$work/build/echo_client" 127.0.0.1 "$port"
timeout 60 "$work/echo_client_pc" 127.0.0.1 "$port" "hello, libtcpu"
timeout 60 "$work/echo_client_static" 127.0.0.1 "$port"
kill -TERM "$srv_pid"
wait "$srv_pid" || { echo "echo_server exited with $?" >&2; exit 1; }
srv_pid=

step "file_send"
head -c 3000000 /dev/urandom >"$work/in.bin"
coproc RCV { exec "$work/build/file_send" recv "$work/out.bin"; }
rcv_pid=$RCV_PID
read -r -t 20 line <&"${RCV[0]}"
port=$(sed -n 's/.*UDP port \([0-9]*\).*/\1/p' <<<"$line")
[[ -n $port ]] || { echo "file_send said: $line" >&2; exit 1; }
timeout 60 "$work/build/file_send" send "$work/in.bin" "$port"
wait "$rcv_pid" || { echo "file_send recv exited with $?" >&2; exit 1; }
rcv_pid=
cmp "$work/in.bin" "$work/out.bin"

step "nat-connect through tcpu rendezvous"
tcpu=$prefix/bin/tcpu
"$tcpu" rendezvous --listen 127.0.0.1:0 --json-stats >"$work/rdv.json" \
  2>"$work/rdv.log" &
rdv_pid=$!
for _ in $(seq 200); do # up to 20 s for the port it picked
  grep -q 'listening on' "$work/rdv.log" && break
  sleep 0.1
done
rport=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/rdv.log")
[[ -n $rport ]] || { cat "$work/rdv.log" >&2; exit 1; }
head -c 300000 /dev/urandom >"$work/alice.bin"
head -c 200000 /dev/urandom >"$work/bob.bin"
nat=$work/build/nat-connect
meet() { # MODE: plain or sealed; each side sends its file, gets the other's
  local a_args=(alice bob) b_args=(bob alice) a_key=() b_key=()
  if [[ $1 == sealed ]]; then
    "$tcpu" genkey >"$work/alice.key"
    "$tcpu" genkey >"$work/bob.key"
    a_key=(-k "$work/alice.key") b_key=(-k "$work/bob.key")
    a_args=(- "$("$tcpu" pubkey <"$work/bob.key")")
    b_args=(- "$("$tcpu" pubkey <"$work/alice.key")")
  fi
  timeout 60 "$nat" "${a_key[@]}" "127.0.0.1:$rport" "${a_args[@]}" 4000 \
    <"$work/alice.bin" >"$work/from-bob.$1" 2>"$work/alice.$1.log" &
  nat_pid=$!
  timeout 60 "$nat" "${b_key[@]}" "127.0.0.1:$rport" "${b_args[@]}" 4000 \
    <"$work/bob.bin" >"$work/from-alice.$1" 2>"$work/bob.$1.log"
  wait "$nat_pid" || { cat "$work/alice.$1.log" >&2; exit 1; }
  nat_pid=
  cmp "$work/alice.bin" "$work/from-alice.$1"
  cmp "$work/bob.bin" "$work/from-bob.$1"
}
meet plain
meet sealed
kill -TERM "$rdv_pid"
wait "$rdv_pid" || { echo "tcpu rendezvous exited with $?" >&2; exit 1; }
rdv_pid=
grep -q '"found":[1-9]' "$work/rdv.json" || { cat "$work/rdv.log" >&2; exit 1; }
step ok
