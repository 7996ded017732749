//! A name server that never answers: flush and shutdown still return within their timeouts, and what could not be
//! sent is kept in the spool.
//!
//! The child process runs in a network and mount namespace of its own (`unshare`, as root), where
//! `/etc/resolv.conf` names 127.0.0.1 and a UDP socket on port 53 takes the queries and never replies, so the
//! system resolver waits out its own timeouts (20 s here) inside the worker's request.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use faultline::{ClientOptions, Level};

const CHILD: &str = "FAULTLINE_DNS_HANG_SPOOL";

#[test]
fn child_in_namespace() {
    let Ok(spool) = std::env::var(CHILD) else {
        return; // Only meaningful when started by the test below.
    };
    // Take the name server's port and never answer.
    let _silent =
        std::net::UdpSocket::bind("127.0.0.1:53").expect("bind 127.0.0.1:53 in the namespace");
    let guard = faultline::try_init(
        ClientOptions::new()
            .dsn("http://key@errors.faultline.test/1")
            .spool_dir(Some(spool.clone().into()))
            .shutdown_timeout(Duration::from_millis(800)),
    )
    .unwrap();
    for i in 0..5 {
        assert!(
            !faultline::capture_message(&format!("during a DNS outage {i}"), Level::Error).is_nil()
        );
    }
    let started = Instant::now();
    assert!(!faultline::flush(Duration::from_millis(500)));
    let flush_took = started.elapsed();
    let started = Instant::now();
    drop(guard);
    let drop_took = started.elapsed();
    let spooled = std::fs::read_dir(&spool)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".envelope"))
        .count();
    println!(
        "dns hang: flush returned after {flush_took:?}, drop after {drop_took:?}, {spooled} envelopes spooled"
    );
    assert!(flush_took < Duration::from_millis(1500), "{flush_took:?}");
    assert!(drop_took < Duration::from_millis(1800), "{drop_took:?}");
    assert_eq!(
        spooled, 5,
        "the envelope stuck in name resolution is on disk too"
    );
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Uid:")
                    .map(|v| v.split_whitespace().next() == Some("0"))
            })
        })
        .unwrap_or(false)
}

#[test]
fn flush_and_shutdown_are_bounded_while_name_resolution_hangs() {
    if !is_root() {
        // Namespaces need root; CI runs as root, so there the test always runs.
        println!("dns_hang: skipped: needs root for a network namespace of its own");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.1\noptions timeout:5 attempts:2\n",
    )
    .unwrap();
    let spool = dir.path().join("spool");
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "mount --bind {resolv} /etc/resolv.conf && ip link set lo up && exec {exe} --exact child_in_namespace \
         --nocapture --test-threads=1",
        resolv = quote(&resolv),
        exe = quote(&exe),
    );
    let started = Instant::now();
    let output = Command::new("unshare")
        .args(["--mount", "--net", "sh", "-c", &script])
        .env(CHILD, &spool)
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("dns hang:"),
        "the child ran its checks: {stdout}"
    );
    let line = stdout
        .lines()
        .find(|l| l.contains("dns hang:"))
        .unwrap_or_default();
    println!("{}", &line[line.find("dns hang:").unwrap_or(0)..]);
    // The worker is still inside the resolver when the child exits: the process ends on time because nothing
    // waits for the worker past the shutdown timeout.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}
