"""How the client starts the daemon process: `python -m pm.daemon --detach`.

The daemon, less about 4 MB of resident memory: the daemon never speaks
TLS, but asyncio imports ssl, which maps libssl and libcrypto. Marking ssl unavailable before
anything imports asyncio keeps them out (asyncio works without ssl). Done here, in a module
only the daemon process runs, so importing pm.daemon.main elsewhere (tests) is unaffected.
"""

import sys

sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]

from pm.daemon.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
