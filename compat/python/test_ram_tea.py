"""RAM users and access keys through alibabacloud_ram20150501 (Tea, V3 signatures by default)."""

from __future__ import annotations

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException

import clients
from clients import ram_models as m


def tea_error(fn, *args, **kwargs) -> ClientException:
    with pytest.raises(ClientException) as ei:
        fn(*args, **kwargs)
    return ei.value


def assert_error(exc: ClientException, code: str, status: int):
    assert (exc.code, exc.status_code) == (code, status), f"got {exc.code} / {exc.status_code}: {exc.message}"
    assert exc.data and exc.data.get("RequestId"), exc.data


@pytest.mark.parametrize("scheme,sig", [("http", "v3"), ("https", "v3"), ("http", "v2")])
def test_user_and_key_lifecycle(server, unique_name, scheme, sig):
    ram = clients.tea_ram(server, server.root_ak, server.root_secret, scheme=scheme, v2=(sig == "v2"))
    name = unique_name("tea")

    u = ram.create_user(m.CreateUserRequest(user_name=name, display_name="Tea User", comments="made by tea")).body.user
    assert (u.user_name, u.display_name, u.comments) == (name, "Tea User", "made by tea")
    assert u.user_id and u.create_date
    uid = u.user_id

    assert_error(tea_error(ram.create_user, m.CreateUserRequest(user_name=name)), "EntityAlreadyExists.User", 409)

    g = ram.get_user(m.GetUserRequest(user_name=name)).body.user
    assert (g.user_name, g.user_id, g.display_name) == (name, uid, "Tea User")

    up = ram.update_user(m.UpdateUserRequest(user_name=name, new_display_name="Tea 2", new_comments="c2")).body.user
    assert (up.user_name, up.user_id, up.display_name, up.comments) == (name, uid, "Tea 2", "c2")

    # ListUsers with paging
    seen, marker = [], None
    for _ in range(1000):
        body = ram.list_users(m.ListUsersRequest(max_items=1, marker=marker)).body
        assert len(body.users.user) <= 1
        seen += [x.user_name for x in body.users.user]
        if not body.is_truncated:
            break
        assert body.marker
        marker = body.marker
    assert name in seen and len(seen) == len(set(seen))

    k1 = ram.create_access_key(m.CreateAccessKeyRequest(user_name=name)).body.access_key
    assert k1.status == "Active" and k1.access_key_id and k1.access_key_secret
    k2 = ram.create_access_key(m.CreateAccessKeyRequest(user_name=name)).body.access_key
    assert_error(
        tea_error(ram.create_access_key, m.CreateAccessKeyRequest(user_name=name)), "LimitExceeded.User.AccessKey", 409
    )

    keys = ram.list_access_keys(m.ListAccessKeysRequest(user_name=name)).body.access_keys.access_key
    assert sorted(k.access_key_id for k in keys) == sorted([k1.access_key_id, k2.access_key_id])

    # the new key authenticates (same signature style as the root client)
    sts = clients.tea_sts(server, k1.access_key_id, k1.access_key_secret, scheme=scheme, v2=(sig == "v2"))
    ident = clients.tea_gci(sts)
    assert (ident["IdentityType"], ident["UserId"], ident["Arn"]) == (
        "RAMUser",
        uid,
        f"acs:ram::{server.account_id}:user/{name}",
    )

    ram.update_access_key(m.UpdateAccessKeyRequest(user_name=name, user_access_key_id=k1.access_key_id, status="Inactive"))
    keys = ram.list_access_keys(m.ListAccessKeysRequest(user_name=name)).body.access_keys.access_key
    assert {k.access_key_id: k.status for k in keys} == {k1.access_key_id: "Inactive", k2.access_key_id: "Active"}
    assert_error(tea_error(clients.tea_gci, sts), "InvalidAccessKeyId.Inactive", 400)
    ram.update_access_key(m.UpdateAccessKeyRequest(user_name=name, user_access_key_id=k1.access_key_id, status="Active"))
    assert clients.tea_gci(sts)["UserId"] == uid

    assert_error(tea_error(ram.delete_user, m.DeleteUserRequest(user_name=name)), "DeleteConflict.User.AccessKey", 409)

    ram.delete_access_key(m.DeleteAccessKeyRequest(user_name=name, user_access_key_id=k1.access_key_id))
    ram.delete_access_key(m.DeleteAccessKeyRequest(user_name=name, user_access_key_id=k2.access_key_id))
    assert_error(tea_error(clients.tea_gci, sts), "InvalidAccessKeyId.NotFound", 404)
    keys = ram.list_access_keys(m.ListAccessKeysRequest(user_name=name)).body.access_keys
    assert keys is None or not keys.access_key

    ram.delete_user(m.DeleteUserRequest(user_name=name))
    assert_error(tea_error(ram.get_user, m.GetUserRequest(user_name=name)), "EntityNotExist.User", 404)


def test_ram_user_gets_no_permission(server, ram_user):
    ram = clients.tea_ram(server, ram_user["AccessKeyId"], ram_user["AccessKeySecret"])
    assert_error(tea_error(ram.list_users, m.ListUsersRequest()), "NoPermission", 403)
    assert_error(
        tea_error(ram.create_access_key, m.CreateAccessKeyRequest(user_name=ram_user["UserName"])), "NoPermission", 403
    )
