//! Where calls go: the STS endpoint rules of the official libraries, and product endpoints.

use crate::Context;

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
) -> String {
    if let Some(e) = explicit.filter(|e| !e.is_empty()) {
        return normalize(e);
    }
    if let Some(e) = ctx.var("ALIBABA_CLOUD_STS_ENDPOINT") {
        return normalize(&e);
    }
    let region = region
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .or_else(|| ctx.var("ALIBABA_CLOUD_STS_REGION"));
    let vpc = vpc.unwrap_or_else(|| ctx.flag("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"));
    match region {
        Some(r) if vpc => format!("https://sts-vpc.{r}.aliyuncs.com"),
        Some(r) => format!("https://sts.{r}.aliyuncs.com"),
        None => STS_GLOBAL.to_string(),
    }
}

/// The public endpoint of a product: `sts` is regional when a region is known, `ram` is global.
pub fn product_endpoint(product: &str, region: Option<&str>) -> String {
    let product = product.to_ascii_lowercase();
    match (product.as_str(), region) {
        ("ram", _) | (_, None) => format!("https://{product}.aliyuncs.com"),
        (_, Some(r)) => format!("https://{product}.{r}.aliyuncs.com"),
    }
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
        assert_eq!(sts_endpoint(&none, None, None, Some(true)), STS_GLOBAL);
        assert_eq!(
            sts_endpoint(&none, None, Some("cn-hangzhou"), None),
            "https://sts.cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(
            sts_endpoint(&none, None, Some("cn-hangzhou"), Some(true)),
            "https://sts-vpc.cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(
            sts_endpoint(&none, Some("127.0.0.1:8080"), Some("x"), None),
            "https://127.0.0.1:8080"
        );
        let env = Context::os().with_env(MapEnv::from_pairs([
            ("ALIBABA_CLOUD_STS_REGION", "cn-beijing"),
            ("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED", "true"),
        ]));
        assert_eq!(
            sts_endpoint(&env, None, None, None),
            "https://sts-vpc.cn-beijing.aliyuncs.com"
        );
        let tessera = Context::os().with_env(MapEnv::from_pairs([(
            "ALIBABA_CLOUD_STS_ENDPOINT",
            "http://127.0.0.1:9/",
        )]));
        assert_eq!(
            sts_endpoint(&tessera, None, None, None),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            product_endpoint("RAM", Some("cn-x")),
            "https://ram.aliyuncs.com"
        );
    }
}
