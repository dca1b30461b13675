"""Verify azure_blob_remove_public_access: no container anyone may read (and, by default, the
account disallows public access)."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import verdict
from remedy.jobkit.azure_blob_public import public_access_left, storage_client


def verify(finding: jobkit.Finding) -> None:
    problems = public_access_left(storage_client(finding), finding)
    verdict(problems, f"no container of {finding.object_id} is public")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
