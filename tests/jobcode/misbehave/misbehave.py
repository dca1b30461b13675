"""A job that misbehaves in the way its parameter `mode` says."""

import json
import os
import signal
import subprocess
import sys

mode = json.loads(sys.argv[1])["remediationParameters"]["mode"]
print(f"mode {mode}", flush=True)
if mode == "exit3":
    sys.exit(3)
elif mode == "os_exit":
    os._exit(7)
elif mode == "segfault":
    os.kill(os.getpid(), signal.SIGSEGV)
elif mode == "stdin":
    print("read:", repr(sys.stdin.read()))
elif mode == "daemon":
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], stdout=subprocess.DEVNULL
    )
    print(f"daemon {child.pid}", flush=True)
elif mode == "flood":
    for _ in range(40_000):
        sys.stdout.write("x" * 99 + "\n")
    print("the end")
elif mode == "flood_100mb":
    block = ("y" * 1023 + "\n") * 1024  # 1 MiB
    for _ in range(100):
        sys.stdout.write(block)
    print("the very end")
elif mode == "cwd":
    print("files:", sorted(os.listdir(".")), "cwd:", os.getcwd())
    with open("scratch.txt", "w") as scratch:
        scratch.write("mine")
