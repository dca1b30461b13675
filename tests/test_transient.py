"""Which job failures count as the cloud's (retried for the transient window) and which as the job's."""

from __future__ import annotations

import pytest

from activities.transient import transient_sign


@pytest.mark.parametrize(
    ("log", "meaning"),
    [
        (
            'botocore.exceptions.EndpointConnectionError: Could not connect to the endpoint URL: "https://ec2.us-east-1.amazonaws.com/"',
            "refused the connection",
        ),
        (
            "botocore.exceptions.ClientError: An error occurred (RequestLimitExceeded) when calling "
            "the AuthorizeSecurityGroupIngress operation: Request limit exceeded.",
            "throttling",
        ),
        (
            "botocore.exceptions.ClientError: An error occurred (Throttling) when calling the "
            "AssumeRole operation: Rate exceeded",
            "throttling",
        ),
        ("azure.core.exceptions.ServiceRequestError: <urllib3 ...> Connection refused", "Azure"),
        ("requests.exceptions.HTTPError: 503 Service Unavailable for url: x", "503"),
        ("urllib3.exceptions.ReadTimeoutError: HTTPSConnectionPool: Read timed out.", "in time"),
    ],
)
def test_the_signs_of_an_unreachable_or_overloaded_cloud_are_transient(
    log: str, meaning: str
) -> None:
    sign = transient_sign(f"working on sg-1\nTraceback (most recent call last):\n{log}\n")
    assert sign is not None and meaning in sign


@pytest.mark.parametrize(
    "log",
    [
        "botocore.exceptions.ClientError: An error occurred (UnauthorizedOperation) when calling "
        "the RevokeSecurityGroupIngress operation: You are not authorized",
        "botocore.exceptions.ClientError: An error occurred (InvalidGroup.NotFound)",
        "KeyError: 'ObjectId'",
        "ERROR: the thing could not be fixed",
        "",
    ],
)
def test_a_job_s_own_failure_is_not_transient(log: str) -> None:
    assert transient_sign(log) is None


def test_only_the_end_of_a_long_log_counts() -> None:
    recovered = "retrying after (Throttling)\n" + "x" * 30_000 + "\nKeyError: 'ObjectId'\n"
    assert transient_sign(recovered) is None


def test_a_connection_refused_the_job_got_past_is_not_what_failed_it() -> None:
    log = (
        "fork server: (Connection refused)\n"
        "Traceback (most recent call last):\n"
        '  File "job.py", line 3, in <module>\n'
        "PermissionError: [Errno 13] Permission denied: '/etc/x'\n"
    )
    assert transient_sign(log) is None
