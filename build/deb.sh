#!/usr/bin/env bash
# make deb: build/out/polycube_<version>_<arch>.deb with dpkg-deb, from the built executable and
# the files of `make install` (build/dist.ts), no network. Files under /usr as Debian wants them;
# the maintainer scripts (pkg/debian/) enable polycubed.service but do not start it.
set -euo pipefail
cd "$(dirname "$0")/.."
BUN=node_modules/.bin/bun
OUT=build/out
version=$($BUN -e 'console.log(require("./package.json").version)')
arch=$(dpkg --print-architecture)
stage=$OUT/deb/root
rm -rf "$OUT/deb" && mkdir -p "$stage/DEBIAN"

# dpkg-shlibdeps reads the executable's libraries (libc6); the others are opened at run time
# (dlopen, by name): libbpf1 (every datapath) and libpcap0.8 (packetcapture's filters). iproute2:
# `ip` moves netdevs and runs shadow namespaces.
shlibs=$(cd "$OUT/deb" && mkdir -p debian && printf 'Source: polycube\n\nPackage: polycube\nArchitecture: any\n' > debian/control &&
  dpkg-shlibdeps -O "../polycube" 2>/dev/null | sed -n 's/^shlibs:Depends=//p') || true
depends="${shlibs:-libc6 (>= 2.34)}, libbpf1 (>= 1:1.1), libpcap0.8 (>= 1.0), iproute2"

install -D -m 0755 "$OUT/polycube" "$stage/usr/bin/polycube"
ln -f "$stage/usr/bin/polycube" "$stage/usr/bin/polycubed"
ln -f "$stage/usr/bin/polycube" "$stage/usr/bin/polycubectl"
$BUN build/dist.ts "$OUT/deb/dist" /usr/bin /etc
install -D -m 0644 "$OUT/deb/dist/polycubed.service" "$stage/lib/systemd/system/polycubed.service"
install -D -m 0644 "$OUT/deb/dist/polycubectl.bash" "$stage/usr/share/bash-completion/completions/polycubectl"
install -D -m 0644 "$OUT/deb/dist/_polycubectl" "$stage/usr/share/zsh/vendor-completions/_polycubectl"
install -D -m 0644 "$OUT/deb/dist/polycubed.conf" "$stage/etc/polycube/polycubed.conf"
install -D -m 0644 pkg/debian/copyright "$stage/usr/share/doc/polycube/copyright"
install -D -m 0644 pkg/debian/lintian-overrides "$stage/usr/share/lintian/overrides/polycube"
date=$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")
printf 'polycube (%s) unstable; urgency=medium\n\n  * Package built from the repository at %s.\n\n -- %s  %s\n' \
  "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(sed -n 's/^Maintainer: //p' pkg/debian/control.in)" "$date" |
  gzip -9n > "$stage/usr/share/doc/polycube/changelog.gz"
chmod 0644 "$stage/usr/share/doc/polycube/changelog.gz"

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" -e "s/@SIZE@/$size/" \
  pkg/debian/control.in > "$stage/DEBIAN/control"
echo /etc/polycube/polycubed.conf > "$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "pkg/debian/$s" "$stage/DEBIAN/$s"; done
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | grep -v '^etc/' | sort | xargs md5sum) > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles"

deb="$OUT/polycube_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz -z1 --build "$stage" "$deb" >/dev/null
echo "$deb"
