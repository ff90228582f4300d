#!/usr/bin/env bash
# Installs what building, running and testing need, and nothing that is already there.
# Runs on a fresh Debian 12 as root; a second run does no network work.
set -euo pipefail
cd "$(dirname "$0")/.."

# libpcap0.8: packetcapture's filters (pcap_compile); tcpdump: its tests read the capture back.
# wrk and hyperfine: the control-plane rows of `make bench` (REST load, CLI wall time).
# hping3: the firewall test's crafted packets (a bare ACK, an unsolicited echo reply, an ICMP error).
# dpkg-dev, lintian, systemd, zsh: `make deb` and its test (dpkg-shlibdeps, lintian, systemd-analyze verify, zsh completion).
apt_pkgs=(clang-19 llvm-19 libbpf-dev libbpf1 bpftool libyang2 libyang2-tools iproute2 iputils-ping
          ethtool make linux-libc-dev procps wrk hyperfine iptables nftables libpcap0.8 tcpdump hping3
          dpkg-dev lintian systemd zsh)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Bun and the JS libraries come from npm, pinned by package-lock.json.
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
