"""Verify rds_modify_instance: the instance's setting has the value the parameters ask for, in
effect now (a value pending for the next maintenance window does not count yet)."""

from __future__ import annotations

from rds_modify_instance import complies, describe, instance_id, pending, target

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    rds = jobkit.client("rds", finding)
    identifier = instance_id(finding.object_id)
    setting, wanted = target(finding)
    instance = describe(rds, identifier)
    current = instance.get(setting.field)
    problems = []
    if not complies(setting.field, current, wanted):
        want = f">= {wanted}" if setting.field == "BackupRetentionPeriod" else str(wanted)
        problem = f"{identifier}: {setting.field} is {current}, wanted {want}"
        if (waiting := pending(instance, setting.field)) is not None:
            problem += f" ({waiting} is pending until the next maintenance window)"
        problems.append(problem)
    jobkit.verdict(problems, f"{identifier}: {setting.field} is {current} ({setting.what})")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
