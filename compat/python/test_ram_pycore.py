"""RAM users and access keys through aliyun-python-sdk-ram (py-core, RPC v1)."""

from __future__ import annotations

import re

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException

import clients

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture
def root(server):
    return clients.pycore_client(server, server.root_ak, server.root_secret)


def ram(root, server, action, **params):
    return clients.pycore_ram(root, server, action, **params)


def server_error(fn, *args, **kwargs) -> ServerException:
    with pytest.raises(ServerException) as ei:
        fn(*args, **kwargs)
    return ei.value


def assert_error(exc: ServerException, code: str, status: int):
    assert (exc.get_error_code(), exc.get_http_status()) == (code, status), (
        f"got {exc.get_error_code()} / {exc.get_http_status()}: {exc.get_error_msg()}"
    )
    assert exc.get_request_id(), "error without RequestId"


def test_user_and_key_lifecycle(server, root, unique_name):
    name = unique_name("pycore")

    # CreateUser
    created = ram(root, server, "CreateUser", UserName=name, DisplayName="Py Core", Comments="made by py-core")
    u = created["User"]
    assert u["UserName"] == name
    assert u["DisplayName"] == "Py Core"
    assert u["Comments"] == "made by py-core"
    assert re.fullmatch(r"\d+", u["UserId"]), u
    assert DATE_RE.match(u["CreateDate"]), u
    user_id = u["UserId"]

    # duplicate name
    assert_error(server_error(ram, root, server, "CreateUser", UserName=name), "EntityAlreadyExists.User", 409)

    # GetUser
    g = ram(root, server, "GetUser", UserName=name)["User"]
    assert (g["UserName"], g["UserId"], g["DisplayName"], g["Comments"]) == (name, user_id, "Py Core", "made by py-core")

    # UpdateUser (display name + comments)
    up = ram(root, server, "UpdateUser", UserName=name, NewDisplayName="Py Core 2", NewComments="updated")["User"]
    assert (up["UserName"], up["UserId"], up["DisplayName"], up["Comments"]) == (name, user_id, "Py Core 2", "updated")
    g = ram(root, server, "GetUser", UserName=name)["User"]
    assert (g["DisplayName"], g["Comments"]) == ("Py Core 2", "updated")

    # CreateAccessKey x2, third one refused
    k1 = ram(root, server, "CreateAccessKey", UserName=name)["AccessKey"]
    assert k1["Status"] == "Active"
    assert k1["AccessKeyId"] and k1["AccessKeySecret"]
    assert DATE_RE.match(k1["CreateDate"]), k1
    k2 = ram(root, server, "CreateAccessKey", UserName=name)["AccessKey"]
    assert k2["AccessKeyId"] != k1["AccessKeyId"]
    assert_error(server_error(ram, root, server, "CreateAccessKey", UserName=name), "LimitExceeded.User.AccessKey", 409)

    # ListAccessKeys: both keys, no secrets
    listed = ram(root, server, "ListAccessKeys", UserName=name)["AccessKeys"]["AccessKey"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted([k1["AccessKeyId"], k2["AccessKeyId"]])
    assert all(k["Status"] == "Active" for k in listed)
    assert all("AccessKeySecret" not in k for k in listed), listed

    # the new key works
    user_client = clients.pycore_client(server, k1["AccessKeyId"], k1["AccessKeySecret"])
    ident = clients.pycore_gci(user_client, server)
    assert (ident["IdentityType"], ident["UserId"]) == ("RAMUser", user_id)
    assert ident["Arn"] == f"acs:ram::{server.account_id}:user/{name}"

    # UpdateAccessKey -> Inactive: listed as Inactive, authentication refused
    ram(root, server, "UpdateAccessKey", UserName=name, UserAccessKeyId=k1["AccessKeyId"], Status="Inactive")
    status = {k["AccessKeyId"]: k["Status"] for k in ram(root, server, "ListAccessKeys", UserName=name)["AccessKeys"]["AccessKey"]}
    assert status == {k1["AccessKeyId"]: "Inactive", k2["AccessKeyId"]: "Active"}
    assert_error(server_error(clients.pycore_gci, user_client, server), "InvalidAccessKeyId.Inactive", 400)

    # ... and back to Active
    ram(root, server, "UpdateAccessKey", UserName=name, UserAccessKeyId=k1["AccessKeyId"], Status="Active")
    assert clients.pycore_gci(user_client, server)["UserId"] == user_id

    # DeleteUser refused while keys exist
    assert_error(server_error(ram, root, server, "DeleteUser", UserName=name), "DeleteConflict.User.AccessKey", 409)

    # DeleteAccessKey: the key stops working
    ram(root, server, "DeleteAccessKey", UserName=name, UserAccessKeyId=k1["AccessKeyId"])
    assert_error(server_error(clients.pycore_gci, user_client, server), "InvalidAccessKeyId.NotFound", 404)
    listed = ram(root, server, "ListAccessKeys", UserName=name)["AccessKeys"]["AccessKey"]
    assert [k["AccessKeyId"] for k in listed] == [k2["AccessKeyId"]]

    # still one key left -> still a conflict
    assert_error(server_error(ram, root, server, "DeleteUser", UserName=name), "DeleteConflict.User.AccessKey", 409)
    ram(root, server, "DeleteAccessKey", UserName=name, UserAccessKeyId=k2["AccessKeyId"])
    assert ram(root, server, "ListAccessKeys", UserName=name)["AccessKeys"]["AccessKey"] == []

    # DeleteUser, then the user is gone
    ram(root, server, "DeleteUser", UserName=name)
    assert_error(server_error(ram, root, server, "GetUser", UserName=name), "EntityNotExist.User", 404)


def test_update_user_rename(server, root, unique_name):
    old, new = unique_name("pycore-old"), unique_name("pycore-new")
    uid = ram(root, server, "CreateUser", UserName=old)["User"]["UserId"]
    up = ram(root, server, "UpdateUser", UserName=old, NewUserName=new)["User"]
    assert (up["UserName"], up["UserId"]) == (new, uid)
    assert ram(root, server, "GetUser", UserName=new)["User"]["UserId"] == uid
    assert_error(server_error(ram, root, server, "GetUser", UserName=old), "EntityNotExist.User", 404)
    ram(root, server, "DeleteUser", UserName=new)


@pytest.mark.parametrize("scheme", clients.SCHEMES)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_list_users_paging(server, root, unique_name, scheme, method):
    names = [unique_name(f"page-{i}") for i in range(3)]
    for n in names:
        ram(root, server, "CreateUser", UserName=n)
    try:
        seen, pages, marker = [], 0, None
        while True:
            params = {"MaxItems": 2}
            if marker:
                params["Marker"] = marker
            body = clients.pycore_ram(root, server, "ListUsers", scheme=scheme, method=method, **params)
            users = body["Users"]["User"]
            assert len(users) <= 2, body
            pages += 1
            seen += [u["UserName"] for u in users]
            assert isinstance(body["IsTruncated"], bool), body
            if not body["IsTruncated"]:
                assert not body.get("Marker"), body
                break
            assert body.get("Marker"), body
            marker = body["Marker"]
            assert pages < 1000
        assert len(seen) == len(set(seen)), f"duplicates across pages: {seen}"
        for n in names:
            assert n in seen
        assert pages >= 2
        # a single big page returns the same set
        all_at_once = ram(root, server, "ListUsers", MaxItems=1000)
        assert all_at_once["IsTruncated"] is False
        assert sorted(u["UserName"] for u in all_at_once["Users"]["User"]) == sorted(seen)
    finally:
        for n in names:
            ram(root, server, "DeleteUser", UserName=n)


def test_ram_user_cannot_call_ram(server, ram_user):
    client = clients.pycore_client(server, ram_user["AccessKeyId"], ram_user["AccessKeySecret"])
    for action, params in [
        ("ListUsers", {}),
        ("GetUser", {"UserName": ram_user["UserName"]}),
        ("CreateUser", {"UserName": "should-not-exist"}),
    ]:
        assert_error(server_error(ram, client, server, action, **params), "NoPermission", 403)
