//! System policies: Alibaba-managed, read-only, present in every account, with their real names
//! and documents (spec §12). They live in code, not in the store, so a new Tessera version can
//! update them; attachments refer to them by name.

/// A system policy.
#[derive(Debug)]
pub struct SystemPolicy {
    /// The policy name.
    pub name: &'static str,
    /// The description shown by GetPolicy / ListPolicies.
    pub description: &'static str,
    /// The default (and only) version id, e.g. `v1`.
    pub version: &'static str,
    /// The policy document.
    pub document: &'static str,
    /// CreateDate / UpdateDate, Unix seconds (fixed: the same in every deployment).
    pub created: i64,
}

/// 2015-04-28T16:28:32Z, close to when RAM's first system policies appeared.
const EPOCH: i64 = 1_430_238_512;

/// Every system policy, ordered by name.
pub static ALL: &[SystemPolicy] = &[
    SystemPolicy {
        name: "AdministratorAccess",
        description: "Provides full access to Alibaba Cloud services and resources.",
        version: "v1",
        document: r#"{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}],"Version":"1"}"#,
        created: EPOCH,
    },
    SystemPolicy {
        name: "AliyunRAMFullAccess",
        description: "Provides full access to Resource Access Management (RAM).",
        version: "v1",
        document: r#"{"Statement":[{"Action":"ram:*","Effect":"Allow","Resource":"*"}],"Version":"1"}"#,
        created: EPOCH,
    },
    SystemPolicy {
        name: "AliyunRAMReadOnlyAccess",
        description: "Provides read-only access to Resource Access Management (RAM).",
        version: "v3",
        document: r#"{"Version":"1","Statement":[{"Action":["ram:Get*","ram:List*","ram:GenerateCredentialReport"],"Resource":"*","Effect":"Allow"},{"Effect":"Allow","Action":["accessanalyzer:Get*","accessanalyzer:List*"],"Resource":"*"}]}"#,
        created: EPOCH,
    },
    SystemPolicy {
        name: "AliyunSTSAssumeRoleAccess",
        description:
            "Provides access to call the AssumeRole operation of Security Token Service (STS).",
        version: "v1",
        document: r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Resource":"*"}],"Version":"1"}"#,
        created: EPOCH,
    },
    SystemPolicy {
        name: "ReadOnlyAccess",
        description: "Provides read-only access to Alibaba Cloud services and resources.",
        version: "v1",
        // The real document lists every service's read actions; these patterns cover the same
        // verbs for any service (spec §12 leaves the approximation to us).
        document: r#"{"Statement":[{"Action":["*:Get*","*:List*","*:Describe*","*:Query*","*:Check*","*:BatchGet*"],"Effect":"Allow","Resource":"*"}],"Version":"1"}"#,
        created: EPOCH,
    },
];

/// Finds a system policy by name (case-sensitive, as RAM names are).
pub fn find(name: &str) -> Option<&'static SystemPolicy> {
    ALL.iter().find(|p| p.name == name)
}
