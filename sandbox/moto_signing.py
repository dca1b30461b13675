"""One fix of moto's IAM enforcement itself, which every REST-JSON service needs.

moto 5.x checks the SigV4 signature of a request without a body (a REST GET, HEAD or DELETE, such
as GuardDuty's ListDetectors or Lambda's GetPolicy) as if its body were its parsed fields, so with
IAM enforced it answers every such request 403 SignatureDoesNotMatch. AWS checks the signature
over the payload the client signed, which is empty
(https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html, "the hashed payload
... of an empty string" for a request without a body). Installed by sandbox/moto_server.py.
"""

from __future__ import annotations

from botocore.awsrequest import AWSRequest
from moto.iam.access_control import IAMRequestBase

_create_aws_request = IAMRequestBase._create_aws_request


def create_aws_request(self: IAMRequestBase) -> AWSRequest:
    """The request as signed: a bodiless GET, HEAD or DELETE has an empty body."""
    request = _create_aws_request(self)
    if self._method in ("GET", "HEAD", "DELETE") and not self._body:
        request.data = b""
    return request


def install() -> None:
    IAMRequestBase._create_aws_request = create_aws_request  # type: ignore[method-assign]
