//! What checking a credential costs, next to the primitives it is built on (the "within 2× of the
//! raw primitives" target of the STS issue):
//!
//! - `token/open` (decode base64url, AES-256-GCM open, parse claims) vs `raw/aes256gcm_open`
//!   of the same number of bytes with the same key;
//! - `token/seal` vs `raw/aes256gcm_seal`;
//! - `v1/verify` (canonicalise 12 AssumeRole parameters, HMAC-SHA1, constant-time compare) vs
//!   `raw/hmac_sha1` over a string to sign of the same length;
//! - `v3/verify` (canonical request, SHA-256, HMAC-SHA256) for reference.
//!
//! Run with `cargo bench -p tessera-server --bench credentials`; medians land in
//! `target/criterion/<group>/<name>/new/estimates.json`.

// criterion_group! and criterion_main! generate public items without documentation; a
// benchmark may unwrap its own setup.
#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use std::hint::black_box;
use tessera_protocol::encoding::Canonicalization;
use tessera_protocol::{v1, v3, Secret};
use tessera_server::ids::AccountId;
use tessera_server::keys::MasterKey;
use tessera_server::tokens::{new_sealed_key, Keyring, SessionClaims};
use tessera_store::TokenKeyRecord;

fn claims() -> SessionClaims {
    SessionClaims {
        access_key_id: "STS.NTdbdgE5zgL2qcb5pAify1234".into(),
        secret: Secret::new("9jJr6QvPz5kY2bN8wHq3Lm4Xc7Vt1Sd0Fg6Hk8Ja2Zx"),
        account: AccountId::from_trusted("1234567890123456"),
        role_id: "300812807442711234".into(),
        role_name: "test-role".into(),
        session_name: "alice".into(),
        issued: 1_795_000_000,
        expires: 1_795_003_600,
        policy: None,
        source_identity: None,
        origin_user: Some((
            AccountId::from_trusted("1234567890123456"),
            "2073290024939212".into(),
        )),
        depth: 1,
        ancestors: Vec::new(),
    }
}

fn tokens(c: &mut Criterion) {
    let (master, _) = MasterKey::generate().unwrap();
    let records = vec![TokenKeyRecord {
        id: 1,
        sealed_key: new_sealed_key(&master).unwrap(),
        created: 0,
        retired: None,
    }];
    let ring = Keyring::from_records(&master, &records);
    let claims = claims();
    let token = ring.seal(&claims).unwrap();
    let id = claims.access_key_id.clone();

    let mut g = c.benchmark_group("token");
    g.bench_function("seal", |b| {
        b.iter(|| black_box(ring.seal(black_box(&claims))))
    });
    g.bench_function("open", |b| {
        b.iter(|| black_box(ring.open(black_box(&id), black_box(&token))))
    });
    // Where open's time goes: decoding the base64url text alone.
    g.bench_function("base64_decode", |b| {
        use base64::Engine;
        b.iter(|| {
            black_box(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(black_box(&token))
                    .map(|v| v.len()),
            )
        })
    });
    g.finish();

    // The raw primitive over the same plaintext length the token carries.
    let len = base64_len_to_plain(token.len());
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
    let plain = vec![b'x'; len];
    let mut sealed = plain.clone();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key([1; 12]),
        Aad::from([0u8; 5]),
        &mut sealed,
    )
    .unwrap();
    let mut g = c.benchmark_group("raw");
    g.bench_function("aes256gcm_seal", |b| {
        b.iter(|| {
            let mut buf = plain.clone();
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key([1; 12]),
                Aad::from([0u8; 5]),
                &mut buf,
            )
            .unwrap();
            black_box(buf)
        })
    });
    g.bench_function("aes256gcm_open", |b| {
        b.iter(|| {
            let mut buf = sealed.clone();
            black_box(
                key.open_in_place(
                    Nonce::assume_unique_for_key([1; 12]),
                    Aad::from([0u8; 5]),
                    &mut buf,
                )
                .map(|p| p.len())
                .ok(),
            )
        })
    });
    g.finish();
}

/// Plaintext bytes inside a base64url token of `n` characters (header, nonce and tag removed).
fn base64_len_to_plain(n: usize) -> usize {
    n * 3 / 4 - 5 - 12 - 16
}

fn signatures(c: &mut Criterion) {
    // What credentials-go sends for AssumeRole (spec §16), as decoded pairs.
    let params: Vec<(String, String)> = [
        ("AccessKeyId", "LTAI5tCompatTestKey0001"),
        ("Action", "AssumeRole"),
        ("Format", "JSON"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "6a6e0ca6-4557-11e5-86a2-b8e8563dc8d2"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2026-11-24T03:15:45Z"),
        ("Version", "2015-04-01"),
        ("RoleArn", "acs:ram::1234567890123456:role/test-role"),
        ("RoleSessionName", "alice"),
        ("DurationSeconds", "3600"),
        ("RegionId", "cn-hangzhou"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let secret = "PupkTg8jdmau1cXxYacgE736PJj4cA";
    let sts = v1::string_to_sign(
        "POST",
        params.iter().map(|(a, b)| (a.as_str(), b.as_str())),
        Canonicalization::Rfc3986,
    );
    let sig = v1::sign(secret, &sts);

    let mut g = c.benchmark_group("v1");
    g.bench_function("verify", |b| {
        b.iter(|| {
            black_box(v1::verify(
                black_box(secret),
                "POST",
                black_box(&params)
                    .iter()
                    .map(|(a, b)| (a.as_str(), b.as_str())),
                black_box(&sig),
            ))
        })
    });
    // Where verify's time goes: building the string to sign, without the HMAC.
    g.bench_function("string_to_sign", |b| {
        b.iter(|| {
            black_box(v1::string_to_sign(
                "POST",
                black_box(&params)
                    .iter()
                    .map(|(a, b)| (a.as_str(), b.as_str())),
                Canonicalization::Rfc3986,
            ))
        })
    });
    g.finish();
    let mut g = c.benchmark_group("raw");
    g.bench_function("hmac_sha1", |b| {
        b.iter(|| {
            let mut m =
                Hmac::<sha1::Sha1>::new_from_slice(black_box(b"PupkTg8jdmau1cXxYacgE736PJj4cA&"))
                    .unwrap();
            m.update(black_box(sts.as_bytes()));
            black_box(m.finalize().into_bytes())
        })
    });
    g.finish();

    let headers = [
        ("host", "127.0.0.1:8080"),
        ("x-acs-action", "GetCallerIdentity"),
        ("x-acs-content-sha256", v3::EMPTY_SHA256),
        ("x-acs-date", "2026-11-24T03:15:45Z"),
        ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
        ("x-acs-version", "2015-04-01"),
    ];
    let signed: Vec<String> = headers.iter().map(|(n, _)| n.to_string()).collect();
    let build = || {
        let cr = v3::canonical_request(
            "POST",
            "/",
            "",
            &signed,
            |n| {
                headers
                    .iter()
                    .filter(|(h, _)| *h == n)
                    .map(|(_, v)| *v)
                    .collect::<Vec<_>>()
            },
            v3::EMPTY_SHA256,
        );
        v3::string_to_sign(&cr)
    };
    let v3sig = v3::sign(secret, &build());
    let mut g = c.benchmark_group("v3");
    g.bench_function("verify", |b| {
        b.iter(|| black_box(v3::signature_matches(secret, &build(), black_box(&v3sig))))
    });
    g.finish();
}

criterion_group!(benches, tokens, signatures);
criterion_main!(benches);
