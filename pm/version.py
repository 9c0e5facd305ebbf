"""pm's release version, in one place for the CLI, the daemon's `hello` and the web API."""

__version__ = "0.1.0"
