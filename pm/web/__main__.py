"""Run the web server: `python -m pm.web [--port ...]`, also how `pm web --daemon` starts it.

When this file is run by path (as pm does under `--daemon`), Python puts pm/web/ first on
sys.path; drop it so the modules here cannot shadow top-level ones.
"""

import os
import sys

if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

from pm.cli import render  # noqa: E402
from pm.cli.commands.web import web  # noqa: E402
from pm.errors import PMError  # noqa: E402

if __name__ == "__main__":
    try:
        web.main(prog_name="pm web")
    except PMError as exc:
        print(render.error(exc.message), file=sys.stderr)
        sys.exit(exc.exit_code)
