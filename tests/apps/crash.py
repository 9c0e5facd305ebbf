"""Exits at once with the code given as first argument (default 1)."""

import sys

sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
