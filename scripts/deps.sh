#!/usr/bin/env bash
# deps.sh installs everything the test suite needs on Debian 12. It is run by
# `make test` (and so by CI on a fresh machine) before any test, and is quick
# when everything is already there: it asks dpkg first and calls apt only for
# what is missing.
#
# To add a dependency, add its Debian packages to APT_PACKAGES, or a
# `npm_deps DIR` line at the end for a directory with a package.json.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
	ca-certificates curl          # fetching presigned URLs in tests
	awscli rclone s3cmd           # real S3 clients driven by tests/cli
	softhsm2 opensc               # PKCS#11 token for keys/pkcs11 tests (softhsm2-util, pkcs11-tool)
	gcc libc6-dev                 # cgo: keys/pkcs11 dlopens the PKCS#11 module
	swift swift-proxy swift-account swift-container swift-object python3-swiftclient memcached # OpenStack Swift all-in-one (tempauth + s3api) for backend/swift and backend/s3 tests (testenv.Swift)
	chromium                      # headless browser of tests/identity (playwright-core drives /usr/bin/chromium)
)

log() { printf 'deps: %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		log "need root to run: $*"
		exit 1
	fi
}

# missing_apt prints the packages of its arguments that dpkg does not list as
# installed.
missing_apt() {
	local pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii' || echo "$pkg"
	done
}

apt_deps() {
	local missing
	mapfile -t missing < <(missing_apt "$@")
	[ "${#missing[@]}" -eq 0 ] && return 0
	log "installing ${missing[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# node_deps installs Node.js and npm from Debian when there is no node on
# PATH. A machine that has another Node.js (NodeSource's, which bundles npm)
# keeps it: Debian's npm package would conflict with it. The node modules
# of the tests need Node.js 20 or later (playwright-core).
node_deps() {
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		apt_deps nodejs npm
	fi
	local major
	major=$(node -p 'process.versions.node.split(".")[0]')
	if [ "$major" -lt 20 ]; then
		log "Node.js $(node --version) is too old: the tests' node modules need Node.js 20 or later"
		exit 1
	fi
}

# npm_deps installs the node modules of DIR (which has a package.json) when
# node_modules is missing or older than package.json or package-lock.json.
npm_deps() {
	local dir=$1 stamp=$1/node_modules/.package-lock.json
	if [ -f "$stamp" ] && [ "$stamp" -nt "$dir/package.json" ] &&
		{ [ ! -f "$dir/package-lock.json" ] || [ "$stamp" -nt "$dir/package-lock.json" ]; }; then
		return 0
	fi
	node_deps
	log "installing node modules in $dir"
	if [ -f "$dir/package-lock.json" ]; then
		(cd "$dir" && npm ci --no-audit --no-fund)
	else
		(cd "$dir" && npm install --no-audit --no-fund)
	fi
	touch "$stamp"
}

apt_deps "${APT_PACKAGES[@]}"
npm_deps tests/identity/js
