//! HTTPS with rustls: a certificate and key from files, or a local CA and a server certificate
//! that `--tls self-signed` creates once in the data directory (clients trust `tls/ca.pem`).

use crate::fsutil::{check_private_key, create_private, ensure_private_dir};
use anyhow::{bail, Context};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the server's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// PEM files given by the operator.
    Files {
        /// Certificate chain, leaf first.
        cert: PathBuf,
        /// Private key (PKCS#8, PKCS#1 or SEC1), readable by its owner only (0600; 0640 when
        /// owned by root): a key others could read is refused.
        key: PathBuf,
    },
    /// A CA and server certificate generated in `<data>/tls/`, valid for localhost, 127.0.0.1,
    /// ::1 and `extra_names`.
    SelfSigned {
        /// More DNS names or IP addresses for the certificate.
        extra_names: Vec<String>,
    },
}

/// Paths of the self-signed material inside a data directory.
pub struct SelfSignedPaths {
    /// The CA certificate clients should trust.
    pub ca: PathBuf,
    /// The server certificate chain.
    pub cert: PathBuf,
    /// The server private key (0600).
    pub key: PathBuf,
}

impl SelfSignedPaths {
    /// The paths under `data_dir/tls`.
    pub fn new(data_dir: &Path) -> Self {
        let d = data_dir.join("tls");
        SelfSignedPaths {
            ca: d.join("ca.pem"),
            cert: d.join("server.pem"),
            key: d.join("server.key"),
        }
    }
}

/// Builds the rustls configuration, generating self-signed material on first use.
pub fn server_config(
    source: &TlsSource,
    data_dir: &Path,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let (cert, key) = match source {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone()),
        TlsSource::SelfSigned { extra_names } => {
            let p = SelfSignedPaths::new(data_dir);
            ensure_self_signed(&p, extra_names)?;
            (p.cert, p.key)
        }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .with_context(|| format!("cannot read the certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
    if chain.is_empty() {
        bail!("{} holds no certificate", cert.display());
    }
    // Checked before it is read, for the operator's files and the self-signed key alike.
    check_private_key(&key)?;
    let key = PrivateKeyDer::from_pem_file(&key)
        .with_context(|| format!("cannot read a private key from {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and key do not form a usable pair")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn ensure_self_signed(p: &SelfSignedPaths, extra_names: &[String]) -> anyhow::Result<()> {
    match (p.ca.exists(), p.cert.exists(), p.key.exists()) {
        (true, true, true) => return Ok(()),
        (false, false, false) => {}
        _ => bail!(
            "{} is incomplete (expected ca.pem, server.pem and server.key); remove it to generate a new CA",
            p.ca.parent().map(Path::display).map(|d| d.to_string()).unwrap_or_default()
        ),
    }
    if let Some(dir) = p.ca.parent() {
        ensure_private_dir(dir)?;
    }
    let now = time::OffsetDateTime::now_utc();

    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Tessera local CA");
    dn.push(DnType::OrganizationName, "Tessera");
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = now - time::Duration::days(1);
    ca.not_after = now + time::Duration::days(3650);
    let ca_cert = ca.self_signed(&ca_key)?;

    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    names.extend(extra_names.iter().cloned());
    let server_key = KeyPair::generate()?;
    let mut server = CertificateParams::new(names)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "tessera");
    server.distinguished_name = dn;
    server.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.not_before = now - time::Duration::days(1);
    server.not_after = now + time::Duration::days(825);
    let server_cert = server.signed_by(&server_key, &ca_cert, &ca_key)?;

    // The CA key is not kept: nothing else can be signed with it later.
    std::fs::write(&p.ca, ca_cert.pem())
        .with_context(|| format!("cannot write {}", p.ca.display()))?;
    std::fs::write(&p.cert, format!("{}{}", server_cert.pem(), ca_cert.pem()))
        .with_context(|| format!("cannot write {}", p.cert.display()))?;
    let mut f = create_private(&p.key)?;
    f.write_all(server_key.serialize_pem().as_bytes())?;
    f.sync_all()?;
    Ok(())
}
