#!/bin/bash
# Corpus shell app: hands over to the env dumper (same environment).
exec python3 "$(dirname "$0")/dump_env.py" "$@"
