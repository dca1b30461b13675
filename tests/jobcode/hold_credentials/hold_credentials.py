"""Holds its run's credentials while another job looks for them: waits for `release` to exist."""

import json
import os
import sys
import time

parameters = json.loads(sys.argv[1])["remediationParameters"]
assert os.environ["AWS_SESSION_TOKEN"]  # the credentials another job must not reach
deadline = time.monotonic() + parameters["seconds"]
while not os.path.exists(parameters["release"]) and time.monotonic() < deadline:
    time.sleep(0.05)
print("CHANGE: held the credentials of", os.environ["REMEDY_RUN_ID"])
