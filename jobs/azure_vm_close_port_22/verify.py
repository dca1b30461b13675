"""Verify azure_vm_close_port_22: every NSG of the scale set's network interface configurations
(a VM: of its network interfaces) lets no internet source reach tcp/22, and each has one."""

from __future__ import annotations

from remedy import jobkit
from remedy.jobkit import azure, verdict
from remedy.jobkit.azure_nsg import close_tcp_port, still_open
from remedy.jobkit.azure_vm import attached, no_nsg_message


def verify(finding: jobkit.Finding) -> None:
    found = attached(finding)
    network = azure.network_client(finding)
    problems = [
        line
        for group, name in found.nsgs
        for line in still_open(network, group, name, close_tcp_port(22))
    ]
    if found.bare:
        problems.append(no_nsg_message(found))
    verdict(problems, f"the NSGs of {found.what} let no internet source reach tcp/22")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
