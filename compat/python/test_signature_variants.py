"""The non-standard RPC v1 canonicalisation of alibabacloud_credentials (quote_plus).

Its providers only sign AssumeRole/GenerateSessionAccessKey, so this drives the provider's
exact code path (parameter_helper.get_new_request / compose_string_to_sign / sign_string /
Tea.core.TeaCore.do_action, GET with everything in the query) for a RAM CreateUser whose
Comments contain spaces and the characters on which the encodings differ. The server must
accept it as a fallback after the RFC 3986 canonicalisation (client-traffic.md §2.3).
"""

from __future__ import annotations

import json

from alibabacloud_credentials.utils import parameter_helper as ph
from Tea.core import TeaCore

import clients

TRICKY = "hello world (it's) *compat* ~tilde! a+b/c=d&e é中"


def provider_style_request(server, action: str, version: str, ak: str, secret: str, **params):
    req = ph.get_new_request()
    req.query = {
        "Action": action,
        "Format": "JSON",
        "Version": version,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "Timestamp": ph.get_iso_8061_date(),
        "SignatureNonce": ph.get_uuid(),
        "AccessKeyId": ak,
        **params,
    }
    string_to_sign = ph.compose_string_to_sign("GET", req.query)
    req.query["Signature"] = ph.sign_string(string_to_sign, secret + "&")
    req.protocol = "http"
    req.headers["host"] = server.http_host
    resp = TeaCore.do_action(req, {})
    return resp.status_code, json.loads(resp.body.decode("utf-8")), string_to_sign


def test_quote_plus_canonicalisation_accepted(server, unique_name):
    name = unique_name("qplus")
    status, body, sts = provider_style_request(
        server, "CreateUser", "2015-05-01", server.root_ak, server.root_secret, UserName=name, Comments=TRICKY
    )
    # the variant really differs from RFC 3986 here (space -> %2B instead of %2520)
    assert "%2B" in sts and "%2520" not in sts
    assert status == 200, body
    assert body["User"]["UserName"] == name
    assert body["User"]["Comments"] == TRICKY
    root = clients.pycore_client(server, server.root_ak, server.root_secret)
    assert clients.pycore_ram(root, server, "GetUser", UserName=name)["User"]["Comments"] == TRICKY
    clients.pycore_ram(root, server, "DeleteUser", UserName=name)


def test_quote_plus_wrong_secret_still_rejected(server, unique_name):
    status, body, _ = provider_style_request(
        server, "CreateUser", "2015-05-01", server.root_ak, "bad-secret", UserName=unique_name("qplus"), Comments=TRICKY
    )
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch"), body


def test_standard_canonicalisation_with_tricky_chars(server, unique_name):
    """Same parameters through py-core (standard encoding), for comparison."""
    root = clients.pycore_client(server, server.root_ak, server.root_secret)
    name = unique_name("std")
    for method in ("GET", "POST"):
        n = f"{name}-{method.lower()}"
        u = clients.pycore_ram(root, server, "CreateUser", method=method, UserName=n, Comments=TRICKY)["User"]
        assert u["Comments"] == TRICKY
        clients.pycore_ram(root, server, "DeleteUser", UserName=n)


def test_tea_tricky_chars(server, unique_name):
    m = clients.ram_models
    for sig in ("v3", "v2"):
        ram = clients.tea_ram(server, server.root_ak, server.root_secret, v2=(sig == "v2"))
        n = unique_name(f"tea-{sig}")
        u = ram.create_user(m.CreateUserRequest(user_name=n, comments=TRICKY)).body.user
        assert u.comments == TRICKY
        ram.delete_user(m.DeleteUserRequest(user_name=n))
