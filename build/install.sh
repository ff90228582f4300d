#!/usr/bin/env bash
# make install / make uninstall. Every file installed is listed in a manifest
# ($PREFIX/share/polycube/installed-files) with the directories it had to create ("dir PATH"),
# and uninstall removes exactly those files, then those directories if they are empty. The configuration file is installed only when there is none, so
# a reinstall keeps the administrator's settings; it is removed only if an install put it there.
#   build/install.sh install|uninstall   (environment: DESTDIR PREFIX SYSCONFDIR UNITDIR BASHCOMPDIR ZSHCOMPDIR DIST OUT)
set -euo pipefail
: "${DESTDIR:=}" "${PREFIX:=/usr/local}" "${SYSCONFDIR:=/etc}" "${OUT:=build/out}" "${DIST:=build/out/dist}"
: "${UNITDIR:=$PREFIX/lib/systemd/system}" "${BASHCOMPDIR:=$PREFIX/share/bash-completion/completions}"
: "${ZSHCOMPDIR:=$PREFIX/share/zsh/site-functions}"
manifest="$PREFIX/share/polycube/installed-files"
conf="$SYSCONFDIR/polycube/polycubed.conf"

dirs() { # the missing directories above a path, outermost first, created and recorded
  local d=$(dirname "$1") missing=()
  while [ "$d" != / ] && [ ! -d "$DESTDIR$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
  for d in "${missing[@]}"; do mkdir "$DESTDIR$d"; lines+=("dir $d"); done
}
put() { # mode source destination
  dirs "$3"
  install -m "$1" "$2" "$DESTDIR$3"
  lines+=("$3")
}

case "${1:-}" in
install)
  [ -z "$DESTDIR" ] || mkdir -p "$DESTDIR"
  lines=()
  # Directories an earlier install created stay ours.
  [ -f "$DESTDIR$manifest" ] && mapfile -t lines < <(grep '^dir ' "$DESTDIR$manifest")
  dirs "$manifest"
  put 0755 "$OUT/polycube" "$PREFIX/bin/polycube"
  for l in polycubed polycubectl; do
    ln -f "$DESTDIR$PREFIX/bin/polycube" "$DESTDIR$PREFIX/bin/$l"
    lines+=("$PREFIX/bin/$l")
  done
  put 0644 "$DIST/polycubed.service" "$UNITDIR/polycubed.service"
  put 0644 "$DIST/polycubectl.bash" "$BASHCOMPDIR/polycubectl"
  put 0644 "$DIST/_polycubectl" "$ZSHCOMPDIR/_polycubectl"
  if [ ! -e "$DESTDIR$conf" ]; then
    put 0644 "$DIST/polycubed.conf" "$conf"
  elif [ -f "$DESTDIR$manifest" ] && grep -qxF "$conf" "$DESTDIR$manifest"; then
    lines+=("$conf") # put there by an earlier install: still ours
  else
    echo "install: keeping the existing $conf"
  fi
  lines+=("$manifest")
  printf '%s\n' "${lines[@]}" | awk '!seen[$0]++' > "$DESTDIR$manifest"
  if [ -z "$DESTDIR" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
  ;;
uninstall)
  if [ ! -f "$DESTDIR$manifest" ]; then
    echo "uninstall: no $DESTDIR$manifest: nothing installed under PREFIX=$PREFIX" >&2
    exit 0
  fi
  mapfile -t files < <(grep -v '^dir ' "$DESTDIR$manifest")
  mapfile -t made < <(grep '^dir ' "$DESTDIR$manifest" | sed 's/^dir //' | sort -ru)
  for f in "${files[@]}"; do rm -f "$DESTDIR$f"; done
  for d in "${made[@]}"; do rmdir "$DESTDIR$d" 2>/dev/null || true; done
  if [ -z "$DESTDIR" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
  ;;
*) echo "usage: $0 install|uninstall" >&2; exit 2 ;;
esac
