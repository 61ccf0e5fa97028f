"""Failures a user actually hits, as the official SDKs surface them.

Replay / clock tests monkeypatch the SDKs' own nonce and timestamp helpers in-process:
  * py-core:  aliyunsdkcore.utils.parameter_helper.get_uuid / get_iso_8061_date
              (rpc_signature_composer calls them through the module, so patching the module works)
  * Tea:      alibabacloud_tea_openapi.utils.Utils.get_nonce / get_timestamp (static methods used
              by both do_request (V3: x-acs-signature-nonce, x-acs-date) and do_rpcrequest (v2))
"""

from __future__ import annotations

import datetime
import uuid

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.utils import parameter_helper as pycore_helper
from alibabacloud_tea_openapi import utils_models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils import Utils as TeaUtils
from darabonba.runtime import RuntimeOptions

import clients

SIG_PREFIX = "Specified signature is not matched with our calculation. server string to sign is:"
TEA_STYLES = ["v3", "v2"]


def pycore_err(fn, *a, **kw) -> ServerException:
    with pytest.raises(ServerException) as ei:
        fn(*a, **kw)
    e = ei.value
    return e


def tea_err(fn, *a, **kw) -> ClientException:
    with pytest.raises(ClientException) as ei:
        fn(*a, **kw)
    return ei.value


def check_pycore(e: ServerException, code: str, status: int):
    assert (e.get_error_code(), e.get_http_status()) == (code, status), f"{e.get_error_code()} {e.get_http_status()}: {e.get_error_msg()}"


def check_tea(e: ClientException, code: str, status: int):
    assert (e.code, e.status_code) == (code, status), f"{e.code} {e.status_code}: {e.message}"
    # every error body must be JSON with these members
    for k in ("RequestId", "HostId", "Code", "Message", "Recommend"):
        assert k in e.data, f"error body lacks {k}: {e.data}"
    assert isinstance(e.data["Message"], str)


def utc_str(delta_minutes: float) -> str:
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=delta_minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- wrong secret


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("principal", ["root", "ramuser"])
def test_pycore_wrong_secret_reports_invalid_access_key_secret(server, principals, method, principal):
    """py-core rewrites 400 SignatureDoesNotMatch into InvalidAccessKeySecret only when the
    server's reported string-to-sign (after the ':') equals its own, so this also checks the
    server's error message and its v1 canonicalisation."""
    ak, _, _ = principals[principal]
    client = clients.pycore_client(server, ak, "definitely-not-the-secret")
    e = pycore_err(clients.pycore_gci, client, server, "http", method)
    check_pycore(e, "InvalidAccessKeySecret", 400)


@pytest.mark.parametrize("sig", TEA_STYLES)
def test_tea_wrong_secret(server, principals, sig):
    ak, _, _ = principals["root"]
    e = tea_err(clients.tea_gci, clients.tea_sts(server, ak, "definitely-not-the-secret", v2=(sig == "v2")))
    check_tea(e, "SignatureDoesNotMatch", 400)
    assert ":" in e.data["Message"]
    if sig == "v2":
        assert e.data["Message"].startswith(SIG_PREFIX), e.data["Message"]
        assert e.data["Message"][len(SIG_PREFIX):].startswith("POST&%2F&"), e.data["Message"]


def test_tea_ram_wrong_secret(server):
    ram = clients.tea_ram(server, server.root_ak, "wrong-secret-for-ram")
    check_tea(tea_err(ram.list_users, clients.ram_models.ListUsersRequest()), "SignatureDoesNotMatch", 400)


# --------------------------------------------------------------------------- unknown / disabled key

UNKNOWN_AK = "LTAI5tTesseraUnknownKey01"


def test_pycore_unknown_access_key(server):
    client = clients.pycore_client(server, UNKNOWN_AK, "whatever")
    check_pycore(pycore_err(clients.pycore_gci, client, server), "InvalidAccessKeyId.NotFound", 404)


@pytest.mark.parametrize("sig", TEA_STYLES)
def test_tea_unknown_access_key(server, sig):
    e = tea_err(clients.tea_gci, clients.tea_sts(server, UNKNOWN_AK, "whatever", v2=(sig == "v2")))
    check_tea(e, "InvalidAccessKeyId.NotFound", 404)


@pytest.fixture
def disabled_key(server, unique_name):
    root = clients.pycore_client(server, server.root_ak, server.root_secret)
    name = unique_name("disabled")
    clients.pycore_ram(root, server, "CreateUser", UserName=name)
    key = clients.pycore_ram(root, server, "CreateAccessKey", UserName=name)["AccessKey"]
    clients.pycore_ram(root, server, "UpdateAccessKey", UserName=name, UserAccessKeyId=key["AccessKeyId"], Status="Inactive")
    yield key["AccessKeyId"], key["AccessKeySecret"]
    clients.pycore_ram(root, server, "DeleteAccessKey", UserName=name, UserAccessKeyId=key["AccessKeyId"])
    clients.pycore_ram(root, server, "DeleteUser", UserName=name)


def test_pycore_disabled_key(server, disabled_key):
    client = clients.pycore_client(server, *disabled_key)
    check_pycore(pycore_err(clients.pycore_gci, client, server), "InvalidAccessKeyId.Inactive", 400)


@pytest.mark.parametrize("sig", TEA_STYLES)
def test_tea_disabled_key(server, disabled_key, sig):
    e = tea_err(clients.tea_gci, clients.tea_sts(server, *disabled_key, v2=(sig == "v2")))
    check_tea(e, "InvalidAccessKeyId.Inactive", 400)


# --------------------------------------------------------------------------- replayed nonce


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_pycore_replayed_nonce(server, principals, monkeypatch, method):
    ak, secret, _ = principals["root"]
    client = clients.pycore_client(server, ak, secret)
    nonce = uuid.uuid4().hex
    monkeypatch.setattr(pycore_helper, "get_uuid", lambda: nonce)
    assert clients.pycore_gci(client, server, "http", method)["IdentityType"] == "Account"
    check_pycore(pycore_err(clients.pycore_gci, client, server, "http", method), "SignatureNonceUsed", 400)
    # the same nonce over the other listener is still a replay
    check_pycore(pycore_err(clients.pycore_gci, client, server, "https", method), "SignatureNonceUsed", 400)
    monkeypatch.undo()
    assert clients.pycore_gci(client, server, "http", method)["IdentityType"] == "Account"


@pytest.mark.parametrize("sig", TEA_STYLES)
def test_tea_replayed_nonce(server, principals, monkeypatch, sig):
    ak, secret, _ = principals["ramuser"]
    sts = clients.tea_sts(server, ak, secret, v2=(sig == "v2"))
    nonce = uuid.uuid4().hex
    monkeypatch.setattr(TeaUtils, "get_nonce", staticmethod(lambda: nonce))
    assert clients.tea_gci(sts)["IdentityType"] == "RAMUser"
    check_tea(tea_err(clients.tea_gci, sts), "SignatureNonceUsed", 400)
    monkeypatch.undo()
    assert clients.tea_gci(sts)["IdentityType"] == "RAMUser"


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize("minutes", [-20, 20])
def test_pycore_timestamp_out_of_window(server, principals, monkeypatch, minutes):
    ak, secret, _ = principals["root"]
    client = clients.pycore_client(server, ak, secret)
    stamp = utc_str(minutes)
    monkeypatch.setattr(pycore_helper, "get_iso_8061_date", lambda: stamp)
    check_pycore(pycore_err(clients.pycore_gci, client, server), "InvalidTimeStamp.Expired", 400)


def test_pycore_timestamp_inside_window(server, principals, monkeypatch):
    ak, secret, expected = principals["root"]
    client = clients.pycore_client(server, ak, secret)
    stamp = utc_str(-10)
    monkeypatch.setattr(pycore_helper, "get_iso_8061_date", lambda: stamp)
    assert clients.pycore_gci(client, server)["Arn"] == expected["Arn"]


@pytest.mark.parametrize("sig", TEA_STYLES)
@pytest.mark.parametrize("minutes", [-20, 20])
def test_tea_timestamp_out_of_window(server, principals, monkeypatch, sig, minutes):
    ak, secret, _ = principals["root"]
    sts = clients.tea_sts(server, ak, secret, v2=(sig == "v2"))
    stamp = utc_str(minutes)
    monkeypatch.setattr(TeaUtils, "get_timestamp", staticmethod(lambda: stamp))
    check_tea(tea_err(clients.tea_gci, sts), "InvalidTimeStamp.Expired", 400)


# --------------------------------------------------------------------------- action / version


@pytest.mark.parametrize("version", ["2015-04-01", "2015-05-01"])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_pycore_unknown_action(server, principals, version, method):
    ak, secret, _ = principals["root"]
    client = clients.pycore_client(server, ak, secret)
    req = clients.common_request(server, "NoSuchAction", version, method=method)
    check_pycore(pycore_err(clients.pycore_do, client, req), "InvalidAction.NotFound", 404)


def test_pycore_wrong_version(server, principals):
    ak, secret, _ = principals["root"]
    client = clients.pycore_client(server, ak, secret)
    req = clients.common_request(server, "GetCallerIdentity", "2014-01-01")
    check_pycore(pycore_err(clients.pycore_do, client, req), "InvalidVersion", 400)


def tea_call(client, action: str, version: str):
    params = utils_models.Params(
        action=action,
        version=version,
        protocol="HTTPS",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    return client.call_api(params, utils_models.OpenApiRequest(), RuntimeOptions())


@pytest.mark.parametrize("sig", TEA_STYLES)
def test_tea_unknown_action(server, principals, sig):
    ak, secret, _ = principals["root"]
    sts = clients.tea_sts(server, ak, secret, v2=(sig == "v2"))
    check_tea(tea_err(tea_call, sts, "NoSuchAction", "2015-04-01"), "InvalidAction.NotFound", 404)


@pytest.mark.parametrize("sig", TEA_STYLES)
def test_tea_wrong_version(server, principals, sig):
    ak, secret, _ = principals["root"]
    sts = clients.tea_sts(server, ak, secret, v2=(sig == "v2"))
    check_tea(tea_err(tea_call, sts, "GetCallerIdentity", "2014-01-01"), "InvalidVersion", 400)


def test_tea_generic_call_api_ok(server, principals):
    """Sanity check for tea_call itself: the same generic path succeeds for a real action."""
    ak, secret, expected = principals["root"]
    res = tea_call(clients.tea_sts(server, ak, secret), "GetCallerIdentity", "2015-04-01")
    assert res["statusCode"] == 200
    assert res["body"]["Arn"] == expected["Arn"]


# --------------------------------------------------------------------------- authorization


@pytest.mark.parametrize("client_kind", ["pycore", "tea-v3", "tea-v2"])
def test_ram_user_no_permission(server, ram_user, client_kind):
    ak, secret = ram_user["AccessKeyId"], ram_user["AccessKeySecret"]
    if client_kind == "pycore":
        client = clients.pycore_client(server, ak, secret)
        e = pycore_err(clients.pycore_ram, client, server, "ListUsers")
        check_pycore(e, "NoPermission", 403)
    else:
        ram = clients.tea_ram(server, ak, secret, v2=(client_kind == "tea-v2"))
        check_tea(tea_err(ram.list_users, clients.ram_models.ListUsersRequest()), "NoPermission", 403)
