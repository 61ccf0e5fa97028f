//! Custom and system policies, versions, attachments.

use super::*;

const DOC: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:Get*","Resource":"*"}]}"#;
const DOC2: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:List*"],"Resource":"*"}]}"#;

#[tokio::test]
async fn custom_policy_lifecycle() {
    let h = TestServer::start().await;
    let root = h.root.clone();
    let (s, v) = h
        .ram(
            &root,
            "CreatePolicy",
            &[
                ("PolicyName", "Readers"),
                ("PolicyDocument", DOC),
                ("Description", "read"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Policy"]["PolicyType"], "Custom");
    assert_eq!(v["Policy"]["DefaultVersion"], "v1");
    let (s, v) = h
        .ram(
            &root,
            "CreatePolicy",
            &[("PolicyName", "Readers"), ("PolicyDocument", DOC)],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "EntityAlreadyExists.Policy")
    );

    let (s, v) = h
        .ram(
            &root,
            "GetPolicy",
            &[("PolicyName", "Readers"), ("PolicyType", "Custom")],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Policy"]["PolicyDocument"], DOC);
    assert_eq!(v["Policy"]["AttachmentCount"], 0);
    assert_eq!(v["DefaultPolicyVersion"]["VersionId"], "v1");
    assert_eq!(v["DefaultPolicyVersion"]["IsDefaultVersion"], true);

    // Versions: v2 (not default), v3 (default), limits and rotation.
    let (s, v) = h
        .ram(
            &root,
            "CreatePolicyVersion",
            &[("PolicyName", "Readers"), ("PolicyDocument", DOC2)],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["PolicyVersion"]["VersionId"].as_str(),
            v["PolicyVersion"]["IsDefaultVersion"].as_bool()
        ),
        (Some("v2"), Some(false))
    );
    let (_, v) = h
        .ram(
            &root,
            "CreatePolicyVersion",
            &[
                ("PolicyName", "Readers"),
                ("PolicyDocument", DOC2),
                ("SetAsDefault", "true"),
            ],
        )
        .await;
    assert_eq!(v["PolicyVersion"]["VersionId"], "v3");
    let (_, v) = h
        .ram(
            &root,
            "GetPolicy",
            &[("PolicyName", "Readers"), ("PolicyType", "Custom")],
        )
        .await;
    assert_eq!(v["Policy"]["DefaultVersion"], "v3");
    assert_eq!(v["DefaultPolicyVersion"]["PolicyDocument"], DOC2);
    for _ in 0..2 {
        let (s, _) = h
            .ram(
                &root,
                "CreatePolicyVersion",
                &[("PolicyName", "Readers"), ("PolicyDocument", DOC)],
            )
            .await;
        assert_eq!(s, 200);
    }
    let (s, v) = h
        .ram(
            &root,
            "CreatePolicyVersion",
            &[("PolicyName", "Readers"), ("PolicyDocument", DOC)],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "LimitExceeded.Policy.Version")
    );
    let (s, v) = h
        .ram(
            &root,
            "CreatePolicyVersion",
            &[
                ("PolicyName", "Readers"),
                ("PolicyDocument", DOC),
                (
                    "RotateStrategy",
                    "DeleteOldestNonDefaultVersionWhenLimitExceeded",
                ),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["PolicyVersion"]["VersionId"], "v6",
        "version ids are never reused"
    );
    let (_, v) = h
        .ram(
            &root,
            "ListPolicyVersions",
            &[("PolicyName", "Readers"), ("PolicyType", "Custom")],
        )
        .await;
    let ids: Vec<&str> = v["PolicyVersions"]["PolicyVersion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["VersionId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["v2", "v3", "v4", "v5", "v6"],
        "the oldest non-default (v1) was rotated out"
    );

    let (s, v) = h
        .ram(
            &root,
            "GetPolicyVersion",
            &[
                ("PolicyName", "Readers"),
                ("PolicyType", "Custom"),
                ("VersionId", "v1"),
            ],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.Policy.Version")
    );
    let (s, v) = h
        .ram(
            &root,
            "GetPolicyVersion",
            &[
                ("PolicyName", "Readers"),
                ("PolicyType", "Custom"),
                ("VersionId", "1"),
            ],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidParameter.VersionId.Format")
    );
    let (s, v) = h
        .ram(
            &root,
            "DeletePolicyVersion",
            &[("PolicyName", "Readers"), ("VersionId", "v3")],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (
            StatusCode::CONFLICT,
            "DeleteConflict.Policy.Version.Default"
        )
    );
    let (s, _) = h
        .ram(
            &root,
            "SetDefaultPolicyVersion",
            &[("PolicyName", "Readers"), ("VersionId", "v2")],
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = h
        .ram(
            &root,
            "DeletePolicyVersion",
            &[("PolicyName", "Readers"), ("VersionId", "v3")],
        )
        .await;
    assert_eq!(s, 200);

    // Deletion: refused while other versions exist, then while attached.
    let (s, v) = h
        .ram(&root, "DeletePolicy", &[("PolicyName", "Readers")])
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "DeleteConflict.Policy.Version")
    );
    h.ram(&root, "CreateUser", &[("UserName", "pat")]).await;
    let (s, v) = h
        .ram(
            &root,
            "AttachPolicyToUser",
            &[
                ("PolicyType", "Custom"),
                ("PolicyName", "Readers"),
                ("UserName", "pat"),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = h
        .ram(
            &root,
            "DeletePolicy",
            &[("PolicyName", "Readers"), ("CascadingDelete", "true")],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "DeleteConflict.Policy.User")
    );
    let (_, v) = h
        .ram(
            &root,
            "ListEntitiesForPolicy",
            &[("PolicyName", "Readers"), ("PolicyType", "Custom")],
        )
        .await;
    assert_eq!(v["Users"]["User"][0]["UserName"], "pat");
    assert_eq!(v["Groups"]["Group"].as_array().unwrap().len(), 0);
    h.ram(
        &root,
        "DetachPolicyFromUser",
        &[
            ("PolicyType", "Custom"),
            ("PolicyName", "Readers"),
            ("UserName", "pat"),
        ],
    )
    .await;
    let (s, v) = h
        .ram(
            &root,
            "DeletePolicy",
            &[("PolicyName", "Readers"), ("CascadingDelete", "true")],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = h
        .ram(
            &root,
            "GetPolicy",
            &[("PolicyName", "Readers"), ("PolicyType", "Custom")],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.Policy")
    );
}

#[tokio::test]
async fn policy_documents_are_checked() {
    let h = TestServer::start().await;
    let root = h.root.clone();
    for (doc, why) in [
        ("not json", "JSON"),
        (r#"{"Version":"2","Statement":[]}"#, "Version"),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}"#,
            "Effect",
        ),
        (
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}}]}"#,
            "StringEqualz",
        ),
    ] {
        let (s, v) = h
            .ram(
                &root,
                "CreatePolicy",
                &[("PolicyName", "Bad"), ("PolicyDocument", doc)],
            )
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "MalformedPolicyDocument"),
            "{doc}"
        );
        assert!(v["Message"].as_str().unwrap().contains(why), "{why}: {v}");
    }
    let big = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"*","Resource":"{}"}}]}}"#,
        "x".repeat(6200)
    );
    let (s, v) = h
        .ram(
            &root,
            "CreatePolicy",
            &[("PolicyName", "Big"), ("PolicyDocument", &big)],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (
            StatusCode::BAD_REQUEST,
            "InvalidParameter.PolicyDocument.Length"
        )
    );
    let (s, v) = h
        .ram(
            &root,
            "CreatePolicy",
            &[("PolicyName", "bad_name"), ("PolicyDocument", DOC)],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (
            StatusCode::BAD_REQUEST,
            "InvalidParameter.PolicyName.InvalidChars"
        )
    );
    let (s, v) = h
        .ram(
            &root,
            "GetPolicy",
            &[("PolicyName", "X"), ("PolicyType", "Managed")],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "InvalidParameter.PolicyType")
    );
}

#[tokio::test]
async fn system_policies_and_listing() {
    let h = TestServer::start().await;
    let root = h.root.clone();
    for name in [
        "AdministratorAccess",
        "ReadOnlyAccess",
        "AliyunSTSAssumeRoleAccess",
        "AliyunRAMFullAccess",
        "AliyunRAMReadOnlyAccess",
    ] {
        let (s, v) = h
            .ram(
                &root,
                "GetPolicy",
                &[("PolicyName", name), ("PolicyType", "System")],
            )
            .await;
        assert_eq!(s, 200, "{name}: {v}");
        let doc: Value =
            serde_json::from_str(v["Policy"]["PolicyDocument"].as_str().unwrap()).unwrap();
        assert!(doc["Statement"].is_array());
    }
    let (_, v) = h
        .ram(
            &root,
            "GetPolicy",
            &[
                ("PolicyName", "AliyunSTSAssumeRoleAccess"),
                ("PolicyType", "System"),
            ],
        )
        .await;
    assert_eq!(
        v["Policy"]["PolicyDocument"],
        r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Resource":"*"}],"Version":"1"}"#
    );
    let (s, v) = h
        .ram(
            &root,
            "GetPolicy",
            &[
                ("PolicyName", "AdministratorAccess"),
                ("PolicyType", "Custom"),
            ],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.Policy")
    );

    for i in 0..3 {
        h.ram(
            &root,
            "CreatePolicy",
            &[("PolicyName", &format!("P{i}")), ("PolicyDocument", DOC)],
        )
        .await;
    }
    h.ram(&root, "CreateUser", &[("UserName", "sam")]).await;
    h.ram(
        &root,
        "AttachPolicyToUser",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "ReadOnlyAccess"),
            ("UserName", "sam"),
        ],
    )
    .await;
    let mut seen = vec![];
    let mut marker = String::new();
    loop {
        let mut p = vec![("MaxItems", "3")];
        if !marker.is_empty() {
            p.push(("Marker", &marker));
        }
        let (s, v) = h.ram(&root, "ListPolicies", &p).await;
        assert_eq!(s, 200, "{v}");
        for p in v["Policies"]["Policy"].as_array().unwrap() {
            seen.push((
                p["PolicyType"].as_str().unwrap().to_string(),
                p["PolicyName"].as_str().unwrap().to_string(),
                p["AttachmentCount"].as_i64().unwrap(),
            ));
        }
        if !v["IsTruncated"].as_bool().unwrap() {
            break;
        }
        marker = v["Marker"].as_str().unwrap().into();
    }
    assert_eq!(seen.len(), 8);
    assert!(seen.contains(&("System".into(), "ReadOnlyAccess".into(), 1)));
    assert_eq!(seen.iter().filter(|(t, _, _)| t == "Custom").count(), 3);
    let (_, v) = h
        .ram(&root, "ListPolicies", &[("PolicyType", "Custom")])
        .await;
    assert_eq!(v["Policies"]["Policy"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn attachments_and_their_errors() {
    let h = TestServer::start().await;
    let root = h.root.clone();
    h.ram(&root, "CreateUser", &[("UserName", "ann")]).await;
    let attach = |ptype: &'static str, name: &'static str| {
        [
            ("PolicyType", ptype),
            ("PolicyName", name),
            ("UserName", "ann"),
        ]
    };
    let (s, _) = h
        .ram(
            &root,
            "AttachPolicyToUser",
            &attach("System", "AliyunSTSAssumeRoleAccess"),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = h
        .ram(
            &root,
            "AttachPolicyToUser",
            &attach("System", "AliyunSTSAssumeRoleAccess"),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "EntityAlreadyExists.User.Policy")
    );
    assert_eq!(
        v["Message"],
        "The user has already been attached this policy."
    );
    let (s, v) = h
        .ram(
            &root,
            "AttachPolicyToUser",
            &attach("System", "NoSuchPolicy"),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.Policy")
    );
    let (s, v) = h
        .ram(
            &root,
            "AttachPolicyToUser",
            &attach("Custom", "NoSuchPolicy"),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.Policy")
    );
    let (s, v) = h
        .ram(
            &root,
            "AttachPolicyToUser",
            &[
                ("PolicyType", "System"),
                ("PolicyName", "ReadOnlyAccess"),
                ("UserName", "nobody"),
            ],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.User")
    );
    let (s, v) = h
        .ram(
            &root,
            "AttachPolicyToGroup",
            &[
                ("PolicyType", "System"),
                ("PolicyName", "ReadOnlyAccess"),
                ("GroupName", "nogroup"),
            ],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.Group")
    );
    let (s, v) = h
        .ram(
            &root,
            "AttachPolicyToRole",
            &[
                ("PolicyType", "System"),
                ("PolicyName", "ReadOnlyAccess"),
                ("RoleName", "norole"),
            ],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.Role")
    );

    for i in 0..10 {
        let name = format!("C{i}");
        h.ram(
            &root,
            "CreatePolicy",
            &[("PolicyName", &name), ("PolicyDocument", DOC)],
        )
        .await;
        let (s, v) = h
            .ram(
                &root,
                "AttachPolicyToUser",
                &[
                    ("PolicyType", "Custom"),
                    ("PolicyName", &name),
                    ("UserName", "ann"),
                ],
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    h.ram(
        &root,
        "CreatePolicy",
        &[("PolicyName", "C10"), ("PolicyDocument", DOC)],
    )
    .await;
    let (s, v) = h
        .ram(
            &root,
            "AttachPolicyToUser",
            &[
                ("PolicyType", "Custom"),
                ("PolicyName", "C10"),
                ("UserName", "ann"),
            ],
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "LimitExceeded.User.Policy")
    );

    let (_, v) = h
        .ram(&root, "ListPoliciesForUser", &[("UserName", "ann")])
        .await;
    let list = v["Policies"]["Policy"].as_array().unwrap();
    assert_eq!(list.len(), 11);
    assert_eq!(list[0]["PolicyName"], "AliyunSTSAssumeRoleAccess");
    assert_eq!(list[0]["DefaultVersion"], "v1");

    let (s, v) = h
        .ram(
            &root,
            "DetachPolicyFromUser",
            &attach("System", "ReadOnlyAccess"),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "EntityNotExist.User.Policy")
    );
    let (s, _) = h
        .ram(
            &root,
            "DetachPolicyFromUser",
            &attach("System", "AliyunSTSAssumeRoleAccess"),
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn users_with_policies_cannot_be_deleted() {
    let h = TestServer::start().await;
    let root = h.root.clone();
    h.ram(&root, "CreateUser", &[("UserName", "pol")]).await;
    h.ram(
        &root,
        "AttachPolicyToUser",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "ReadOnlyAccess"),
            ("UserName", "pol"),
        ],
    )
    .await;
    let (s, v) = h.ram(&root, "DeleteUser", &[("UserName", "pol")]).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "DeleteConflict.User.Policy")
    );
    h.ram(
        &root,
        "DetachPolicyFromUser",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "ReadOnlyAccess"),
            ("UserName", "pol"),
        ],
    )
    .await;
    let (s, _) = h.ram(&root, "DeleteUser", &[("UserName", "pol")]).await;
    assert_eq!(s, 200);
}
