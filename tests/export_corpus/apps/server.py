"""Export corpus app: never run by the tests, only named by the ecosystem files (systemd units
need the files they run to exist)."""
