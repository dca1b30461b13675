"""The findings pages without a browser (each store backend): the filters, a finding whose id is an
ARN (with '/'), its document as received and what would fix it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.hub_fixtures import HubHarness
from tests.web_fixtures import session_of

SAMPLE = Path(__file__).parent / "samples" / "asff_securityhub_cis41_sg_port22.json"


async def test_findings_filter_and_a_finding_shows_its_document_and_its_fix(
    hub_api: HubHarness,
) -> None:
    asff = json.loads(SAMPLE.read_text())
    await hub_api.ok("POST", "/findings", json=asff, role="analyst")
    finding_id = asff["Id"]
    viewer, _ = await session_of(hub_api, "viewer")

    shown = {
        "": True,
        "?resource_type=AwsEc2SecurityGroup&standard=cis-aws-1.2&control=4.1": True,
        "?region=us-east-1&account=111111111111&status=open": True,
        "?resource_type=AwsS3Bucket": False,
        "?control=EC2.99": False,
        "?status=suppressed": False,
    }
    for query, listed in shown.items():
        page = await viewer.get(f"/ui/findings{query}")
        assert page.status_code == 200
        assert (finding_id in page.text) is listed, query

    wrong = await viewer.get("/ui/runs?status=bogus")
    assert wrong.status_code == 422 and "text/html" in wrong.headers["content-type"]
    assert "query.status: Input should be" in wrong.text

    page = await viewer.get("/ui/findings")
    link = re.search(r'href="(/ui/findings/arn[^"]+)"', page.text)
    assert link and "%3Asubscription/cis-aws-foundations-benchmark/" in link[1]
    detail = await viewer.get(link[1])
    assert detail.status_code == 200
    assert f"<code>{finding_id}</code>" in detail.text
    assert "security_group_close_port" in detail.text  # the built-in job that would fix it
    assert "&#34;AwsEc2SecurityGroup&#34;" in detail.text  # the document as received
    assert "Suppress" not in detail.text  # a viewer may not

    analyst, csrf = await session_of(hub_api, "analyst")
    suppressed = await analyst.post(
        link[1].replace("/ui/findings/", "/ui/finding-status/"),
        data={"csrf_token": csrf, "status": "suppressed"},
    )
    assert suppressed.status_code == 303
    assert (await hub_api.ok("GET", f"/findings/{finding_id}"))["status"] == "suppressed"
