#!/usr/bin/env bash
# tests/package/run.sh: the Debian package and the container image's file system, for real.
#  1. `make deb`'s script builds target/debian/numaload_*.deb (reusing the release build);
#  2. dpkg -i on this machine (root: CI's is thrown away after the run), then: `numaload
#     --version` names version, commit and dirty flag; the unit is installed, disabled, and
#     passes `systemd-analyze verify`; agent.toml is a conffile and the installed agent starts
#     with it as user numaload; a man page for every subcommand, each pointing to the docs; the
#     completions load; README.md, BENCHMARKS.md, docs/ and examples/ are under
#     /usr/share/doc/numaload/ as in the source tree;
#  3. dpkg --purge (also on failure) leaves no numaload path under /etc /usr /var/lib, and
#     neither the user nor the group;
#  4. no container builder runs here: deploy/container/rootfs.sh (the Containerfile's runtime
#     stage) is run on the same binary, and the result must hold every library ldd lists and
#     run `numaload --version` and `numaload topology` (this host's /proc and /sys) in a chroot
#     as user 65532.
# Refuses to run where numaload is already installed or a numaload user exists (it would purge
# them). Debian, as root.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd); cd "$ROOT"
T0=$(date +%s)
fail() { echo "package test FAILED: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "run as root (dpkg -i, chroot)"
if dpkg-query -W -f='${Status}' numaload 2>/dev/null | grep -q "ok installed\|config-files"; then
  fail "a numaload package is already installed here: purge it first (this test would)"
fi
getent passwd numaload >/dev/null && fail "a numaload user exists here: this test's purge would remove it"
getent group numaload >/dev/null && fail "a numaload group exists here: this test's purge would remove it"
[ ! -e /etc/numaload ] || fail "/etc/numaload exists here: this test's purge would remove it"

numaload_paths() {
  find /etc /usr /var/lib/systemd /var/lib/dpkg/info -xdev -name '*numaload*' 2>/dev/null | sort
}
W=$(mktemp -d /tmp/numaload-package.XXXXXX)
cleanup() {
  local rc=$?
  if dpkg-query -W numaload >/dev/null 2>&1; then dpkg --purge numaload >/dev/null 2>&1 || true; fi
  rm -rf "$W"
  exit $rc
}
trap cleanup EXIT
numaload_paths > "$W/before"

# --- 1. build ----------------------------------------------------------------------------------
deb=$(scripts/package/deb.sh | tail -n 1)
[ -f "$deb" ] || fail "scripts/package/deb.sh named no .deb ($deb)"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
case "$(basename "$deb")" in numaload_"$version"-*_amd64.deb|numaload_"$version"_amd64.deb) ;;
  *) fail "$deb: expected numaload_${version}[-REV]_amd64.deb" ;; esac
depends=$(dpkg-deb -f "$deb" Depends)
grep -q "libhwloc15" <<<"$depends" || fail "Depends: $depends: no libhwloc15"
if grep -Eq -- "-dev\b" <<<"$depends"; then fail "Depends: $depends: a -dev package"; fi
T1=$(date +%s)

# --- 2. install and check ----------------------------------------------------------------------
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" >/dev/null
out=$(/usr/bin/numaload --version)
grep -Eq "^numaload $version \(commit ([0-9a-f]{12}|unknown)(, (clean|dirty))?\)$" <<<"$out" \
  || fail "numaload --version: $out"
[ "$out" = "$(target/release/numaload --version)" ] || fail "installed '$out' is not the built binary"

unit=/usr/lib/systemd/system/numaload-agent.service
[ -f "$unit" ] || fail "no $unit"
grep -q '^ExecStart=/usr/bin/numaload agent --config /etc/numaload/agent.toml ' "$unit" \
  || fail "$unit: ExecStart does not run /usr/bin/numaload with /etc/numaload/agent.toml"
! ls /etc/systemd/system/*.wants/numaload-agent.service >/dev/null 2>&1 \
  || fail "numaload-agent.service was enabled by the install"
verify=$(systemd-analyze verify "$unit" 2>&1 || true)
if grep -q "numaload-agent.service" <<<"$verify"; then fail "systemd-analyze verify $unit: $verify"; fi

dpkg-query -W -f='${Conffiles}\n' numaload | grep -q "^ */etc/numaload/agent.toml " \
  || fail "/etc/numaload/agent.toml is not a conffile"
[ "$(stat -c '%a %U %G' /etc/numaload/tls)" = "750 root numaload" ] \
  || fail "/etc/numaload/tls: $(stat -c '%a %U %G' /etc/numaload/tls), expected 750 root numaload"
# The installed agent, as its user, with the shipped configuration (loopback, no TLS: a check).
runuser -u numaload -- /usr/bin/numaload agent --config /etc/numaload/agent.toml \
  --listen 127.0.0.1:0 --insecure 2> "$W/agent.log" &
agent=$!
for _ in $(seq 50); do grep -q "listening on" "$W/agent.log" && break; sleep 0.1; done
kill "$agent" 2>/dev/null || true; wait "$agent" 2>/dev/null || true
grep -q "listening on" "$W/agent.log" || fail "the installed agent did not start: $(cat "$W/agent.log")"

for page in numaload $(/usr/bin/numaload --help | awk '/^Commands:/{on=1; next} on && /^ *$/{exit} on {print $1}' \
                       | grep -vx help | sed 's/^/numaload-/'); do
  f=/usr/share/man/man1/$page.1.gz
  [ -f "$f" ] || fail "no man page $f"
  zcat "$f" | grep -q '^\.TH' || fail "$f is not a man page"
done
bash -c 'source /usr/share/bash-completion/completions/numaload && complete -p numaload' >/dev/null \
  || fail "the bash completion does not load"
[ -s /usr/share/zsh/vendor-completions/_numaload ] || fail "no zsh completion"
[ -s /usr/share/fish/vendor_completions.d/numaload.fish ] || fail "no fish completion"
[ -s /usr/share/numaload/prometheus/numaload-rules.yml ] || fail "no Prometheus rules"
# The reference and the examples, as in the source tree, where every man page says they are.
doc=/usr/share/doc/numaload
for f in README.md BENCHMARKS.md $(find docs -name '*.md' | sort) $(find examples -type f | sort); do
  [ -f "$doc/$f" ] || fail "no $doc/$f: the package ships README.md, docs/ and examples/"
  cmp -s "$f" "$doc/$f" || fail "$doc/$f differs from $f"
done
for f in /usr/share/man/man1/numaload*.1.gz; do
  for says in "$doc/docs/cli.md" "$doc/docs/plan.md" "$doc/examples/"; do
    zcat "$f" | grep -qF "$says" || fail "$f does not point to $says"
  done
done
T2=$(date +%s)

# --- 3. purge ----------------------------------------------------------------------------------
dpkg --purge numaload >/dev/null
numaload_paths > "$W/after"
left=$(comm -13 "$W/before" "$W/after")
[ -z "$left" ] || fail "purge left: $left"
! getent passwd numaload >/dev/null || fail "purge left the numaload user"
! getent group numaload >/dev/null || fail "purge left the numaload group"
T3=$(date +%s)

# --- 4. the container image's runtime stage ----------------------------------------------------
R=$W/rootfs
BIN=target/release/numaload
deploy/container/rootfs.sh "$BIN" "$R"
while read -r lib; do
  [ -e "$R$lib" ] || fail "the runtime stage lacks $lib (ldd $BIN)"
done < <(ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
extra=$(find "$R" -type f | sed "s|^$R||" | grep -v -e '^/usr/local/bin/numaload$' -e '^/etc/passwd$' \
  -e '^/etc/group$' -e '\.so' || true)
[ -z "$extra" ] || fail "the runtime stage carries more than the binary and its libraries: $extra"
out=$(chroot --userspec=65532:65532 "$R" /usr/local/bin/numaload --version)
[ "$out" = "$(target/release/numaload --version)" ] || fail "in the runtime stage: $out"
mkdir -p "$R/proc" "$R/sys"
topology=$(unshare --mount --propagation private sh -c \
  "mount -t proc proc '$R/proc' && mount --rbind /sys '$R/sys' &&
   chroot --userspec=65532:65532 '$R' /usr/local/bin/numaload topology") \
  || fail "numaload topology in the runtime stage: $topology"
grep -q "NUMA node" <<<"$topology" || fail "numaload topology in the runtime stage: $topology"
T4=$(date +%s)
echo "package test: build $((T1 - T0))s, install and checks $((T2 - T1))s, purge $((T3 - T2))s, runtime stage $((T4 - T3))s"
echo "package test passed"
