//! The results: one JSON object on stdout, a readable summary on stderr.

use crate::engine::Measurement;
use serde::Serialize;

/// The JSON object printed as the last line of stdout.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// `health` or the action.
    pub action: String,
    /// `none`, `v1` or `v3`.
    pub signature: String,
    /// Keep-alive connections.
    pub connections: u32,
    /// The measured period, in seconds.
    pub duration_s: f64,
    /// Responses received in the measured period (errors included).
    pub requests: u64,
    /// `requests / duration_s`.
    pub requests_per_second: f64,
    /// Latency percentiles and maximum, in milliseconds.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest response.
    pub max_ms: f64,
    /// Errors of every kind in the measured period.
    pub errors: u64,
    /// With `--compare`: health's rate measured just before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_requests_per_second: Option<f64>,
    /// With `--compare`: `requests_per_second / health_requests_per_second`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio_to_health: Option<f64>,
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

fn ms(us: u64) -> f64 {
    round(us as f64 / 1000.0, 3)
}

impl Summary {
    /// Summarises a measurement.
    pub fn new(action: &str, signature: &str, connections: u32, m: &Measurement) -> Summary {
        let secs = m.duration.as_secs_f64();
        let requests = m.counts.responses;
        let h = &m.latency_us;
        let q = |q: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(q)
            }
        };
        Summary {
            action: action.to_string(),
            signature: signature.to_string(),
            connections,
            duration_s: round(secs, 3),
            requests,
            requests_per_second: if secs > 0.0 {
                round(requests as f64 / secs, 1)
            } else {
                0.0
            },
            p50_ms: ms(q(0.50)),
            p90_ms: ms(q(0.90)),
            p99_ms: ms(q(0.99)),
            max_ms: ms(if h.is_empty() { 0 } else { h.max() }),
            errors: m.counts.errors(),
            health_requests_per_second: None,
            ratio_to_health: None,
        }
    }

    /// Adds health's rate and the ratio to it.
    pub fn compared_with(mut self, health: &Summary) -> Summary {
        self.health_requests_per_second = Some(health.requests_per_second);
        self.ratio_to_health = (health.requests_per_second > 0.0)
            .then(|| round(self.requests_per_second / health.requests_per_second, 3));
        self
    }

    /// The JSON line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a summary serialises")
    }
}

/// The human summary for stderr.
pub fn describe(s: &Summary, m: &Measurement) -> String {
    let c = &m.counts;
    let mut out = format!(
        "{} ({}): {} requests in {:.1} s over {} connections = {:.1} req/s; \
         latency p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {} errors",
        s.action,
        s.signature,
        s.requests,
        s.duration_s,
        s.connections,
        s.requests_per_second,
        s.p50_ms,
        s.p90_ms,
        s.p99_ms,
        s.max_ms,
        s.errors
    );
    if s.errors > 0 {
        out.push_str(&format!(
            " (status {}, Code in body {}, I/O {}, timeout {}, connect {})",
            c.status_errors, c.code_errors, c.io_errors, c.timeouts, c.connect_errors
        ));
    }
    if let Some(r) = s.ratio_to_health {
        out.push_str(&format!("; {:.3} × health", r));
    }
    if let Some(cpu) = m.cpu {
        let wall = m.loaded_for.as_secs_f64();
        out.push_str(&format!(
            "\n  load generator CPU {:.2} s over {:.1} s ({:.2} of a core)",
            cpu.as_secs_f64(),
            wall,
            if wall > 0.0 {
                cpu.as_secs_f64() / wall
            } else {
                0.0
            }
        ));
    }
    if m.warmup.errors() > 0 {
        out.push_str(&format!(
            "\n  warmup (discarded): {} responses, {} errors",
            m.warmup.responses,
            m.warmup.errors()
        ));
    }
    if let Some(e) = &m.first_error {
        out.push_str(&format!("\n  first error: {e}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Counts;
    use hdrhistogram::Histogram;
    use std::time::Duration;

    fn measurement(latencies_us: &[u64], errors: u64) -> Measurement {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for &l in latencies_us {
            h.record(l).unwrap();
        }
        Measurement {
            counts: Counts {
                responses: latencies_us.len() as u64,
                status_errors: errors,
                ..Counts::default()
            },
            latency_us: h,
            warmup: Counts::default(),
            duration: Duration::from_secs(2),
            first_error: None,
            cpu: Some(Duration::from_secs(1)),
            loaded_for: Duration::from_secs(2),
        }
    }

    #[test]
    fn json_has_the_promised_fields() {
        let lat: Vec<u64> = (1..=1000).collect();
        let s = Summary::new("GetCallerIdentity", "v1", 4, &measurement(&lat, 3));
        let json = s.to_json();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let promised = [
            "action",
            "signature",
            "connections",
            "duration_s",
            "requests",
            "requests_per_second",
            "p50_ms",
            "p90_ms",
            "p99_ms",
            "max_ms",
            "errors",
        ];
        assert_eq!(v.as_object().unwrap().len(), promised.len(), "{json}");
        // In this order on the line, too.
        let at: Vec<usize> = promised
            .iter()
            .map(|k| json.find(&format!("\"{k}\":")).expect(k))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{json}");
        assert_eq!(v["requests"], 1000);
        assert_eq!(v["requests_per_second"], 500.0);
        assert_eq!(v["p50_ms"], 0.5);
        assert_eq!(v["p99_ms"], 0.99);
        assert_eq!(v["max_ms"], 1.0);
        assert_eq!(v["errors"], 3);
        let text = describe(&s, &measurement(&lat, 3));
        assert!(text.contains("status 3"), "{text}");
        assert!(text.contains("(0.50 of a core)"), "{text}");
    }

    #[test]
    fn empty_and_compared() {
        let s = Summary::new("health", "none", 1, &measurement(&[], 0));
        assert_eq!((s.requests_per_second, s.p99_ms, s.max_ms), (0.0, 0.0, 0.0));
        let h = Summary {
            requests_per_second: 400.0,
            ..s.clone()
        };
        let a = Summary {
            requests_per_second: 100.0,
            ..s.clone()
        }
        .compared_with(&h);
        assert_eq!(a.ratio_to_health, Some(0.25));
        let v: serde_json::Value = serde_json::from_str(&a.to_json()).unwrap();
        assert_eq!(v["health_requests_per_second"], 400.0);
        let zero = s.clone();
        assert_eq!(s.compared_with(&zero).ratio_to_health, None);
    }
}
