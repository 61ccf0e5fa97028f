"""One calling convention for RAM over either official Python SDK generation.

The lifecycle scenarios in `ram_scenarios.py` and the authorization tests are written once
against `RamDriver`. A driver sends a RAM action through one SDK and returns the response body
as a dict with the wire names ("Policy", "DefaultVersion", ...):

* `PyCoreRam`: aliyun-python-sdk-ram request classes (`<Action>Request`, filled through their own
  `set_<Param>` setters) on aliyun-python-sdk-core's AcsClient: RPC v1 HMAC-SHA1. The body is the
  JSON the server sent.
* `TeaRam`: alibabacloud_ram20150501's typed `<Action>Request` models and `client.<action>()`
  methods: V3 ACS3-HMAC-SHA256, or RPC v1 with `v2=True`. The body is the SDK's typed response
  model turned back into a map, so only the fields the official models know survive, and a body
  the models could not parse fails the call (see `TeaRam.__call__`).

SDK errors become `RamError` with the code, HTTP status and message each SDK reports (and for
Tea the parsed error body and `access_denied_detail`). The SDK exception is kept in `.original`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from aliyunsdkcore.acs_exception.exceptions import ServerException as PyCoreServerException
from alibabacloud_tea_openapi.exceptions import ClientException as TeaClientException

import clients
from clients import ram_models


@dataclass
class RamError(Exception):
    code: str
    status: int
    message: str  # the server's Message (Tea: taken from the error body it kept)
    request_id: Optional[str]
    data: Optional[dict] = None  # Tea only: the error body (+ statusCode)
    access_denied_detail: Optional[dict] = None  # Tea only: ClientException.access_denied_detail
    original: Any = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{self.code} / {self.status}: {self.message}"


def snake(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


class RamDriver:
    """Callable: driver(action, **wire_params) -> response body dict (wire names)."""

    kind: str = "?"
    scheme: str = "http"

    def __call__(self, action: str, **params) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    def error(self, action: str, **params) -> RamError:
        """Run an action that must fail; return the error."""
        try:
            body = self(action, **params)
        except RamError as e:
            return e
        raise AssertionError(f"{self.kind}: {action}({params}) succeeded but should have failed: {body}")

    def expect_error(self, code: str, status: int, action: str, **params) -> RamError:
        e = self.error(action, **params)
        assert (e.code, e.status) == (code, status), f"{self.kind}: {action}({params}): expected {code}/{status}, got {e}"
        assert e.request_id, f"{self.kind}: error without RequestId: {e}"
        return e

    def __repr__(self) -> str:
        return f"<{self.kind}>"


class PyCoreRam(RamDriver):
    def __init__(self, server, ak: str, secret: str, scheme: str = "http", method: Optional[str] = None):
        self.server = server
        self.client = clients.pycore_client(server, ak, secret)
        self.scheme = scheme
        self.method = method
        self.kind = f"py-core/{scheme}" + (f"/{method}" if method else "")

    def __call__(self, action: str, **params) -> dict:
        try:
            return clients.pycore_ram(self.client, self.server, action, scheme=self.scheme, method=self.method, **params)
        except PyCoreServerException as e:
            raise RamError(
                code=e.get_error_code(),
                status=e.get_http_status(),
                message=e.get_error_msg(),
                request_id=e.get_request_id(),
                original=e,
            ) from None


class TeaRam(RamDriver):
    def __init__(self, server, ak: str, secret: str, scheme: str = "http", v2: bool = False):
        self.client = clients.tea_ram(server, ak, secret, scheme=scheme, v2=v2)
        self.scheme = scheme
        self.kind = f"tea/{scheme}/{'v2' if v2 else 'v3'}"

    def __call__(self, action: str, **params) -> dict:
        # The SDK's own request model, filled from wire names (its from_map), then its own method.
        req = getattr(ram_models, f"{action}Request")().from_map(params)
        try:
            resp = getattr(self.client, snake(action))(req)
        except TeaClientException as e:
            data = e.data or {}
            raise RamError(
                code=e.code,
                status=e.status_code,
                message=data.get("Message"),
                request_id=e.request_id,
                data=data,
                access_denied_detail=e.access_denied_detail,
                original=e,
            ) from None
        # DaraCore.from_map swallows a parse failure and stashes the raw map in `_map`; a body the
        # typed models cannot take must fail the test instead.
        assert resp._map is None and resp.body is not None, f"{self.kind}: {action}: SDK could not parse {resp._map}"
        assert resp.status_code == 200, resp.status_code
        return resp.body.to_map()


def make(kind: str, server, ak: str, secret: str) -> RamDriver:
    """kind: pycore-http | pycore-https | pycore-http-GET | tea-http-v3 | tea-https-v3 | tea-http-v2 | tea-https-v2"""
    parts = kind.split("-")
    if parts[0] == "pycore":
        return PyCoreRam(server, ak, secret, parts[1], parts[2] if len(parts) > 2 else None)
    if parts[0] == "tea":
        return TeaRam(server, ak, secret, parts[1], v2=(parts[2] == "v2"))
    raise ValueError(kind)


def items(body: dict, outer: str, inner: str) -> list:
    """The list of a wrapped collection (`{"Users": {"User": [...]}}`); a missing wrapper is an error."""
    assert outer in body, f"response lacks {outer}: {body}"
    wrapped = body[outer]
    assert isinstance(wrapped, dict), f"{outer} is not an object: {body}"
    return wrapped.get(inner) or []


def page_all(ram: RamDriver, action: str, outer: str, inner: str, max_items: int, **params) -> list:
    """Follow Marker/IsTruncated through every page; check the paging contract on the way."""
    out, marker = [], None
    for _ in range(2000):
        p = dict(params, MaxItems=max_items)
        if marker:
            p["Marker"] = marker
        body = ram(action, **p)
        page = items(body, outer, inner)
        assert len(page) <= max_items, body
        out += page
        assert isinstance(body.get("IsTruncated"), bool), body
        if not body["IsTruncated"]:
            assert not body.get("Marker"), body
            return out
        assert body.get("Marker"), body
        marker = body["Marker"]
    raise AssertionError("paging never ended")
