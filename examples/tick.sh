#!/usr/bin/env bash
# A cron-like loop in shell: prints the date every 5 seconds.
while true; do
  echo "tick $(date +%H:%M:%S)"
  sleep 5
done
