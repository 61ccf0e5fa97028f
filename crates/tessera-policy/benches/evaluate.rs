//! The cost of authorizing one request, and of compiling a document.
//!
//! The principal is a realistic RAM user: five attached policies, twenty statements in all,
//! several with conditions (source IP, time, secure transport, MFA, strings). Run with
//! `cargo bench -p tessera-policy`; criterion writes the median to
//! `target/criterion/<group>/<name>/new/estimates.json`.

// criterion_group! and criterion_main! generate public items without documentation; a
// benchmark may unwrap its own setup.
#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tessera_policy::{evaluate, parse, Context, Decision, Policy, PolicyKind, Request};

const RAM_READ_ONLY: &str = r#"{"Version":"1","Statement":[
    {"Action":["ram:Get*","ram:List*","ram:GenerateCredentialReport"],"Resource":"*","Effect":"Allow"},
    {"Effect":"Allow","Action":["accessanalyzer:Get*","accessanalyzer:List*"],"Resource":"*"}]}"#;

const STS_ASSUME_ROLE: &str =
    r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Resource":"*"}],"Version":"1"}"#;

const ECS_OPERATIONS: &str = r#"{"Version":"1","Statement":[
    {"Sid":"Describe","Effect":"Allow","Action":["ecs:Describe*","vpc:Describe*"],"Resource":"*"},
    {"Sid":"Operate","Effect":"Allow","Action":["ecs:StartInstance","ecs:StopInstance","ecs:RebootInstance"],
     "Resource":"acs:ecs:cn-hangzhou:1730760139076263:instance/*",
     "Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","192.168.0.0/16","203.0.113.0/24"]}}},
    {"Sid":"NoDelete","Effect":"Deny","Action":["ecs:DeleteInstance","ecs:ReleaseInstance"],"Resource":"*"},
    {"Sid":"Snapshots","Effect":"Allow","Action":"ecs:CreateSnapshot","Resource":"acs:ecs:*:1730760139076263:disk/*",
     "Condition":{"StringEquals":{"acs:ResourceTag/env":["staging","dev"]}}},
    {"Sid":"Tags","Effect":"Allow","Action":["ecs:TagResources","ecs:UntagResources"],"Resource":"*",
     "Condition":{"ForAllValues:StringLike":{"acs:TagKeys":["team*","env"]}}}]}"#;

const OSS_DATA: &str = r#"{"Version":"1","Statement":[
    {"Effect":"Allow","Action":["oss:GetObject","oss:HeadObject"],"Resource":"acs:oss:*:1730760139076263:analytics/*"},
    {"Effect":"Allow","Action":"oss:ListObjects","Resource":"acs:oss:*:1730760139076263:analytics",
     "Condition":{"StringLike":{"oss:Prefix":["reports/*","exports/*"]}}},
    {"Effect":"Allow","Action":["oss:PutObject"],"Resource":"acs:oss:*:1730760139076263:analytics/uploads/*",
     "Condition":{"Bool":{"acs:SecureTransport":"true"}}},
    {"Effect":"Deny","Action":"oss:*","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":"false"}}},
    {"Effect":"Deny","Action":"oss:DeleteBucket","Resource":"*"},
    {"Effect":"Allow","Action":"oss:ListBuckets","Resource":"*"}]}"#;

const GUARDRAILS: &str = r#"{"Version":"1","Statement":[
    {"Effect":"Deny","Action":"*","Resource":"*",
     "Condition":{"NotIpAddress":{"acs:SourceIp":["10.0.0.0/8","192.168.0.0/16","203.0.113.0/24","2001:db8::/32"]}}},
    {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"acs:CurrentTime":"2031-12-31T23:59:59+08:00"}}},
    {"Effect":"Deny","Action":["ram:Delete*","ram:Detach*"],"Resource":"acs:ram:*:1730760139076263:role/*"},
    {"Effect":"Allow","Action":["ram:UpdateUser","ram:CreateAccessKey","ram:DeleteAccessKey"],
     "Resource":"acs:ram:*:1730760139076263:user/alice",
     "Condition":{"Bool":{"acs:MFAPresent":"true"},"StringEquals":{"ram:UserName":"alice"}}},
    {"Effect":"Allow","Action":"kms:Decrypt","Resource":"*",
     "Condition":{"StringEqualsIgnoreCase":{"kms:EncryptionContext/app":"billing"},"DateLessThan":{"acs:CurrentTime":"2031-01-01T00:00:00Z"}}},
    {"Effect":"Deny","Action":"sts:AssumeRole","NotResource":"acs:ram:*:1730760139076263:role/*"}]}"#;

fn principal_policies() -> Vec<Policy> {
    let policies: Vec<Policy> = [
        RAM_READ_ONLY,
        STS_ASSUME_ROLE,
        ECS_OPERATIONS,
        OSS_DATA,
        GUARDRAILS,
    ]
    .iter()
    .map(|d| parse(d, PolicyKind::Identity).expect("bench policy"))
    .collect();
    assert_eq!(
        policies.iter().map(Policy::statement_count).sum::<usize>(),
        20
    );
    policies
}

fn request_context() -> Context {
    Context::new()
        .with_current_time(1_790_000_000) // 2026-09-21
        .with_source_ip("10.20.30.40".parse().expect("ip"))
        .with_secure_transport(true)
        .with_mfa_present(true)
        .with_string("ram:UserName", "alice")
}

fn bench_evaluate(c: &mut Criterion) {
    let policies = principal_policies();
    let context = request_context();
    let mut group = c.benchmark_group("evaluate");
    // (name, action, resource, expected decision)
    let cases = [
        // The typical RAM call: a read, allowed by the first policy; every Deny is still checked.
        (
            "ram_get_user_allowed",
            "ram:GetUser",
            "acs:ram::1730760139076263:user/bob",
            Decision::Allow,
        ),
        // Allowed only by the last policy, after conditions on MFA and a string key.
        (
            "ram_update_user_allowed_last",
            "ram:UpdateUser",
            "acs:ram::1730760139076263:user/alice",
            Decision::Allow,
        ),
        // Nothing allows it: every statement is looked at.
        (
            "ram_create_user_implicit_deny",
            "ram:CreateUser",
            "acs:ram::1730760139076263:user/mallory",
            Decision::ImplicitDeny,
        ),
        // Denied by a guardrail on a role resource (case-folded role name).
        (
            "ram_delete_role_denied",
            "ram:DeleteRole",
            "acs:ram::1730760139076263:role/Production",
            Decision::ExplicitDeny,
        ),
    ];
    for (name, action, resource, expected) in cases {
        let request = Request {
            action,
            resource,
            context: &context,
        };
        assert_eq!(evaluate(&policies, &request).decision, expected, "{name}");
        group.bench_function(name, |b| {
            b.iter(|| evaluate(black_box(&policies), black_box(&request)))
        });
    }
    group.finish();
}

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.bench_function("guardrails_6_statements", |b| {
        b.iter(|| parse(black_box(GUARDRAILS), PolicyKind::Identity))
    });
    group.bench_function("sts_assume_role_access", |b| {
        b.iter(|| parse(black_box(STS_ASSUME_ROLE), PolicyKind::Identity))
    });
    group.finish();
}

criterion_group!(benches, bench_evaluate, bench_parse);
criterion_main!(benches);
