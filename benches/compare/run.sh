#!/usr/bin/env bash
# faultline next to sentry 0.49.5, everything measured in this one run:
#  1. the comparison binary: per-call costs (captures, breadcrumbs, spans and transactions), first capture after
#     init, end-to-end events per second to a loopback server, and peak memory of a 10,000-event burst, for
#     faultline, sentry and a bare backtrace walk. It links both SDKs, so Cargo unifies their features (sentry's
#     regexes get faultline's `regex` engines, its ureq faultline's TLS code); it therefore first builds the programs
#     built alone, packages of their own with their own lock files (alone-sentry/, and alone-faultline/ with its
#     default features and with sentry's configuration's capabilities, each into its own target/ directory), and
#     runs them next to its own figures: sentry's capture_error, both SDKs end to end, and the peak memory of all
#     three;
#  2. a hello-world per SDK: crates in its dependency tree, a clean release build's time and units, and the stripped
#     binary's size. sentry is built as configured in Cargo.toml (its `ureq` feature brings no TLS) and with
#     `rustls`; faultline with its default features (HTTPS through rustls, `log`, the panic hook), with the same
#     capabilities as sentry's configuration (plain HTTP and the panic hook), and without any transport.
#
# Usage: benches/compare/run.sh   (honours CARGO_TARGET_DIR, except for the programs built alone; JOBS sets cargo's
# -j, 2 by default, for them too). About ten minutes on two cores, most of it the three clean builds, and the first
# time a few more minutes to build the programs built alone.
set -euo pipefail
# A failed build inside `results=$(…)` below must stop the script, not print zeros.
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/target}"
jobs="${JOBS:-2}"
# The job count for cargo when the comparison binary builds the programs built alone.
export CARGO_BUILD_JOBS="$jobs"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) memory"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC'); $(rustc --version)"
# The machine may be shared: the load before and after says how much other work ran alongside.
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the start"
echo

cargo build --release --locked -j "$jobs" --quiet --manifest-path "$here/Cargo.toml" --target-dir "$target"
"$target/release/faultline-compare"
echo

# One hello-world: prints name, crates, units, seconds, stripped bytes.
measure() {
    local name=$1 crate=$2 bin=$3
    shift 3
    local dir="$here/$crate" out="$target/hello/$name"
    cargo fetch --locked --quiet --manifest-path "$dir/Cargo.toml"
    local crates
    crates=$(cd "$dir" && cargo tree --locked -e normal --prefix none "$@" | sed 's/ (\*)$//' | sort -u | wc -l)
    cargo clean --quiet --manifest-path "$dir/Cargo.toml" --target-dir "$out"
    mkdir -p "$out"
    local start end
    start=$(date +%s.%N)
    cargo build --release --locked --offline -j "$jobs" --manifest-path "$dir/Cargo.toml" --target-dir "$out" "$@" \
        >"$out/build.log" 2>&1 || {
        echo "error: building $name failed (after a dependency change of faultline, refresh the lock file:" \
            "cargo update --manifest-path $dir/Cargo.toml -p faultline):" >&2
        tail -5 "$out/build.log" >&2
        return 1
    }
    end=$(date +%s.%N)
    local units
    units=$(grep -c '^ *Compiling' "$out/build.log")
    cp "$out/release/$bin" "$out/$bin.stripped"
    strip "$out/$bin.stripped"
    echo "$name $crates $units $(echo "$end - $start" | bc) $(stat -c %s "$out/$bin.stripped")"
}

echo "hello-world with each SDK: cargo tree -e normal crates (deduplicated, the program itself included), units"
echo "compiled by a clean 'cargo build --release -j $jobs' (build scripts and proc-macros included), its wall time,"
echo "and the stripped binary"
results=$(
    measure faultline hello-faultline hello-faultline
    measure faultline-http hello-faultline hello-faultline --no-default-features --features http
    measure faultline-no-http hello-faultline hello-faultline --no-default-features
    measure sentry hello-sentry hello-sentry
    measure sentry+rustls hello-sentry hello-sentry --features tls
)
echo "$results" | awk '
    { name[NR] = $1; crates[NR] = $2; units[NR] = $3; secs[NR] = $4; bytes[NR] = $5; at[$1] = NR }
    function versus(a, b) {
        printf "  %-17s / %-13s crates %.2f×, units %.2f×, build time %.2f×, size %.2f×\n", name[a], name[b],
            crates[a] / crates[b], units[a] / units[b], secs[a] / secs[b], bytes[a] / bytes[b]
    }
    END {
        printf "  %-17s %7s %7s %10s %12s\n", "program", "crates", "units", "build s", "stripped KiB"
        for (i = 1; i <= NR; i++)
            printf "  %-17s %7d %7d %10.1f %12.0f\n", name[i], crates[i], units[i], secs[i], bytes[i] / 1024
        print "  same capabilities (plain HTTP, panic hook; neither has TLS), then both with HTTPS through rustls:"
        versus(at["faultline-http"], at["sentry"])
        versus(at["faultline"], at["sentry+rustls"])
        print "  faultline with all its default features against sentry as configured, and faultline without HTTP:"
        versus(at["faultline"], at["sentry"])
        versus(at["faultline-no-http"], at["sentry"])
    }'
echo
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the end"
