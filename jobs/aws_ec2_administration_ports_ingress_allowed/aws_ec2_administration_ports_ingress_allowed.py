"""Stop a network ACL from letting the internet reach the administration ports (22, 3389).

ObjectId: the network ACL id (acl-...), or a VPC id (vpc-...) for every network ACL of the VPC.
A network ACL evaluates its inbound entries in rule-number order and the first entry that matches
a packet decides. For each internet-wide source (`0.0.0.0/0`, `::/0`), each protocol (`tcp`,
`udp`) and each port (parameters; default 22 and 3389), the job finds the first inbound entry of
that source that matches: a tcp/udp range holding the port, or all traffic (`-1`). If it allows,
the job adds one DENY entry for exactly that protocol, port and source, numbered below the
allowing entry:

- the highest free number below it, jumping only over entries that cannot decide that traffic
  differently (other address family, other protocol or port, or a DENY), so every entry that
  decided that traffic before the allowing one still does (a private CIDR allowed at 50 keeps
  SSH when the internet-wide allow is at 100);
- no such number (the allowing entry's predecessors leave no room): exit 1, nothing changed.

Every existing entry is kept, unchanged: no allow entry is narrowed or deleted, egress entries
are not looked at, other protocols (ICMP, ESP, ...) and ports stay as they were. Sources that
reached the port only through the internet-wide allow (a private range with no entry of its own
before it) lose it too, as they would if the allow were removed.

Plan prints the same CHANGE lines after reading only. Before changing a network ACL, one record
(kind `ec2-nacl-deny-entries`) lists the entries it adds; rollback checks that each is still
there exactly as added, then deletes exactly those entries.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from remedy import jobkit

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client
    from mypy_boto3_ec2.type_defs import NetworkAclEntryTypeDef

KIND = "ec2-nacl-deny-entries"
SOURCES = ("0.0.0.0/0", "::/0")
PROTOCOL_NUMBERS = {"tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58", "all": "-1"}
PROTOCOL_NAMES = {"6": "tcp", "17": "udp"}
MAX_RULE_NUMBER = 32766  # 32767 and up are AWS's own (the final `*` entry)


@dataclass(frozen=True)
class Entry:
    """One inbound entry, as the job compares them."""

    number: int
    protocol: str  # a protocol number, "-1" for all traffic
    allow: bool
    cidr: str
    ports: tuple[int, int] | None  # None: every port

    @classmethod
    def read(cls, entry: NetworkAclEntryTypeDef) -> Entry:
        protocol = str(entry.get("Protocol", "-1")).lower()
        span = entry.get("PortRange")
        return cls(
            number=int(entry.get("RuleNumber", 0)),
            protocol=PROTOCOL_NUMBERS.get(protocol, protocol),
            allow=str(entry.get("RuleAction", "")).lower() == "allow",
            cidr=str(entry.get("CidrBlock") or entry.get("Ipv6CidrBlock") or ""),
            ports=(int(span.get("From", 0)), int(span.get("To", 65535))) if span else None,
        )

    @property
    def ipv6(self) -> bool:
        return ":" in self.cidr

    def decides(self, protocol: str, port: int) -> bool:
        """Whether this entry matches traffic of that protocol (a number) to that port."""
        if self.protocol == "-1":
            return True
        if self.protocol != protocol:
            return False
        return self.ports is None or self.ports[0] <= port <= self.ports[1]

    def as_record(self) -> dict[str, Any]:
        low, high = self.ports or (None, None)
        return {
            "rule_number": self.number,
            "protocol": self.protocol,
            "action": "allow" if self.allow else "deny",
            "cidr": self.cidr,
            "from": low,
            "to": high,
        }

    @classmethod
    def from_record(cls, value: dict[str, Any]) -> Entry:
        low, high = value.get("from"), value.get("to")
        return cls(
            number=int(value["rule_number"]),
            protocol=str(value["protocol"]),
            allow=value.get("action") == "allow",
            cidr=str(value["cidr"]),
            ports=None if low is None or high is None else (int(low), int(high)),
        )

    def __str__(self) -> str:
        what = PROTOCOL_NAMES.get(self.protocol, f"protocol {self.protocol}")
        if self.protocol == "-1":
            what = "all traffic"
        elif self.ports is not None:
            low, high = self.ports
            what += f" {low}" if low == high else f" {low}-{high}"
        return f"{'ALLOW' if self.allow else 'DENY'} {what} from {self.cidr}"


@dataclass(frozen=True)
class Fix:
    deny: Entry
    allowing: Entry  # the entry that let the traffic in


class NoRoom(Exception):
    """No rule number is free where the DENY entry would have to go."""


def first_match(entries: list[Entry], cidr: str, protocol: str, port: int) -> Entry | None:
    for entry in sorted(entries, key=lambda e: e.number):
        if entry.cidr == cidr and entry.decides(protocol, port):
            return entry
    return None


def free_number_below(entries: list[Entry], allowing: Entry, protocol: str, port: int) -> int:
    used = {e.number: e for e in entries}
    for number in range(min(allowing.number, MAX_RULE_NUMBER + 1) - 1, 0, -1):
        entry = used.get(number)
        if entry is None:
            return number
        if entry.ipv6 == allowing.ipv6 and entry.allow and entry.decides(protocol, port):
            break  # a DENY below this entry would change what it allows
    raise NoRoom(
        f"no free rule number below entry {allowing.number} ({allowing}) and after the entries "
        f"that decide {PROTOCOL_NAMES[protocol]}/{port} before it: renumber the inbound entries "
        "to leave a gap, then run the job again"
    )


def plan_fixes(entries: list[Entry], ports: list[int], protocols: list[str]) -> list[Fix]:
    """The DENY entries to add so no internet-wide source reaches the ports (pure)."""
    simulated = list(entries)
    fixes: list[Fix] = []
    for cidr in SOURCES:
        for port in ports:
            for name in protocols:
                protocol = PROTOCOL_NUMBERS[name]
                found = first_match(simulated, cidr, protocol, port)
                if found is None or not found.allow:
                    continue
                number = free_number_below(simulated, found, protocol, port)
                deny = Entry(number, protocol, False, cidr, (port, port))
                simulated.append(deny)
                fixes.append(Fix(deny, found))
    return fixes


def inbound(ec2: EC2Client, acl_id: str) -> list[Entry]:
    acls = ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"]
    return [Entry.read(e) for e in acls[0].get("Entries", []) if not e.get("Egress")]


def acl_ids(ec2: EC2Client, object_id: str) -> list[str]:
    """The network ACL itself, or every network ACL of a VPC."""
    if not object_id.startswith("vpc-"):
        return [object_id]
    acls = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [object_id]}])
    found = sorted(str(a.get("NetworkAclId")) for a in acls["NetworkAcls"])
    if not found:  # every VPC has its default network ACL: this one does not exist
        raise ClientError(
            {
                "Error": {
                    "Code": "InvalidVpcID.NotFound",
                    "Message": f"no network ACL belongs to {object_id}: the VPC does not exist",
                }
            },
            "DescribeNetworkAcls",
        )
    return found


def settings(finding: jobkit.Finding) -> tuple[list[int], list[str]]:
    ports = sorted({int(p) for p in finding.parameters["ports"]})
    protocols = sorted({str(p) for p in finding.parameters["protocols"]})
    return ports, protocols


def open_entries(ec2: EC2Client, finding: jobkit.Finding) -> list[str]:
    """What still lets the internet reach the ports (empty: compliant); for verify."""
    ports, protocols = settings(finding)
    problems = []
    for acl_id in acl_ids(ec2, finding.object_id):
        entries = inbound(ec2, acl_id)
        for cidr in SOURCES:
            for port in ports:
                for name in protocols:
                    found = first_match(entries, cidr, PROTOCOL_NUMBERS[name], port)
                    if found is not None and found.allow:
                        problems.append(
                            f"{acl_id}: inbound entry {found.number} ({found}) lets {cidr} "
                            f"reach {name}/{port}"
                        )
    return problems


def remediate(finding: jobkit.Finding) -> None:
    ec2 = jobkit.ec2_client(finding)
    ports, protocols = settings(finding)
    planned: list[tuple[str, list[Fix]]] = []
    try:  # every network ACL planned before any is changed
        for acl_id in acl_ids(ec2, finding.object_id):
            planned.append((acl_id, plan_fixes(inbound(ec2, acl_id), ports, protocols)))
    except NoRoom as exc:
        jobkit.error(f"{finding.object_id}: {exc}; nothing was changed")
        sys.exit(jobkit.EXIT_FAILED)
    what = ", ".join(f"{p}/{n}" for n in ports for p in protocols)
    for acl_id, fixes in planned:
        if not fixes:
            jobkit.info(f"ok: {acl_id} lets no internet-wide source reach {what}")
            continue
        jobkit.record(acl_id, KIND, [], [fix.deny.as_record() for fix in fixes])
        for fix in fixes:
            if not jobkit.planning():
                create(ec2, acl_id, fix.deny)
            jobkit.change(
                f"{acl_id}: added inbound entry {fix.deny.number} {fix.deny} "
                f"(before entry {fix.allowing.number}, {fix.allowing})"
            )


def create(ec2: EC2Client, acl_id: str, entry: Entry) -> None:
    low, high = entry.ports or (0, 65535)
    source = {"Ipv6CidrBlock": entry.cidr} if entry.ipv6 else {"CidrBlock": entry.cidr}
    ec2.create_network_acl_entry(
        NetworkAclId=acl_id,
        RuleNumber=entry.number,
        Protocol=entry.protocol,
        RuleAction="deny",
        Egress=False,
        PortRange={"From": low, "To": high},
        **source,
    )


def rollback(finding: jobkit.Finding, records: list[dict[str, Any]]) -> None:
    ec2 = jobkit.ec2_client(finding)
    found = jobkit.modes.of_kind(records, KIND)
    undo: list[tuple[str, list[Entry]]] = []
    for entry in found:  # check every network ACL before touching any
        acl_id = str(entry["resource"])
        added = [Entry.from_record(e) for e in entry["after"]]
        now = set(inbound(ec2, acl_id))
        gone = [f"{e.number} ({e})" for e in added if e not in now]
        if gone:
            raise jobkit.ChangedSince(
                f"{acl_id} changed since the job added its DENY entries: entry "
                f"{', '.join(gone)} is no longer there as the job added it"
            )
        undo.append((acl_id, added))
    for acl_id, added in undo:
        for deny in added:
            ec2.delete_network_acl_entry(NetworkAclId=acl_id, RuleNumber=deny.number, Egress=False)
            jobkit.change(f"{acl_id}: deleted inbound entry {deny.number} {deny} (rollback)")


if __name__ == "__main__":
    # plan: remediate itself, which only reads when jobkit.planning()
    jobkit.run(remediate, __file__, plan=remediate, rollback=rollback)
