"""RAM groups, roles and login profiles through the official RAM SDKs: aliyun-python-sdk-ram
(py-core, RPC v1) and alibabacloud_ram20150501 (Tea, V3 signatures by default, and RPC v1)."""

from __future__ import annotations

import json
import re

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from alibabacloud_tea_openapi.exceptions import ClientException

import clients
from clients import ram_models as m

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture
def root(server):
    return clients.pycore_client(server, server.root_ak, server.root_secret)


def ram(root, server, action, **params):
    return clients.pycore_ram(root, server, action, **params)


def pycore_error(fn, *args, **kwargs) -> ServerException:
    with pytest.raises(ServerException) as ei:
        fn(*args, **kwargs)
    return ei.value


def assert_pycore_error(exc: ServerException, code: str, status: int):
    assert (exc.get_error_code(), exc.get_http_status()) == (code, status), (
        f"got {exc.get_error_code()} / {exc.get_http_status()}: {exc.get_error_msg()}"
    )
    assert exc.get_request_id()


def tea_error(fn, *args, **kwargs) -> ClientException:
    with pytest.raises(ClientException) as ei:
        fn(*args, **kwargs)
    return ei.value


def assert_tea_error(exc: ClientException, code: str, status: int):
    assert (exc.code, exc.status_code) == (code, status), f"got {exc.code} / {exc.status_code}: {exc.message}"


def trust_policy(account: str) -> str:
    return json.dumps(
        {
            "Statement": [
                {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"RAM": [f"acs:ram::{account}:root"]}}
            ],
            "Version": "1",
        },
        indent=2,
    )


def test_groups_and_memberships_pycore(server, root, unique_name):
    user, group, renamed = unique_name("gu"), unique_name("grp"), unique_name("grp2")
    ram(root, server, "CreateUser", UserName=user, DisplayName="Group Member")
    g = ram(root, server, "CreateGroup", GroupName=group, Comments="made by py-core")["Group"]
    assert (g["GroupName"], g["Comments"]) == (group, "made by py-core")
    assert re.fullmatch(r"\d{16}", g["GroupId"]) and DATE_RE.match(g["CreateDate"]), g
    assert_pycore_error(pycore_error(ram, root, server, "CreateGroup", GroupName=group), "EntityAlreadyExists.Group", 409)

    up = ram(root, server, "UpdateGroup", GroupName=group, NewGroupName=renamed, NewComments="c2")["Group"]
    assert (up["GroupName"], up["GroupId"], up["Comments"]) == (renamed, g["GroupId"], "c2")
    got = ram(root, server, "GetGroup", GroupName=renamed)["Group"]
    assert DATE_RE.match(got["UpdateDate"]), got

    ram(root, server, "AddUserToGroup", GroupName=renamed, UserName=user)
    assert_pycore_error(
        pycore_error(ram, root, server, "AddUserToGroup", GroupName=renamed, UserName=user),
        "EntityAlreadyExists.User.Group",
        409,
    )
    groups = ram(root, server, "ListGroupsForUser", UserName=user)["Groups"]["Group"]
    assert [x["GroupName"] for x in groups] == [renamed]
    assert DATE_RE.match(groups[0]["JoinDate"])
    users = ram(root, server, "ListUsersForGroup", GroupName=renamed, MaxItems=10)
    assert users["IsTruncated"] is False
    assert [(u["UserName"], u["DisplayName"]) for u in users["Users"]["User"]] == [(user, "Group Member")]

    assert_pycore_error(pycore_error(ram, root, server, "DeleteGroup", GroupName=renamed), "DeleteConflict.Group.User", 409)
    assert_pycore_error(pycore_error(ram, root, server, "DeleteUser", UserName=user), "DeleteConflict.User.Group", 409)

    listed = ram(root, server, "ListGroups", MaxItems=1000)["Groups"]["Group"]
    assert renamed in [x["GroupName"] for x in listed]

    ram(root, server, "RemoveUserFromGroup", GroupName=renamed, UserName=user)
    assert_pycore_error(
        pycore_error(ram, root, server, "RemoveUserFromGroup", GroupName=renamed, UserName=user),
        "EntityNotExist.User.Group",
        404,
    )
    ram(root, server, "DeleteGroup", GroupName=renamed)
    assert_pycore_error(pycore_error(ram, root, server, "GetGroup", GroupName=renamed), "EntityNotExist.Group", 404)
    ram(root, server, "DeleteUser", UserName=user)


@pytest.mark.parametrize("scheme,sig", [("http", "v3"), ("https", "v3"), ("http", "v2")])
def test_roles_tea(server, unique_name, scheme, sig):
    client = clients.tea_ram(server, server.root_ak, server.root_secret, scheme=scheme, v2=(sig == "v2"))
    name = unique_name("Role")
    doc = trust_policy(server.account_id)

    r = client.create_role(
        m.CreateRoleRequest(role_name=name, assume_role_policy_document=doc, description="made by tea", max_session_duration=7200)
    ).body.role
    assert (r.role_name, r.description, r.max_session_duration) == (name, "made by tea", 7200)
    assert r.arn == f"acs:ram::{server.account_id}:role/{name}"
    assert r.assume_role_policy_document == doc
    assert re.fullmatch(r"\d{16,18}", r.role_id) and DATE_RE.match(r.create_date)

    assert_tea_error(
        tea_error(client.create_role, m.CreateRoleRequest(role_name=name.lower(), assume_role_policy_document=doc)),
        "EntityAlreadyExists.Role",
        409,
    )
    g = client.get_role(m.GetRoleRequest(role_name=name.upper())).body.role
    assert (g.role_name, g.role_id, g.assume_role_policy_document) == (name, r.role_id, doc)
    assert DATE_RE.match(g.update_date)

    up = client.update_role(
        m.UpdateRoleRequest(role_name=name, new_description="d2", new_max_session_duration=3600)
    ).body.role
    assert (up.description, up.max_session_duration, up.assume_role_policy_document) == ("d2", 3600, doc)

    bad = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]})
    e = tea_error(client.update_role, m.UpdateRoleRequest(role_name=name, new_assume_role_policy_document=bad))
    assert_tea_error(e, "MalformedPolicyDocument", 400)
    assert "Principal" in e.message
    assert_tea_error(
        tea_error(client.update_role, m.UpdateRoleRequest(role_name=name, new_max_session_duration=43201)),
        "InvalidParameter.NewMaxSessionDuration",
        400,
    )

    seen, marker = [], None
    for _ in range(1000):
        body = client.list_roles(m.ListRolesRequest(max_items=1, marker=marker)).body
        seen += [(x.role_name, x.arn) for x in body.roles.role]
        if not body.is_truncated:
            break
        marker = body.marker
    assert (name, r.arn) in seen

    client.delete_role(m.DeleteRoleRequest(role_name=name.lower()))
    assert_tea_error(tea_error(client.get_role, m.GetRoleRequest(role_name=name)), "EntityNotExist.Role", 404)


def test_role_names_and_trust_policies_pycore(server, root, unique_name):
    doc = trust_policy(server.account_id)
    assert_pycore_error(
        pycore_error(ram, root, server, "CreateRole", RoleName="no_underscore", AssumeRolePolicyDocument=doc),
        "InvalidParameter.RoleName.InvalidChars",
        400,
    )
    e = pycore_error(ram, root, server, "CreateRole", RoleName=unique_name("r"), AssumeRolePolicyDocument="{")
    assert_pycore_error(e, "MalformedPolicyDocument", 400)
    name = unique_name("r")
    r = ram(root, server, "CreateRole", RoleName=name, AssumeRolePolicyDocument=doc)["Role"]
    assert (r["MaxSessionDuration"], r["AssumeRolePolicyDocument"]) == (3600, doc)
    ram(root, server, "DeleteRole", RoleName=name)


@pytest.mark.parametrize("sig", ["v3", "v2"])
def test_login_profiles_tea(server, unique_name, sig):
    client = clients.tea_ram(server, server.root_ak, server.root_secret, v2=(sig == "v2"))
    user = unique_name("lp")
    client.create_user(m.CreateUserRequest(user_name=user))

    assert_tea_error(
        tea_error(client.create_login_profile, m.CreateLoginProfileRequest(user_name=user, password="short")),
        "InvalidParameter.Password.TooWeak",
        400,
    )
    p = client.create_login_profile(
        m.CreateLoginProfileRequest(user_name=user, password="Compat-Pass-1", password_reset_required=True)
    ).body.login_profile
    assert (p.user_name, p.password_reset_required, p.mfabind_required) == (user, True, False)
    assert DATE_RE.match(p.create_date)
    assert_tea_error(
        tea_error(client.create_login_profile, m.CreateLoginProfileRequest(user_name=user, password="Compat-Pass-1")),
        "EntityAlreadyExists.User.LoginProfile",
        409,
    )

    client.update_login_profile(
        m.UpdateLoginProfileRequest(user_name=user, password_reset_required=False, mfabind_required=True)
    )
    g = client.get_login_profile(m.GetLoginProfileRequest(user_name=user)).body.login_profile
    assert (g.password_reset_required, g.mfabind_required) == (False, True)

    assert_tea_error(
        tea_error(client.delete_user, m.DeleteUserRequest(user_name=user)), "DeleteConflict.User.LoginProfile", 409
    )
    client.delete_login_profile(m.DeleteLoginProfileRequest(user_name=user))
    assert_tea_error(
        tea_error(client.get_login_profile, m.GetLoginProfileRequest(user_name=user)),
        "EntityNotExist.User.LoginProfile",
        404,
    )
    client.delete_user(m.DeleteUserRequest(user_name=user))


def test_login_profiles_pycore(server, root, unique_name):
    user = unique_name("lp")
    ram(root, server, "CreateUser", UserName=user)
    p = ram(root, server, "CreateLoginProfile", UserName=user, Password="Compat-Pass-2", MFABindRequired=True)["LoginProfile"]
    assert (p["UserName"], p["PasswordResetRequired"], p["MFABindRequired"]) == (user, False, True)
    ram(root, server, "UpdateLoginProfile", UserName=user, Password="Compat-Pass-3")
    assert ram(root, server, "GetLoginProfile", UserName=user)["LoginProfile"]["MFABindRequired"] is True
    ram(root, server, "DeleteLoginProfile", UserName=user)
    ram(root, server, "DeleteUser", UserName=user)
