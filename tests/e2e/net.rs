//! Real `weft run` processes on loopback: they connect, refuse strangers, survive garbage.

use std::time::Duration;

use crate::harness::{Company, free_port};

#[test]
fn three_sites_connect_and_a_node_stops_cleanly() {
    let company = Company::new();
    let nodes: Vec<_> = (0..3).map(|i| company.start(i)).collect();
    for n in &nodes {
        n.wait_until(Duration::from_secs(60), "all peers are connected", |n| {
            n.connected_peers() == 2
        });
    }
    let info = nodes[0].json("/api/v1/node");
    assert_eq!(info["site"], "paris");
    assert_eq!(info["directory_version"], 1);
    assert_eq!(info["site"], company.sites[0].id.as_str());
    assert!(info["peer_id"].as_str().unwrap().starts_with("12D3"));
    assert_eq!(nodes[0].metric("weft_peers_connected"), 2.0);
    let (status, body) = nodes[0].get("/nowhere").unwrap();
    assert_eq!(status, 404);
    assert!(body.contains("\"code\":\"not_found\""), "{body}");
    // SIGTERM: a clean exit, and the others notice.
    let mut nodes = nodes;
    let last = nodes.pop().unwrap();
    let status = last.stop();
    assert!(status.success(), "{status:?}");
    nodes[0].wait_until(Duration::from_secs(30), "bangalore is seen as gone", |n| {
        n.connected_peers() == 1
    });
}

#[test]
fn a_broken_config_names_the_bad_setting() {
    let company = Company::new();
    let site = &company.sites[0];
    std::fs::write(
        &site.config,
        "site = \"paris\"\nhttp_adress = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(crate::harness::WEFT)
        .args(["run", "--config", site.config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("http_adress"), "{err}");
    let out = std::process::Command::new(crate::harness::WEFT)
        .args(["run", "--config", "/nonexistent/weft.toml"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/weft.toml"));
    let _ = free_port();
}

/// A node whose HTTP address is taken stops with a message naming it (and the test harness,
/// which picks ports while other tests run, then moves it to another port).
#[test]
fn a_taken_http_port_is_named_and_the_node_starts_elsewhere() {
    let company = Company::new();
    let site = &company.sites[0];
    let squatter = std::net::TcpListener::bind(("127.0.0.1", site.http_port)).unwrap();
    let node = company.start(0);
    assert_ne!(node.http_port, site.http_port, "moved to another port");
    assert!(
        node.log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("node started")),
        "the log of the node that runs"
    );
    let cfg = std::fs::read_to_string(&site.config).unwrap();
    assert!(cfg.contains(&format!("127.0.0.1:{}", node.http_port)));
    drop(squatter);
}
