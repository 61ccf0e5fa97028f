"""Thin helpers that build the *official* SDK clients aimed at a Tessera server.

Nothing here changes SDK behaviour: only the endpoint/protocol (and, for https, the CA to
trust, through each SDK's own documented option) are set.
"""

from __future__ import annotations

import importlib
import json

# --- old generation: aliyun-python-sdk-core ---------------------------------------------------
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.http import protocol_type
from aliyunsdkcore.request import CommonRequest
from aliyunsdksts.request.v20150401.GetCallerIdentityRequest import GetCallerIdentityRequest

# --- new generation: Tea / darabonba ----------------------------------------------------------
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi import models as open_api_models

SCHEMES = ("http", "https")


def pt(scheme: str):
    """py-core compares protocol with `is`, so hand it the module constants (client-traffic §6)."""
    return protocol_type.HTTPS if scheme == "https" else protocol_type.HTTP


# ---------------------------------------------------------------------------------------------
# py-core (AcsClient + request classes, RPC v1 HMAC-SHA1)


def pycore_client(server, ak: str, secret: str, **kwargs) -> AcsClient:
    # `verify` is AcsClient's own option for the CA bundle used on https.
    return AcsClient(ak, secret, "cn-hangzhou", verify=server.ca_path, **kwargs)


def aim(req, server, scheme: str = "http", method: str | None = None):
    """Point a py-core request at the server (set_endpoint + set_protocol_type)."""
    req.set_endpoint(server.host(scheme))
    req.set_protocol_type(pt(scheme))
    if method is not None:
        req.set_method(method)
    return req


def pycore_do(client: AcsClient, req) -> dict:
    return json.loads(client.do_action_with_exception(req))


def pycore_gci(client: AcsClient, server, scheme: str = "http", method: str | None = None) -> dict:
    return pycore_do(client, aim(GetCallerIdentityRequest(), server, scheme, method))


def pycore_ram_request(action: str, **params):
    """Instantiate aliyunsdkram's `<action>Request` class and fill it through its setters."""
    mod = importlib.import_module(f"aliyunsdkram.request.v20150501.{action}Request")
    req = getattr(mod, f"{action}Request")()
    for k, v in params.items():
        getattr(req, f"set_{k}")(v)
    return req


def pycore_ram(client: AcsClient, server, action: str, scheme: str = "http", method: str | None = None, **params) -> dict:
    return pycore_do(client, aim(pycore_ram_request(action, **params), server, scheme, method))


def common_request(server, action: str, version: str, scheme: str = "http", method: str = "POST", **params) -> CommonRequest:
    req = CommonRequest(domain=server.host(scheme), version=version, action_name=action)
    req.set_protocol_type(pt(scheme))
    req.set_method(method)
    for k, v in params.items():
        req.add_query_param(k, v)
    return req


# ---------------------------------------------------------------------------------------------
# Tea (alibabacloud_tea_openapi based clients; V3 ACS3-HMAC-SHA256 by default, v2 = RPC v1)


def tea_config(server, ak=None, secret=None, scheme="http", v2=False, credential=None) -> open_api_models.Config:
    cfg = open_api_models.Config(
        access_key_id=ak,
        access_key_secret=secret,
        credential=credential,
        endpoint=server.host(scheme),
        protocol=scheme,
    )
    if scheme == "https":
        cfg.ca = server.ca_path  # Config.ca: the SDK's own CA option
    if v2:
        cfg.signature_algorithm = "v2"
    return cfg


def tea_sts(server, ak=None, secret=None, scheme="http", v2=False, credential=None) -> StsClient:
    return StsClient(tea_config(server, ak, secret, scheme, v2, credential))


def tea_ram(server, ak=None, secret=None, scheme="http", v2=False, credential=None) -> RamClient:
    return RamClient(tea_config(server, ak, secret, scheme, v2, credential))


def tea_gci(client: StsClient) -> dict:
    body = client.get_caller_identity().body
    return {
        "IdentityType": body.identity_type,
        "AccountId": body.account_id,
        "Arn": body.arn,
        "PrincipalId": body.principal_id,
        "UserId": body.user_id,
        "RequestId": body.request_id,
        "RoleId": body.role_id,
    }


__all__ = [
    "SCHEMES",
    "pt",
    "pycore_client",
    "aim",
    "pycore_do",
    "pycore_gci",
    "pycore_ram_request",
    "pycore_ram",
    "common_request",
    "tea_config",
    "tea_sts",
    "tea_ram",
    "tea_gci",
    "ram_models",
]
