"""Says it closed tcp/22 and exits 0, but changes nothing: what verify.py is there to catch."""

from remedy import jobkit


def remediate(finding: jobkit.Finding) -> None:
    jobkit.change(f"{finding.object_id}: revoked ingress tcp 22-22 from 0.0.0.0/0")


if __name__ == "__main__":
    jobkit.run(remediate, __file__)
