//! The demo's operator surface over real HTTP: `--metrics 127.0.0.1:0`
//! serves the driver's Prometheus text on `/metrics` and every tracked
//! group's status as JSON on `/status` while the workload runs; other
//! paths are 404 and other methods 405.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The demo's process, killed if the test fails first.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One request; the status code and the body.
fn request(addr: &str, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("the endpoint accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|n| n.parse().ok())
        .expect("a length");
    assert_eq!(body.len(), length, "the body is as long as it says");
    (code, body.to_string())
}

#[test]
fn the_demo_serves_metrics_and_status_over_http() {
    let mut child = Reaped(
        Command::new(env!("CARGO"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["run", "--quiet", "--example", "orchestrator", "--"])
            .args(["--quick", "--metrics", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("cargo runs"),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let rest = line.strip_prefix("operator surface: http://")?;
            Some(rest.split('/').next()?.to_string())
        })
        .expect("the demo prints where it serves");

    // The workload messages six groups at once: their status shows soon.
    let began = Instant::now();
    let status = loop {
        let (code, body) = request(&addr, "GET", "/status");
        assert_eq!(code, 200, "{body}");
        let status: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        if status["groups"].as_object().is_some_and(|g| !g.is_empty()) {
            break status;
        }
        assert!(began.elapsed() < Duration::from_secs(5), "no group: {body}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status["stats"]["core"]["live_runs"].is_u64(), "{status}");
    let (group, one) = status["groups"].as_object().unwrap().iter().next().unwrap();
    assert!(
        one["unread"].is_u64() && one.get("core").is_some(),
        "{group}: {one}"
    );

    // The histograms show once a run spawned (wait) and once one ended
    // (lifetime): within the script's first seconds.
    let began = Instant::now();
    let metrics = loop {
        let (code, metrics) = request(&addr, "GET", "/metrics");
        assert_eq!(code, 200, "{metrics}");
        if metrics.contains("groupq_run_seconds_count") {
            break metrics;
        }
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "no run ended:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    for family in [
        "groupq_spawns_total",
        "groupq_live_runs",
        "groupq_unread_messages",
        "groupq_wait_seconds_bucket",
    ] {
        assert!(metrics.contains(family), "{family} missing:\n{metrics}");
    }
    assert!(metrics.trim_end().ends_with("# EOF"), "{metrics}");

    assert_eq!(request(&addr, "GET", "/nope").0, 404);
    assert_eq!(request(&addr, "POST", "/metrics").0, 405);
    // The rest of the output, then the demo's own verdict.
    for _ in lines {}
    assert!(child.0.wait().unwrap().success(), "the demo failed");
}
