"""Reports what a job sees: argv, cwd, environment names, and whether it can reach the account."""

import json
import os
import sys

import boto3

payload = json.loads(sys.argv[1])
print("env:", ",".join(sorted(os.environ)))
print("cwd:", os.getcwd())
print("params:", json.dumps(payload.get("remediationParameters", {})))
print("chain:", payload["notificationInfo"]["FindingInfo"]["ObjectChain"])
print(
    "accountIds:",
    payload["notificationInfo"]["CloudAccountID"],
    payload["notificationInfo"]["CloudAccountId"],
)
print("identity:", boto3.client("sts").get_caller_identity()["Arn"])
print("CHANGE: probed", payload["notificationInfo"]["FindingInfo"]["ObjectId"])
