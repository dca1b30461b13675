"""Close a TCP or UDP port (or port range) to the internet on one security group.

ObjectId: the security group id (sg-...). Parameters `port` (1-65535), `to_port` (default: `port`)
and `protocol` (tcp, the default, or udp). See remedy/jobkit/ec2_ports.py for exactly what is
revoked, what is re-authorized around the ports, and in which order, and for plan and rollback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remedy import jobkit
from remedy.jobkit.ec2_ports import (
    KIND,
    close_on_group,
    closure_of,
    prefetch_groups,
    rollback_port_closures,
)


def remediate(finding: jobkit.Finding) -> None:
    closure = closure_of(finding.parameters)  # remedy.json's schema: the kit checked them
    changes = close_on_group(jobkit.ec2_client(finding), finding.object_id, closure)
    jobkit.info(f"done: {changes} change(s) to close {closure.label} on {finding.object_id}")


def prefetch(findings: Sequence[jobkit.Finding]) -> None:
    """A batch (remedy.json `"batch": true`): describe every group once, before the members."""
    prefetch_groups(jobkit.ec2_client(findings[0]), [f.object_id for f in findings])


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    found = jobkit.modes.of_kind(records, KIND)
    changes = rollback_port_closures(jobkit.ec2_client(finding), found)
    jobkit.info(f"done: {changes} change(s) to restore {finding.object_id}")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback, prefetch=prefetch)
