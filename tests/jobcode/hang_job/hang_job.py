"""Starts a grandchild that would outlive it, then never exits."""

import os
import subprocess
import sys
import time

child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(f"pids: {os.getpid()} {child.pid}", flush=True)
time.sleep(600)
