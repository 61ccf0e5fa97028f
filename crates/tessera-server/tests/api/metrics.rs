//! Prometheus metrics on their own listener: what a scrape shows after real requests.

use super::*;

/// The value of the sample whose line starts with `series` (name and labels, as rendered).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l[series.len()..].trim().parse().ok())
}

#[tokio::test]
async fn a_scrape_counts_requests_and_shows_the_state() {
    let h = TestServer::builder().metrics().start().await;
    let scrape = || async {
        let r = h.http_client.get(h.metrics_url()).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"));
        r.text().await.unwrap()
    };
    let before = scrape().await;
    assert!(before.ends_with("# EOF\n"), "{before}");
    let ok = r#"tessera_requests_total{product="Sts",action="GetCallerIdentity",code="OK"}"#;
    assert_eq!(sample(&before, ok), None, "no request yet:\n{before}");

    for _ in 0..3 {
        let (status, _) = h.sts(&h.root, "GetCallerIdentity").await;
        assert_eq!(status, StatusCode::OK);
    }
    // A wrong secret, twice: counted under the action it named and its error code.
    let wrong = Creds::new(h.root.id.clone(), "not-the-secret");
    let mut refused = String::new();
    for _ in 0..2 {
        let (status, body) = h.sts(&wrong, "GetCallerIdentity").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        refused = code(&body).to_string();
    }
    // A write, which may wait for the identity cache.
    let (status, body) = h
        .ram(&h.root, "CreateUser", &[("UserName", "metered")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let after = scrape().await;
    assert_eq!(sample(&after, ok), Some(3.0), "{after}");
    let denied = format!(
        r#"tessera_requests_total{{product="Sts",action="GetCallerIdentity",code="{refused}"}}"#
    );
    assert_eq!(sample(&after, &denied), Some(2.0), "{after}");
    assert_eq!(
        sample(
            &after,
            r#"tessera_request_duration_seconds_count{product="Sts",action="GetCallerIdentity"}"#
        ),
        Some(5.0),
        "{after}"
    );
    // Whether the write waited depends on whether the feed's follower applied it first.
    assert!(
        sample(&after, "tessera_store_catch_up_duration_seconds_count").is_some(),
        "{after}"
    );
    // The state's gauges: the root key, the write applied, the nonces of these requests
    // remembered, a token key in use.
    assert!(
        sample(&after, "tessera_identity_access_keys").unwrap() >= 1.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, "tessera_identity_lag_revisions"),
        Some(0.0),
        "{after}"
    );
    assert_eq!(
        sample(&after, "tessera_identity_revision"),
        sample(&after, "tessera_change_feed_revision"),
        "{after}"
    );
    assert!(
        // Three calls and the write; a refused signature's nonce is not remembered.
        sample(&after, "tessera_replay_window_nonces").unwrap() >= 4.0,
        "{after}"
    );
    assert!(
        sample(&after, "tessera_replay_window_used_bytes").unwrap() > 0.0,
        "{after}"
    );
    assert!(
        sample(&after, "tessera_token_key_age_seconds").is_some(),
        "{after}"
    );
    // Nothing else is served there, and the API's listener does not serve metrics.
    let r = h
        .http_client
        .get(h.metrics_url().replace("/metrics", "/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = h
        .http_client
        .get(format!("{}/metrics", h.http()))
        .send()
        .await
        .unwrap();
    assert!(!r.text().await.unwrap().contains("tessera_requests_total"));
}

#[tokio::test]
async fn no_metrics_listener_unless_asked() {
    let h = TestServer::start().await;
    assert!(h.server().metrics.is_none());
}
