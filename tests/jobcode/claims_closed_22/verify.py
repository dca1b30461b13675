"""The honest check: does anything on the group still let the internet reach tcp/22?"""

from remedy import jobkit
from remedy.jobkit.ec2_ports import open_on_port


def verify(finding: jobkit.Finding) -> None:
    problems = open_on_port(jobkit.ec2_client(finding), [finding.object_id], 22)
    jobkit.verdict(problems, f"{finding.object_id} lets no internet source reach tcp/22")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
