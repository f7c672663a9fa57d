#!/usr/bin/env bash
# SFTP destination benchmark: (a) one 1 GiB raw file and (b) an OME-Zarr-like folder of 2,000
# chunk files of 100 KiB (20 folders) sent to a throwaway OpenSSH sshd on 127.0.0.1, by
# scopeflow's SftpDestination (put = send + fsync + read back + hash + rename; also with
# remote_sha256, where sha256sum runs on the server) and by `rclone copy --checksum` (which
# checks with md5sum/sha1sum run on the server; told the shell type so it does not probe), same
# data, same server, same run. Other load on the machine shows in the figures: run it alone.
# Prints markdown rows for BENCHMARKS.md (MB = 10^6 bytes; wall time of the copy alone).
#   bash benches/transfer_sftp.sh
# Needs: sshd (openssh-server), rclone, ssh-keygen. Env: SCOPEFLOW_BENCH_DIR (scratch, default
# ${TMPDIR:-/tmp}/scopeflow-bench-sftp; needs ~3.5 GB), SCOPEFLOW_BENCH_PARALLEL (default 4).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scratch=${SCOPEFLOW_BENCH_DIR:-${TMPDIR:-/tmp}/scopeflow-bench-sftp}
parallel=${SCOPEFLOW_BENCH_PARALLEL:-4}
sshd=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$sshd" ] || { echo "sshd not found: apt-get install -y openssh-server" >&2; exit 1; }
command -v rclone >/dev/null || { echo "rclone not found: apt-get install -y rclone" >&2; exit 1; }

cargo build --release -p scopeflow-sftp --example sftp_put >&2
bin=${CARGO_TARGET_DIR:-$repo/target}/release/examples/sftp_put

rm -rf "$scratch/keys" "$scratch/served"
mkdir -p "$scratch/keys" "$scratch/src" "$scratch/served"
keys=$scratch/keys
ssh-keygen -q -t ed25519 -N '' -f "$keys/host" -C bench
ssh-keygen -q -t ed25519 -N '' -f "$keys/user" -C bench
cp "$keys/user.pub" "$keys/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$keys/host.pub")" > "$keys/known_hosts"
user=$(id -un)
cat > "$keys/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $keys/host
PidFile $keys/sshd.pid
AuthorizedKeysFile $keys/authorized_keys
StrictModes no
PermitRootLogin yes
UsePAM no
PasswordAuthentication no
Subsystem sftp internal-sftp
LogLevel ERROR
MaxStartups 64
CONF
mkdir -p /run/sshd 2>/dev/null || true
"$sshd" -D -e -f "$keys/sshd_config" &
sshd_pid=$!
trap 'kill $sshd_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

big=$scratch/src/big.raw
if [ "$(stat -c %s "$big" 2>/dev/null || echo 0)" != 1073741824 ]; then
  head -c 1073741824 /dev/urandom > "$big"
fi
zarr=$scratch/src/bench.ome.zarr
if [ "$(find "$zarr" -type f 2>/dev/null | wc -l)" != 2000 ]; then
  rm -rf "$zarr"
  for d in $(seq 0 19); do
    mkdir -p "$zarr/0/c/$d"
    head -c $((100 * 102400)) /dev/urandom | split -b 102400 -d -a 3 - "$zarr/0/c/$d/"
  done
fi
zarr_bytes=$(du -sb --apparent-size "$zarr" | cut -f1)
cat "$big" "$zarr"/0/c/*/* > /dev/null   # both start from the page cache

root=$scratch/served/root
fresh() { rm -rf "$root"; mkdir -p "$root"; sync; }
now() { date +%s.%N; }
row() { # label bytes seconds
  printf '| %s | %s | %.1f s | %.0f MB/s |\n' "$1" "$2" "$3" "$(echo "$4 / $3 / 1000000" | bc -l)"
}
ours() { # label source rel mode
  fresh
  local out; out=$("$bin" 127.0.0.1 "$port" "$user" "$keys/user" "$keys/known_hosts" "$root" "$2" "$3" "$parallel" "$4")
  local s; s=$(sed -E 's/.*put_s=([0-9.]+).*/\1/' <<<"$out")
  local b; b=$(sed -E 's/.*bytes=([0-9]+).*/\1/' <<<"$out")
  row "$1" "$5" "$s" "$b"
  echo "   $1: $out" >&2
}
theirs() { # label source remote-subpath bytes data-label [rclone flags…]
  fresh
  local t0; t0=$(now)
  rclone copy --transfers "$parallel" --checkers 8 "$2" ":sftp:$root/$3" \
    --sftp-host 127.0.0.1 --sftp-port "$port" --sftp-user "$user" \
    --sftp-key-file "$keys/user" --sftp-known-hosts-file "$keys/known_hosts" \
    --sftp-shell-type unix --sftp-md5sum-command md5sum --sftp-sha1sum-command sha1sum \
    -q "${@:6}" >&2
  local t1; t1=$(now)
  row "$1" "$5" "$(echo "$t1 - $t0" | bc -l)" "$4"
}

echo "Machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); loopback sshd $("$sshd" -V 2>&1 | head -1); $(rclone version | head -1); parallel $parallel"
echo
echo '| tool | data | time | throughput |'
echo '| --- | --- | --- | --- |'
ours   "scopeflow sftp (read back)"       "$big"  raw/big.raw        ""       "1 GiB file"
ours   "scopeflow sftp (remote_sha256)"   "$big"  raw/big.raw        remote   "1 GiB file"
theirs "rclone copy --checksum"           "$big"  raw                1073741824 "1 GiB file" --checksum
ours   "scopeflow sftp (read back)"       "$zarr" ome-zarr/b.ome.zarr ""      "2,000 × 100 KiB"
ours   "scopeflow sftp (remote_sha256)"   "$zarr" ome-zarr/b.ome.zarr remote  "2,000 × 100 KiB"
theirs "rclone copy --checksum"           "$zarr" ome-zarr/b.ome.zarr "$zarr_bytes" "2,000 × 100 KiB" --checksum
# For scale: rclone without running md5sum/sha1sum on the server (sizes only, nothing verified).
theirs "rclone copy (no hash check)"       "$zarr" ome-zarr/b.ome.zarr "$zarr_bytes" "2,000 × 100 KiB" --sftp-disable-hashcheck
rm -rf "$root"
