"""What IAM refuses or reports and moto (5.x) gets wrong, for the calls the IAM jobs make.

Installed into the sandbox's moto server by sandbox/moto_server.py:

- UpdateAccountPasswordPolicy below its ranges: MinimumPasswordLength 6-128, PasswordReusePrevention
  1-24, MaxPasswordAge 1-1095 (moto checks only the upper ends): 400 ValidationError
  (https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAccountPasswordPolicy.html,
  "Valid Range: Minimum value of 6 ..."). boto3 checks the same ranges before sending, so only a
  client with parameter validation off (or another SDK) reaches the server with them;
- server certificates (UploadServerCertificate, GetServerCertificate, ListServerCertificates):
  moto answers every certificate with the fixed `Expiration` 2012-05-08, so every certificate
  looks expired. IAM reads the certificate: `Expiration` is its notAfter, `UploadDate` when it was
  uploaded, and each has its own `ServerCertificateId`
  (https://docs.aws.amazon.com/IAM/latest/APIReference/API_ServerCertificateMetadata.html). A body
  that is not a PEM certificate is refused with 400 MalformedCertificate, a private key that does
  not belong to it with 400 KeyPairMismatch
  (https://docs.aws.amazon.com/IAM/latest/APIReference/API_UploadServerCertificate.html, Errors);
- AWS managed policies (arn:aws:iam::aws:policy/...) exist in every account; moto loads them only
  when asked (its documented switch `MOTO_IAM_LOAD_MANAGED_POLICIES`), so the sandbox asks: a job
  attaching AWSSupportAccess finds it as on AWS
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html#aws-managed-policies);
- GetLoginProfile's `CreateDate` is when the console password was created
  (https://docs.aws.amazon.com/IAM/latest/APIReference/API_LoginProfile.html); moto answers the
  user's creation date.

And one route that is the sandbox's, not AWS's, for tests only: moto stamps every access key and
login profile with the time of its creation and a key's last use with the time of its last
request, so a test cannot make one 120 days old. `POST /moto-api/sandbox/iam/credential-dates`
(`age_credentials()` below) sets an access key's CreateDate and last use, or a user's login
profile CreateDate and PasswordLastUsed (which GetUser returns).
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.request
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.iam.exceptions import IAMException, ValidationError
from moto.iam.models import AccessKeyLastUsed, Certificate, IAMBackend, iam_backends
from moto.iam.responses import IamResponse

CREDENTIAL_DATES_PATH = "/moto-api/sandbox/iam/credential-dates"
DEFAULT_ACCOUNT = "123456789012"

#: UpdateAccountPasswordPolicy's lower bounds (parameter -> its minimum)
PASSWORD_POLICY_MINIMUMS = {
    "MinimumPasswordLength": 6,
    "PasswordReusePrevention": 1,
    "MaxPasswordAge": 1,
}


class KeyPairMismatch(IAMException):
    code = "KeyPairMismatch"


class MalformedCertificate(IAMException):
    code = "MalformedCertificate"


# ----------------------------------------------------------------------------------------------
# UpdateAccountPasswordPolicy
# ----------------------------------------------------------------------------------------------

_update_account_password_policy = IamResponse.update_account_password_policy


def update_account_password_policy(self: IamResponse) -> Any:
    errors = []
    for name, minimum in PASSWORD_POLICY_MINIMUMS.items():
        value = self._get_int_param(name)
        if value is not None and value < minimum:
            key = name[0].lower() + name[1:]
            errors.append(
                f'Value "{value}" at "{key}" failed to satisfy constraint: '
                f"Member must have value greater than or equal to {minimum}"
            )
    if errors:
        plural = "s" if len(errors) > 1 else ""
        raise ValidationError(
            f"{len(errors)} validation error{plural} detected: {'; '.join(errors)}"
        )
    return _update_account_password_policy(self)


# ----------------------------------------------------------------------------------------------
# Server certificates
# ----------------------------------------------------------------------------------------------

_upload_server_certificate = IAMBackend.upload_server_certificate


def _read_certificate(body: str, private_key: str) -> datetime:
    """The certificate's notAfter; MalformedCertificate or KeyPairMismatch as IAM refuses."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        certificate = x509.load_pem_x509_certificate(body.encode())
    except ValueError:
        raise MalformedCertificate(
            "Unable to parse certificate. Please ensure the certificate is in PEM format."
        ) from None
    try:
        key = serialization.load_pem_private_key(private_key.encode(), password=None)
    except (ValueError, TypeError):
        raise MalformedCertificate(
            "Unable to parse private key. Please ensure the key is in PEM format."
        ) from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = serialization.Encoding.PEM
    if key.public_key().public_bytes(pem, public) != certificate.public_key().public_bytes(
        pem, public
    ):
        raise KeyPairMismatch("The private key does not match the public key of the certificate")
    return certificate.not_valid_after_utc


def upload_server_certificate(
    self: IAMBackend,
    cert_name: str,
    cert_body: str,
    private_key: str,
    cert_chain: str | None = None,
    path: str | None = None,
) -> Certificate:
    expiration = _read_certificate(cert_body or "", private_key or "")
    cert = _upload_server_certificate(
        self, cert_name, cert_body, private_key, cert_chain=cert_chain, path=path
    )
    # what IAM reads from the certificate and stamps on it (moto's Certificate has no field)
    setattr(cert, "expiration", expiration)  # noqa: B010
    setattr(cert, "upload_date", datetime.now(UTC))  # noqa: B010
    setattr(cert, "server_certificate_id", "ASCA" + secrets.token_hex(8).upper())  # noqa: B010
    return cert


def _metadata(cert: Certificate) -> dict[str, Any]:
    return {
        "ServerCertificateName": cert.cert_name,
        "Path": cert.path,
        "Arn": cert.arn,
        "UploadDate": getattr(cert, "upload_date", None),
        "ServerCertificateId": getattr(cert, "server_certificate_id", None),
        "Expiration": getattr(cert, "expiration", None),
    }


def upload_server_certificate_response(self: IamResponse) -> ActionResult:
    cert = self.backend.upload_server_certificate(
        self._get_param("ServerCertificateName"),
        self._get_param("CertificateBody"),
        self._get_param("PrivateKey"),
        cert_chain=self._get_param("CertificateChain"),
        path=self._get_param("Path"),
    )
    return ActionResult({"ServerCertificateMetadata": _metadata(cert)})


def list_server_certificates(self: IamResponse) -> ActionResult:
    prefix = self._get_param("PathPrefix") or "/"
    certs = [c for c in self.backend.list_server_certificates() if c.path.startswith(prefix)]
    return ActionResult(
        {"ServerCertificateMetadataList": [_metadata(c) for c in certs], "IsTruncated": False}
    )


def get_server_certificate(self: IamResponse) -> ActionResult:
    cert = self.backend.get_server_certificate(self._get_param("ServerCertificateName"))
    found: dict[str, Any] = {
        "ServerCertificateMetadata": _metadata(cert),
        "CertificateBody": cert.cert_body,
    }
    if cert.cert_chain:
        found["CertificateChain"] = cert.cert_chain
    return ActionResult({"ServerCertificate": found})


# ----------------------------------------------------------------------------------------------
# Login profiles
# ----------------------------------------------------------------------------------------------

_create_login_profile = IAMBackend.create_login_profile


def create_login_profile(self: IAMBackend, user_name: str, password: str) -> Any:
    user = _create_login_profile(self, user_name, password)
    setattr(user, "login_profile_create_date", datetime.now(UTC))  # noqa: B010
    return user


def _login_profile(user: Any) -> dict[str, Any]:
    return {
        "UserName": user.name,
        "CreateDate": getattr(user, "login_profile_create_date", None) or user.create_date,
        "PasswordResetRequired": user.password_reset_required,
    }


def get_login_profile(self: IamResponse) -> ActionResult:
    user = self.backend.get_login_profile(self._get_param("UserName"))
    return ActionResult({"LoginProfile": _login_profile(user)})


def create_login_profile_response(self: IamResponse) -> ActionResult:
    user = self.backend.create_login_profile(
        self._get_param("UserName"), self._get_param("Password")
    )
    return ActionResult({"LoginProfile": _login_profile(user)})


# ----------------------------------------------------------------------------------------------
# The sandbox's own route (tests only): age an access key or a login profile
# ----------------------------------------------------------------------------------------------


def _when(value: Any) -> datetime | None:
    return None if value in (None, "") else datetime.fromisoformat(str(value))


def credential_dates(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    """POST {"access_key_id", "create_date"?, "last_used"?} or {"user_name",
    "login_profile_create_date"?, "password_last_used"?}, dates in ISO 8601 (UTC)."""
    if request.method != "POST":
        return 405, {}, json.dumps({"error": "POST only"})
    wanted = json.loads(request.data or b"{}")
    backend: IAMBackend = iam_backends[wanted.get("account_id", DEFAULT_ACCOUNT)]["aws"]
    if key_id := wanted.get("access_key_id"):
        key = next((k for k in backend.access_keys.values() if k.access_key_id == key_id), None)
        if key is None:
            return 404, {}, json.dumps({"error": f"no access key {key_id}"})
        if "create_date" in wanted:
            key.create_date = _when(wanted["create_date"]) or datetime.now(UTC)
        if "last_used" in wanted:
            used = _when(wanted["last_used"])
            key.last_used = None if used is None else AccessKeyLastUsed(used, "iam", "us-east-1")
    if name := wanted.get("user_name"):
        user = backend.users.get(name)
        if user is None:
            return 404, {}, json.dumps({"error": f"no user {name}"})
        if "login_profile_create_date" in wanted:
            setattr(user, "login_profile_create_date", _when(wanted["login_profile_create_date"]))  # noqa: B010
        if "password_last_used" in wanted:
            setattr(user, "password_last_used", _when(wanted["password_last_used"]))  # noqa: B010
    return 200, {"Content-Type": "application/json"}, json.dumps({"status": "ok"})


def age_credentials(endpoint: str, **fields: Any) -> None:
    """Tests: set credential dates through the sandbox's route (see credential_dates)."""
    body = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}
    request = urllib.request.Request(
        f"{endpoint}{CREDENTIAL_DATES_PATH}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def install() -> None:
    from moto.moto_api._internal import urls as moto_api_urls

    # before the first IAM backend is made (the server makes them on the first request)
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

    IamResponse.update_account_password_policy = update_account_password_policy  # type: ignore[method-assign]
    IAMBackend.upload_server_certificate = upload_server_certificate  # type: ignore[method-assign]
    IamResponse.upload_server_certificate = upload_server_certificate_response  # type: ignore[method-assign]
    IamResponse.list_server_certificates = list_server_certificates  # type: ignore[method-assign]
    IamResponse.get_server_certificate = get_server_certificate  # type: ignore[method-assign]
    IAMBackend.create_login_profile = create_login_profile  # type: ignore[method-assign]
    IamResponse.create_login_profile = create_login_profile_response  # type: ignore[method-assign]
    IamResponse.get_login_profile = get_login_profile  # type: ignore[method-assign]
    moto_api_urls.url_paths["{0}" + CREDENTIAL_DATES_PATH] = credential_dates
