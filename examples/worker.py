"""A queue-consumer stand-in: takes a 'job' every second and logs it; stops cleanly on SIGINT."""
import os
import sys
import time

instance = os.environ.get("NODE_APP_INSTANCE", "0")
job = 0
try:
    while True:
        job += 1
        print(f"worker {instance}: processed job {job}", flush=True)
        if job % 10 == 0:
            print(f"worker {instance}: job {job} was slow", file=sys.stderr, flush=True)
        time.sleep(1)
except KeyboardInterrupt:
    print(f"worker {instance}: shutting down after {job} jobs", flush=True)
