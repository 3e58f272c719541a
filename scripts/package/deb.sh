#!/usr/bin/env bash
# scripts/package/deb.sh: builds target/debian/numaload_VERSION_ARCH.deb (`make deb`).
# 1. cargo-deb (crates.io, pinned) if missing; 2. the release binary; 3. target/package/: man
# pages and completions written by that binary from its clap definitions (never checked in),
# the systemd unit from deploy/systemd/ with the packaged paths; 4. cargo deb --no-build
# (contents and dependencies: [package.metadata.deb] in controller/Cargo.toml).
# Prints the path of the .deb on its last line.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd); cd "$ROOT"
CARGO_DEB_VERSION=3.8.0
CARGO=${CARGO:-cargo}

if ! $CARGO deb --version >/dev/null 2>&1; then
  echo "installing cargo-deb $CARGO_DEB_VERSION (crates.io)" >&2
  $CARGO install cargo-deb --locked --version "$CARGO_DEB_VERSION" >&2
fi
$CARGO build --release --locked -p numaload >&2
BIN=$ROOT/target/release/numaload

OUT=$ROOT/target/package; rm -rf "$OUT"; mkdir -p "$OUT/man" "$OUT/completions" "$OUT/systemd"
"$BIN" manpages "$OUT/man"
gzip -9n "$OUT"/man/*.1
"$BIN" completions bash > "$OUT/completions/numaload"
"$BIN" completions zsh > "$OUT/completions/_numaload"
"$BIN" completions fish > "$OUT/completions/numaload.fish"

# The same hardened unit, with the binary where Debian packages put it and the package's
# configuration file (a conffile) read. Anything else in it stays as in deploy/systemd/.
unit=deploy/systemd/numaload-agent.service
exec_start='ExecStart=/usr/local/bin/numaload agent '
grep -q "^$exec_start" "$unit" || { echo "deb.sh: $unit has no '$exec_start...' line" >&2; exit 1; }
sed -e "s|^$exec_start|ExecStart=/usr/bin/numaload agent --config /etc/numaload/agent.toml |" \
    -e 's|/usr/local/bin/numaload|/usr/bin/numaload|g' \
    "$unit" > "$OUT/systemd/numaload.numaload-agent.service"

# Stripped: the release profile keeps line tables (debug = 1), 90 MB of the 95 MB binary.
# cargo-deb warns that the generated assets are outside target/release: they are meant to be.
$CARGO deb -p numaload --no-build --locked --strip 2>&1 >&2 \
  | grep -v -e '^ *$' -e 'are detected as Cargo target dir' >&2 || true
deb=$(ls -t target/debian/numaload_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { echo "deb.sh: cargo deb wrote no package" >&2; exit 1; }
echo "$ROOT/$deb"
