//! The shared INI file: `~/.alibabacloud/credentials` (or `credentials.ini`).

use super::{EcsRamRoleProvider, OidcRoleArnProvider, RamRoleArnProvider, StaticProvider};
use crate::{Context, Credential, Error, ProvideCredentials};
use async_trait::async_trait;
use std::collections::HashMap;
use std::path::PathBuf;

/// A profile of the INI credentials file. The file is `ALIBABA_CLOUD_CREDENTIALS_FILE`, else
/// `~/.alibabacloud/credentials` (Go and Node's name), else `~/.alibabacloud/credentials.ini`
/// (Python and Java's); the section is the one given, else `ALIBABA_CLOUD_PROFILE`, else
/// `default`. Types: `access_key`, `sts` (also `sts_token`), `ecs_ram_role`, `ram_role_arn`,
/// `oidc_role_arn`. Java's `enable = false` turns a section off.
#[derive(Debug, Clone)]
pub struct IniProfileProvider {
    ctx: Context,
    profile: Option<String>,
    sts_override: Option<String>,
    memo: super::Memo,
}

type Section = HashMap<String, String>;

/// Parses INI text: `[section]`, `key = value`, `#` and `;` comments (whole lines, or after
/// whitespace at the end of a value), values in matching double or single quotes (the quotes
/// dropped, as Go's and Node's readers do), CRLF line ends, and a leading UTF-8 byte-order mark
/// (which Windows editors write).
pub(crate) fn parse_ini(text: &str) -> HashMap<String, Section> {
    let mut out: HashMap<String, Section> = HashMap::new();
    let mut current: Option<String> = None;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_string();
            out.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(section), Some((k, v))) = (&current, line.split_once('=')) {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_string(), ini_value(v).to_string());
        }
    }
    out
}

/// A value as written after `=`: quoted, or up to an inline comment.
fn ini_value(raw: &str) -> &str {
    let v = raw.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q) {
            if let Some(end) = inner.find(q) {
                return &inner[..end];
            }
        }
    }
    // An inline comment starts with `#` or `;` after whitespace; secrets and ARNs never hold
    // a space, so no value is cut short.
    let cut = v
        .char_indices()
        .zip(v.chars().skip(1))
        .find(|((_, c), next)| c.is_whitespace() && matches!(next, '#' | ';'))
        .map(|((i, _), _)| i);
    match cut {
        Some(i) => v[..i].trim_end(),
        None => v,
    }
}

impl IniProfileProvider {
    /// The profile chosen by `ALIBABA_CLOUD_PROFILE` (or `default`).
    pub fn new(ctx: &Context) -> Self {
        IniProfileProvider {
            ctx: ctx.clone(),
            profile: None,
            sts_override: None,
            memo: super::Memo::default(),
        }
    }

    /// Sends every AssumeRole of the section to this STS endpoint, over what it says.
    pub fn sts_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.sts_override = Some(endpoint.into()).filter(|e: &String| !e.is_empty());
        self
    }

    /// A named section.
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    fn locate(&self) -> Result<Option<(PathBuf, String)>, Error> {
        if let Some(p) = self.ctx.var("ALIBABA_CLOUD_CREDENTIALS_FILE") {
            let path = self.ctx.expand_home(&p);
            return match self.ctx.read_optional(&path)? {
                Some(text) => Ok(Some((path, text))),
                None => Err(Error::config(
                    "ALIBABA_CLOUD_CREDENTIALS_FILE",
                    format!("{} does not exist", path.display()),
                )),
            };
        }
        let Some(home) = self.ctx.home() else {
            return Ok(None);
        };
        for name in ["credentials", "credentials.ini"] {
            let path = home.join(".alibabacloud").join(name);
            if let Some(text) = self.ctx.read_optional(&path)? {
                return Ok(Some((path, text)));
            }
        }
        Ok(None)
    }

    /// Which section of which file this provider uses, e.g. `[default] of
    /// /home/me/.alibabacloud/credentials`, or why none.
    pub fn describe(&self) -> Result<String, Error> {
        let Some((path, _)) = self.locate()? else {
            return Err(Error::NotConfigured(
                "no ~/.alibabacloud/credentials or credentials.ini".into(),
            ));
        };
        Ok(format!("[{}] of {}", self.section_name(), path.display()))
    }

    fn section_name(&self) -> String {
        self.profile
            .clone()
            .or_else(|| self.ctx.var("ALIBABA_CLOUD_PROFILE"))
            .unwrap_or_else(|| "default".into())
    }

    /// Builds the provider the section describes.
    pub fn resolve(&self) -> Result<Box<dyn ProvideCredentials>, Error> {
        let Some((path, text)) = self.locate()? else {
            return Err(Error::NotConfigured(
                "no ~/.alibabacloud/credentials or credentials.ini".into(),
            ));
        };
        let name = self.section_name();
        let sections = parse_ini(&text);
        let Some(section) = sections.get(&name) else {
            return Err(Error::NotConfigured(format!(
                "{} has no [{name}] section",
                path.display()
            )));
        };
        if section
            .get("enable")
            .is_some_and(|v| v.eq_ignore_ascii_case("false"))
        {
            return Err(Error::NotConfigured(format!(
                "[{name}] in {} has enable = false",
                path.display()
            )));
        }
        let src = format!("{} [{name}]", path.display());
        let need = |k: &str| {
            section
                .get(k)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| Error::config(&src, format!("{k} is missing")))
        };
        let opt = |k: &str| section.get(k).filter(|v| !v.is_empty()).cloned();
        let ty = need("type")?;
        let provider: Box<dyn ProvideCredentials> = match ty.as_str() {
            "access_key" => Box::new(StaticProvider::new(
                Credential::access_key(need("access_key_id")?, need("access_key_secret")?)
                    .with_provider_name("profile/static_ak"),
            )),
            "sts" | "sts_token" => Box::new(StaticProvider::new(
                Credential::sts_token(
                    need("access_key_id")?,
                    need("access_key_secret")?,
                    opt("security_token")
                        .or_else(|| opt("sts_token"))
                        .ok_or_else(|| Error::config(&src, "security_token is missing"))?,
                )
                .with_provider_name("profile/static_sts"),
            )),
            "ecs_ram_role" => {
                let mut p = EcsRamRoleProvider::new(&self.ctx);
                if let Some(r) = opt("role_name") {
                    p = p.role_name(r);
                }
                Box::new(p)
            }
            "ram_role_arn" => {
                let source = StaticProvider::new(
                    Credential::access_key(need("access_key_id")?, need("access_key_secret")?)
                        .with_provider_name("static_ak"),
                );
                let mut b = RamRoleArnProvider::builder(source)
                    .context(self.ctx.clone())
                    .role_arn(need("role_arn")?);
                if let Some(s) = opt("role_session_name") {
                    b = b.session_name(s);
                }
                if let Some(p) = opt("policy") {
                    b = b.policy(p);
                }
                if let Some(e) = &self.sts_override {
                    b = b.sts_endpoint(e);
                } else if let Some(r) = opt("sts_region").or_else(|| opt("region_id")) {
                    b = b.sts_region(r);
                }
                Box::new(b.build().map_err(|e| e.attributed_to(&src))?)
            }
            "oidc_role_arn" => {
                let mut p = OidcRoleArnProvider::new(
                    &self.ctx,
                    need("role_arn")?,
                    need("oidc_provider_arn")?,
                    self.ctx.expand_home(&need("oidc_token_file_path")?),
                );
                if let Some(s) = opt("role_session_name") {
                    p = p.session_name(s);
                }
                if let Some(pol) = opt("policy") {
                    p = p.policy(pol);
                }
                if let Some(e) = &self.sts_override {
                    p = p.sts(Some(e), None, None);
                }
                Box::new(p)
            }
            "rsa_key_pair" => {
                return Err(Error::config(
                    &src,
                    "type rsa_key_pair (GenerateSessionAccessKey) is not supported; use access_key or ram_role_arn",
                ))
            }
            other => {
                return Err(Error::config(
                    &src,
                    format!("unknown type {other:?}; expected access_key, sts, ecs_ram_role, ram_role_arn or oidc_role_arn"),
                ))
            }
        };
        Ok(provider)
    }
}

#[async_trait]
impl ProvideCredentials for IniProfileProvider {
    async fn provide(&self) -> Result<Credential, Error> {
        let key = match self.locate()? {
            Some((path, text)) => super::fingerprint(&[
                path.as_os_str().as_encoded_bytes(),
                self.section_name().as_bytes(),
                text.as_bytes(),
            ]),
            None => 0,
        };
        let inner = self.memo.get_or_build(key, || self.resolve())?;
        inner
            .provide()
            .await
            .map(|c| {
                if c.provider_name().starts_with("profile/") {
                    c
                } else {
                    c.nested_in("profile")
                }
            })
            .map_err(|e| {
                e.configured_but_failed(|| self.describe())
                    .in_provider("profile")
            })
    }

    fn name(&self) -> &str {
        "profile"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_and_comments() {
        let ini = parse_ini(
            "# c\n[default]\ntype = access_key\naccess_key_id=a\n; x\n[other]\nenable = false\n",
        );
        assert_eq!(ini["default"]["type"], "access_key");
        assert_eq!(ini["default"]["access_key_id"], "a");
        assert_eq!(ini["other"]["enable"], "false");
    }

    #[test]
    fn byte_order_mark_crlf_quotes_and_inline_comments() {
        let ini = parse_ini(
            "\u{FEFF}[default]\r\ntype = access_key\r\naccess_key_id = \"LTAIquoted\"\r\n\
             access_key_secret = 'se=cret' ; the secret\r\nrole_arn = acs:ram::1:role/a # note\r\n\
             policy = {\"a\": 1}\r\nempty =\r\nunmatched = \"abc\r\n; comment line\r\n# another\r\n\
             [ spaced ]\r\nk=v#not-a-comment\r\n",
        );
        let d = &ini["default"];
        assert_eq!(
            d["type"], "access_key",
            "the BOM does not hide the first section"
        );
        assert_eq!(d["access_key_id"], "LTAIquoted");
        assert_eq!(d["access_key_secret"], "se=cret");
        assert_eq!(d["role_arn"], "acs:ram::1:role/a");
        assert_eq!(d["policy"], "{\"a\": 1}");
        assert_eq!(d["empty"], "");
        assert_eq!(d["unmatched"], "\"abc", "an unmatched quote is kept");
        assert_eq!(d.len(), 7, "comment lines are not keys: {d:?}");
        assert_eq!(
            ini["spaced"]["k"], "v#not-a-comment",
            "a comment needs whitespace before it"
        );
        assert!(!d.values().any(|v| v.ends_with('\r')));
    }
}
