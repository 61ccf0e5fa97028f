//! RAM groups, roles and login profiles, driven with RPC v1 requests signed as the official
//! clients sign them, over plain HTTP. Where a test needs many rows quickly (quotas) or to look
//! at what is stored (password hashes), it opens the server's SQLite file directly, as a second
//! connection.

use super::*;
use tessera_protocol::Secret;
use tessera_server::password;
use tessera_testkit::Listeners;

/// A server with only the plain-HTTP listener these tests use.
async fn start() -> TestServer {
    TestServer::builder()
        .listeners(Listeners::Http)
        .start()
        .await
}

/// RAM calls as the account's root that must succeed or fail.
trait AsRoot {
    /// Calls an action that must succeed and returns its body.
    async fn ok(&self, action: &str, params: &[(&str, &str)]) -> Value;
    /// Calls an action that must fail with `status` and `code`; returns the error body.
    async fn fails(&self, action: &str, params: &[(&str, &str)], status: u16, code: &str) -> Value;
    /// Every page of a listing with `MaxItems=per_page`; returns the `name` of each item.
    async fn all_pages(
        &self,
        action: &str,
        params: &[(&str, &str)],
        list: &str,
        item: &str,
        name: &str,
        per_page: &str,
    ) -> Vec<String>;
}

impl AsRoot for TestServer {
    async fn ok(&self, action: &str, params: &[(&str, &str)]) -> Value {
        let (s, v) = self.ram(&self.root, action, params).await;
        assert_eq!(s, StatusCode::OK, "{action} {params:?}: {v}");
        v
    }

    async fn fails(&self, action: &str, params: &[(&str, &str)], status: u16, code: &str) -> Value {
        let (s, v) = self.ram(&self.root, action, params).await;
        assert_eq!(
            (s.as_u16(), v["Code"].as_str().unwrap_or("")),
            (status, code),
            "{action} {params:?}: {v}"
        );
        assert!(v["Message"].as_str().is_some_and(|m| !m.is_empty()));
        v
    }

    async fn all_pages(
        &self,
        action: &str,
        params: &[(&str, &str)],
        list: &str,
        item: &str,
        name: &str,
        per_page: &str,
    ) -> Vec<String> {
        let mut names = vec![];
        let mut marker = String::new();
        let mut pages = 0;
        loop {
            let mut p: Vec<(&str, &str)> = params.to_vec();
            p.push(("MaxItems", per_page));
            if !marker.is_empty() {
                p.push(("Marker", &marker));
            }
            let v = self.ok(action, &p).await;
            let page = v[list][item].as_array().unwrap();
            assert!(page.len() <= per_page.parse().unwrap());
            names.extend(page.iter().map(|i| i[name].as_str().unwrap().to_string()));
            pages += 1;
            if !v["IsTruncated"].as_bool().unwrap() {
                assert!(v.get("Marker").is_none(), "no Marker on the last page: {v}");
                break;
            }
            marker = v["Marker"].as_str().unwrap().into();
            assert!(pages < 100, "paging does not end");
        }
        names
    }
}

fn trust_policy(account: &str) -> String {
    // Whitespace and key order as a person might write it: it must come back unchanged.
    format!(
        "{{\n  \"Statement\": [\n    {{\n      \"Action\": \"sts:AssumeRole\",\n      \"Effect\": \"Allow\",\n      \"Principal\": {{ \"RAM\": [ \"acs:ram::{account}:root\" ] }}\n    }}\n  ],\n  \"Version\": \"1\"\n}}"
    )
}

fn parse_date(v: &Value) -> i64 {
    timestamp::parse(v.as_str().unwrap_or_default()).unwrap()
}

#[tokio::test]
async fn groups_lifecycle_and_errors() {
    let h = start().await;
    let v = h
        .ok(
            "CreateGroup",
            &[("GroupName", "dev.team_1"), ("Comments", "developers")],
        )
        .await;
    let g = &v["Group"];
    assert_eq!(g["GroupName"], "dev.team_1");
    assert_eq!(g["Comments"], "developers");
    let id = g["GroupId"].as_str().unwrap().to_string();
    assert!(
        id.len() == 16 && id.bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    parse_date(&g["CreateDate"]);
    assert!(g.get("UpdateDate").is_none());

    let v = h
        .fails(
            "CreateGroup",
            &[("GroupName", "dev.team_1")],
            409,
            "EntityAlreadyExists.Group",
        )
        .await;
    assert_eq!(v["Message"], "The group does already EXIST.");
    let long = "g".repeat(65);
    let long_comments = "c".repeat(129);
    for (params, code) in [
        (
            vec![("GroupName", "dev team")],
            "InvalidParameter.GroupName.InvalidChars",
        ),
        (
            vec![("GroupName", "dev@team")],
            "InvalidParameter.GroupName.InvalidChars",
        ),
        (
            vec![("GroupName", long.as_str())],
            "InvalidParameter.GroupName.Length",
        ),
        (
            vec![("GroupName", "ok"), ("Comments", long_comments.as_str())],
            "InvalidParameter.Comments.Length",
        ),
        (vec![], "MissingGroupName"),
    ] {
        h.fails("CreateGroup", &params, 400, code).await;
    }
    let v = h
        .fails(
            "CreateGroup",
            &[("GroupName", "dev team")],
            400,
            "InvalidParameter.GroupName.InvalidChars",
        )
        .await;
    assert_eq!(
        v["Message"],
        "The parameter - \"GroupName\" contains invalid chars."
    );

    let v = h.ok("GetGroup", &[("GroupName", "dev.team_1")]).await;
    assert_eq!(v["Group"]["GroupId"], id.as_str());
    parse_date(&v["Group"]["UpdateDate"]);
    let v = h
        .fails(
            "GetGroup",
            &[("GroupName", "nobody")],
            404,
            "EntityNotExist.Group",
        )
        .await;
    assert_eq!(v["Message"], "The group does not exist.");
    // Group names are case-sensitive, like user names.
    h.fails(
        "GetGroup",
        &[("GroupName", "DEV.TEAM_1")],
        404,
        "EntityNotExist.Group",
    )
    .await;

    h.ok("CreateGroup", &[("GroupName", "ops")]).await;
    h.fails(
        "UpdateGroup",
        &[("GroupName", "dev.team_1"), ("NewGroupName", "ops")],
        409,
        "EntityAlreadyExists.Group",
    )
    .await;
    h.fails(
        "UpdateGroup",
        &[("GroupName", "dev.team_1"), ("NewGroupName", "a b")],
        400,
        "InvalidParameter.NewGroupName.InvalidChars",
    )
    .await;
    h.fails(
        "UpdateGroup",
        &[("GroupName", "dev.team_1"), ("NewGroupName", &long)],
        400,
        "InvalidParameter.NewGroupName.Length",
    )
    .await;
    h.fails(
        "UpdateGroup",
        &[("GroupName", "dev.team_1"), ("NewComments", &long_comments)],
        400,
        "InvalidParameter.NewComments.Length",
    )
    .await;
    h.fails(
        "UpdateGroup",
        &[("GroupName", "ghost"), ("NewComments", "x")],
        404,
        "EntityNotExist.Group",
    )
    .await;
    let v = h
        .ok(
            "UpdateGroup",
            &[
                ("GroupName", "dev.team_1"),
                ("NewGroupName", "dev"),
                ("NewComments", "renamed"),
            ],
        )
        .await;
    assert_eq!(v["Group"]["GroupName"], "dev");
    assert_eq!(v["Group"]["Comments"], "renamed");
    assert_eq!(v["Group"]["GroupId"], id.as_str(), "a rename keeps the id");
    // Only the comments: the name stays.
    let v = h
        .ok(
            "UpdateGroup",
            &[("GroupName", "dev"), ("NewComments", "c2")],
        )
        .await;
    assert_eq!(
        (
            v["Group"]["GroupName"].as_str(),
            v["Group"]["Comments"].as_str()
        ),
        (Some("dev"), Some("c2"))
    );
    h.fails(
        "GetGroup",
        &[("GroupName", "dev.team_1")],
        404,
        "EntityNotExist.Group",
    )
    .await;

    for n in ["g-c", "g-a", "g-b"] {
        h.ok("CreateGroup", &[("GroupName", n)]).await;
    }
    let names = h
        .all_pages("ListGroups", &[], "Groups", "Group", "GroupName", "2")
        .await;
    assert_eq!(names, ["dev", "g-a", "g-b", "g-c", "ops"]);
    let v = h.ok("ListGroups", &[]).await;
    assert_eq!(v["IsTruncated"], false);
    let first = &v["Groups"]["Group"][0];
    for k in [
        "GroupId",
        "GroupName",
        "Comments",
        "CreateDate",
        "UpdateDate",
    ] {
        assert!(first.get(k).is_some(), "{k} in {first}");
    }
    for bad in ["0", "1001", "x"] {
        h.fails(
            "ListGroups",
            &[("MaxItems", bad)],
            400,
            "InvalidParameter.MaxItems",
        )
        .await;
    }
    h.fails(
        "ListGroups",
        &[("Marker", "!!")],
        400,
        "InvalidParameter.Marker",
    )
    .await;

    h.ok("DeleteGroup", &[("GroupName", "g-b")]).await;
    h.fails(
        "DeleteGroup",
        &[("GroupName", "g-b")],
        404,
        "EntityNotExist.Group",
    )
    .await;
    let names = h
        .all_pages("ListGroups", &[], "Groups", "Group", "GroupName", "100")
        .await;
    assert_eq!(names, ["dev", "g-a", "g-c", "ops"]);

    // An empty listing is still a wrapped list.
    let h2 = start().await;
    let v = h2.ok("ListGroups", &[]).await;
    assert_eq!(v["Groups"]["Group"], Value::Array(vec![]));
}

#[tokio::test]
async fn group_memberships_limits_and_delete_conflicts() {
    let h = start().await;
    for u in ["ann", "bob", "cat"] {
        h.ok(
            "CreateUser",
            &[("UserName", u), ("DisplayName", &format!("{u} display"))],
        )
        .await;
    }
    for g in ["g1", "g2", "g3", "g4", "g5", "g6"] {
        h.ok("CreateGroup", &[("GroupName", g), ("Comments", g)])
            .await;
    }

    let before = SystemClock.now();
    h.ok(
        "AddUserToGroup",
        &[("GroupName", "g1"), ("UserName", "ann")],
    )
    .await;
    let v = h
        .fails(
            "AddUserToGroup",
            &[("GroupName", "g1"), ("UserName", "ann")],
            409,
            "EntityAlreadyExists.User.Group",
        )
        .await;
    assert_eq!(v["Message"], "The user has already joined the group.");
    h.fails(
        "AddUserToGroup",
        &[("GroupName", "g1"), ("UserName", "ghost")],
        404,
        "EntityNotExist.User",
    )
    .await;
    h.fails(
        "AddUserToGroup",
        &[("GroupName", "nope"), ("UserName", "ann")],
        404,
        "EntityNotExist.Group",
    )
    .await;
    h.fails(
        "AddUserToGroup",
        &[("GroupName", "g1")],
        400,
        "MissingUserName",
    )
    .await;
    h.fails(
        "AddUserToGroup",
        &[("UserName", "ann")],
        400,
        "MissingGroupName",
    )
    .await;

    // A user joins at most five groups.
    for g in ["g2", "g3", "g4", "g5"] {
        h.ok("AddUserToGroup", &[("GroupName", g), ("UserName", "ann")])
            .await;
    }
    let v = h
        .fails(
            "AddUserToGroup",
            &[("GroupName", "g6"), ("UserName", "ann")],
            409,
            "LimitExceeded.User.Group",
        )
        .await;
    assert_eq!(
        v["Message"],
        "The count of groups the target user joined beyond the current limits."
    );

    let v = h.ok("ListGroupsForUser", &[("UserName", "ann")]).await;
    let groups = v["Groups"]["Group"].as_array().unwrap();
    assert_eq!(
        groups
            .iter()
            .map(|g| g["GroupName"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["g1", "g2", "g3", "g4", "g5"]
    );
    let joined = parse_date(&groups[0]["JoinDate"]);
    assert!(
        (joined - before).abs() < 60,
        "JoinDate is the time of joining"
    );
    assert_eq!(groups[0]["Comments"], "g1");
    assert!(groups[0]["GroupId"].as_str().unwrap().len() == 16);
    let v = h.ok("ListGroupsForUser", &[("UserName", "bob")]).await;
    assert_eq!(v["Groups"]["Group"], Value::Array(vec![]));
    h.fails(
        "ListGroupsForUser",
        &[("UserName", "ghost")],
        404,
        "EntityNotExist.User",
    )
    .await;

    for u in ["cat", "bob"] {
        h.ok("AddUserToGroup", &[("GroupName", "g1"), ("UserName", u)])
            .await;
    }
    let names = h
        .all_pages(
            "ListUsersForGroup",
            &[("GroupName", "g1")],
            "Users",
            "User",
            "UserName",
            "2",
        )
        .await;
    assert_eq!(names, ["ann", "bob", "cat"]);
    let v = h
        .ok(
            "ListUsersForGroup",
            &[("GroupName", "g1"), ("MaxItems", "1")],
        )
        .await;
    assert_eq!(v["IsTruncated"], true);
    let u = &v["Users"]["User"][0];
    assert_eq!(u["UserName"], "ann");
    assert_eq!(u["DisplayName"], "ann display");
    parse_date(&u["JoinDate"]);
    h.fails(
        "ListUsersForGroup",
        &[("GroupName", "nope")],
        404,
        "EntityNotExist.Group",
    )
    .await;
    h.fails(
        "ListUsersForGroup",
        &[("GroupName", "g1"), ("MaxItems", "0")],
        400,
        "InvalidParameter.MaxItems",
    )
    .await;

    // Neither a group with members nor a user in a group can be deleted.
    let v = h
        .fails(
            "DeleteGroup",
            &[("GroupName", "g1")],
            409,
            "DeleteConflict.Group.User",
        )
        .await;
    assert_eq!(
        v["Message"],
        "The group CAN NOT has any user member while deleting the group."
    );
    let v = h
        .fails(
            "DeleteUser",
            &[("UserName", "cat")],
            409,
            "DeleteConflict.User.Group",
        )
        .await;
    assert_eq!(
        v["Message"],
        "The user CAN NOT be in any group while deleting the user."
    );

    // A renamed user stays a member.
    h.ok(
        "UpdateUser",
        &[("UserName", "cat"), ("NewUserName", "cat2")],
    )
    .await;
    let v = h.ok("ListGroupsForUser", &[("UserName", "cat2")]).await;
    assert_eq!(v["Groups"]["Group"][0]["GroupName"], "g1");

    h.ok(
        "RemoveUserFromGroup",
        &[("GroupName", "g1"), ("UserName", "cat2")],
    )
    .await;
    let v = h
        .fails(
            "RemoveUserFromGroup",
            &[("GroupName", "g1"), ("UserName", "cat2")],
            404,
            "EntityNotExist.User.Group",
        )
        .await;
    assert_eq!(v["Message"], "The user has not joined the group.");
    h.fails(
        "RemoveUserFromGroup",
        &[("GroupName", "nope"), ("UserName", "cat2")],
        404,
        "EntityNotExist.Group",
    )
    .await;
    h.fails(
        "RemoveUserFromGroup",
        &[("GroupName", "g1"), ("UserName", "ghost")],
        404,
        "EntityNotExist.User",
    )
    .await;
    h.ok("DeleteUser", &[("UserName", "cat2")]).await;

    // Leaving a group frees a slot.
    h.ok(
        "RemoveUserFromGroup",
        &[("GroupName", "g5"), ("UserName", "ann")],
    )
    .await;
    h.ok(
        "AddUserToGroup",
        &[("GroupName", "g6"), ("UserName", "ann")],
    )
    .await;

    for u in ["ann", "bob"] {
        h.ok(
            "RemoveUserFromGroup",
            &[("GroupName", "g1"), ("UserName", u)],
        )
        .await;
    }
    h.ok("DeleteGroup", &[("GroupName", "g1")]).await;
}

#[tokio::test]
async fn groups_per_account_limit() {
    let h = start().await;
    for i in 0..50 {
        h.ok("CreateGroup", &[("GroupName", &format!("group-{i:02}"))])
            .await;
    }
    let v = h
        .fails(
            "CreateGroup",
            &[("GroupName", "one-too-many")],
            409,
            "LimitExceeded.Group",
        )
        .await;
    assert_eq!(
        v["Message"],
        "The count of groups beyond the current limits."
    );
    h.ok("DeleteGroup", &[("GroupName", "group-00")]).await;
    h.ok("CreateGroup", &[("GroupName", "one-too-many")]).await;
}

#[tokio::test]
async fn roles_lifecycle_and_errors() {
    let h = start().await;
    let doc = trust_policy(&h.account);
    let v = h
        .ok(
            "CreateRole",
            &[
                ("RoleName", "ECSAdmin"),
                ("AssumeRolePolicyDocument", &doc),
                ("Description", "ECS 管理角色"),
            ],
        )
        .await;
    let r = &v["Role"];
    let id = r["RoleId"].as_str().unwrap().to_string();
    assert!(
        (16..=18).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(r["RoleName"], "ECSAdmin");
    assert_eq!(r["Arn"], format!("acs:ram::{}:role/ECSAdmin", h.account));
    assert_eq!(r["Description"], "ECS 管理角色");
    assert_eq!(
        r["AssumeRolePolicyDocument"],
        doc.as_str(),
        "echoed as sent"
    );
    assert_eq!(r["MaxSessionDuration"], 3600, "the default, as a number");
    parse_date(&r["CreateDate"]);

    // Names are unique regardless of case.
    let v = h
        .fails(
            "CreateRole",
            &[("RoleName", "ecsadmin"), ("AssumeRolePolicyDocument", &doc)],
            409,
            "EntityAlreadyExists.Role",
        )
        .await;
    assert_eq!(v["Message"], "The role does already EXIST.");

    let long = "r".repeat(65);
    let long_description = "d".repeat(1025);
    for (params, code) in [
        (
            vec![
                ("RoleName", "ecs_admin"),
                ("AssumeRolePolicyDocument", &doc),
            ],
            "InvalidParameter.RoleName.InvalidChars",
        ),
        (
            vec![
                ("RoleName", "ecs admin"),
                ("AssumeRolePolicyDocument", &doc),
            ],
            "InvalidParameter.RoleName.InvalidChars",
        ),
        (
            vec![
                ("RoleName", long.as_str()),
                ("AssumeRolePolicyDocument", &doc),
            ],
            "InvalidParameter.RoleName.Length",
        ),
        (
            vec![("AssumeRolePolicyDocument", doc.as_str())],
            "MissingRoleName",
        ),
        (vec![("RoleName", "r1")], "MissingAssumeRolePolicyDocument"),
        (
            vec![
                ("RoleName", "r1"),
                ("AssumeRolePolicyDocument", &doc),
                ("Description", &long_description),
            ],
            "InvalidParameter.Description.Length",
        ),
    ] {
        h.fails("CreateRole", &params, 400, code).await;
    }
    for bad in ["3599", "43201", "0", "-3600", "1h", "3600.5"] {
        h.fails(
            "CreateRole",
            &[
                ("RoleName", "r1"),
                ("AssumeRolePolicyDocument", &doc),
                ("MaxSessionDuration", bad),
            ],
            400,
            "InvalidParameter.MaxSessionDuration",
        )
        .await;
    }
    let v = h
        .ok(
            "CreateRole",
            &[
                ("RoleName", "r1"),
                ("AssumeRolePolicyDocument", &doc),
                ("MaxSessionDuration", "43200"),
            ],
        )
        .await;
    assert_eq!(v["Role"]["MaxSessionDuration"], 43200);
    assert_eq!(v["Role"]["Description"], "");

    // Lookups ignore case; responses keep the original.
    for spelling in ["ECSAdmin", "ecsadmin", "ECSADMIN", "eCsAdMiN"] {
        let v = h.ok("GetRole", &[("RoleName", spelling)]).await;
        let r = &v["Role"];
        assert_eq!(r["RoleName"], "ECSAdmin", "{spelling}");
        assert_eq!(r["RoleId"], id.as_str());
        assert_eq!(r["Arn"], format!("acs:ram::{}:role/ECSAdmin", h.account));
        assert_eq!(r["AssumeRolePolicyDocument"], doc.as_str());
        assert_eq!(r["MaxSessionDuration"], 3600);
        parse_date(&r["UpdateDate"]);
    }
    let v = h
        .fails(
            "GetRole",
            &[("RoleName", "nobody")],
            404,
            "EntityNotExist.Role",
        )
        .await;
    assert_eq!(v["Message"], "The role does not exist.");
    h.fails(
        "GetRole",
        &[("RoleName", "bad_name")],
        400,
        "InvalidParameter.RoleName.InvalidChars",
    )
    .await;

    // UpdateRole, addressed in another case.
    let new_doc = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":["ecs.aliyuncs.com"]}}]}"#.to_string();
    let v = h
        .ok(
            "UpdateRole",
            &[
                ("RoleName", "ecsADMIN"),
                ("NewAssumeRolePolicyDocument", &new_doc),
                ("NewMaxSessionDuration", "7200"),
                ("NewDescription", "updated"),
            ],
        )
        .await;
    let r = &v["Role"];
    assert_eq!(r["RoleName"], "ECSAdmin");
    assert_eq!(r["AssumeRolePolicyDocument"], new_doc.as_str());
    assert_eq!(r["MaxSessionDuration"], 7200);
    assert_eq!(r["Description"], "updated");
    parse_date(&r["UpdateDate"]);
    // Unset fields stay as they are.
    let v = h
        .ok(
            "UpdateRole",
            &[("RoleName", "ECSAdmin"), ("NewDescription", "again")],
        )
        .await;
    assert_eq!(v["Role"]["MaxSessionDuration"], 7200);
    assert_eq!(v["Role"]["AssumeRolePolicyDocument"], new_doc.as_str());
    for bad in ["3599", "43201", "x"] {
        h.fails(
            "UpdateRole",
            &[("RoleName", "ECSAdmin"), ("NewMaxSessionDuration", bad)],
            400,
            "InvalidParameter.NewMaxSessionDuration",
        )
        .await;
    }
    h.fails(
        "UpdateRole",
        &[
            ("RoleName", "ECSAdmin"),
            ("NewDescription", &long_description),
        ],
        400,
        "InvalidParameter.NewDescription.Length",
    )
    .await;
    h.fails(
        "UpdateRole",
        &[
            ("RoleName", "ECSAdmin"),
            ("NewAssumeRolePolicyDocument", "{"),
        ],
        400,
        "MalformedPolicyDocument",
    )
    .await;
    h.fails(
        "UpdateRole",
        &[("RoleName", "ghost"), ("NewDescription", "x")],
        404,
        "EntityNotExist.Role",
    )
    .await;

    // Listing: ordered regardless of case, paged, without trust policies.
    for n in ["beta", "Alpha", "gamma", "Delta"] {
        h.ok(
            "CreateRole",
            &[("RoleName", n), ("AssumeRolePolicyDocument", &doc)],
        )
        .await;
    }
    let names = h
        .all_pages("ListRoles", &[], "Roles", "Role", "RoleName", "2")
        .await;
    assert_eq!(names, ["Alpha", "beta", "Delta", "ECSAdmin", "gamma", "r1"]);
    let v = h.ok("ListRoles", &[]).await;
    for r in v["Roles"]["Role"].as_array().unwrap() {
        assert!(r.get("AssumeRolePolicyDocument").is_none(), "{r}");
        for k in [
            "RoleId",
            "RoleName",
            "Arn",
            "Description",
            "MaxSessionDuration",
            "CreateDate",
            "UpdateDate",
        ] {
            assert!(r.get(k).is_some(), "{k} in {r}");
        }
    }
    h.fails(
        "ListRoles",
        &[("MaxItems", "1001")],
        400,
        "InvalidParameter.MaxItems",
    )
    .await;

    h.ok("DeleteRole", &[("RoleName", "ecsadmin")]).await;
    h.fails(
        "GetRole",
        &[("RoleName", "ECSAdmin")],
        404,
        "EntityNotExist.Role",
    )
    .await;
    h.fails(
        "DeleteRole",
        &[("RoleName", "ECSAdmin")],
        404,
        "EntityNotExist.Role",
    )
    .await;
    // The name is free again, in any case.
    h.ok(
        "CreateRole",
        &[("RoleName", "ecsadmin"), ("AssumeRolePolicyDocument", &doc)],
    )
    .await;
}

#[tokio::test]
async fn role_documents_render_in_xml() {
    let h = start().await;
    let doc = trust_policy(&h.account);
    h.ok(
        "CreateRole",
        &[("RoleName", "xml-role"), ("AssumeRolePolicyDocument", &doc)],
    )
    .await;
    let (s, v) = h
        .ram(
            &h.root,
            "GetRole",
            &[("RoleName", "XML-ROLE"), ("Format", "XML")],
        )
        .await;
    assert_eq!(s, 200);
    let text = v.as_str().unwrap();
    assert!(text.contains("<GetRoleResponse>"), "{text}");
    assert!(text.contains("<RoleName>xml-role</RoleName>"), "{text}");
    assert!(text.contains("&quot;sts:AssumeRole&quot;"), "{text}");
    assert!(text.contains("<MaxSessionDuration>3600</MaxSessionDuration>"));
    let (_, v) = h.ram(&h.root, "ListRoles", &[("Format", "XML")]).await;
    let text = v.as_str().unwrap();
    assert!(
        text.contains("<Roles><Role><RoleId>"),
        "lists repeat the item element: {text}"
    );
}

#[tokio::test]
async fn bad_trust_policies_are_refused_with_a_reason() {
    let h = start().await;
    let too_long = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":["{}"]}}}}]}}"#,
        "x".repeat(4096)
    );
    h.fails(
        "CreateRole",
        &[("RoleName", "big"), ("AssumeRolePolicyDocument", &too_long)],
        400,
        "InvalidParameter.AssumeRolePolicyDocument.Length",
    )
    .await;
    let acct = h.account.clone();
    let st = |body: &str| format!(r#"{{"Version":"1","Statement":[{body}]}}"#);
    let cases: Vec<(String, &str)> = vec![
        ("{".into(), ""),
        ("not json".into(), ""),
        ("[]".into(), ""),
        (
            st(r#"{"Effect":"Allow","Action":"sts:AssumeRole"}"#),
            "Statement[0]: a trust policy statement needs Principal",
        ),
        (
            st(&format!(
                r#"{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":"acs:ram::{acct}:group/x"}}}}"#
            )),
            "Statement[0].Principal.RAM",
        ),
        (
            st(r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":"*"}"#),
            "Statement[0].Principal",
        ),
        (
            st(&format!(
                r#"{{"Effect":"Permit","Action":"sts:AssumeRole","Principal":{{"RAM":"acs:ram::{acct}:root"}}}}"#
            )),
            "Statement[0].Effect",
        ),
        (
            format!(
                r#"{{"Version":"2","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":"acs:ram::{acct}:root"}}}}]}}"#
            ),
            "Version",
        ),
        (
            st(&format!(
                r#"{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":"acs:ram::{acct}:root"}},"Condition":{{"StringEqualz":{{"sts:ExternalId":"x"}}}}}}"#
            )),
            "Statement[0].Condition.StringEqualz",
        ),
    ];
    for (doc, says) in &cases {
        let v = h
            .fails(
                "CreateRole",
                &[("RoleName", "bad"), ("AssumeRolePolicyDocument", doc)],
                400,
                "MalformedPolicyDocument",
            )
            .await;
        let message = v["Message"].as_str().unwrap();
        assert!(
            message.len() > 10 && message.contains(says),
            "{doc}: {message}"
        );
    }

    // Every documented principal form is accepted.
    for principal in [
        format!(r#"{{"RAM":"acs:ram::{acct}:root"}}"#),
        format!(r#"{{"RAM":["acs:ram::{acct}:user/alice","acs:ram::{acct}:role/chain"]}}"#),
        r#"{"Service":["ecs.aliyuncs.com"]}"#.to_string(),
        format!(r#"{{"Federated":"acs:ram::{acct}:saml-provider/idp"}}"#),
        format!(r#"{{"Federated":["acs:ram::{acct}:oidc-provider/gh"]}}"#),
    ] {
        let doc = st(&format!(
            r#"{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{principal}}}"#
        ));
        h.ok(
            "CreateRole",
            &[("RoleName", "good"), ("AssumeRolePolicyDocument", &doc)],
        )
        .await;
        h.ok("DeleteRole", &[("RoleName", "good")]).await;
    }
    // With an ExternalId condition.
    let with_external_id = st(&format!(
        r#"{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":"acs:ram::{acct}:root"}},"Condition":{{"StringEquals":{{"sts:ExternalId":"abcd1234"}}}}}}"#
    ));
    h.ok(
        "CreateRole",
        &[
            ("RoleName", "partner"),
            ("AssumeRolePolicyDocument", &with_external_id),
        ],
    )
    .await;

    // UpdateRole validates the same way and a refused update changes nothing.
    let v = h
        .fails(
            "UpdateRole",
            &[
                ("RoleName", "partner"),
                ("NewAssumeRolePolicyDocument", &cases[3].0),
                ("NewDescription", "must not stick"),
            ],
            400,
            "MalformedPolicyDocument",
        )
        .await;
    assert!(v["Message"].as_str().unwrap().contains("Principal"));
    let too_long_update = h
        .fails(
            "UpdateRole",
            &[
                ("RoleName", "partner"),
                ("NewAssumeRolePolicyDocument", &too_long),
            ],
            400,
            "InvalidParameter.NewAssumeRolePolicyDocument.Length",
        )
        .await;
    assert!(too_long_update["Message"].is_string());
    let v = h.ok("GetRole", &[("RoleName", "partner")]).await;
    assert_eq!(
        v["Role"]["AssumeRolePolicyDocument"],
        with_external_id.as_str()
    );
    assert_eq!(v["Role"]["Description"], "");

    // Nothing was created by the refused requests.
    h.fails(
        "GetRole",
        &[("RoleName", "bad")],
        404,
        "EntityNotExist.Role",
    )
    .await;
}

#[tokio::test]
async fn roles_per_account_limit() {
    let h = start().await;
    let doc = trust_policy(&h.account);
    // 999 roles written directly: the quota check counts rows, however they got there.
    {
        let mut db = h.db();
        let tx = db.transaction().unwrap();
        for i in 0..999 {
            tx.execute(
                "INSERT INTO roles (account_id, id, name, description, trust_policy, max_session_duration, created, updated) VALUES (?1, ?2, ?3, '', ?4, 3600, 0, 0)",
                rusqlite::params![h.account, format!("9{i:017}"), format!("bulk-{i:03}"), doc],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    h.ok(
        "CreateRole",
        &[
            ("RoleName", "the-1000th"),
            ("AssumeRolePolicyDocument", &doc),
        ],
    )
    .await;
    let v = h
        .fails(
            "CreateRole",
            &[
                ("RoleName", "the-1001st"),
                ("AssumeRolePolicyDocument", &doc),
            ],
            409,
            "LimitExceeded.Role",
        )
        .await;
    assert_eq!(
        v["Message"],
        "The count of roles beyond the current limits."
    );
    let names = h
        .all_pages("ListRoles", &[], "Roles", "Role", "RoleName", "1000")
        .await;
    assert_eq!(names.len(), 1000);
}

#[tokio::test]
async fn attached_policies_block_deleting_groups_and_roles() {
    let h = start().await;
    let doc = trust_policy(&h.account);
    h.ok("CreateGroup", &[("GroupName", "admins")]).await;
    h.ok(
        "CreateRole",
        &[("RoleName", "Admin"), ("AssumeRolePolicyDocument", &doc)],
    )
    .await;
    let attachment = |kind: &'static str, name: &'static str| {
        [
            ("PolicyType", "System"),
            ("PolicyName", "AdministratorAccess"),
            (kind, name),
        ]
    };
    h.ok("AttachPolicyToGroup", &attachment("GroupName", "admins"))
        .await;
    // Role names are found regardless of case here too.
    h.ok("AttachPolicyToRole", &attachment("RoleName", "ADMIN"))
        .await;
    let v = h
        .fails(
            "DeleteGroup",
            &[("GroupName", "admins")],
            409,
            "DeleteConflict.Group.Policy",
        )
        .await;
    assert_eq!(
        v["Message"],
        "The entity CAN NOT has any attached policy while deleting the group."
    );
    let v = h
        .fails(
            "DeleteRole",
            &[("RoleName", "admin")],
            409,
            "DeleteConflict.Role.Policy",
        )
        .await;
    assert_eq!(
        v["Message"],
        "The role CAN NOT has any attached policy while deleting the role."
    );
    // A renamed group keeps its attachment (attachments name the group by id).
    h.ok(
        "UpdateGroup",
        &[("GroupName", "admins"), ("NewGroupName", "admins2")],
    )
    .await;
    h.fails(
        "DeleteGroup",
        &[("GroupName", "admins2")],
        409,
        "DeleteConflict.Group.Policy",
    )
    .await;
    h.ok("DetachPolicyFromGroup", &attachment("GroupName", "admins2"))
        .await;
    h.ok("DetachPolicyFromRole", &attachment("RoleName", "Admin"))
        .await;
    h.ok("DeleteGroup", &[("GroupName", "admins2")]).await;
    h.ok("DeleteRole", &[("RoleName", "Admin")]).await;
}

#[tokio::test]
async fn ram_users_are_authorized_by_policies_on_groups_and_roles() {
    let h = start().await;
    let doc = trust_policy(&h.account);
    let dev = h.user_with_key("dev").await;
    h.ok(
        "CreateRole",
        &[
            ("RoleName", "App-Reader"),
            ("AssumeRolePolicyDocument", &doc),
        ],
    )
    .await;
    h.ok(
        "CreateRole",
        &[("RoleName", "Other"), ("AssumeRolePolicyDocument", &doc)],
    )
    .await;
    h.ok(
        "CreatePolicy",
        &[
            ("PolicyName", "app-roles"),
            (
                "PolicyDocument",
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:GetRole","ram:UpdateRole"],"Resource":"acs:ram:*:*:role/app-*"},{"Effect":"Allow","Action":"ram:ListRoles","Resource":"*"}]}"#,
            ),
        ],
    )
    .await;
    // The policy reaches the user through a group it joins.
    h.ok("CreateGroup", &[("GroupName", "developers")]).await;
    h.ok(
        "AttachPolicyToGroup",
        &[
            ("PolicyType", "Custom"),
            ("PolicyName", "app-roles"),
            ("GroupName", "developers"),
        ],
    )
    .await;
    let (s, v) = h.ram(&dev, "ListRoles", &[]).await;
    assert_eq!(
        (s, v["Code"].as_str()),
        (StatusCode::FORBIDDEN, Some("NoPermission"))
    );
    h.ok(
        "AddUserToGroup",
        &[("GroupName", "developers"), ("UserName", "dev")],
    )
    .await;
    let (s, v) = h.ram(&dev, "ListRoles", &[]).await;
    assert_eq!(s, 200, "membership takes effect on the next request: {v}");
    // The role-name segment of the resource matches regardless of case.
    let (s, v) = h.ram(&dev, "GetRole", &[("RoleName", "APP-READER")]).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Role"]["RoleName"], "App-Reader");
    for (action, params) in [
        ("GetRole", vec![("RoleName", "Other")]),
        ("DeleteRole", vec![("RoleName", "App-Reader")]),
        ("CreateGroup", vec![("GroupName", "mine")]),
        ("GetLoginProfile", vec![("UserName", "dev")]),
    ] {
        let (s, v) = h.ram(&dev, action, &params).await;
        assert_eq!(
            (s, v["Code"].as_str()),
            (StatusCode::FORBIDDEN, Some("NoPermission")),
            "{action}: {v}"
        );
        assert_eq!(
            v["AccessDeniedDetail"]["AuthAction"],
            format!("ram:{action}")
        );
    }
    // Leaving the group takes the permission away again.
    h.ok(
        "RemoveUserFromGroup",
        &[("GroupName", "developers"), ("UserName", "dev")],
    )
    .await;
    let (s, _) = h.ram(&dev, "ListRoles", &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

fn stored_hash(h: &TestServer, user: &str) -> String {
    h.db()
        .query_row(
            "SELECT p.password_hash FROM login_profiles p JOIN users u ON u.account_id = p.account_id AND u.id = p.user_id WHERE u.name = ?1",
            [user],
            |r| r.get(0),
        )
        .unwrap()
}

#[tokio::test]
async fn login_profiles_lifecycle_and_password_hashing() {
    let h = start().await;
    h.ok("CreateUser", &[("UserName", "lee")]).await;
    let first = "Secret-Pass-1";

    h.fails(
        "GetLoginProfile",
        &[("UserName", "lee")],
        404,
        "EntityNotExist.User.LoginProfile",
    )
    .await;
    h.fails(
        "CreateLoginProfile",
        &[("UserName", "ghost"), ("Password", first)],
        404,
        "EntityNotExist.User",
    )
    .await;
    h.fails(
        "CreateLoginProfile",
        &[("UserName", "lee")],
        400,
        "MissingPassword",
    )
    .await;
    h.fails(
        "CreateLoginProfile",
        &[("Password", first)],
        400,
        "MissingUserName",
    )
    .await;
    for weak in ["short1!", &"x".repeat(33), "has space 123", "pässwört3r"] {
        let v = h
            .fails(
                "CreateLoginProfile",
                &[("UserName", "lee"), ("Password", weak)],
                400,
                "InvalidParameter.Password.TooWeak",
            )
            .await;
        assert_eq!(
            v["Message"],
            "The parameter - \"Password\" is not compliant with the password policy."
        );
    }
    for (name, bad) in [
        ("PasswordResetRequired", "yes"),
        ("PasswordResetRequired", "1"),
        ("MFABindRequired", "maybe"),
    ] {
        h.fails(
            "CreateLoginProfile",
            &[("UserName", "lee"), ("Password", first), (name, bad)],
            400,
            &format!("InvalidParameter.{name}"),
        )
        .await;
    }

    let before = SystemClock.now();
    let (s, v) = h
        .ram(
            &h.root,
            "CreateLoginProfile",
            &[("UserName", "lee"), ("Password", first)],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(!v.to_string().contains(first), "no password in responses");
    let p = &v["LoginProfile"];
    assert_eq!(p["UserName"], "lee");
    assert_eq!(
        p["PasswordResetRequired"], false,
        "default false, a boolean"
    );
    assert_eq!(p["MFABindRequired"], false);
    assert!((parse_date(&p["CreateDate"]) - before).abs() < 60);
    h.fails(
        "CreateLoginProfile",
        &[("UserName", "lee"), ("Password", first)],
        409,
        "EntityAlreadyExists.User.LoginProfile",
    )
    .await;

    // Stored as an Argon2id PHC string, never as the password.
    let hash = stored_hash(&h, "lee");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(first));
    assert!(password::verify(&hash, &Secret::new(first)));
    assert!(!password::verify(&hash, &Secret::new("Secret-Pass-2")));
    let db_bytes = std::fs::read(h.db_path()).unwrap_or_default();
    let wal_bytes = std::fs::read(h.dir().join("tessera.db-wal")).unwrap_or_default();
    for bytes in [db_bytes, wal_bytes] {
        assert!(
            !bytes.windows(first.len()).any(|w| w == first.as_bytes()),
            "the plaintext is nowhere in the database files"
        );
    }

    let v = h.ok("GetLoginProfile", &[("UserName", "lee")]).await;
    assert_eq!(v["LoginProfile"]["UserName"], "lee");
    assert_eq!(v["LoginProfile"]["PasswordResetRequired"], false);
    assert!(v["LoginProfile"].get("Password").is_none());

    // Flags only: the password (hash) stays.
    let v = h
        .ok(
            "UpdateLoginProfile",
            &[
                ("UserName", "lee"),
                ("PasswordResetRequired", "TRUE"),
                ("MFABindRequired", "True"),
            ],
        )
        .await;
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["RequestId"],
        "UpdateLoginProfile answers with the request id only"
    );
    assert_eq!(stored_hash(&h, "lee"), hash);
    let v = h.ok("GetLoginProfile", &[("UserName", "lee")]).await;
    assert_eq!(v["LoginProfile"]["PasswordResetRequired"], true);
    assert_eq!(v["LoginProfile"]["MFABindRequired"], true);

    // A new password: a new hash, the old password no longer verifies.
    let second = "An0ther~Secret";
    h.ok(
        "UpdateLoginProfile",
        &[
            ("UserName", "lee"),
            ("Password", second),
            ("MFABindRequired", "false"),
        ],
    )
    .await;
    let new_hash = stored_hash(&h, "lee");
    assert_ne!(new_hash, hash);
    assert!(password::verify(&new_hash, &Secret::new(second)));
    assert!(!password::verify(&new_hash, &Secret::new(first)));
    let v = h.ok("GetLoginProfile", &[("UserName", "lee")]).await;
    assert_eq!(v["LoginProfile"]["PasswordResetRequired"], true);
    assert_eq!(v["LoginProfile"]["MFABindRequired"], false);

    h.fails(
        "UpdateLoginProfile",
        &[("UserName", "lee"), ("Password", "weak")],
        400,
        "InvalidParameter.Password.TooWeak",
    )
    .await;
    h.fails(
        "UpdateLoginProfile",
        &[("UserName", "lee"), ("MFABindRequired", "on")],
        400,
        "InvalidParameter.MFABindRequired",
    )
    .await;
    assert_eq!(
        stored_hash(&h, "lee"),
        new_hash,
        "refused updates change nothing"
    );

    // The profile follows its user through a rename.
    h.ok(
        "UpdateUser",
        &[("UserName", "lee"), ("NewUserName", "lee2")],
    )
    .await;
    let v = h.ok("GetLoginProfile", &[("UserName", "lee2")]).await;
    assert_eq!(v["LoginProfile"]["UserName"], "lee2");

    let v = h
        .fails(
            "DeleteUser",
            &[("UserName", "lee2")],
            409,
            "DeleteConflict.User.LoginProfile",
        )
        .await;
    assert_eq!(
        v["Message"],
        "The user CAN NOT has any login profile while deleting the user."
    );
    h.ok("DeleteLoginProfile", &[("UserName", "lee2")]).await;
    let v = h
        .fails(
            "DeleteLoginProfile",
            &[("UserName", "lee2")],
            404,
            "EntityNotExist.User.LoginProfile",
        )
        .await;
    assert_eq!(v["Message"], "The user login profile does not exist.");
    h.fails(
        "UpdateLoginProfile",
        &[("UserName", "lee2"), ("PasswordResetRequired", "false")],
        404,
        "EntityNotExist.User.LoginProfile",
    )
    .await;
    h.fails(
        "GetLoginProfile",
        &[("UserName", "ghost")],
        404,
        "EntityNotExist.User",
    )
    .await;
    h.ok("DeleteUser", &[("UserName", "lee2")]).await;

    // Explicit flags at creation.
    h.ok("CreateUser", &[("UserName", "kim")]).await;
    let v = h
        .ok(
            "CreateLoginProfile",
            &[
                ("UserName", "kim"),
                ("Password", "kim-password"),
                ("PasswordResetRequired", "true"),
                ("MFABindRequired", "FALSE"),
            ],
        )
        .await;
    assert_eq!(v["LoginProfile"]["PasswordResetRequired"], true);
    assert_eq!(v["LoginProfile"]["MFABindRequired"], false);
}

#[tokio::test]
async fn ram_users_need_permission_for_every_new_action() {
    let h = start().await;
    let user = h.user_with_key("plain").await;
    for action in [
        "CreateGroup",
        "GetGroup",
        "UpdateGroup",
        "ListGroups",
        "DeleteGroup",
        "AddUserToGroup",
        "RemoveUserFromGroup",
        "ListGroupsForUser",
        "ListUsersForGroup",
        "CreateRole",
        "GetRole",
        "UpdateRole",
        "ListRoles",
        "DeleteRole",
        "CreateLoginProfile",
        "GetLoginProfile",
        "UpdateLoginProfile",
        "DeleteLoginProfile",
    ] {
        let (s, v) = h.ram(&user, action, &[]).await;
        assert_eq!(
            (s, v["Code"].as_str()),
            (StatusCode::FORBIDDEN, Some("NoPermission")),
            "{action}: {v}"
        );
    }
}
