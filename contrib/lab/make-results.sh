#!/usr/bin/env bash
# Regenerates the figures of contrib/lab/RESULTS.md: the validation
# checks (tests/lab/lab_validate, printed to results.txt) and the plots,
# each from one `tcpu lab --plot` run in virtual time.  Needs a build
# (default build/) and gnuplot (Debian: apt-get install gnuplot-nox);
# CI needs neither, the PNGs are committed.
#
#   bash contrib/lab/make-results.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
tcpu="$build/cli/tcpu"
command -v gnuplot >/dev/null || { echo "gnuplot is needed" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/tcpu-results.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$top"

"$build/tests/lab/lab_validate" | tee "$here/results.txt"

# name, figures to keep, then the tcpu lab arguments.
plot() {
  local name=$1 keep=$2
  shift 2
  echo "== $name: tcpu lab $*" | tee -a "$here/results.txt"
  "$tcpu" lab "$@" --plot "$work/$name" | tee -a "$here/results.txt"
  for f in $keep; do
    cp "$work/$name/$f.png" "$here/$name-$f.png"
  done
}

{
plot cubic-bbr "throughput cwnd delay" \
  --link rate=100mbit,delay=20ms,loss=0.01,queue=1bdp \
  --flow cc=cubic,start=0,duration=30s --flow cc=bbr,start=5s,duration=25s \
  --seed 1
plot fairness "throughput" \
  --link rate=50mbit,delay=20ms,queue=1bdp \
  --flow cc=cubic,duration=60s --flow cc=cubic,start=5s,duration=55s --seed 1
plot ledbat "throughput delay" \
  --link rate=20mbit,delay=20ms,queue=6bdp \
  --flow cc=ledbat,duration=60s --flow cc=cubic,start=10s,duration=50s --seed 1
plot cubic-curve "cwnd" --interval 10ms \
  --link rate=100mbit,delay=50ms,queue=none,drop_at=0.6s \
  --flow cc=cubic,duration=16s --seed 1
plot droptail "delay" --link rate=20mbit,delay=20ms,queue=10bdp \
  --flow cc=cubic,duration=30s --flow cc=bbr,start=10s,duration=20s --seed 1
plot codel "delay" --link rate=20mbit,delay=20ms,queue=10bdp,aqm=codel \
  --flow cc=cubic,duration=30s --flow cc=bbr,start=10s,duration=20s --seed 1
plot lte "throughput delay" \
  --link trace=contrib/traces/lte-like.trace,delay=20ms,queue=4bdp \
  --flow cc=cubic,duration=60s --flow cc=bbr,duration=60s --seed 1
} 2>&1
echo "figures written to contrib/lab/"
