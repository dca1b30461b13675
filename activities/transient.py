"""Telling a transient failure (the cloud unreachable, throttling, 5xx) from a job that is wrong.

A job is a black box that exits non-zero; what it printed is all there is to go on. The signs below
are the ones boto3, the Azure SDK, requests and urllib3 print when the far end is down, slow or
shedding load. A failure showing one of them is retried with backoff for the step's transient window
without using up its ordinary attempts; anything else uses an attempt.
"""

from __future__ import annotations

import re

#: (what the log shows, what it means), the most telling first. Matched case-sensitively: these
#: are exception names and the exact phrases the SDKs print.
SIGNS: tuple[tuple[str, str], ...] = (
    ("ServiceRequestError", "the Azure endpoint could not be reached"),
    ("ServiceResponseError", "the Azure endpoint did not answer"),
    ("Could not connect to the endpoint URL", "the cloud endpoint refused the connection"),
    ("EndpointConnectionError", "the cloud endpoint refused the connection"),
    ("ConnectionClosedError", "the cloud endpoint closed the connection"),
    ("Connect timeout on endpoint URL", "connecting to the cloud endpoint timed out"),
    ("Read timeout on endpoint URL", "the cloud endpoint did not answer in time"),
    ("ConnectTimeoutError", "connecting to the cloud endpoint timed out"),
    ("ReadTimeoutError", "the cloud endpoint did not answer in time"),
    ("ConnectionRefusedError", "the connection was refused"),
    ("Connection refused", "the connection was refused"),
    ("ConnectionResetError", "the connection was reset"),
    ("Connection reset by peer", "the connection was reset"),
    ("RemoteDisconnected", "the far end closed the connection"),
    ("Temporary failure in name resolution", "DNS is failing"),
    ("Max retries exceeded with url", "the endpoint could not be reached"),
    ("ThrottlingException", "the cloud is throttling requests"),
    ("(Throttling)", "the cloud is throttling requests"),
    ("RequestLimitExceeded", "the cloud is throttling requests"),
    ("TooManyRequests", "the cloud is throttling requests"),
    ("SlowDown", "the cloud is throttling requests"),
    ("(ServiceUnavailable)", "the cloud service is unavailable"),
    ("(InternalError)", "the cloud had an internal error"),
    ("(InternalFailure)", "the cloud had an internal error"),
    ("(ServerBusy)", "the cloud service is busy"),
)
#: how many of the log's last non-empty lines say what the job died of
LAST_LINES = 2
_STATUS = re.compile(r"\b(502 Bad Gateway|503 Service Unavailable|504 Gateway Time-?out)\b")


def transient_sign(log_text: str) -> str | None:
    """Why this failed run's log looks transient, or None when it looks like the job's own fault.

    Only the last two non-empty lines count: the error a job died of is printed last (a
    traceback's final line, jobkit's `ERROR:` line), and a connection refused or a throttled call
    that the job met and got past earlier is not what failed it.
    """
    lines = [line for line in log_text[-20_000:].splitlines() if line.strip()]
    tail = "\n".join(lines[-LAST_LINES:])
    for sign, meaning in SIGNS:
        if sign in tail:
            return f"{meaning} ({sign})"
    status = _STATUS.search(tail)
    return f"the endpoint answered {status.group(1)}" if status else None
