"""App output: the pipes that outlive the daemon, the readers that move their bytes into the
log files, log file paths, and built-in rotation. Imports only pm's shared modules and pm.config.
"""
