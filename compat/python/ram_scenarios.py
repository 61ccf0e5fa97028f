"""RAM lifecycle scenarios (spec §11.3–11.7, §12), written once against `ramdriver.RamDriver`.

`test_ram_lifecycle_pycore.py` runs them through aliyun-python-sdk-ram (RPC v1) and
`test_ram_lifecycle_tea.py` through alibabacloud_ram20150501 (V3, and v2). Every name is unique
per call, so scenarios can share one server; each one deletes what it created (groups are
limited per account).
"""

from __future__ import annotations

import json
import re
import uuid

from ramdriver import RamDriver, items, page_all

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ID_RE = re.compile(r"^\d+$")
SYSTEM_POLICIES = {
    "AdministratorAccess",
    "ReadOnlyAccess",
    "AliyunSTSAssumeRoleAccess",
    "AliyunRAMFullAccess",
    "AliyunRAMReadOnlyAccess",
}
ROTATE = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
STRONG_PASSWORD = "Tessera-Compat-2026!xY"


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def doc(*statements, indent=None) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)}, indent=indent)


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def trust_doc(*principals: str, indent=2) -> str:
    # indent: the trust policy is sent with whitespace, so the echo check is meaningful.
    return json.dumps(
        {
            "Statement": [
                {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"RAM": list(principals)}}
            ],
            "Version": "1",
        },
        indent=indent,
    )


def same_json(a: str, b: str) -> bool:
    return json.loads(a) == json.loads(b)


def check_date(v, what=""):
    assert isinstance(v, str) and DATE_RE.match(v), f"bad date {what}: {v!r}"


# ------------------------------------------------------------------------------------------ users


def create_user(ram: RamDriver, prefix="lc-user", **extra) -> dict:
    u = ram("CreateUser", UserName=uniq(prefix), **extra)["User"]
    assert ID_RE.match(u["UserId"]), u
    return u


# ------------------------------------------------------------------------------------------ groups


def groups(ram: RamDriver):
    g1, g2 = uniq("lc-grp"), uniq("lc-grp")
    u1 = create_user(ram, DisplayName="Member One")
    u2 = create_user(ram)
    n1, n2 = u1["UserName"], u2["UserName"]

    # CreateGroup / duplicate / GetGroup
    c = ram("CreateGroup", GroupName=g1, Comments="first group")["Group"]
    assert (c["GroupName"], c["Comments"]) == (g1, "first group"), c
    assert ID_RE.match(c["GroupId"]), c
    check_date(c["CreateDate"], "Group.CreateDate")
    gid = c["GroupId"]
    ram.expect_error("EntityAlreadyExists.Group", 409, "CreateGroup", GroupName=g1)
    g = ram("GetGroup", GroupName=g1)["Group"]
    assert (g["GroupName"], g["GroupId"], g["Comments"]) == (g1, gid, "first group"), g
    ram("CreateGroup", GroupName=g2)
    ram.expect_error("EntityNotExist.Group", 404, "GetGroup", GroupName=uniq("lc-nogrp"))

    # UpdateGroup: comments
    up = ram("UpdateGroup", GroupName=g1, NewComments="updated comments")["Group"]
    assert (up["GroupName"], up["GroupId"], up["Comments"]) == (g1, gid, "updated comments"), up
    assert ram("GetGroup", GroupName=g1)["Group"]["Comments"] == "updated comments"

    # ListGroups, one per page
    listed = page_all(ram, "ListGroups", "Groups", "Group", 1)
    by_name = {x["GroupName"]: x for x in listed}
    assert len(by_name) == len(listed), f"duplicates across pages: {[x['GroupName'] for x in listed]}"
    assert g1 in by_name and g2 in by_name, sorted(by_name)
    assert (by_name[g1]["GroupId"], by_name[g1]["Comments"]) == (gid, "updated comments")

    # membership
    ram("AddUserToGroup", GroupName=g1, UserName=n1)
    ram("AddUserToGroup", GroupName=g1, UserName=n2)
    ram("AddUserToGroup", GroupName=g2, UserName=n1)
    ram.expect_error("EntityAlreadyExists.User.Group", 409, "AddUserToGroup", GroupName=g1, UserName=n1)
    ram.expect_error("EntityNotExist.Group", 404, "AddUserToGroup", GroupName=uniq("lc-nogrp"), UserName=n1)
    ram.expect_error("EntityNotExist.User", 404, "AddUserToGroup", GroupName=g1, UserName=uniq("lc-nouser"))

    # rename a group with members: the membership follows the group
    g1b = uniq("lc-grp-renamed")
    up = ram("UpdateGroup", GroupName=g1, NewGroupName=g1b)["Group"]
    assert (up["GroupName"], up["GroupId"]) == (g1b, gid), up
    ram.expect_error("EntityNotExist.Group", 404, "GetGroup", GroupName=g1)
    assert ram("GetGroup", GroupName=g1b)["Group"]["GroupId"] == gid
    g1 = g1b

    # listing, both directions
    members = page_all(ram, "ListUsersForGroup", "Users", "User", 1, GroupName=g1)
    assert sorted(m["UserName"] for m in members) == sorted([n1, n2]), members
    for m in members:
        check_date(m.get("JoinDate"), "ListUsersForGroup JoinDate")
    assert {m["UserName"]: m.get("DisplayName") for m in members}[n1] == "Member One"
    assert [m["UserName"] for m in items(ram("ListUsersForGroup", GroupName=g2), "Users", "User")] == [n1]

    mine = items(ram("ListGroupsForUser", UserName=n1), "Groups", "Group")
    assert sorted(x["GroupName"] for x in mine) == sorted([g1, g2]), mine
    for x in mine:
        check_date(x.get("JoinDate"), "ListGroupsForUser JoinDate")
    assert {x["GroupName"]: x["GroupId"] for x in mine}[g1] == gid
    assert [x["GroupName"] for x in items(ram("ListGroupsForUser", UserName=n2), "Groups", "Group")] == [g1]

    # delete conflicts
    ram.expect_error("DeleteConflict.Group.User", 409, "DeleteGroup", GroupName=g1)
    ram.expect_error("DeleteConflict.User.Group", 409, "DeleteUser", UserName=n1)

    # RemoveUserFromGroup
    ram("RemoveUserFromGroup", GroupName=g1, UserName=n1)
    ram.expect_error("EntityNotExist.User.Group", 404, "RemoveUserFromGroup", GroupName=g1, UserName=n1)
    assert [m["UserName"] for m in items(ram("ListUsersForGroup", GroupName=g1), "Users", "User")] == [n2]
    assert [x["GroupName"] for x in items(ram("ListGroupsForUser", UserName=n1), "Groups", "Group")] == [g2]
    ram("RemoveUserFromGroup", GroupName=g1, UserName=n2)
    ram("RemoveUserFromGroup", GroupName=g2, UserName=n1)
    assert items(ram("ListGroupsForUser", UserName=n1), "Groups", "Group") == []
    assert items(ram("ListUsersForGroup", GroupName=g1), "Users", "User") == []

    # now everything can go
    ram("DeleteGroup", GroupName=g1)
    ram("DeleteGroup", GroupName=g2)
    ram.expect_error("EntityNotExist.Group", 404, "GetGroup", GroupName=g1)
    ram.expect_error("EntityNotExist.Group", 404, "DeleteGroup", GroupName=g2)
    ram("DeleteUser", UserName=n1)
    ram("DeleteUser", UserName=n2)


# ------------------------------------------------------------------------------------------ policies


def versions_of(ram: RamDriver, name: str) -> dict:
    vs = items(ram("ListPolicyVersions", PolicyName=name, PolicyType="Custom"), "PolicyVersions", "PolicyVersion")
    return {v["VersionId"]: v for v in vs}


def default_of(vs: dict) -> list:
    return sorted(k for k, v in vs.items() if v["IsDefaultVersion"] is True)


def policies_and_versions(ram: RamDriver):
    name = uniq("lc-pol")
    docs = {n: doc(allow(f"ram:Get{n}", "*")) for n in range(1, 9)}

    # CreatePolicy
    p = ram("CreatePolicy", PolicyName=name, PolicyDocument=docs[1], Description="first")["Policy"]
    assert (p["PolicyName"], p["PolicyType"], p["Description"], p["DefaultVersion"]) == (name, "Custom", "first", "v1"), p
    check_date(p["CreateDate"], "Policy.CreateDate")
    ram.expect_error("EntityAlreadyExists.Policy", 409, "CreatePolicy", PolicyName=name, PolicyDocument=docs[1])

    # GetPolicy (PolicyType is required: Custom finds it, System does not)
    body = ram("GetPolicy", PolicyName=name, PolicyType="Custom")
    g = body["Policy"]
    assert (g["PolicyName"], g["PolicyType"], g["Description"], g["DefaultVersion"]) == (name, "Custom", "first", "v1"), g
    assert same_json(g["PolicyDocument"], docs[1]), g
    assert g["AttachmentCount"] == 0, g
    dv = body["DefaultPolicyVersion"]
    assert (dv["VersionId"], dv["IsDefaultVersion"]) == ("v1", True), dv
    assert same_json(dv["PolicyDocument"], docs[1]), dv
    ram.expect_error("EntityNotExist.Policy", 404, "GetPolicy", PolicyName=name, PolicyType="System")
    ram.expect_error("EntityNotExist.Policy", 404, "GetPolicy", PolicyName=uniq("lc-nopol"), PolicyType="Custom")
    e = ram.error("GetPolicy", PolicyName=name)
    assert e.status == 400 and e.code.startswith("Missing"), f"GetPolicy without PolicyType: {e}"
    ram.expect_error("InvalidParameter.PolicyType", 400, "GetPolicy", PolicyName=name, PolicyType="Bogus")

    # UpdatePolicyDescription
    u = ram("UpdatePolicyDescription", PolicyName=name, NewDescription="second")["Policy"]
    assert (u["PolicyName"], u["Description"], u["DefaultVersion"]) == (name, "second", "v1"), u
    assert ram("GetPolicy", PolicyName=name, PolicyType="Custom")["Policy"]["Description"] == "second"

    # CreatePolicyVersion: v2 not default, v3 default
    v2 = ram("CreatePolicyVersion", PolicyName=name, PolicyDocument=docs[2])["PolicyVersion"]
    assert (v2["VersionId"], v2["IsDefaultVersion"]) == ("v2", False), v2
    assert same_json(v2["PolicyDocument"], docs[2]), v2
    check_date(v2["CreateDate"], "PolicyVersion.CreateDate")
    v3 = ram("CreatePolicyVersion", PolicyName=name, PolicyDocument=docs[3], SetAsDefault=True)["PolicyVersion"]
    assert (v3["VersionId"], v3["IsDefaultVersion"]) == ("v3", True), v3
    body = ram("GetPolicy", PolicyName=name, PolicyType="Custom")
    assert body["Policy"]["DefaultVersion"] == "v3", body
    assert same_json(body["Policy"]["PolicyDocument"], docs[3]), body
    assert body["DefaultPolicyVersion"]["VersionId"] == "v3", body
    gv = ram("GetPolicyVersion", PolicyName=name, PolicyType="Custom", VersionId="v1")["PolicyVersion"]
    assert (gv["VersionId"], gv["IsDefaultVersion"]) == ("v1", False), gv
    assert same_json(gv["PolicyDocument"], docs[1]), gv
    ram.expect_error(
        "EntityNotExist.Policy.Version", 404, "GetPolicyVersion", PolicyName=name, PolicyType="Custom", VersionId="v9"
    )

    # up to the limit of 5 versions
    ram("CreatePolicyVersion", PolicyName=name, PolicyDocument=docs[4])
    ram("CreatePolicyVersion", PolicyName=name, PolicyDocument=docs[5], SetAsDefault=False)
    vs = versions_of(ram, name)
    assert sorted(vs) == ["v1", "v2", "v3", "v4", "v5"], vs
    assert default_of(vs) == ["v3"], vs
    for n in range(1, 6):
        assert same_json(vs[f"v{n}"]["PolicyDocument"], docs[n]), vs[f"v{n}"]
        check_date(vs[f"v{n}"]["CreateDate"], "ListPolicyVersions CreateDate")
    ram.expect_error("LimitExceeded.Policy.Version", 409, "CreatePolicyVersion", PolicyName=name, PolicyDocument=docs[6])
    ram.expect_error(
        "LimitExceeded.Policy.Version", 409, "CreatePolicyVersion", PolicyName=name, PolicyDocument=docs[6], RotateStrategy="None"
    )
    assert sorted(versions_of(ram, name)) == ["v1", "v2", "v3", "v4", "v5"]

    # rotation deletes the oldest non-default version (v1; v3 is the default)
    v6 = ram("CreatePolicyVersion", PolicyName=name, PolicyDocument=docs[6], RotateStrategy=ROTATE)["PolicyVersion"]
    assert (v6["VersionId"], v6["IsDefaultVersion"]) == ("v6", False), v6
    vs = versions_of(ram, name)
    assert sorted(vs) == ["v2", "v3", "v4", "v5", "v6"], vs
    ram.expect_error(
        "EntityNotExist.Policy.Version", 404, "GetPolicyVersion", PolicyName=name, PolicyType="Custom", VersionId="v1"
    )

    # SetDefaultPolicyVersion
    ram("SetDefaultPolicyVersion", PolicyName=name, VersionId="v2")
    body = ram("GetPolicy", PolicyName=name, PolicyType="Custom")
    assert (body["Policy"]["DefaultVersion"], body["DefaultPolicyVersion"]["VersionId"]) == ("v2", "v2"), body
    assert same_json(body["DefaultPolicyVersion"]["PolicyDocument"], docs[2]), body
    vs = versions_of(ram, name)
    assert default_of(vs) == ["v2"], vs
    ram.expect_error("EntityNotExist.Policy.Version", 404, "SetDefaultPolicyVersion", PolicyName=name, VersionId="v1")

    # rotate again: now the oldest non-default is v3 (v2 is the default and is kept)
    v7 = ram("CreatePolicyVersion", PolicyName=name, PolicyDocument=docs[7], RotateStrategy=ROTATE)["PolicyVersion"]
    assert v7["VersionId"] == "v7", v7
    vs = versions_of(ram, name)
    assert sorted(vs) == ["v2", "v4", "v5", "v6", "v7"], vs
    assert default_of(vs) == ["v2"], vs

    # the default version cannot be deleted; others can
    ram.expect_error("DeleteConflict.Policy.Version.Default", 409, "DeletePolicyVersion", PolicyName=name, VersionId="v2")
    ram("DeletePolicyVersion", PolicyName=name, VersionId="v4")
    ram.expect_error(
        "EntityNotExist.Policy.Version", 404, "GetPolicyVersion", PolicyName=name, PolicyType="Custom", VersionId="v4"
    )
    ram.expect_error("EntityNotExist.Policy.Version", 404, "DeletePolicyVersion", PolicyName=name, VersionId="v4")
    assert sorted(versions_of(ram, name)) == ["v2", "v5", "v6", "v7"]

    # DeletePolicy refuses while non-default versions exist; CascadingDelete removes them all
    ram.expect_error("DeleteConflict.Policy.Version", 409, "DeletePolicy", PolicyName=name)
    ram.expect_error("DeleteConflict.Policy.Version", 409, "DeletePolicy", PolicyName=name, CascadingDelete=False)
    assert ram("GetPolicy", PolicyName=name, PolicyType="Custom")["Policy"]["DefaultVersion"] == "v2"
    ram("DeletePolicy", PolicyName=name, CascadingDelete=True)
    ram.expect_error("EntityNotExist.Policy", 404, "GetPolicy", PolicyName=name, PolicyType="Custom")
    ram.expect_error("EntityNotExist.Policy", 404, "ListPolicyVersions", PolicyName=name, PolicyType="Custom")
    ram.expect_error("EntityNotExist.Policy", 404, "DeletePolicy", PolicyName=name)

    # a policy whose extra versions were deleted one by one goes without CascadingDelete
    other = uniq("lc-pol")
    ram("CreatePolicy", PolicyName=other, PolicyDocument=docs[1])
    ram("CreatePolicyVersion", PolicyName=other, PolicyDocument=docs[2], SetAsDefault=True)
    ram.expect_error("DeleteConflict.Policy.Version", 409, "DeletePolicy", PolicyName=other)
    ram("DeletePolicyVersion", PolicyName=other, VersionId="v1")
    ram("DeletePolicy", PolicyName=other)
    ram.expect_error("EntityNotExist.Policy", 404, "GetPolicy", PolicyName=other, PolicyType="Custom")


def list_policies(ram: RamDriver):
    mine = sorted(uniq("lc-list") for _ in range(3))
    for n in mine:
        ram("CreatePolicy", PolicyName=n, PolicyDocument=doc(allow("ram:ListUsers")), Description=f"d {n}")
    try:
        everything = page_all(ram, "ListPolicies", "Policies", "Policy", 2)
        names = [p["PolicyName"] for p in everything]
        assert len(names) == len(set((p["PolicyType"], p["PolicyName"]) for p in everything)), names
        types = [p["PolicyType"] for p in everything]
        # system first, then custom, each by name
        n_sys = types.count("System")
        assert types == ["System"] * n_sys + ["Custom"] * (len(types) - n_sys), types
        system, custom = names[:n_sys], names[n_sys:]
        assert SYSTEM_POLICIES <= set(system), system
        assert system == sorted(system), system
        assert custom == sorted(custom), custom
        for n in mine:
            assert n in custom, custom
        by_name = {p["PolicyName"]: p for p in everything if p["PolicyType"] == "Custom"}
        for n in mine:
            p = by_name[n]
            assert (p["Description"], p["DefaultVersion"], p["AttachmentCount"]) == (f"d {n}", "v1", 0), p
            check_date(p["CreateDate"], "ListPolicies CreateDate")

        # PolicyType filter
        only_custom = page_all(ram, "ListPolicies", "Policies", "Policy", 1000, PolicyType="Custom")
        assert {p["PolicyType"] for p in only_custom} == {"Custom"}, only_custom
        assert [p["PolicyName"] for p in only_custom] == custom
        only_system = page_all(ram, "ListPolicies", "Policies", "Policy", 1, PolicyType="System")
        assert {p["PolicyType"] for p in only_system} == {"System"}, only_system
        assert [p["PolicyName"] for p in only_system] == system
        ram.expect_error("InvalidParameter.PolicyType", 400, "ListPolicies", PolicyType="Bogus")
    finally:
        for n in mine:
            ram("DeletePolicy", PolicyName=n)


def system_policies(ram: RamDriver, account_id: str):
    body = ram("GetPolicy", PolicyName="AliyunRAMReadOnlyAccess", PolicyType="System")
    p = body["Policy"]
    assert (p["PolicyName"], p["PolicyType"]) == ("AliyunRAMReadOnlyAccess", "System"), p
    d = json.loads(p["PolicyDocument"])
    actions = [a for st in d["Statement"] if st["Effect"] == "Allow" for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])]
    assert "ram:Get*" in actions and "ram:List*" in actions, d
    assert body["DefaultPolicyVersion"]["IsDefaultVersion"] is True, body
    assert body["DefaultPolicyVersion"]["VersionId"] == p["DefaultVersion"], body

    sts = json.loads(ram("GetPolicy", PolicyName="AliyunSTSAssumeRoleAccess", PolicyType="System")["Policy"]["PolicyDocument"])
    assert sts == {"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": "*"}], "Version": "1"}, sts
    admin = json.loads(ram("GetPolicy", PolicyName="AdministratorAccess", PolicyType="System")["Policy"]["PolicyDocument"])
    assert any(st["Effect"] == "Allow" and st["Action"] in ("*", ["*"]) and st["Resource"] in ("*", ["*"]) for st in admin["Statement"]), admin

    for n in SYSTEM_POLICIES:
        vs = items(ram("ListPolicyVersions", PolicyName=n, PolicyType="System"), "PolicyVersions", "PolicyVersion")
        assert [v["IsDefaultVersion"] for v in vs].count(True) == 1, (n, vs)
        ram.expect_error("EntityNotExist.Policy", 404, "GetPolicy", PolicyName=n, PolicyType="Custom")

    # system policies are read-only: neither deleted nor versioned (error code UNCONFIRMED)
    e = ram.error("DeletePolicy", PolicyName="AliyunRAMReadOnlyAccess")
    assert e.status in (400, 403, 404), e
    e = ram.error("CreatePolicyVersion", PolicyName="AliyunRAMReadOnlyAccess", PolicyDocument=doc(allow("ram:*")))
    assert e.status in (400, 403, 404), e
    after = ram("GetPolicy", PolicyName="AliyunRAMReadOnlyAccess", PolicyType="System")
    assert after["Policy"]["DefaultVersion"] == p["DefaultVersion"], after
    assert same_json(after["Policy"]["PolicyDocument"], p["PolicyDocument"]), after


MALFORMED = [
    # (document, words of which the message must name one (case-insensitive))
    ("this is not json", ["json", "syntax", "parse", "expected", "line", "column", "invalid"]),
    ('{"Version":"2","Statement":[{"Effect":"Allow","Action":"ram:*","Resource":"*"}]}', ["Version"]),
    ('{"Version":"1","Statement":[{"Effect":"Perhaps","Action":"ram:*","Resource":"*"}]}', ["Effect", "Perhaps"]),
    ('{"Version":"1","Statement":[{"Effect":"Allow","Resource":"*"}]}', ["Action"]),
    ('{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:*"}]}', ["Resource"]),
    ('{"Version":"1"}', ["Statement"]),
    (
        '{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:*","Resource":"*",'
        '"Condition":{"StringSortOfEquals":{"acs:SourceIp":"x"}}}]}',
        ["StringSortOfEquals", "Condition", "operator"],
    ),
]


def malformed_documents(ram: RamDriver):
    name = uniq("lc-bad")
    for bad, words in MALFORMED:
        e = ram.expect_error("MalformedPolicyDocument", 400, "CreatePolicy", PolicyName=name, PolicyDocument=bad)
        assert e.message and any(w.lower() in e.message.lower() for w in words), (
            f"{ram.kind}: MalformedPolicyDocument message should name the problem ({words}) for {bad!r}: {e.message!r}"
        )
    ram.expect_error("EntityNotExist.Policy", 404, "GetPolicy", PolicyName=name, PolicyType="Custom")

    # a bad new version leaves the policy untouched
    good = doc(allow("ram:ListUsers"))
    ram("CreatePolicy", PolicyName=name, PolicyDocument=good)
    ram.expect_error("MalformedPolicyDocument", 400, "CreatePolicyVersion", PolicyName=name, PolicyDocument=MALFORMED[2][0], SetAsDefault=True)
    assert sorted(versions_of(ram, name)) == ["v1"]
    ram("DeletePolicy", PolicyName=name)


# ------------------------------------------------------------------------------------------ roles


def roles(ram: RamDriver, account_id: str):
    name = f"Compat-Role-{uuid.uuid4().hex[:10]}"  # mixed case on purpose
    trust = trust_doc(f"acs:ram::{account_id}:root")
    arn = f"acs:ram::{account_id}:role/{name}"

    r = ram("CreateRole", RoleName=name, AssumeRolePolicyDocument=trust, Description="made by compat", MaxSessionDuration=7200)["Role"]
    assert (r["RoleName"], r["Arn"], r["Description"], r["MaxSessionDuration"]) == (name, arn, "made by compat", 7200), r
    assert ID_RE.match(r["RoleId"]), r
    check_date(r["CreateDate"], "Role.CreateDate")
    assert r["AssumeRolePolicyDocument"] == trust, f"trust policy not echoed as sent: {r['AssumeRolePolicyDocument']!r}"
    role_id = r["RoleId"]

    # duplicates, also differing only in case
    ram.expect_error("EntityAlreadyExists.Role", 409, "CreateRole", RoleName=name, AssumeRolePolicyDocument=trust)
    ram.expect_error("EntityAlreadyExists.Role", 409, "CreateRole", RoleName=name.lower(), AssumeRolePolicyDocument=trust)

    # GetRole, case-insensitive lookup
    for n in (name, name.lower(), name.upper()):
        g = ram("GetRole", RoleName=n)["Role"]
        assert (g["RoleId"], g["RoleName"], g["Arn"], g["MaxSessionDuration"], g["Description"]) == (
            role_id, name, arn, 7200, "made by compat"
        ), (n, g)
        assert g["AssumeRolePolicyDocument"] == trust, g
    ram.expect_error("EntityNotExist.Role", 404, "GetRole", RoleName=f"Compat-NoRole-{uuid.uuid4().hex[:8]}")

    # a second role with the default MaxSessionDuration
    name2 = f"compat-role2-{uuid.uuid4().hex[:10]}"
    r2 = ram("CreateRole", RoleName=name2, AssumeRolePolicyDocument=trust_doc(f"acs:ram::{account_id}:root", indent=None))["Role"]
    assert r2["MaxSessionDuration"] == 3600, r2

    # bad trust policies and durations
    bad_trust = [
        "{not json",
        doc(allow("sts:AssumeRole", "*")),  # an identity policy (Resource, no Principal)
        json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}),
    ]
    for bad in bad_trust:
        ram.expect_error("MalformedPolicyDocument", 400, "CreateRole", RoleName=f"compat-bad-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=bad)
    for dur in (3599, 43201):
        e = ram.error("CreateRole", RoleName=f"compat-dur-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=trust, MaxSessionDuration=dur)
        assert e.status == 400 and e.code.startswith("InvalidParameter"), f"MaxSessionDuration={dur}: {e}"
    ok43200 = ram("CreateRole", RoleName=f"compat-dur-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=trust, MaxSessionDuration=43200)["Role"]
    assert ok43200["MaxSessionDuration"] == 43200
    ram("DeleteRole", RoleName=ok43200["RoleName"])

    # UpdateRole (by a differently-cased name)
    user = create_user(ram, "lc-trusted")
    trust2 = trust_doc(f"acs:ram::{account_id}:user/{user['UserName']}")
    up = ram(
        "UpdateRole", RoleName=name.lower(), NewAssumeRolePolicyDocument=trust2, NewMaxSessionDuration=43200, NewDescription="changed"
    )["Role"]
    assert (up["RoleId"], up["RoleName"], up["Arn"], up["MaxSessionDuration"], up["Description"]) == (
        role_id, name, arn, 43200, "changed"
    ), up
    assert up["AssumeRolePolicyDocument"] == trust2, up
    g = ram("GetRole", RoleName=name)["Role"]
    assert (g["MaxSessionDuration"], g["Description"], g["AssumeRolePolicyDocument"]) == (43200, "changed", trust2), g
    ram.expect_error("MalformedPolicyDocument", 400, "UpdateRole", RoleName=name, NewAssumeRolePolicyDocument='{"Version":"1"')
    e = ram.error("UpdateRole", RoleName=name, NewMaxSessionDuration=60)
    assert e.status == 400 and e.code.startswith("InvalidParameter"), e
    assert ram("GetRole", RoleName=name)["Role"]["AssumeRolePolicyDocument"] == trust2
    ram.expect_error("EntityNotExist.Role", 404, "UpdateRole", RoleName=f"compat-norole-{uuid.uuid4().hex[:8]}", NewDescription="x")

    # ListRoles, one per page
    listed = page_all(ram, "ListRoles", "Roles", "Role", 1)
    by_name = {x["RoleName"]: x for x in listed}
    assert len(by_name) == len(listed), listed
    assert name in by_name and name2 in by_name, sorted(by_name)
    assert (by_name[name]["RoleId"], by_name[name]["Arn"], by_name[name]["MaxSessionDuration"]) == (role_id, arn, 43200)

    # DeleteRole refused while a policy is attached
    ram("AttachPolicyToRole", PolicyType="System", PolicyName="AliyunRAMReadOnlyAccess", RoleName=name)
    ram.expect_error("DeleteConflict.Role.Policy", 409, "DeleteRole", RoleName=name)
    ram("DetachPolicyFromRole", PolicyType="System", PolicyName="AliyunRAMReadOnlyAccess", RoleName=name)
    ram("DeleteRole", RoleName=name.upper())
    ram.expect_error("EntityNotExist.Role", 404, "GetRole", RoleName=name)
    ram.expect_error("EntityNotExist.Role", 404, "DeleteRole", RoleName=name)
    ram("DeleteRole", RoleName=name2)
    ram("DeleteUser", UserName=user["UserName"])


# ------------------------------------------------------------------------------------------ attachments


def attachments(ram: RamDriver, account_id: str):
    pol = uniq("lc-att")
    ram("CreatePolicy", PolicyName=pol, PolicyDocument=doc(allow("ram:ListUsers")), Description="attach me")
    user = create_user(ram, "lc-att-user", DisplayName="Attached")
    un = user["UserName"]
    grp = uniq("lc-att-grp")
    ram("CreateGroup", GroupName=grp, Comments="attached group")
    role = f"compat-att-role-{uuid.uuid4().hex[:8]}"
    role_id = ram("CreateRole", RoleName=role, AssumeRolePolicyDocument=trust_doc(f"acs:ram::{account_id}:root"), Description="attached role")["Role"]["RoleId"]
    custom = dict(PolicyType="Custom", PolicyName=pol)
    sysro = dict(PolicyType="System", PolicyName="ReadOnlyAccess")

    # attach
    ram("AttachPolicyToUser", UserName=un, **custom)
    ram("AttachPolicyToUser", UserName=un, **sysro)
    ram("AttachPolicyToGroup", GroupName=grp, **custom)
    ram("AttachPolicyToRole", RoleName=role, **custom)
    ram.expect_error("EntityAlreadyExists.User.Policy", 409, "AttachPolicyToUser", UserName=un, **custom)
    ram.expect_error("EntityAlreadyExists.Group.Policy", 409, "AttachPolicyToGroup", GroupName=grp, **custom)
    ram.expect_error("EntityAlreadyExists.Role.Policy", 409, "AttachPolicyToRole", RoleName=role, **custom)
    # wrong type / missing things
    ram.expect_error("EntityNotExist.Policy", 404, "AttachPolicyToUser", UserName=un, PolicyType="System", PolicyName=pol)
    ram.expect_error("EntityNotExist.Policy", 404, "AttachPolicyToUser", UserName=un, PolicyType="Custom", PolicyName=uniq("lc-nopol"))
    ram.expect_error("EntityNotExist.User", 404, "AttachPolicyToUser", UserName=uniq("lc-nouser"), **custom)
    ram.expect_error("EntityNotExist.Group", 404, "AttachPolicyToGroup", GroupName=uniq("lc-nogrp"), **custom)
    ram.expect_error("EntityNotExist.Role", 404, "AttachPolicyToRole", RoleName=f"compat-norole-{uuid.uuid4().hex[:8]}", **custom)

    # list: entity -> policies
    up = {p["PolicyName"]: p for p in items(ram("ListPoliciesForUser", UserName=un), "Policies", "Policy")}
    assert sorted(up) == sorted([pol, "ReadOnlyAccess"]), up
    assert (up[pol]["PolicyType"], up[pol]["DefaultVersion"], up[pol]["Description"]) == ("Custom", "v1", "attach me"), up
    assert up["ReadOnlyAccess"]["PolicyType"] == "System", up
    for p in up.values():
        check_date(p.get("AttachDate"), "ListPoliciesForUser AttachDate")
    gp = items(ram("ListPoliciesForGroup", GroupName=grp), "Policies", "Policy")
    assert [(p["PolicyName"], p["PolicyType"]) for p in gp] == [(pol, "Custom")], gp
    check_date(gp[0].get("AttachDate"), "ListPoliciesForGroup AttachDate")
    rp = items(ram("ListPoliciesForRole", RoleName=role.upper()), "Policies", "Policy")
    assert [(p["PolicyName"], p["PolicyType"]) for p in rp] == [(pol, "Custom")], rp
    check_date(rp[0].get("AttachDate"), "ListPoliciesForRole AttachDate")

    # list: policy -> entities
    ents = ram("ListEntitiesForPolicy", **custom)
    us, gs, rs = items(ents, "Users", "User"), items(ents, "Groups", "Group"), items(ents, "Roles", "Role")
    assert [(u["UserName"], u["UserId"], u.get("DisplayName")) for u in us] == [(un, user["UserId"], "Attached")], ents
    assert [(g["GroupName"], g.get("Comments")) for g in gs] == [(grp, "attached group")], ents
    assert [(r["RoleName"], r["RoleId"], r["Arn"]) for r in rs] == [(role, role_id, f"acs:ram::{account_id}:role/{role}")], ents
    for e in us + gs + rs:
        check_date(e.get("AttachDate"), "ListEntitiesForPolicy AttachDate")
    sys_users = [u["UserName"] for u in items(ram("ListEntitiesForPolicy", **sysro), "Users", "User")]
    assert un in sys_users, sys_users
    assert ram("GetPolicy", **custom)["Policy"]["AttachmentCount"] == 3
    listed = {p["PolicyName"]: p for p in page_all(ram, "ListPolicies", "Policies", "Policy", 1000, PolicyType="Custom")}
    assert listed[pol]["AttachmentCount"] == 3, listed[pol]

    # the attached entities cannot be deleted
    ram.expect_error("DeleteConflict.User.Policy", 409, "DeleteUser", UserName=un)
    ram.expect_error("DeleteConflict.Group.Policy", 409, "DeleteGroup", GroupName=grp)
    ram.expect_error("DeleteConflict.Role.Policy", 409, "DeleteRole", RoleName=role)

    # nor the policy, and the conflict names what it is attached to
    e = ram.error("DeletePolicy", PolicyName=pol)
    assert e.status == 409 and e.code in ("DeleteConflict.Policy.User", "DeleteConflict.Policy.Group", "DeleteConflict.Policy.Role"), e
    ram("DetachPolicyFromUser", UserName=un, **custom)
    ram("DetachPolicyFromGroup", GroupName=grp, **custom)
    ram.expect_error("DeleteConflict.Policy.Role", 409, "DeletePolicy", PolicyName=pol)
    ram("DetachPolicyFromRole", RoleName=role, **custom)
    ram("AttachPolicyToGroup", GroupName=grp, **custom)
    ram.expect_error("DeleteConflict.Policy.Group", 409, "DeletePolicy", PolicyName=pol)
    ram("DetachPolicyFromGroup", GroupName=grp, **custom)
    ram("AttachPolicyToUser", UserName=un, **custom)
    ram.expect_error("DeleteConflict.Policy.User", 409, "DeletePolicy", PolicyName=pol)
    ram("DetachPolicyFromUser", UserName=un, **custom)

    # detaching what is not attached
    ram.expect_error("EntityNotExist.User.Policy", 404, "DetachPolicyFromUser", UserName=un, **custom)
    ram.expect_error("EntityNotExist.Group.Policy", 404, "DetachPolicyFromGroup", GroupName=grp, **custom)
    ram.expect_error("EntityNotExist.Role.Policy", 404, "DetachPolicyFromRole", RoleName=role, **custom)

    # everything detached: empty listings, count 0
    ents = ram("ListEntitiesForPolicy", **custom)
    assert (items(ents, "Users", "User"), items(ents, "Groups", "Group"), items(ents, "Roles", "Role")) == ([], [], []), ents
    assert ram("GetPolicy", **custom)["Policy"]["AttachmentCount"] == 0
    assert [p["PolicyName"] for p in items(ram("ListPoliciesForUser", UserName=un), "Policies", "Policy")] == ["ReadOnlyAccess"]
    assert items(ram("ListPoliciesForGroup", GroupName=grp), "Policies", "Policy") == []
    assert items(ram("ListPoliciesForRole", RoleName=role), "Policies", "Policy") == []

    ram("DetachPolicyFromUser", UserName=un, **sysro)
    ram("DeletePolicy", PolicyName=pol)
    ram("DeleteUser", UserName=un)
    ram("DeleteGroup", GroupName=grp)
    ram("DeleteRole", RoleName=role)


def attachment_limit(ram: RamDriver):
    user = create_user(ram, "lc-limit")["UserName"]
    pols = [uniq("lc-limit") for _ in range(11)]
    for p in pols:
        ram("CreatePolicy", PolicyName=p, PolicyDocument=doc(allow("ram:GetUser")))
    for p in pols[:10]:
        ram("AttachPolicyToUser", UserName=user, PolicyType="Custom", PolicyName=p)
    ram.expect_error("LimitExceeded.User.Policy", 409, "AttachPolicyToUser", UserName=user, PolicyType="Custom", PolicyName=pols[10])
    # system policies are counted separately
    ram("AttachPolicyToUser", UserName=user, PolicyType="System", PolicyName="AdministratorAccess")
    attached = items(ram("ListPoliciesForUser", UserName=user), "Policies", "Policy")
    assert sorted(p["PolicyName"] for p in attached) == sorted(pols[:10] + ["AdministratorAccess"]), attached
    # after a detach there is room again
    ram("DetachPolicyFromUser", UserName=user, PolicyType="Custom", PolicyName=pols[0])
    ram("AttachPolicyToUser", UserName=user, PolicyType="Custom", PolicyName=pols[10])
    for p in pols[1:]:
        ram("DetachPolicyFromUser", UserName=user, PolicyType="Custom", PolicyName=p)
    ram("DetachPolicyFromUser", UserName=user, PolicyType="System", PolicyName="AdministratorAccess")
    for p in pols:
        ram("DeletePolicy", PolicyName=p)
    ram("DeleteUser", UserName=user)


# ------------------------------------------------------------------------------------------ login profiles


def login_profile(ram: RamDriver):
    user = create_user(ram, "lc-login")["UserName"]
    ram.expect_error("EntityNotExist.User.LoginProfile", 404, "GetLoginProfile", UserName=user)
    ram.expect_error("InvalidParameter.Password.TooWeak", 400, "CreateLoginProfile", UserName=user, Password="abc")
    ram.expect_error("EntityNotExist.User.LoginProfile", 404, "GetLoginProfile", UserName=user)
    ram.expect_error("EntityNotExist.User", 404, "CreateLoginProfile", UserName=uniq("lc-nouser"), Password=STRONG_PASSWORD)

    lp = ram("CreateLoginProfile", UserName=user, Password=STRONG_PASSWORD, PasswordResetRequired=True)["LoginProfile"]
    assert (lp["UserName"], lp["PasswordResetRequired"], lp["MFABindRequired"]) == (user, True, False), lp
    check_date(lp["CreateDate"], "LoginProfile.CreateDate")
    assert "Password" not in lp, lp
    ram.expect_error("EntityAlreadyExists.User.LoginProfile", 409, "CreateLoginProfile", UserName=user, Password=STRONG_PASSWORD)

    g = ram("GetLoginProfile", UserName=user)["LoginProfile"]
    assert (g["UserName"], g["PasswordResetRequired"], g["MFABindRequired"], g["CreateDate"]) == (user, True, False, lp["CreateDate"]), g

    ram("UpdateLoginProfile", UserName=user, PasswordResetRequired=False, MFABindRequired=True)
    g = ram("GetLoginProfile", UserName=user)["LoginProfile"]
    assert (g["PasswordResetRequired"], g["MFABindRequired"]) == (False, True), g
    ram("UpdateLoginProfile", UserName=user, Password=STRONG_PASSWORD + "2")
    ram.expect_error("InvalidParameter.Password.TooWeak", 400, "UpdateLoginProfile", UserName=user, Password="abc")
    g = ram("GetLoginProfile", UserName=user)["LoginProfile"]
    assert (g["PasswordResetRequired"], g["MFABindRequired"]) == (False, True), g

    ram.expect_error("DeleteConflict.User.LoginProfile", 409, "DeleteUser", UserName=user)
    ram("DeleteLoginProfile", UserName=user)
    ram.expect_error("EntityNotExist.User.LoginProfile", 404, "GetLoginProfile", UserName=user)
    ram.expect_error("EntityNotExist.User.LoginProfile", 404, "DeleteLoginProfile", UserName=user)
    ram.expect_error("EntityNotExist.User.LoginProfile", 404, "UpdateLoginProfile", UserName=user, PasswordResetRequired=True)
    ram("DeleteUser", UserName=user)


ALL = {
    "groups": lambda ram, acct: groups(ram),
    "policies_and_versions": lambda ram, acct: policies_and_versions(ram),
    "list_policies": lambda ram, acct: list_policies(ram),
    "system_policies": system_policies,
    "malformed_documents": lambda ram, acct: malformed_documents(ram),
    "roles": roles,
    "attachments": attachments,
    "attachment_limit": lambda ram, acct: attachment_limit(ram),
    "login_profile": lambda ram, acct: login_profile(ram),
}
