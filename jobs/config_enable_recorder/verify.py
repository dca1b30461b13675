"""Verify config_enable_recorder: the region has a configuration recorder, it is recording, and
it has a delivery channel."""

from __future__ import annotations

from config_enable_recorder import channels, config_client, recorders, recording, where

from remedy import jobkit


def verify(finding: jobkit.Finding) -> None:
    config = config_client(finding)
    found = recorders(config)
    problems = []
    if not found:
        problems.append(f"{where(finding)} has no AWS Config configuration recorder")
    elif not recording(config, str(found[0]["name"])):
        problems.append(f"{where(finding)}: configuration recorder {found[0]['name']} is stopped")
    if not channels(config):
        problems.append(f"{where(finding)} has no AWS Config delivery channel")
    jobkit.verdict(problems, f"AWS Config is recording in {where(finding)}")


if __name__ == "__main__":
    jobkit.run(verify, __file__)
