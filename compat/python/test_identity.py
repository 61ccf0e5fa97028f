"""STS GetCallerIdentity through every Python client style, as root and as a RAM user."""

from __future__ import annotations

import re

import pytest

import clients

REQUEST_ID_RE = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")


def assert_identity(got: dict, expected: dict):
    for k, v in expected.items():
        assert got.get(k) == v, f"{k}: got {got.get(k)!r}, expected {v!r} (full: {got})"
    assert not got.get("RoleId"), f"unexpected RoleId for a non-role identity: {got}"
    assert REQUEST_ID_RE.match(got.get("RequestId") or ""), f"RequestId: {got.get('RequestId')!r}"


def test_root_credentials_file(server):
    assert re.fullmatch(r"\d{16}", server.account_id), server.account_id
    assert server.root_ak.startswith("LTAI"), server.root_ak
    assert len(server.root_secret) >= 20


@pytest.mark.parametrize("principal", ["root", "ramuser"])
@pytest.mark.parametrize("scheme", clients.SCHEMES)
@pytest.mark.parametrize("method", [None, "GET", "POST"], ids=["default", "GET", "POST"])
def test_pycore_get_caller_identity(server, principals, principal, scheme, method):
    ak, secret, expected = principals[principal]
    client = clients.pycore_client(server, ak, secret)
    req = clients.aim(clients.GetCallerIdentityRequest(), server, scheme, method)
    # The request class's own default is POST with everything in the query.
    assert req.get_method() == (method or "POST")
    assert_identity(clients.pycore_do(client, req), expected)


@pytest.mark.parametrize("principal", ["root", "ramuser"])
@pytest.mark.parametrize("scheme", clients.SCHEMES)
@pytest.mark.parametrize("sig", ["v3", "v2"])
def test_tea_get_caller_identity(server, principals, principal, scheme, sig):
    ak, secret, expected = principals[principal]
    client = clients.tea_sts(server, ak, secret, scheme=scheme, v2=(sig == "v2"))
    assert_identity(clients.tea_gci(client), expected)


@pytest.mark.parametrize("scheme", clients.SCHEMES)
def test_pycore_common_request_get_caller_identity(server, principals, scheme):
    """CommonRequest (x-sdk-invoke-type: common, GET by default) reaches the same action."""
    ak, secret, expected = principals["root"]
    client = clients.pycore_client(server, ak, secret)
    req = clients.common_request(server, "GetCallerIdentity", "2015-04-01", scheme=scheme, method="GET")
    assert_identity(clients.pycore_do(client, req), expected)


def test_pycore_add_endpoint_route(server, principals):
    """The other documented way to aim py-core: add_endpoint with a scheme-prefixed URL."""
    ak, secret, expected = principals["ramuser"]
    client = clients.pycore_client(server, ak, secret)
    client.add_endpoint("cn-hangzhou", "Sts", f"http://{server.http_host}")
    req = clients.GetCallerIdentityRequest()
    req.set_protocol_type(clients.protocol_type.HTTP)
    assert_identity(clients.pycore_do(client, req), expected)


def pycore_raw(client, req):
    """Sends `req` keeping its accept format (do_action_with_exception forces JSON): the
    deprecated but public get_response answers (status, headers, body) as received."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        status, _headers, body = client.get_response(req)[:3]
    return status, body


@pytest.mark.parametrize("principal", ["root", "ramuser"])
def test_pycore_xml_format(server, principals, principal):
    """py-core asking for XML (Format=XML) gets a well-formed XML document with the same fields,
    read here by the standard library's XML parser."""
    import xml.etree.ElementTree as ET

    ak, secret, expected = principals[principal]
    client = clients.pycore_client(server, ak, secret)
    req = clients.aim(clients.GetCallerIdentityRequest(), server)
    req.set_accept_format("XML")
    status, body = pycore_raw(client, req)
    assert status == 200, body
    root = ET.fromstring(body)
    assert root.tag == "GetCallerIdentityResponse", body
    got = {child.tag: child.text for child in root}
    assert_identity(got, expected)


def test_pycore_xml_list_and_error(server, principals):
    """A RAM listing in XML nests its items as the SDK models expect, and an error in XML is an
    XML error document with the gateway's status and code."""
    import xml.etree.ElementTree as ET

    ak, secret, _ = principals["root"]
    client = clients.pycore_client(server, ak, secret)
    req = clients.aim(clients.pycore_ram_request("ListUsers", MaxItems=1000), server)
    req.set_accept_format("XML")
    status, body = pycore_raw(client, req)
    assert status == 200, body
    root = ET.fromstring(body)
    assert root.tag == "ListUsersResponse"
    names = [u.findtext("UserName") for u in root.findall("./Users/User")]
    assert names, body
    assert root.findtext("IsTruncated") in ("true", "false")
    bad = clients.aim(clients.pycore_ram_request("GetUser", UserName="no-such-user-xml"), server)
    bad.set_accept_format("XML")
    status, body = pycore_raw(client, bad)
    assert status == 404, body
    err = ET.fromstring(body)
    assert err.tag == "Error"
    assert err.findtext("Code") == "EntityNotExist.User"
    assert err.findtext("RequestId")
