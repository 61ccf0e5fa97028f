//! The target URL, and the rule that load goes to loopback addresses only.
//!
//! This workplace forbids load on any address but this machine's loopback: `127.0.0.0/8`, `::1`
//! and the name `localhost` (which must also resolve to loopback addresses only). Everything else,
//! private ranges and IPv4-mapped IPv6 forms included, is refused before a socket is opened.

use anyhow::{bail, Context};
use hyper::Uri;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP/1.1.
    Http,
    /// HTTP/1.1 over TLS.
    Https,
}

/// Where the load goes: a loopback host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The scheme.
    pub scheme: Scheme,
    /// The host as written in the URL, without brackets (`127.0.0.1`, `::1`, `localhost`).
    pub host: String,
    /// The port (the scheme's default when the URL has none).
    pub port: u16,
    /// The value of the `Host` header: the URL's authority, e.g. `127.0.0.1:8080`.
    pub authority: String,
}

/// Whether `host` (an IP literal, possibly bracketed, or a name) is one this tool may load.
/// Names other than `localhost` are refused even if they would resolve to loopback.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let name = bare.strip_suffix('.').unwrap_or(bare);
            name.eq_ignore_ascii_case("localhost")
        }
    }
}

impl Target {
    /// Parses `http://HOST[:PORT][/]` and refuses any host that is not loopback. The URL may
    /// carry no path but `/`, no query and no user information: the tool chooses the paths.
    pub fn parse(url: &str) -> anyhow::Result<Target> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("--url {url:?} is not a URL"))?;
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(s) => bail!("--url {url:?}: the scheme {s:?} is not http or https"),
            None => bail!("--url {url:?} needs a scheme: http://127.0.0.1:PORT"),
        };
        let authority = uri
            .authority()
            .with_context(|| format!("--url {url:?} has no host"))?;
        if authority.as_str().contains('@') {
            bail!("--url {url:?}: user information is not accepted");
        }
        let host = authority.host();
        if !is_loopback_host(host) {
            bail!(
                "refusing to load {host:?}: only loopback targets are allowed \
                 (127.0.0.0/8, [::1], localhost)"
            );
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            bail!("--url {url:?}: give the server's base URL, without a path or query");
        }
        let port = authority.port_u16().unwrap_or(match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        });
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        Ok(Target {
            scheme,
            host: bare.to_string(),
            port,
            authority: authority.as_str().to_string(),
        })
    }

    /// The socket address to connect to. `localhost` is resolved, and refused unless every
    /// address it resolves to is loopback.
    pub fn resolve(&self) -> anyhow::Result<SocketAddr> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            // `parse` already refused anything else; checked again so no path skips the rule.
            if !ip.is_loopback() {
                bail!("refusing to load {ip}: not a loopback address");
            }
            return Ok(SocketAddr::new(ip, self.port));
        }
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {}", self.host))?
            .collect();
        if let Some(bad) = addrs.iter().find(|a| !a.ip().is_loopback()) {
            bail!(
                "refusing to load {}: it resolves to {}, which is not loopback",
                self.host,
                bad.ip()
            );
        }
        // Prefer IPv4, where servers listen by default.
        addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| addrs.first())
            .copied()
            .with_context(|| format!("{} resolves to no address", self.host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_are_accepted() {
        for (url, host, port, authority) in [
            ("http://127.0.0.1:8080", "127.0.0.1", 8080, "127.0.0.1:8080"),
            (
                "http://127.0.0.1:8080/",
                "127.0.0.1",
                8080,
                "127.0.0.1:8080",
            ),
            ("http://127.9.8.7:1", "127.9.8.7", 1, "127.9.8.7:1"),
            ("http://[::1]:9000", "::1", 9000, "[::1]:9000"),
            ("http://localhost:80", "localhost", 80, "localhost:80"),
            ("http://LocalHost.:81", "LocalHost.", 81, "LocalHost.:81"),
            ("https://127.0.0.1", "127.0.0.1", 443, "127.0.0.1"),
            ("http://127.0.0.1", "127.0.0.1", 80, "127.0.0.1"),
        ] {
            let t = Target::parse(url).unwrap_or_else(|e| panic!("{url}: {e:#}"));
            assert_eq!(
                (t.host.as_str(), t.port, t.authority.as_str()),
                (host, port, authority),
                "{url}"
            );
        }
        assert_eq!(
            Target::parse("https://[::1]:1").unwrap().scheme,
            Scheme::Https
        );
    }

    #[test]
    fn other_addresses_are_refused() {
        for url in [
            "http://10.0.0.1:8080",
            "http://192.168.1.1",
            "http://172.16.0.1",
            "http://8.8.8.8",
            "http://0.0.0.0:8080",
            "http://[::]:8080",
            "http://[::ffff:127.0.0.1]:8080",
            "http://[fe80::1]:8080",
            "http://example.com",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
            "http://127.1:8080",
            "http://2130706433",
        ] {
            let e = Target::parse(url).expect_err(url);
            assert!(
                format!("{e:#}").contains("only loopback targets"),
                "{url}: {e:#}"
            );
        }
    }

    #[test]
    fn malformed_urls_are_refused() {
        for url in [
            "127.0.0.1:8080",
            "ftp://127.0.0.1",
            "http://127.0.0.1:8080/path",
            "http://127.0.0.1:8080/?Action=x",
            "http://user@127.0.0.1:8080",
            "",
            "http://",
        ] {
            assert!(Target::parse(url).is_err(), "{url}");
        }
    }

    #[test]
    fn resolution_stays_on_loopback() {
        let a = Target::parse("http://127.0.0.2:7")
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(a, "127.0.0.2:7".parse().unwrap());
        let a = Target::parse("http://[::1]:7").unwrap().resolve().unwrap();
        assert_eq!(a, "[::1]:7".parse().unwrap());
        let a = Target::parse("http://localhost:7")
            .unwrap()
            .resolve()
            .unwrap();
        assert!(a.ip().is_loopback() && a.port() == 7, "{a}");
    }

    #[test]
    fn host_rule() {
        assert!(is_loopback_host("127.255.255.254"));
        assert!(is_loopback_host("[::1]"));
        assert!(is_loopback_host("LOCALHOST"));
        assert!(!is_loopback_host("128.0.0.1"));
        assert!(!is_loopback_host("[::2]"));
        assert!(!is_loopback_host("localhost6"));
        assert!(!is_loopback_host(""));
    }
}
