//! The aliyun CLI's configuration file, `~/.aliyun/config.json`: read, edited and written in
//! the CLI's own format, keeping fields this crate does not know.

use crate::{Context, Error, Secret};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::path::PathBuf;

/// The whole file: `{"current": "<name>", "profiles": [...], ...}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CliConfig {
    /// The profile used when none is named.
    #[serde(default)]
    pub current: String,
    /// Every profile.
    #[serde(default)]
    pub profiles: Vec<Profile>,
    /// Fields of the file this crate does not interpret (e.g. `meta_path`), kept on write.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn ser_secret<S: Serializer>(s: &Secret, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.expose())
}

fn de_secret<'de, D: Deserializer<'de>>(de: D) -> Result<Secret, D::Error> {
    Ok(Secret::new(
        Option::<String>::deserialize(de)?.unwrap_or_default(),
    ))
}

fn de_string<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(de)?.unwrap_or_default())
}

fn de_u64<'de, D: Deserializer<'de>>(de: D) -> Result<u64, D::Error> {
    // The CLI writes numbers, hand-edited files sometimes strings.
    match serde_json::Value::deserialize(de)? {
        serde_json::Value::Number(n) => Ok(n.as_u64().unwrap_or(0)),
        serde_json::Value::String(s) if s.is_empty() => Ok(0),
        serde_json::Value::String(s) => s
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a number"))),
        serde_json::Value::Null => Ok(0),
        _ => Err(serde::de::Error::custom("expected a number")),
    }
}

fn default_secret() -> Secret {
    Secret::new("")
}

/// One profile, with the field names the aliyun CLI writes. Empty strings mean "unset", as in
/// the CLI's own files.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// The profile's name.
    #[serde(deserialize_with = "de_string")]
    pub name: String,
    /// `AK`, `StsToken`, `RamRoleArn`, `ChainableRamRoleArn`, `EcsRamRole`, `OIDC`,
    /// `CredentialsURI`, `External` (`CloudSSO` and `OAuth` are recognised but not supported).
    #[serde(deserialize_with = "de_string")]
    pub mode: String,
    /// AccessKeyId (AK, StsToken, RamRoleArn).
    #[serde(deserialize_with = "de_string")]
    pub access_key_id: String,
    /// AccessKeySecret.
    #[serde(serialize_with = "ser_secret", deserialize_with = "de_secret")]
    pub access_key_secret: Secret,
    /// SecurityToken (StsToken).
    #[serde(serialize_with = "ser_secret", deserialize_with = "de_secret")]
    pub sts_token: Secret,
    /// STS region for AssumeRole.
    #[serde(deserialize_with = "de_string")]
    pub sts_region: String,
    /// ECS role name (EcsRamRole).
    #[serde(deserialize_with = "de_string")]
    pub ram_role_name: String,
    /// Role to assume (RamRoleArn, ChainableRamRoleArn, OIDC).
    #[serde(deserialize_with = "de_string")]
    pub ram_role_arn: String,
    /// Session name.
    #[serde(deserialize_with = "de_string")]
    pub ram_session_name: String,
    /// The profile whose credentials assume the role (ChainableRamRoleArn).
    #[serde(deserialize_with = "de_string")]
    pub source_profile: String,
    /// Session lifetime in seconds (0: default).
    #[serde(deserialize_with = "de_u64")]
    pub expired_seconds: u64,
    /// Default region of calls.
    #[serde(deserialize_with = "de_string")]
    pub region_id: String,
    /// Output format of the CLI.
    #[serde(deserialize_with = "de_string")]
    pub output_format: String,
    /// Language of the CLI.
    #[serde(deserialize_with = "de_string")]
    pub language: String,
    /// The command printing credentials as JSON (External).
    #[serde(deserialize_with = "de_string")]
    pub process_command: String,
    /// The URI handing out credentials (CredentialsURI).
    #[serde(deserialize_with = "de_string")]
    pub credentials_uri: String,
    /// OIDC token file (OIDC).
    #[serde(deserialize_with = "de_string")]
    pub oidc_token_file: String,
    /// OIDC provider ARN (OIDC).
    #[serde(deserialize_with = "de_string")]
    pub oidc_provider_arn: String,
    /// Session policy for AssumeRole.
    #[serde(deserialize_with = "de_string")]
    pub policy: String,
    /// External id for AssumeRole.
    #[serde(deserialize_with = "de_string")]
    pub external_id: String,
    /// Use the regional VPC STS endpoint.
    pub enable_vpc: bool,
    /// Tessera extension: one endpoint for every product and for AssumeRole (a Tessera server).
    /// The aliyun CLI ignores it. Change it with [`Profile::set_endpoint`].
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_string"
    )]
    pub endpoint: String,
    /// The official Node library's STS host for role profiles (`host[:port]`, always https).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "de_string"
    )]
    pub sts_endpoint: String,
    /// Fields this crate does not interpret, kept on write.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            name: String::new(),
            mode: String::new(),
            access_key_id: String::new(),
            access_key_secret: default_secret(),
            sts_token: default_secret(),
            sts_region: String::new(),
            ram_role_name: String::new(),
            ram_role_arn: String::new(),
            ram_session_name: String::new(),
            source_profile: String::new(),
            expired_seconds: 0,
            region_id: String::new(),
            output_format: "json".into(),
            language: "en".into(),
            process_command: String::new(),
            credentials_uri: String::new(),
            oidc_token_file: String::new(),
            oidc_provider_arn: String::new(),
            policy: String::new(),
            external_id: String::new(),
            enable_vpc: false,
            endpoint: String::new(),
            sts_endpoint: String::new(),
            extra: serde_json::Map::new(),
        }
    }
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"***")
            .field("sts_token", &"***")
            .field("ram_role_arn", &self.ram_role_arn)
            .field("source_profile", &self.source_profile)
            .field("region_id", &self.region_id)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Profile {
    /// Sets the endpoint and keeps `sts_endpoint` in step, so that the Node library reaches the
    /// same server: a role profile's https endpoint is mirrored there, and a mirror of the
    /// previous endpoint goes with it (AssumeRole must not keep going to an old host).
    pub fn set_endpoint(&mut self, endpoint: impl Into<String>) {
        fn https_host(e: &str) -> Option<String> {
            e.strip_prefix("https://")
                .map(|h| h.trim_end_matches('/').to_string())
        }
        if https_host(&self.endpoint).is_some_and(|h| h == self.sts_endpoint) {
            self.sts_endpoint.clear();
        }
        self.endpoint = endpoint.into();
        let role_mode = matches!(
            self.mode.as_str(),
            "RamRoleArn" | "ChainableRamRoleArn" | "OIDC"
        );
        if let (true, Some(host)) = (role_mode, https_host(&self.endpoint)) {
            self.sts_endpoint = host;
        }
    }
}

impl CliConfig {
    /// Where the file is: `ALIBABA_CLOUD_CONFIG_FILE`, else `~/.aliyun/config.json`.
    pub fn path(ctx: &Context) -> Result<PathBuf, Error> {
        if let Some(p) = ctx.var("ALIBABA_CLOUD_CONFIG_FILE") {
            return Ok(ctx.expand_home(&p));
        }
        ctx.home()
            .map(|h| h.join(".aliyun").join("config.json"))
            .ok_or_else(|| Error::config("environment", "HOME is not set"))
    }

    /// Reads the file; `None` if it does not exist.
    pub fn load(ctx: &Context) -> Result<Option<(PathBuf, CliConfig)>, Error> {
        let path = Self::path(ctx)?;
        let Some(text) = ctx.read_optional(&path)? else {
            return Ok(None);
        };
        let config = serde_json::from_str(&text).map_err(|e| {
            Error::config(
                path.display().to_string(),
                format!("not a valid aliyun CLI configuration: {e}"),
            )
        })?;
        Ok(Some((path, config)))
    }

    /// Takes the file's write lock (`<file>.lock`, as an advisory `flock`), to hold from
    /// before [`CliConfig::load`] until after [`CliConfig::save`], so that two concurrent
    /// writers (two `tessera configure` runs) cannot lose each other's change.
    /// `waiting` is called (with the lock file's path) before blocking on another holder, so
    /// a person can be told why nothing happens.
    pub fn lock(
        ctx: &Context,
        waiting: impl FnOnce(&std::path::Path),
    ) -> Result<crate::context::FileLock, Error> {
        let path = Self::path(ctx)?;
        let lock = path.with_extension("json.lock");
        let io = |e: std::io::Error| Error::Io {
            path: lock.clone(),
            message: e.to_string(),
        };
        if let Some(held) = ctx.fs.try_lock(&lock).map_err(io)? {
            return Ok(held);
        }
        waiting(&lock);
        ctx.fs.lock(&lock).map_err(io)
    }

    /// Writes the file atomically, readable by its owner only.
    pub fn save(&self, ctx: &Context, path: &std::path::Path) -> Result<(), Error> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        text.push('\n');
        ctx.fs.write(path, text.as_bytes()).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The profile called `name`.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// Adds `profile`, or replaces the one with its name.
    pub fn upsert(&mut self, profile: Profile) {
        match self.profiles.iter_mut().find(|p| p.name == profile.name) {
            Some(slot) => *slot = profile,
            None => self.profiles.push(profile),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_cli_format_and_unknown_fields() {
        let text = r#"{"current":"default","profiles":[{"name":"default","mode":"AK",
            "access_key_id":"LTAIa","access_key_secret":"s3cr3t","sts_token":"","expired_seconds":0,
            "region_id":"cn-hangzhou","site":"","retry_count":0,"private_key":null}],"meta_path":""}"#;
        let c: CliConfig = serde_json::from_str(text).unwrap();
        assert_eq!(c.profiles[0].access_key_secret.expose(), "s3cr3t");
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["meta_path"], "");
        assert_eq!(back["profiles"][0]["site"], "");
        assert_eq!(back["profiles"][0]["access_key_secret"], "s3cr3t");
        assert_eq!(back["profiles"][0]["region_id"], "cn-hangzhou");
        assert!(back["profiles"][0].get("endpoint").is_none());
    }
}
