"""Verify redshift_modify_cluster: the cluster's setting has the value the parameters ask for, in
effect now (a pending value does not count yet)."""

from __future__ import annotations

from redshift_modify_cluster import cluster_id, complies, describe, pending, target

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    redshift = jobkit.client("redshift", finding)
    identifier = cluster_id(finding.object_id)
    setting, wanted = target(finding)
    cluster = describe(redshift, identifier)
    current = cluster.get(setting.field)
    problems = []
    if not complies(setting.field, current, wanted):
        want = f">= {wanted}" if setting.field == "AutomatedSnapshotRetentionPeriod" else wanted
        problem = f"{identifier}: {setting.field} is {current}, wanted {want}"
        if (waiting := pending(cluster, setting.field)) is not None:
            problem += f" ({waiting} is pending)"
        problems.append(problem)
    jobkit.verdict(problems, f"{identifier}: {setting.field} is {current} ({setting.what})")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
