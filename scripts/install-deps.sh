#!/usr/bin/env bash
# What the build and the tests need from outside cargo, installed only when missing: Debian
# packages (each with the check that says it is missing) and the s3s-fs S3 server. Called by
# scripts/test.sh and .ci/run; safe to run again. Needs root or passwordless sudo for apt.
#   bash scripts/install-deps.sh            # everything the tests need
#   bash scripts/install-deps.sh --windows  # also the MinGW cross compilers for the Windows check
set -euo pipefail

apt_wanted=()
want_package() {
  local package=$1
  shift
  "$@" >/dev/null 2>&1 || apt_wanted+=("$package")
}
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT

want_package python3-venv python3 -m venv "$probe/venv"
# Real servers the tests start on 127.0.0.1: OpenSSH for the SFTP destination, PostgreSQL for
# the central server, Chromium to load the dashboard pages.
want_package openssh-server test -x /usr/sbin/sshd
want_package openssh-client sh -c 'command -v ssh-keygen'
want_package postgresql sh -c 'ls /usr/lib/postgresql/*/bin/initdb'
want_package chromium sh -c 'command -v chromium'
# An SMTP server for the e-mail alarm test.
want_package python3-aiosmtpd python3 -c "import aiosmtpd"
# openssl makes the STARTTLS relay's certificate in the e-mail alarm test.
want_package openssl sh -c 'command -v openssl'
# A real desktop for the desktop-notification alarm test: a session D-Bus, a virtual X
# display and the dunst notification daemon (whose `dunstctl history` shows what it received).
want_package dbus-daemon sh -c 'command -v dbus-daemon'
want_package xvfb sh -c 'command -v Xvfb'
want_package dunst sh -c 'command -v dunstctl'
# A one-node Slurm cluster for the `batch` tests (scopeflow_testkit::Slurm): controller, node
# daemon, client commands and munge authentication.
want_package slurmctld test -x /usr/sbin/slurmctld
want_package slurmd test -x /usr/sbin/slurmd
want_package slurm-client sh -c 'command -v sbatch'
want_package munge test -x /usr/sbin/munged
# The Imaris (.ims) reader links the C HDF5 library; its build finds it through pkg-config.
want_package pkg-config sh -c 'command -v pkg-config'
want_package libhdf5-dev pkg-config --exists hdf5
# LZ4/bitshuffle filters for Imaris files of recent versions (found by Debian's libhdf5 itself).
want_package hdf5-filter-plugin sh -c 'ls /usr/lib/*/hdf5/serial/plugins/libh5lz4.so'
if [ "${1:-}" = --windows ]; then
  # Cross compilers for the Windows check (C parts of zstd, blosc, SQLite, ring, aws-lc).
  want_package gcc-mingw-w64-x86-64 x86_64-w64-mingw32-gcc --version
  want_package g++-mingw-w64-x86-64 x86_64-w64-mingw32-g++ --version
fi

if [ ${#apt_wanted[@]} -gt 0 ]; then
  echo "installing: ${apt_wanted[*]}"
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  ${sudo[@]+"${sudo[@]}"} apt-get update
  ${sudo[@]+"${sudo[@]}"} apt-get install -y "${apt_wanted[@]}"
else
  echo "system packages: nothing to install"
fi

# The S3-compatible server the S3 tests start (0.17 needs a newer rustc than this machine's).
# Built in a target folder of its own, kept between runs.
if ! command -v s3s-fs >/dev/null 2>&1 && ! [ -x "$HOME/.cargo/bin/s3s-fs" ]; then
  echo "installing s3s-fs 0.14.1 (cargo install, a few minutes)"
  CARGO_TARGET_DIR=$HOME/.cache/scopeflow/s3s-target cargo install s3s-fs@0.14.1 --features binary --locked
fi
