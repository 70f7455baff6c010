#!/usr/bin/env bash
# cbc.sh makes the COIN-OR CBC solver available as `cbc` on the PATH, for the
# placement solver's comparison tests (shared/optimize/placement/cbc_test.go)
# and the placement benchmark (tools/bench, placement table).
#
# When `cbc` is already on the PATH it does nothing. Otherwise, as root on a
# Debian-like system, it installs Debian's coinor-cbc package (CBC 2.10.8 on
# bookworm) with apt-get, non-interactively and without reading standard
# input. As any other user, or without apt-get, it stops with an error that
# says what to install. It is idempotent: a second run finds cbc and returns
# at once.
set -euo pipefail

say() { printf 'standins: %s\n' "$*"; }
die() { printf 'standins: error: %s\n' "$*" >&2; exit 1; }

cbc_version() { # the version line cbc prints on start, or nothing
	cbc -quit </dev/null 2>/dev/null | sed -n "s/^Version:[[:space:]]*\([^[:space:]]*\).*/\1/p" | head -n 1
}

if command -v cbc >/dev/null 2>&1; then
	say "cbc $(cbc_version) already at $(command -v cbc)"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	die "cbc is not on the PATH; install it as root with: apt-get install -y coinor-cbc (or put a cbc 2.10 binary on the PATH) and run $0 again"
fi
if ! command -v apt-get >/dev/null 2>&1; then
	die "cbc is not on the PATH and apt-get is missing; install COIN-OR CBC 2.10 (https://github.com/coin-or/Cbc) so that cbc is on the PATH and run $0 again"
fi

say "cbc is missing; installing Debian's coinor-cbc with apt-get"
export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show coinor-cbc >/dev/null 2>&1; then
	apt-get update -qq </dev/null || die "apt-get update failed; install coinor-cbc and run $0 again"
fi
apt-get install -y -qq --no-install-recommends coinor-cbc </dev/null >/dev/null ||
	die "apt-get install coinor-cbc failed; install it (or put a cbc 2.10 binary on the PATH) and run $0 again"
command -v cbc >/dev/null 2>&1 || die "coinor-cbc is installed but cbc is not on the PATH"
say "installed cbc $(cbc_version) at $(command -v cbc)"
