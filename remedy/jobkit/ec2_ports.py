"""Close TCP or UDP ports to the internet on security groups, and nothing more.

What to close is a `Closure`: port ranges per protocol (`tcp/22`, `tcp/9200-9300`, `udp/11211`,
a list of high-risk ports on both, or every port but the authorized ones) and a label for the log.
An ingress source is *open* when it is `0.0.0.0/0` (IpRanges) or `::/0` (Ipv6Ranges). For every
permission that lets an open source reach a port of the closure:

- a tcp or udp range overlapping the closure's ranges of that protocol: the open source is revoked
  from that range and the parts of the range outside the closure are authorized again for it
  (tcp 20-25 closing tcp/22 -> 20-21 and 23-25). A tcp closure never touches udp permissions and
  a udp closure never touches tcp ones;
- all traffic (`-1`): the open source is revoked and tcp and udp outside the closure and icmp (or
  icmpv6 for `::/0`) are authorized again for it. Other IP protocols (ESP, GRE, ...) that `-1`
  allowed are not re-added: the rule now names what it allows;
- the permission's other sources (private CIDRs, security groups, prefix lists), other protocols
  (icmp, ...), and permissions outside the closure are left untouched; re-added parts keep the
  source's Description.

Order, and why: the parts to keep are authorized *before* the open source is revoked. Every state
in between is then a subset of what the group allowed before the run, never narrower than the end
result: a failure half way leaves the ports open as found (the next run finishes the job) but never
cuts traffic the rule was not meant to cut. The ports stay open for the few milliseconds between
the two calls, which is no worse than before the run.

Idempotent: parts that already exist are not authorized again, and a group with nothing open on
the closure gets one `ok:` line and no `CHANGE:` line.

Modes (remedy/jobkit/modes.py): plan prints the same `CHANGE:` lines and calls only
DescribeSecurityGroups. Before changing a group, one change record (kind `ec2-ingress`) lists the
grants it will revoke (`before`) and authorize (`after`); rollback checks that the group still
allows exactly the `after` grants of those and none of the `before` ones, then authorizes the
`before` grants again and revokes the `after` ones (same keep-before-cut order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from remedy.jobkit import BadInput, ChangedSince, change, info, planning, record

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client
    from mypy_boto3_ec2.type_defs import (
        IpPermissionOutputTypeDef,
        IpPermissionTypeDef,
        IpRangeTypeDef,
        Ipv6RangeTypeDef,
        SecurityGroupTypeDef,
    )

OPEN_IPV4 = "0.0.0.0/0"
OPEN_IPV6 = "::/0"
MAX_PORT = 65535
KIND = "ec2-ingress"  # the change records' kind
_PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
PORT_PROTOCOLS = ("tcp", "udp")
#: Security Hub EC2.19's blockedPorts (not customizable there), TCP and UDP here
HIGH_RISK_PORTS = (
    20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389,
    4333, 5000, 5432, 5500, 5601, 8080, 8088, 8888, 9200, 9300,
)  # fmt: skip


@dataclass(frozen=True)
class Grant:
    """One protocol and port range from one CIDR: the unit that is authorized or revoked."""

    protocol: str  # "tcp", "udp", "icmp", "icmpv6" or "-1" (all traffic)
    from_port: int | None
    to_port: int | None
    cidr: str
    description: str | None = None

    @property
    def key(self) -> tuple[str, int | None, int | None, str]:
        return (self.protocol, self.from_port, self.to_port, self.cidr)

    def __str__(self) -> str:
        if self.protocol == "-1":
            what = "all traffic"
        elif self.from_port in (None, -1):
            what = f"{self.protocol} all"
        else:
            what = f"{self.protocol} {self.from_port}-{self.to_port}"
        return f"{what} from {self.cidr}"

    def as_record(self) -> dict[str, object]:
        return {
            "protocol": self.protocol,
            "from": self.from_port,
            "to": self.to_port,
            "cidr": self.cidr,
            "description": self.description,
        }

    @classmethod
    def from_record(cls, value: dict[str, object]) -> Grant:
        def port(name: str) -> int | None:
            found = value.get(name)
            return None if found is None else int(str(found))

        text = value.get("description")
        return cls(
            str(value["protocol"]),
            port("from"),
            port("to"),
            str(value["cidr"]),
            None if text is None else str(text),
        )

    def as_ip_permission(self) -> IpPermissionTypeDef:
        permission: IpPermissionTypeDef = {"IpProtocol": self.protocol}
        if self.protocol != "-1" and self.from_port is not None and self.to_port is not None:
            permission["FromPort"] = self.from_port
            permission["ToPort"] = self.to_port
        if ":" in self.cidr:
            v6: Ipv6RangeTypeDef = {"CidrIpv6": self.cidr}
            if self.description:
                v6["Description"] = self.description
            permission["Ipv6Ranges"] = [v6]
        else:
            v4: IpRangeTypeDef = {"CidrIp": self.cidr}
            if self.description:
                v4["Description"] = self.description
            permission["IpRanges"] = [v4]
        return permission


@dataclass(frozen=True, order=True)
class Ports:
    """One protocol's port range, low-high inclusive: what a closure closes."""

    protocol: str  # "tcp" or "udp"
    low: int
    high: int

    def __str__(self) -> str:
        span = str(self.low) if self.low == self.high else f"{self.low}-{self.high}"
        return f"{self.protocol}/{span}"


Span = tuple[int, int]


def _merged(spans: Iterable[Span]) -> list[Span]:
    """Sorted, overlapping and adjacent spans joined."""
    out: list[Span] = []
    for low, high in sorted(spans):
        if out and low <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return out


def _subtract(low: int, high: int, cuts: Sequence[Span]) -> list[Span]:
    """low-high less the (sorted, merged) cuts."""
    parts: list[Span] = []
    cursor = low
    for a, b in cuts:
        if b < cursor or a > high:
            continue
        if a > cursor:
            parts.append((cursor, a - 1))
        cursor = max(cursor, b + 1)
    if cursor <= high:
        parts.append((cursor, high))
    return parts


def _spans_text(spans: Sequence[Span]) -> str:
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


@dataclass(frozen=True)
class Closure:
    """The ports to close to the internet, per protocol, and how the log names them."""

    spans: tuple[tuple[str, tuple[Span, ...]], ...]  # (protocol, merged spans), tcp before udp
    label: str

    @classmethod
    def of(cls, ports: Iterable[Ports], label: str | None = None) -> Closure:
        by_protocol: dict[str, list[Span]] = {p: [] for p in PORT_PROTOCOLS}
        for found in ports:
            if found.protocol not in by_protocol:
                raise BadInput(f"protocol {found.protocol!r} has no ports: use tcp or udp")
            if not 0 <= found.low <= found.high <= MAX_PORT:
                raise BadInput(f"{found} is not a port range (0-{MAX_PORT}, low to high)")
            by_protocol[found.protocol].append((found.low, found.high))
        spans = tuple((p, tuple(_merged(s))) for p, s in by_protocol.items() if s)
        text = " and ".join(f"{p}/{_spans_text(s)}" for p, s in spans)
        return cls(spans, label or text or "no port")

    @classmethod
    def port(cls, port: int, to_port: int | None = None, protocol: str = "tcp") -> Closure:
        """One port or range of one protocol: `tcp/22`, `tcp/9200-9300`, `udp/11211`."""
        high = port if to_port is None else to_port
        if high < port:
            raise BadInput(
                f"remediationParameters.to_port ({high}) must not be below port ({port})"
            )
        return cls.of([Ports(protocol, port, high)])

    @classmethod
    def all_but(cls, authorized: dict[str, Sequence[int]]) -> Closure:
        """Every tcp and udp port except the authorized ones (per protocol)."""
        ports = [
            Ports(protocol, a, b)
            for protocol in PORT_PROTOCOLS
            for a, b in _subtract(
                0, MAX_PORT, _merged((p, p) for p in authorized.get(protocol, ()))
            )
        ]
        kept = [
            f"{p}/{_spans_text(_merged((x, x) for x in authorized[p]))}"
            for p in PORT_PROTOCOLS
            if authorized.get(p)
        ]
        return cls.of(ports, f"ports other than {' and '.join(kept) or 'none'}")

    def on(self, protocol: str) -> tuple[Span, ...]:
        return next((s for p, s in self.spans if p == protocol), ())


@dataclass(frozen=True)
class Fix:
    """Authorize `keep` (what the open source may still reach), then revoke `revoke`."""

    revoke: Grant
    keep: tuple[Grant, ...]


def _open_sources(permission: IpPermissionOutputTypeDef) -> list[tuple[str, str | None]]:
    v4 = [(r["CidrIp"], r.get("Description")) for r in permission.get("IpRanges", [])]
    v6 = [(r["CidrIpv6"], r.get("Description")) for r in permission.get("Ipv6Ranges", [])]
    return [(cidr, text) for cidr, text in v4 + v6 if cidr in (OPEN_IPV4, OPEN_IPV6)]


def _grants(permissions: Iterable[IpPermissionOutputTypeDef]) -> set[tuple[object, ...]]:
    """Every (protocol, from, to, cidr) the group already allows."""
    found: set[tuple[object, ...]] = set()
    for p in permissions:
        protocol = _PROTOCOL_NAMES.get(p["IpProtocol"], p["IpProtocol"])
        ports = (None, None) if protocol == "-1" else (p.get("FromPort"), p.get("ToPort"))
        cidrs = [r["CidrIp"] for r in p.get("IpRanges", [])]
        cidrs += [r["CidrIpv6"] for r in p.get("Ipv6Ranges", [])]
        found.update((protocol, *ports, cidr) for cidr in cidrs)
    return found


def _fixes_of(
    permission: IpPermissionOutputTypeDef, closure: Closure
) -> list[tuple[Grant, list[Grant]]]:
    """(open grant to revoke, grants to keep) for one permission, or [] if it is not at fault."""
    protocol = _PROTOCOL_NAMES.get(permission["IpProtocol"], permission["IpProtocol"])
    found: list[tuple[Grant, list[Grant]]] = []
    if protocol in PORT_PROTOCOLS:
        low, high = permission.get("FromPort", 0), permission.get("ToPort", MAX_PORT)
        cuts = closure.on(protocol)
        if _subtract(low, high, cuts) == [(low, high)]:
            return []  # nothing of the closure in this range
        for cidr, text in _open_sources(permission):
            keep = [Grant(protocol, a, b, cidr, text) for a, b in _subtract(low, high, cuts)]
            found.append((Grant(protocol, low, high, cidr, text), keep))
    elif protocol == "-1" and closure.spans:
        for cidr, text in _open_sources(permission):
            icmp = "icmpv6" if cidr == OPEN_IPV6 else "icmp"
            keep = [
                Grant(p, a, b, cidr, text)
                for p in PORT_PROTOCOLS
                for a, b in _subtract(0, MAX_PORT, closure.on(p))
            ]
            keep.append(Grant(icmp, -1, -1, cidr, text))
            found.append((Grant("-1", None, None, cidr, text), keep))
    return found


def plan_closure(permissions: Sequence[IpPermissionOutputTypeDef], closure: Closure) -> list[Fix]:
    """What to change so no open source reaches a port of the closure (pure: no AWS call)."""
    existing = _grants(permissions)
    fixes: list[Fix] = []
    for permission in permissions:
        for revoke, keep in _fixes_of(permission, closure):
            new = [g for g in keep if g.key not in existing]
            existing.update(g.key for g in new)
            fixes.append(Fix(revoke, tuple(new)))
    return fixes


def plan_port_closure(permissions: Sequence[IpPermissionOutputTypeDef], port: int) -> list[Fix]:
    """What to change so no open source reaches tcp/<port> (pure: no AWS call)."""
    return plan_closure(permissions, Closure.port(port))


#: groups described ahead for a batch (`prefetch_groups`), by id: each taken once, when used
_described: dict[str, SecurityGroupTypeDef] = {}
#: DescribeSecurityGroups takes this many ids per call at most (moto and EC2 alike accept it)
DESCRIBE_CHUNK = 200


def prefetch_groups(ec2: EC2Client, group_ids: Iterable[str]) -> int:
    """Describe a batch's groups in as few calls as EC2 takes (one per 200 ids); each member
    then reads its group from here instead of describing it again. A chunk that fails (a group
    gone) is left to its members, each describing its own and failing alone. How many were
    described."""
    ids = sorted(set(group_ids))
    for start in range(0, len(ids), DESCRIBE_CHUNK):
        try:
            found = ec2.describe_security_groups(GroupIds=ids[start : start + DESCRIBE_CHUNK])
        except ClientError:
            continue
        _described.update({group["GroupId"]: group for group in found["SecurityGroups"]})
    return len(_described)


def _groups(ec2: EC2Client, ids: list[str]) -> list[SecurityGroupTypeDef]:
    """The groups, from the batch's prefetch when it described them (taken once), else read."""
    if ids and all(group_id in _described for group_id in ids):
        return [_described.pop(group_id) for group_id in ids]
    return ec2.describe_security_groups(GroupIds=ids)["SecurityGroups"]


def open_on(ec2: EC2Client, group_ids: Iterable[str], closure: Closure) -> list[str]:
    """What still lets the internet reach the closure's ports on these groups (empty: compliant)."""
    ids = sorted(set(group_ids))
    if not ids:
        return []
    groups = _groups(ec2, ids)
    return [
        f"{group['GroupId']} allows {fix.revoke} ({closure.label} open to the internet)"
        for group in groups
        for fix in plan_closure(group.get("IpPermissions", []), closure)
    ]


def open_on_port(ec2: EC2Client, group_ids: Iterable[str], port: int) -> list[str]:
    """What still lets the internet reach tcp/<port> on these groups (empty: compliant)."""
    return open_on(ec2, group_ids, Closure.port(port))


def _record_fixes(group_id: str, fixes: Sequence[Fix]) -> None:
    revoked = [fix.revoke.as_record() for fix in fixes]
    authorized = [grant.as_record() for fix in fixes for grant in fix.keep]
    record(group_id, KIND, revoked, authorized)


def close_on_group(ec2: EC2Client, group_id: str, closure: Closure) -> int:
    """Close the closure's ports to the internet on one group; return how many changes were (in
    plan mode: would be) made."""
    groups = _groups(ec2, [group_id])
    fixes = plan_closure(groups[0].get("IpPermissions", []) if groups else [], closure)
    if not fixes:
        info(f"ok: {group_id} has no rule open to the internet on {closure.label}")
        return 0
    kept = f"(kept open around {closure.label})"
    if planning():
        lines = []
        for fix in fixes:  # the lines a run would print, in its order
            lines += [f"{group_id}: authorized ingress {g} {kept}" for g in fix.keep]
            lines.append(f"{group_id}: revoked ingress {fix.revoke}")
        for line in lines:
            change(line)
        return len(lines)
    _record_fixes(group_id, fixes)
    changes = 0
    for fix in fixes:
        for grant in fix.keep:
            if _authorize(ec2, group_id, grant):
                change(f"{group_id}: authorized ingress {grant} {kept}")
                changes += 1
        if _revoke(ec2, group_id, fix.revoke):
            change(f"{group_id}: revoked ingress {fix.revoke}")
            changes += 1
    return changes


def close_port_on_group(ec2: EC2Client, group_id: str, port: int) -> int:
    return close_on_group(ec2, group_id, Closure.port(port))


def _authorize(ec2: EC2Client, group_id: str, grant: Grant) -> bool:
    try:
        ec2.authorize_security_group_ingress(
            GroupId=group_id, IpPermissions=[grant.as_ip_permission()]
        )
    except ClientError as exc:  # added by someone else since we looked: that is fine
        if exc.response.get("Error", {}).get("Code") != "InvalidPermission.Duplicate":
            raise
        info(f"ok: {group_id} already allows {grant}")
        return False
    return True


def _revoke(ec2: EC2Client, group_id: str, grant: Grant) -> bool:
    try:
        ec2.revoke_security_group_ingress(
            GroupId=group_id, IpPermissions=[grant.as_ip_permission()]
        )
    except ClientError as exc:  # revoked by someone else since we looked: that is fine
        if exc.response.get("Error", {}).get("Code") != "InvalidPermission.NotFound":
            raise
        info(f"ok: {group_id} no longer allows {grant}")
        return False
    return True


def rollback_port_closures(ec2: EC2Client, records: Sequence[dict[str, Any]]) -> int:
    """Undo the records' changes, each group as it was before; ChangedSince (nothing changed)
    when a group no longer allows exactly what the job left. Returns how many changes."""
    undo: list[tuple[str, list[Grant], list[Grant]]] = []
    for found in records:
        group_id = str(found["resource"])
        before = [Grant.from_record(g) for g in found["before"]]
        after = [Grant.from_record(g) for g in found["after"]]
        groups = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        now = _grants(groups[0].get("IpPermissions", []) if groups else [])
        missing = [str(g) for g in after if g.key not in now]
        back = [str(g) for g in before if g.key in now]
        if missing or back:
            raise ChangedSince(
                f"{group_id} changed since the job closed the port: "
                + "; ".join(
                    [f"it no longer allows {', '.join(missing)}"] * bool(missing)
                    + [f"it allows {', '.join(back)} again"] * bool(back)
                )
            )
        undo.append((group_id, before, after))
    changes = 0
    for group_id, before, after in undo:
        for grant in before:  # keep-before-cut, as the fix did
            if _authorize(ec2, group_id, grant):
                change(f"{group_id}: authorized ingress {grant} again (rollback)")
                changes += 1
        for grant in after:
            if _revoke(ec2, group_id, grant):
                change(f"{group_id}: revoked ingress {grant} (rollback)")
                changes += 1
    return changes


def close_on_groups(ec2: EC2Client, group_ids: Iterable[str], closure: Closure) -> int:
    return sum(close_on_group(ec2, group_id, closure) for group_id in group_ids)


def close_port_on_groups(ec2: EC2Client, group_ids: Iterable[str], port: int) -> int:
    return close_on_groups(ec2, group_ids, Closure.port(port))


def closure_of(parameters: Mapping[str, Any]) -> Closure:
    """The closure of the port jobs' parameters: `port`, `to_port` (default: `port`) and
    `protocol` (default: tcp)."""
    return Closure.port(
        int(parameters["port"]),
        parameters.get("to_port"),
        str(parameters.get("protocol", "tcp")),
    )
