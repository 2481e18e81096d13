"""The Python client of Concordat's gRPC API.

`Client` connects to a Concordat server with a bearer token (or a function giving one, such as
`ClientCredentials` for a registered service client) and holds a stub per service. Its `call`
sends a unary request with a request id (the `x-request-id` header and, where the message has
one, its `request_id` idempotency key), retries what the server says may be retried with the same
id, and raises `ConcordatError` carrying the `google.rpc` details. `pages` iterates a list across
its pages and `watch` follows a stream, resuming from the last cursor when the server goes away
and cancelling it when the caller stops reading.

The generated messages and stubs are in the `concordat` package (`concordat.changecontrol.v1`,
`concordat.sharedconfig.v1`, …), with type stubs.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, TypeVar, Union

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from concordat.benefits.v1 import benefits_service_pb2_grpc
from concordat.changecontrol.v1 import changecontrol_service_pb2_grpc
from concordat.convergence.v1 import convergence_service_pb2_grpc
from concordat.platform.v1 import platform_service_pb2_grpc
from concordat.sharedconfig.v1 import sharedconfig_service_pb2_grpc

__all__ = [
    "Client",
    "ClientCredentials",
    "ConcordatError",
    "FieldViolation",
    "PreconditionViolation",
    "TokenProvider",
]

__version__ = "0.1.0"

TokenProvider = Callable[[], str]
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)

# Codes worth sending again, unchanged and with the same request id.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})


@dataclass(frozen=True)
class FieldViolation:
    """One field of the request and what is wrong with it."""

    field: str
    description: str


@dataclass(frozen=True)
class PreconditionViolation:
    """One precondition the request failed: its type (e.g. the state), subject and description."""

    type: str
    subject: str
    description: str


@dataclass
class ConcordatError(Exception):
    """A call the server refused: its gRPC code and message and the `google.rpc` details."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: list[FieldViolation] = field(default_factory=list)
    precondition_violations: list[PreconditionViolation] = field(default_factory=list)
    retry_after: Optional[float] = None
    request_id: str = ""

    def __str__(self) -> str:
        lines = [f"{self.code.name}: {self.message}"]
        if self.reason:
            lines.append(f"reason: {self.reason}")
        lines += [f"{v.field}: {v.description}" for v in self.field_violations]
        lines += [
            f"[{v.type}] {v.subject}: {v.description}" for v in self.precondition_violations
        ]
        return "\n".join(lines)

    @classmethod
    def of(cls, error: grpc.RpcError, request_id: str = "") -> ConcordatError:
        """Decodes `error` (a failed call) with the details in its `grpc-status-details-bin`."""
        call: Any = error
        out = cls(code=call.code(), message=call.details() or "", request_id=request_id)
        try:
            status = rpc_status.from_call(call)
        except ValueError:  # details disagreeing with the call's own code or message: ignored
            status = None
        for detail in status.details if status is not None else []:
            info = error_details_pb2.ErrorInfo()
            bad = error_details_pb2.BadRequest()
            precondition = error_details_pb2.PreconditionFailure()
            retry = error_details_pb2.RetryInfo()
            if detail.Unpack(info):
                out.reason, out.domain, out.metadata = info.reason, info.domain, dict(info.metadata)
            elif detail.Unpack(bad):
                out.field_violations += [
                    FieldViolation(v.field, v.description) for v in bad.field_violations
                ]
            elif detail.Unpack(precondition):
                out.precondition_violations += [
                    PreconditionViolation(v.type, v.subject, v.description)
                    for v in precondition.violations
                ]
            elif detail.Unpack(retry):
                out.retry_after = retry.retry_delay.ToTimedelta().total_seconds()
        return out


class ClientCredentials:
    """A token provider for a registered service client (OAuth client credentials): the token
    endpoint found by OIDC discovery, the token kept until four fifths of its life."""

    def __init__(
        self, issuer: str, client_id: str, client_secret: str, resource: str = ""
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.resource = resource
        self._lock = threading.Lock()
        self._token = ""
        self._renew_at = 0.0

    def __call__(self) -> str:
        with self._lock:
            if not self._token or time.monotonic() >= self._renew_at:
                self._token, lifetime = self._fetch()
                self._renew_at = time.monotonic() + lifetime * 0.8
            return self._token

    def _fetch(self) -> tuple[str, float]:
        with urllib.request.urlopen(
            f"{self.issuer}/.well-known/openid-configuration", timeout=10
        ) as r:
            endpoint = json.load(r)["token_endpoint"]
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.resource:
            form["resource"] = self.resource
        body = urllib.parse.urlencode(form).encode()
        with urllib.request.urlopen(endpoint, data=body, timeout=10) as r:
            answer = json.load(r)
        return str(answer["access_token"]), float(answer.get("expires_in", 300))


class _Bearer(grpc.AuthMetadataPlugin):
    def __init__(self, token: TokenProvider) -> None:
        self._token = token

    def __call__(
        self,
        context: grpc.AuthMetadataContext,
        callback: grpc.AuthMetadataPluginCallback,
    ) -> None:
        try:
            callback((("authorization", f"Bearer {self._token()}"),), None)
        except Exception as e:  # noqa: BLE001 - the call fails with this error, unauthenticated
            callback((), e)


def _is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]") if ":" in address else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Client:
    """A connection to a Concordat server, with a stub per service.

    `address` is `host:port`. On loopback the channel uses gRPC's local credentials (plaintext,
    yet allowed to carry the token); elsewhere TLS (`root_certificates`, or the system's).
    `token` is a bearer token or a function returning one for each call.
    """

    def __init__(
        self,
        address: str,
        token: Union[str, TokenProvider],
        *,
        root_certificates: Optional[bytes] = None,
        timeout: float = 30.0,
        retries: int = 3,
    ) -> None:
        provider: TokenProvider = (lambda: token) if isinstance(token, str) else token
        transport = (
            grpc.local_channel_credentials(grpc.LocalConnectionType.LOCAL_TCP)
            if _is_loopback(address)
            else grpc.ssl_channel_credentials(root_certificates)
        )
        credentials = grpc.composite_channel_credentials(
            transport, grpc.metadata_call_credentials(_Bearer(provider))
        )
        self.address = address
        self.timeout = timeout
        self.retries = retries
        self.channel = grpc.secure_channel(address, credentials)
        self.platform = platform_service_pb2_grpc.PlatformServiceStub(self.channel)
        self.change_control = changecontrol_service_pb2_grpc.ChangeControlServiceStub(self.channel)
        self.shared_config = sharedconfig_service_pb2_grpc.SharedConfigServiceStub(self.channel)
        self.convergence = convergence_service_pb2_grpc.ConvergenceServiceStub(self.channel)
        self.benefits = benefits_service_pb2_grpc.BenefitsServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def call(
        self,
        method: Callable[..., Resp],
        request: Req,
        *,
        request_id: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Resp:
        """Calls `method` (a stub's unary method) with `request`.

        One request id is sent as `x-request-id` and, when the message has a `request_id` field
        left empty, as its idempotency key, so a retry is the same request to the server. Retried
        up to `retries` times on UNAVAILABLE and RESOURCE_EXHAUSTED, after the server's
        `RetryInfo` delay or a doubling backoff. Raises `ConcordatError`.
        """
        rid = request_id or str(uuid.uuid4())
        if "request_id" in request.DESCRIPTOR.fields_by_name and not getattr(
            request, "request_id"
        ):
            setattr(request, "request_id", rid)
        backoff = 0.2
        for attempt in range(self.retries + 1):
            try:
                return method(
                    request,
                    timeout=timeout or self.timeout,
                    metadata=(("x-request-id", rid),),
                )
            except grpc.RpcError as e:
                error = ConcordatError.of(e, rid)
                if error.code not in RETRYABLE or attempt == self.retries:
                    raise error from None
                time.sleep(error.retry_after if error.retry_after is not None else backoff)
                backoff = min(backoff * 2, 5.0)
        raise AssertionError("unreachable")

    def pages(
        self, method: Callable[..., Resp], request: Req, items: str
    ) -> Iterator[Any]:
        """Every item of a list: `items` is the response's repeated field; each page is asked
        for with the previous page's `next_page_token`."""
        while True:
            page = self.call(method, request)
            yield from getattr(page, items)
            token = getattr(page, "next_page_token")
            if not token:
                return
            setattr(request, "page_token", token)

    def watch(
        self,
        method: Callable[..., Iterator[Resp]],
        request: Req,
        *,
        resume: Optional[Callable[[Req, Resp], None]] = None,
        attempts: int = 5,
        timeout: Optional[float] = None,
    ) -> Iterator[Resp]:
        """Follows a `Watch…` stream, yielding each response. When the server goes away
        (UNAVAILABLE, e.g. a replica draining) the watch is opened again after the last response
        received: by default with its `cursor`; `resume` sets another position. Raises
        `ConcordatError` for other failures, or once `attempts` reopenings in a row fail.

        The stream is opened when the first response is asked for. `timeout` is the deadline of
        each opening (none by default: a watch may last). Closing the iterator (`close()`) cancels
        the stream."""

        def by_cursor(req: Req, last: Resp) -> None:
            setattr(req, "cursor", getattr(last, "cursor"))

        move = resume or by_cursor
        failures = 0
        while True:
            rid = str(uuid.uuid4())
            stream = method(request, timeout=timeout, metadata=(("x-request-id", rid),))
            try:
                for response in stream:
                    failures = 0
                    move(request, response)
                    yield response
                return
            except grpc.RpcError as e:
                error = ConcordatError.of(e, rid)
                failures += 1
                if error.code != grpc.StatusCode.UNAVAILABLE or failures > attempts:
                    raise error from None
                time.sleep(error.retry_after if error.retry_after is not None else 0.5)
            finally:
                # Ended, failed, or the caller stopped reading (GeneratorExit): not left open.
                cancel = getattr(stream, "cancel", None)
                if callable(cancel):
                    cancel()


def field_names(error: ConcordatError) -> Sequence[str]:
    """The fields an error names, in order."""
    return [v.field for v in error.field_violations]
