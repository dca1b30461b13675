"""Payload encryption on the real dev server and sandbox: runs work sealed, Temporal stores only
ciphertext, the codec server opens it for the UI, keys rotate, bad keys are refused clearly."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from console.codec_server import CodecServer, make_server
from remedy.codec import ENCODING, KEY_ID, EncryptionCodec, SealedPayloadError, key_id, new_key
from remedy.config import (
    ConfigError,
    TemporalSettings,
    WorkerSettings,
    temporal_settings,
)
from remedy.starter import start_remediation, wait_for_result
from remedy.temporal import connect
from remedy.types import AccountAccess, JobStep, RemediationSpec, RunState
from sandbox.aws import ACCOUNT_ID, AwsSandbox, free_port
from tests.conftest import DevServer, LogCapture
from tests.findings import aws_finding

#: the workflow's patch names (workflow.patched), which the SDK records unsealed in its markers
PATCHES = (b"live-opt-out", b"notices-before-the-run-ends")

UI = "http://127.0.0.1:8233"


def close_22(sandbox: AwsSandbox, job: str = "security_group_close_port_22") -> RemediationSpec:
    return RemediationSpec(
        steps=[JobStep(job=job)],
        access=AccountAccess(role_arn=sandbox.role_arn, external_id=sandbox.external_id),
    )


def open_on_22(sandbox: AwsSandbox, group: str) -> bool:
    found = sandbox.admin_client("ec2").describe_security_groups(GroupIds=[group])
    return any(
        p.get("FromPort") == 22 and any(r["CidrIp"] == "0.0.0.0/0" for r in p.get("IpRanges", []))
        for p in found["SecurityGroups"][0]["IpPermissions"]
    )


async def raw_client(address: str) -> Client:
    """A client without the codec: what Temporal (and a UI without the codec server) sees."""
    return await Client.connect(address, data_converter=pydantic_data_converter)


@asynccontextmanager
async def worker_on(client: Client) -> AsyncIterator[str]:
    """An in-process worker with the built-in jobs on a fresh group, polling through `client`."""
    from worker.main import build_parts, make_worker

    group = f"codec-{uuid.uuid4().hex[:10]}"
    settings = WorkerSettings()
    parts = build_parts(settings)
    try:
        async with make_worker(client, group, parts, settings):
            yield group
    finally:
        await parts.runner.launcher.close()


def payloads_in(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every Payload in a proto message, with where it is; search attributes left out (they are
    indexed in clear by design, so runs stay searchable)."""
    for field, value in message.ListFields():
        kind = field.message_type
        if kind is None or kind.full_name == "temporal.api.common.v1.SearchAttributes":
            continue
        if kind.GetOptions().map_entry:
            if kind.fields_by_name["value"].message_type is None:
                continue
            items = [(f"{path}.{field.name}[{k}]", v) for k, v in value.items()]
        else:
            values = list(value) if field.is_repeated else [value]
            items = [(f"{path}.{field.name}", v) for v in values]
        for where, item in items:
            if isinstance(item, Payload):
                yield where, item
            else:
                yield from payloads_in(item, where)


def history_payloads(history: History) -> list[tuple[str, Payload]]:
    return [
        (f"{event.event_id}:{where}", payload)
        for event in history.events
        for where, payload in payloads_in(event)
    ]


# ------------------------------------------------------------------------------------------------
# One sealed run, shared by the tests that read what it left in Temporal.
# ------------------------------------------------------------------------------------------------


@dataclass
class SealedRun:
    run_id: str
    key: str
    group: str  # the security group fixed
    finding_id: str
    history: History  # as stored: fetched without the codec
    logs: str


@pytest_asyncio.fixture(scope="module")
async def sealed_run(dev_server: DevServer, aws_sandbox: AwsSandbox) -> AsyncIterator[SealedRun]:
    key = new_key()
    logs = LogCapture()  # what the captured_logs fixture keeps, for the whole module's run
    with pytest.MonkeyPatch.context() as env:
        env.setenv("REMEDY_PAYLOAD_KEY", key)
        env.delenv("REMEDY_PAYLOAD_OLD_KEYS", raising=False)
        for name, value in aws_sandbox.worker_env().items():  # the worker's own identity
            env.setenv(name, value)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.delenv("AWS_PROFILE", raising=False)
        root = logging.getLogger()
        root.addHandler(logs)
        old_level = root.level
        root.setLevel(logging.INFO)
        try:
            sealed = await connect(TemporalSettings(address=dev_server.address))
            group = aws_sandbox.open_security_group(22, "sealed")
            payload = aws_finding(group)
            async with worker_on(sealed) as worker_group:
                run_id = await start_remediation(
                    sealed, payload, close_22(aws_sandbox), worker_group
                )
                status = await wait_for_result(sealed, run_id)
        finally:
            root.removeHandler(logs)
            root.setLevel(old_level)
    assert status.state == RunState.SUCCEEDED, status
    raw = await raw_client(dev_server.address)
    history = await raw.get_workflow_handle(run_id).fetch_history()
    yield SealedRun(
        run_id=run_id,
        key=key,
        group=group,
        finding_id=payload["notificationInfo"]["FindingInfo"]["FindingId"],
        history=History(events=history.events),
        logs=logs.text(),
    )


async def test_a_sealed_run_closes_the_port_and_temporal_stores_only_ciphertext(
    sealed_run: SealedRun, aws_sandbox: AwsSandbox
) -> None:
    assert not open_on_22(aws_sandbox, sealed_run.group)  # the fix really happened
    found = history_payloads(sealed_run.history)
    where = {w.split(":", 1)[1] for w, _ in found}
    # the workflow's input, the activities' inputs and results, the local validation's result
    # and the workflow's result are all there, and every one of them is sealed
    assert {
        ".workflow_execution_started_event_attributes.input.payloads",
        ".activity_task_scheduled_event_attributes.input.payloads",
        ".activity_task_completed_event_attributes.result.payloads",
        ".marker_recorded_event_attributes.details[result].payloads",
        ".workflow_execution_completed_event_attributes.result.payloads",
    } <= where, where
    key_id_now = key_id(base64.b64decode(sealed_run.key)).encode()
    for place, payload in found:
        for secret in (sealed_run.finding_id, sealed_run.group, ACCOUNT_ID):
            assert secret.encode() not in payload.data, (place, secret)
        if place.endswith(".marker_recorded_event_attributes.details[data].payloads"):
            continue  # the SDK's own bookkeeping of the local activity (its id, type, times)
        if place.endswith(".marker_recorded_event_attributes.details[patch-data].payloads"):
            # the SDK's patch marker (workflow.patched): the patch's name from the workflow's
            # code, never run data
            assert any(name in payload.data for name in PATCHES), (place, payload.data)
            continue
        assert payload.metadata["encoding"] == ENCODING, place
        assert payload.metadata[KEY_ID] == key_id_now, place
        assert set(payload.metadata) == {"encoding", KEY_ID}, place  # nothing else in clear
    # search attributes are not payloads the codec sees: by design they stay searchable
    started = sealed_run.history.events[0].workflow_execution_started_event_attributes
    indexed = started.search_attributes.indexed_fields
    assert sealed_run.finding_id.encode() in indexed["FindingId"].data


async def test_the_key_reaches_neither_history_nor_the_worker_logs(sealed_run: SealedRun) -> None:
    assert "job finished" in sealed_run.logs  # the worker's logs were captured
    raw_key = base64.b64decode(sealed_run.key)
    stored = sealed_run.history.SerializeToString()
    history_json = json.dumps(MessageToDict(sealed_run.history))
    for shown in (sealed_run.key, raw_key.hex(), base64.urlsafe_b64encode(raw_key).decode()):
        assert shown not in sealed_run.logs
        assert shown not in history_json
    assert raw_key not in stored
    settings = TemporalSettings(address="x", encryption={"key": sealed_run.key})
    assert sealed_run.key not in repr(settings) and sealed_run.key not in str(settings)
    assert sealed_run.key not in repr(EncryptionCodec([raw_key]))


async def test_a_failed_sealed_run_stores_its_message_sealed_and_reports_it_in_clear(
    dev_server: DevServer, aws_sandbox: AwsSandbox, worker_env: AwsSandbox, monkeypatch
) -> None:
    monkeypatch.setenv("REMEDY_PAYLOAD_KEY", new_key())
    sealed = await connect(TemporalSettings(address=dev_server.address))
    group = aws_sandbox.open_security_group(22, "sealed-fail")
    async with worker_on(sealed) as worker_group:
        run_id = await start_remediation(
            sealed, aws_finding(group), close_22(aws_sandbox, "no_such_job"), worker_group
        )
        status = await wait_for_result(sealed, run_id)
    assert status.state == RunState.FAILED
    assert "unknown job 'no_such_job'" in status.message  # opened by the sealed client
    history = (
        await (await raw_client(dev_server.address)).get_workflow_handle(run_id).fetch_history()
    )
    failures = [
        e.workflow_execution_failed_event_attributes.failure
        for e in history.events
        if e.HasField("workflow_execution_failed_event_attributes")
    ]
    assert failures and all(f.message == "Encoded failure" and not f.stack_trace for f in failures)
    assert all(f.encoded_attributes.metadata["encoding"] == ENCODING for f in failures)
    assert "unknown job" not in history.to_json()


# ------------------------------------------------------------------------------------------------
# The codec server, over real HTTP.
# ------------------------------------------------------------------------------------------------


@contextmanager
def serving(codec: EncryptionCodec, token: str | None = None) -> Iterator[CodecServer]:
    """The codec server on a free port, answering HTTP from a thread until the block ends."""
    server = make_server(codec, port=free_port(), origins=[UI], token=token)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def codec_server() -> Iterator[CodecServer]:
    with serving(EncryptionCodec([base64.b64decode(new_key())])) as server:
        yield server


def as_json(payloads: list[Payload]) -> dict[str, Any]:
    return {"payloads": [MessageToDict(p) for p in payloads]}


async def test_the_codec_server_opens_the_raw_history_for_the_ui(sealed_run: SealedRun) -> None:
    started = sealed_run.history.events[0].workflow_execution_started_event_attributes
    with serving(EncryptionCodec([base64.b64decode(sealed_run.key)])) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            answer = await http.post(
                "/decode",
                json=as_json(list(started.input.payloads)),
                headers={"X-Namespace": "default", "Origin": UI},
            )
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == UI
    [opened] = answer.json()["payloads"]
    assert base64.b64decode(opened["metadata"]["encoding"]) == b"json/plain"
    finding = json.loads(base64.b64decode(opened["data"]))
    assert finding["payload"]["notificationInfo"]["FindingInfo"]["FindingId"] == (
        sealed_run.finding_id
    )
    assert finding["payload"]["notificationInfo"]["FindingInfo"]["ObjectId"] == sealed_run.group


async def test_the_codec_server_seals_and_opens_and_passes_unsealed_payloads_through(
    codec_server: CodecServer,
) -> None:
    server = codec_server
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"FindingId": "f-1"}')
    async with httpx.AsyncClient(base_url=server.url) as http:
        sealed = await http.post("/encode", json=as_json([plain]))
        assert sealed.status_code == 200, sealed.text
        [one] = sealed.json()["payloads"]
        assert base64.b64decode(one["metadata"]["encoding"]) == ENCODING
        assert b"f-1" not in base64.b64decode(one["data"])
        opened = await http.post("/decode", json={"payloads": [one, MessageToDict(plain)]})
    assert opened.status_code == 200, opened.text
    assert opened.json()["payloads"] == [MessageToDict(plain)] * 2


async def test_the_codec_server_answers_the_ui_s_cors_preflight(
    codec_server: CodecServer,
) -> None:
    server = codec_server
    async with httpx.AsyncClient(base_url=server.url) as http:
        preflight = await http.options(
            "/decode",
            headers={
                "Origin": UI,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace",
            },
        )
        stranger = await http.options("/decode", headers={"Origin": "http://evil.example"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == UI
    allowed = {
        h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")
    }
    assert {"content-type", "x-namespace", "authorization"} <= allowed
    assert {"POST", "OPTIONS"} <= {
        m.strip() for m in preflight.headers["access-control-allow-methods"].split(",")
    }
    assert "access-control-allow-origin" not in stranger.headers


async def test_the_codec_server_refuses_what_it_cannot_open_with_a_clear_message(
    codec_server: CodecServer,
) -> None:
    server = codec_server
    other_key = base64.b64decode(new_key())
    [foreign] = EncryptionCodec([other_key]).seal_all([Payload(data=b"x")])
    async with httpx.AsyncClient(base_url=server.url) as http:
        unknown = await http.post("/decode", json=as_json([foreign]))
        malformed = await http.post(
            "/decode", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        wrong_shape = await http.post("/decode", json={"payloads": [{"data": "!!not base64"}]})
        no_list = await http.post("/decode", json={"payload": []})
        nowhere = await http.post("/elsewhere", json={"payloads": []})
    assert unknown.status_code == 422
    message = unknown.json()["error"]
    assert key_id(other_key) in message and "REMEDY_PAYLOAD_OLD_KEYS" in message
    assert "Traceback" not in unknown.text
    for bad in (malformed, wrong_shape, no_list):
        assert bad.status_code == 400, bad.text
        assert "payloads" in bad.json()["error"]
    assert nowhere.status_code == 404


async def test_an_altered_payload_is_refused_not_opened() -> None:
    codec = EncryptionCodec([base64.b64decode(new_key())])
    [sealed] = codec.seal_all([Payload(data=b"secret finding")])
    altered = Payload(
        metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    )
    with pytest.raises(SealedPayloadError, match="altered or is corrupt"):
        await codec.decode([altered])


async def test_the_codec_server_wants_the_bearer_token_when_one_is_set() -> None:
    codec = EncryptionCodec([base64.b64decode(new_key())])
    with serving(codec, token="codec-token-123") as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            none = await http.post("/encode", json={"payloads": []})
            wrong = await http.post(
                "/encode", json={"payloads": []}, headers={"Authorization": "Bearer nope"}
            )
            right = await http.post(
                "/encode",
                json={"payloads": []},
                headers={"Authorization": "Bearer codec-token-123"},
            )
    assert none.status_code == wrong.status_code == 401
    assert "REMEDY_CODEC_TOKEN" in none.json()["error"]
    assert right.status_code == 200, right.text


# ------------------------------------------------------------------------------------------------
# Keys: rotation, and a bad key refused at start-up.
# ------------------------------------------------------------------------------------------------


async def test_a_worker_with_a_rotated_key_finishes_runs_started_under_the_old_one(
    dev_server: DevServer,
    aws_sandbox: AwsSandbox,
    worker_env: AwsSandbox,
    sealed_run: SealedRun,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = new_key(), new_key()
    monkeypatch.setenv("REMEDY_PAYLOAD_KEY", old)
    before = await connect(TemporalSettings(address=dev_server.address))
    monkeypatch.setenv("REMEDY_PAYLOAD_KEY", new)
    monkeypatch.setenv("REMEDY_PAYLOAD_OLD_KEYS", f"{sealed_run.key}, {old}")
    rotated = await connect(TemporalSettings(address=dev_server.address))

    group = aws_sandbox.open_security_group(22, "rotated")
    async with worker_on(rotated) as worker_group:
        # started (its input sealed) with the old key; run by a worker holding the new one
        run_id = await start_remediation(
            before, aws_finding(group), close_22(aws_sandbox), worker_group
        )
        status = await wait_for_result(rotated, run_id)
    assert status.state == RunState.SUCCEEDED, status
    assert not open_on_22(aws_sandbox, group)
    history = (
        await (await raw_client(dev_server.address)).get_workflow_handle(run_id).fetch_history()
    )
    sealed_by = {
        where: p.metadata[KEY_ID].decode()
        for where, p in history_payloads(History(events=history.events))
        # the SDK's bookkeeping of a local activity, and its patch markers: not ours
        if "[data]" not in where and "[patch-data]" not in where
    }
    old_id, new_id = key_id(base64.b64decode(old)), key_id(base64.b64decode(new))
    assert {k for w, k in sealed_by.items() if w.startswith("1:")} == {old_id}  # input, summary
    assert {k for w, k in sealed_by.items() if not w.startswith("1:")} == {new_id}, sealed_by
    # the earlier run, sealed with a key now among the old ones, still reads
    assert (await wait_for_result(rotated, sealed_run.run_id)).state == RunState.SUCCEEDED

    # a client that has only the new key says which key is missing and what to set
    monkeypatch.delenv("REMEDY_PAYLOAD_OLD_KEYS")
    only_new = await connect(TemporalSettings(address=dev_server.address))
    with pytest.raises(Exception) as refused:
        await wait_for_result(only_new, sealed_run.run_id)
    text = "".join(str(e) for e in _chain(refused.value))
    assert key_id(base64.b64decode(sealed_run.key)) in text and "REMEDY_PAYLOAD_OLD_KEYS" in text


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def test_a_bad_key_is_refused_at_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short = base64.b64encode(os.urandom(16)).decode()
    for bad in (short, "not base64 at all!", "x" * 44):
        monkeypatch.setenv("REMEDY_PAYLOAD_KEY", bad)
        with pytest.raises(ConfigError) as refused:
            temporal_settings()
        message = str(refused.value)
        assert "REMEDY_PAYLOAD_KEY" in message and "32 bytes" in message
        assert "remedy codec-key" in message and "os.urandom(32)" in message
        assert bad not in message
        with pytest.raises(ValidationError) as raw:
            TemporalSettings()
        assert bad not in str(raw.value)
    monkeypatch.setenv("REMEDY_PAYLOAD_KEY", new_key())
    monkeypatch.setenv("REMEDY_PAYLOAD_OLD_KEYS", f"{new_key()},{short}")
    with pytest.raises(ConfigError, match="REMEDY_PAYLOAD_OLD_KEYS"):
        temporal_settings()


def test_the_worker_command_stops_on_a_bad_key_with_one_clear_line(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMEDY_", "TEMPORAL_"))}
    env["REMEDY_PAYLOAD_KEY"] = "c2hvcnQ="
    run = subprocess.run(
        [sys.executable, "-m", "console", "worker", "--group", "g"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode == 2, run.stderr
    assert "REMEDY_PAYLOAD_KEY" in run.stderr and "remedy codec-key" in run.stderr
    assert "Traceback" not in run.stderr


def test_codec_key_prints_a_usable_key() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "console", "codec-key"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert len(base64.b64decode(run.stdout.strip(), validate=True)) == 32


def test_the_dev_server_s_ui_is_told_where_the_codec_server_is(tmp_path) -> None:
    """`remedy dev-server --ui-codec-endpoint URL`: the UI it serves decodes through URL."""
    from remedy.temporal import start_dev_server, stop_process, wait_for_port

    for attempt in (1, 2, 3):  # a free port may be taken by a parallel test before it binds
        ui_port = free_port()
        try:
            server = start_dev_server(
                free_port(),
                tmp_path / str(attempt),
                ui_port=ui_port,
                ui_codec_endpoint="http://127.0.0.1:8081",
            )
            break
        except RuntimeError:
            if attempt == 3:
                raise
    try:
        wait_for_port("127.0.0.1", ui_port, 30, server)
        settings = httpx.get(f"http://127.0.0.1:{ui_port}/api/v1/settings", timeout=10)
    finally:
        stop_process(server)
    assert settings.status_code == 200, settings.text
    assert settings.json()["Codec"]["Endpoint"] == "http://127.0.0.1:8081"
