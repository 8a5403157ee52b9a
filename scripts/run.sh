#!/bin/sh
# make run: the OpenStack emulator (Keystone at http://127.0.0.1:5000/v3,
# state in var/openstack-emulator.json) and vnfm on http://127.0.0.1:9890
# with the emulator registered as its default VIM. Ctrl-C stops both.
set -eu
mkdir -p var
./bin/openstack-emulator -listen 127.0.0.1:5000 -state var/openstack-emulator.json 2>>var/openstack-emulator.log &
emulator=$!
trap 'kill $emulator 2>/dev/null || true' EXIT INT TERM
echo "openstack-emulator: http://127.0.0.1:5000/v3 (log: var/openstack-emulator.log)"
# No authentication: a local playground (the server warns). Production sets --auth.
./bin/vnfm serve --auth none --vim-file deploy/vim-emulator.yaml
