"""Verify azure_sql_tde_protector_encrypted_cmk: the server's TDE protector is a Key Vault key."""

from __future__ import annotations

from azure_sql_tde_protector_encrypted_cmk import is_customer_managed, protector, sql_client

from remedy import jobkit
from remedy.jobkit import verdict


def verify(finding: jobkit.Finding) -> None:
    props = protector(sql_client(finding), finding)
    server = finding.object_id
    problems = (
        []
        if is_customer_managed(props)
        else [f"server {server}: the TDE protector is {props.get('serverKeyType')}"]
    )
    verdict(problems, f"server {server}: the TDE protector is a customer-managed Key Vault key")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
