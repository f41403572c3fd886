#!/bin/sh
# The sample edge agent: says which architecture it runs on, once a minute.
set -eu
while true; do
  echo "edge agent on $(cat /opt/agent/arch)"
  sleep 60
done
