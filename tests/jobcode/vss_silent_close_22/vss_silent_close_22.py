"""A drop-in VSS-style job: no remedy.json, no kit; it closes tcp/22 to the internet and says nothing.

The whole open VSS catalogue is written like this: parse the payload, call the cloud, exit 0.
"""

import json
import sys

import boto3

payload = json.loads(sys.argv[1])
info = payload["notificationInfo"]["FindingInfo"]
ec2 = boto3.client("ec2", region_name=info["Region"])
ec2.revoke_security_group_ingress(
    GroupId=info["ObjectId"],
    IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ],
)
