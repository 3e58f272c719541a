#!/bin/sh
# deploy/container/rootfs.sh BIN ROOTFS: the runtime image's whole file system, for a FROM
# scratch stage (deploy/Containerfile): BIN stripped at /usr/local/bin/numaload, every shared
# library `ldd BIN` lists copied to the same path (the loader too), an empty /tmp, and the
# numaload user (65532) in /etc/passwd and /etc/group. The walk is the one tests/numa-vm/run.sh
# does; tests/package/run.sh runs this script on the host's binary and starts the result in a
# chroot as 65532, since no container builder runs on the project's machines.
set -eu
BIN=$1; ROOTFS=$2
ldd_out=$(ldd "$BIN")
if printf '%s\n' "$ldd_out" | grep -q "not found"; then
  echo "rootfs.sh: ldd $BIN: a library is missing: $ldd_out" >&2; exit 1
fi
mkdir -p "$ROOTFS/usr/local/bin" "$ROOTFS/etc" "$ROOTFS/tmp"
chmod 1777 "$ROOTFS/tmp"
if command -v objcopy >/dev/null; then
  objcopy --strip-debug "$BIN" "$ROOTFS/usr/local/bin/numaload"
else
  cp "$BIN" "$ROOTFS/usr/local/bin/numaload"
fi
printf '%s\n' "$ldd_out" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' |
while read -r lib; do
  mkdir -p "$ROOTFS$(dirname "$lib")"
  cp -L "$lib" "$ROOTFS$lib"
done
# Debian's /lib is a symlink to /usr/lib: ldd names both spellings, keep the link as it is.
for link in lib lib64; do
  if [ -L "/$link" ] && [ -d "$ROOTFS/$link" ] && [ ! -L "$ROOTFS/$link" ]; then
    target=$(readlink "/$link")
    mkdir -p "$ROOTFS/$target"
    cp -a "$ROOTFS/$link/." "$ROOTFS/$target/"
    rm -rf "${ROOTFS:?}/$link"
    ln -s "$target" "$ROOTFS/$link"
  fi
done
echo "numaload:x:65532:65532:numaload agent:/nonexistent:/sbin/nologin" > "$ROOTFS/etc/passwd"
echo "numaload:x:65532:" > "$ROOTFS/etc/group"
