"""Verify ssm_make_document_private: the document is not shared with `all`."""

from __future__ import annotations

from ssm_make_document_private import document_name, is_public, sharing

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    name = document_name(finding.object_id)
    public = is_public(sharing(jobkit.client("ssm", finding), name))
    jobkit.verdict([f"{name} is shared publicly"] if public else [], f"{name} is not public")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
