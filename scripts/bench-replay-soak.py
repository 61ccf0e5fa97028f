#!/usr/bin/env python3
"""Replay-window soak (issue "State that scales"): AssumeRole at full speed for longer than the
replay window, with the server's RSS sampled throughout. Not for CI: one run takes about 20
minutes.

    cargo build --release --bin tessera --bin tessera-loadgen
    CARGO_TARGET_DIR=target python3 scripts/bench-replay-soak.py [--duration 1000] [--connections 64]

Every signed request's nonce is remembered until its timestamp leaves the window (about 15
minutes with clocks in step), so after the first 15 minutes the window is full and memory must
stop growing. Reports requests, errors (Throttling would count), the rate, RSS samples, and the
bytes each remembered nonce costs: the RSS growth from before the load to the full window,
divided by the requests of the last 15 minutes.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_client import Client, binaries, rss_mib, start_server  # noqa: E402

WINDOW_S = 15 * 60


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=1200, help="seconds of load (more than the window and its 120 s buckets)")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--sample-every", type=float, default=20)
    ap.add_argument("--server-arg", action="append", default=[])
    ap.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", "target"))
    args = ap.parse_args()
    tessera, lg = binaries(args.target_dir)
    data = tempfile.mkdtemp(prefix="tessera-soak-")
    server, url, _ = start_server(tessera, data, args.server_arg)
    samples = []
    try:
        root = json.load(open(os.path.join(data, "root-credentials.json")))
        acct, rootc = root["AccountId"], (root["AccessKeyId"], root["AccessKeySecret"])
        c = Client(url)
        c.ram(rootc, "CreateUser", UserName="soak")
        key = c.ram(rootc, "CreateAccessKey", UserName="soak")["AccessKey"]
        c.ram(rootc, "AttachPolicyToUser", PolicyType="System", PolicyName="AliyunSTSAssumeRoleAccess", UserName="soak")
        trust = json.dumps({"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"RAM": [f"acs:ram::{acct}:root"]}}], "Version": "1"})
        c.ram(rootc, "CreateRole", RoleName="soak-role", AssumeRolePolicyDocument=trust)
        role_arn = f"acs:ram::{acct}:role/soak-role"
        before = rss_mib(server.pid)
        stop = threading.Event()

        def sample():
            start = time.monotonic()
            while not stop.wait(args.sample_every):
                samples.append((round(time.monotonic() - start), round(rss_mib(server.pid), 1)))
                print(f"  t={samples[-1][0]:>5} s  RSS {samples[-1][1]:.1f} MiB", file=sys.stderr, flush=True)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        cmd = [lg, "--url", url, "--connections", str(args.connections), "--duration", str(args.duration), "--quiet",
               "--action", "AssumeRole", "--param", f"RoleArn={role_arn}", "--param", "RoleSessionName=soak",
               "--access-key-id", key["AccessKeyId"], "--access-key-secret", key["AccessKeySecret"]]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        stop.set()
        sampler.join()
        result = json.loads(out.stdout.strip().splitlines()[-1])
        after = rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)

    rate = result["requests_per_second"]
    # Buckets of 120 s keep a nonce up to two minutes past its window: steady from ~17 min.
    full = [rss for t, rss in samples if t >= WINDOW_S + 150]
    growth_after_full = (max(full) - min(full)) if full else float("nan")
    per_nonce = (statistics.median(full) - before) * 1024 * 1024 / (rate * WINDOW_S) if full else float("nan")
    summary = {
        "duration_s": args.duration,
        "requests": result["requests"],
        "requests_per_second": round(rate),
        "errors": result["errors"],
        "p50_ms": result["p50_ms"],
        "p99_ms": result["p99_ms"],
        "rss_before_mib": round(before, 1),
        "rss_end_mib": round(after, 1),
        "rss_samples": samples,
        "rss_spread_once_full_mib": round(growth_after_full, 1),
        "bytes_per_remembered_nonce_from_rss": round(per_nonce, 1),
    }
    print(f"AssumeRole for {args.duration:.0f} s: {summary['requests']} requests, {summary['requests_per_second']} req/s, "
          f"{summary['errors']} errors, p99 {summary['p99_ms']} ms")
    print(f"RSS {summary['rss_before_mib']} MiB before, {summary['rss_end_mib']} MiB at the end; once the window was full it "
          f"moved within {summary['rss_spread_once_full_mib']} MiB; about {summary['bytes_per_remembered_nonce_from_rss']} bytes per remembered nonce")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
