//! Where calls go: the STS endpoint rules of the official libraries, and product endpoints.

use crate::{Context, Error};

/// The global STS endpoint.
pub const STS_GLOBAL: &str = "https://sts.aliyuncs.com";

/// `scheme://host[:port]` from what a user wrote: a bare `host[:port]` gets `https://`, a
/// trailing `/` is dropped.
pub fn normalize(endpoint: &str) -> String {
    let e = endpoint.trim().trim_end_matches('/');
    if e.contains("://") {
        e.to_string()
    } else {
        format!("https://{e}")
    }
}

/// The STS endpoint as the official libraries choose it: an explicit endpoint wins; then
/// `ALIBABA_CLOUD_STS_ENDPOINT` (an extension reqsign also reads, handy for pointing every
/// provider at a Tessera server); then a region (given, or `ALIBABA_CLOUD_STS_REGION`) makes
/// `sts.<region>.aliyuncs.com`, or `sts-vpc.<region>.aliyuncs.com` when VPC endpoints are enabled
/// (given, or `ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED=true`); else the global endpoint. Without a
/// region the VPC switch is ignored, as in the official libraries.
pub fn sts_endpoint(
    ctx: &Context,
    explicit: Option<&str>,
    region: Option<&str>,
    vpc: Option<bool>,
) -> Result<String, Error> {
    if let Some(e) = explicit.filter(|e| !e.is_empty()) {
        return Ok(normalize(e));
    }
    if let Some(e) = ctx.var("ALIBABA_CLOUD_STS_ENDPOINT") {
        return Ok(normalize(&e));
    }
    let region = match region.filter(|r| !r.is_empty()) {
        Some(r) => Some(label("STS region", r)?),
        None => ctx
            .var("ALIBABA_CLOUD_STS_REGION")
            .map(|r| label("ALIBABA_CLOUD_STS_REGION", &r))
            .transpose()?,
    };
    let vpc = vpc.unwrap_or_else(|| ctx.flag("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"));
    Ok(match region {
        Some(r) if vpc => format!("https://sts-vpc.{r}.aliyuncs.com"),
        Some(r) => format!("https://sts.{r}.aliyuncs.com"),
        None => STS_GLOBAL.to_string(),
    })
}

/// A region or product name is one DNS label of letters, digits and dashes. Anything else
/// (a dot, a slash, a `#`) could move the request, and its signature, to another host.
fn label(what: &str, value: &str) -> Result<String, Error> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(Error::config(
            what,
            format!("{value:?} is not a region or product name (letters, digits and -)"),
        ))
    }
}

/// The public endpoint of a product: `sts` is regional when a region is known, `ram` is global.
pub fn product_endpoint(product: &str, region: Option<&str>) -> Result<String, Error> {
    let product = label("product", product)?;
    Ok(match (product.as_str(), region.filter(|r| !r.is_empty())) {
        ("ram", _) | (_, None) => format!("https://{product}.aliyuncs.com"),
        (_, Some(r)) => format!("https://{product}.{}.aliyuncs.com", label("region", r)?),
    })
}

/// Like [`normalize`], but a bare `host[:port]` gets `http://` (the metadata service speaks
/// plain HTTP).
pub fn normalize_http(endpoint: &str) -> String {
    let e = endpoint.trim().trim_end_matches('/');
    if e.contains("://") {
        e.to_string()
    } else {
        format!("http://{e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::MapEnv;

    #[test]
    fn sts_endpoint_rules() {
        let none = Context::os().with_env(MapEnv::default());
        assert_eq!(
            sts_endpoint(&none, None, None, Some(true)).unwrap(),
            STS_GLOBAL
        );
        assert_eq!(
            sts_endpoint(&none, None, Some("cn-hangzhou"), None).unwrap(),
            "https://sts.cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(
            sts_endpoint(&none, None, Some("cn-hangzhou"), Some(true)).unwrap(),
            "https://sts-vpc.cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(
            sts_endpoint(&none, Some("127.0.0.1:8080"), Some("x"), None).unwrap(),
            "https://127.0.0.1:8080"
        );
        let env = Context::os().with_env(MapEnv::from_pairs([
            ("ALIBABA_CLOUD_STS_REGION", "cn-beijing"),
            ("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED", "true"),
        ]));
        assert_eq!(
            sts_endpoint(&env, None, None, None).unwrap(),
            "https://sts-vpc.cn-beijing.aliyuncs.com"
        );
        let tessera = Context::os().with_env(MapEnv::from_pairs([(
            "ALIBABA_CLOUD_STS_ENDPOINT",
            "http://127.0.0.1:9/",
        )]));
        assert_eq!(
            sts_endpoint(&tessera, None, None, None).unwrap(),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            product_endpoint("RAM", Some("cn-x")).unwrap(),
            "https://ram.aliyuncs.com"
        );
        for bad in ["attacker.invalid/#", "a.b", "x y"] {
            assert!(sts_endpoint(&none, None, Some(bad), None).is_err(), "{bad}");
            assert!(product_endpoint("sts", Some(bad)).is_err(), "{bad}");
        }
        assert!(product_endpoint("evil.com/", None).is_err());
    }
}
