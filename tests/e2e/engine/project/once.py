"""A job that runs to completion: prints, then exits with the status given (0 by default)."""

import sys

code = int(sys.argv[1]) if len(sys.argv) > 1 else 0
print(f"job done, exiting {code}", flush=True)
sys.exit(code)
