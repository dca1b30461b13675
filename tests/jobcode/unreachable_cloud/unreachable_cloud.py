"""Fails the way boto3 does when the cloud endpoint is down, until a given time; then succeeds.

Stateless on purpose (every attempt runs in a fresh copy): `until` is a Unix time.
"""

import json
import sys
import time

parameters = json.loads(sys.argv[1]).get("remediationParameters", {})
if time.time() < float(parameters.get("until", 0)):
    print("calling ec2:DescribeSecurityGroups", flush=True)
    print(
        "botocore.exceptions.EndpointConnectionError: Could not connect to the endpoint URL: "
        '"http://127.0.0.1:1/"',
        file=sys.stderr,
    )
    sys.exit(1)
print("the cloud answered: done")
