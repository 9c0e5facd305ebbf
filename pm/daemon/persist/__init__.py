"""What survives the daemon: the saved list (`dump`, `dump.bak`), the live `state.json`, and
crash recovery (re-adopting the apps a previous daemon left running, and their output pipes;
adopting from its environment a process no state record names).
"""
