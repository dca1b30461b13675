"""The baseline for bench/throughput.py: a chain of no-op activities (sandboxed like the real one)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

STEPS = 4


@activity.defn(name="noop")
async def noop(step: int) -> int:
    return step


@workflow.defn(name="NoopChain")
class NoopChain:
    @workflow.run
    async def run(self) -> int:
        for step in range(STEPS):
            await workflow.execute_activity(
                noop, step, start_to_close_timeout=timedelta(seconds=30)
            )
        return STEPS
