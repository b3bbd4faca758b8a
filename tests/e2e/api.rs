//! The JSON API over real HTTP against real, connected nodes: what an employee does at one
//! site reaches the others; private groups stay with their members' sites; acknowledged posts
//! survive a crash.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Company, Node};

fn all_connected(nodes: &[Node]) {
    for n in nodes {
        n.wait_until(Duration::from_secs(60), "all peers are connected", |n| {
            n.connected_peers() == nodes.len() - 1
        });
    }
}

/// See [`Node::eventually`].
fn eventually(node: &Node, token: &str, path: &str, ok: impl Fn(&Value) -> bool) -> Value {
    node.eventually(token, path, ok)
}

#[test]
fn a_post_at_one_site_appears_at_the_others() {
    let company = Company::new();
    let nodes: Vec<Node> = (0..3).map(|i| company.start(i)).collect();
    all_connected(&nodes);
    let helene = nodes[0].login("hdupre");
    let john = nodes[1].login("jsmith");
    let priya = nodes[2].login("pkumar@example.in");

    let me = nodes[0].api(&helene, "GET", "/api/v1/me", None, 200);
    assert_eq!(me["display_name"], "Hélène Dupré");
    assert_eq!(me["site"], "paris");

    let g = nodes[0].api(&helene, "POST", "/api/v1/groups", Some(json!({"name": "IT Transformation", "description": "Cloud, outils, méthodes", "visibility": "public"})), 201);
    let gid = g["id"].as_str().unwrap().to_owned();
    let t = nodes[0].api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Migration", "body": "Qui connaît #kubernetes ? @jsmith"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    assert_eq!(t["root"]["mentions"], json!(["jsmith"]));

    for (node, token) in [(&nodes[1], &john), (&nodes[2], &priya)] {
        let v = eventually(node, token, &format!("/api/v1/threads/{tid}"), |_| true);
        assert_eq!(v["title"], "Migration");
        assert_eq!(v["root"]["author"], "hdupre");
    }
    // A reply from New York reaches Paris and Bangalore; a like from Bangalore reaches Paris.
    let p = nodes[1].api(
        &john,
        "POST",
        &format!("/api/v1/threads/{tid}/posts"),
        Some(json!({"body": "Moi ! <script>alert(1)</script>"})),
        201,
    );
    // Markdown rendered and sanitized: the script is text.
    assert_eq!(
        p["html"].as_str().unwrap().trim(),
        "<p>Moi ! &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    );
    let root = t["root"]["id"].as_str().unwrap().to_owned();
    eventually(&nodes[2], &priya, &format!("/api/v1/threads/{tid}"), |v| {
        v["reply_count"] == 1
    });
    nodes[2].api(
        &priya,
        "PUT",
        &format!("/api/v1/posts/{root}/reactions/like"),
        None,
        204,
    );
    let v = eventually(&nodes[0], &helene, &format!("/api/v1/threads/{tid}"), |v| {
        v["reply_count"] == 1 && v["root"]["reactions"]["like"] == 1
    });
    assert_eq!(v["replies"][0]["author"], "jsmith");
    // Paris timed what it received from the other sites, what it committed and what it
    // answered, in its histograms.
    for series in [
        "weft_sync_lag_seconds_count{site=\"paris\",peer=\"new-york\"}",
        "weft_sync_lag_seconds_count{site=\"paris\",peer=\"bangalore\"}",
        "weft_commit_changes_count",
        "weft_job_seconds_count{site=\"paris\",job=\"commit\"}",
        "weft_http_request_duration_seconds_count{site=\"paris\",route=\"/api/v1/threads/{id}\",method=\"GET\"}",
    ] {
        assert!(nodes[0].metric(series) >= 1.0, "{series}");
    }
    // Search at New York finds Paris's thread, through the stemmer ("migrations" → migration),
    // and people by what they do.
    let hits = nodes[1].api(&john, "GET", "/api/v1/search?q=migrations", None, 200);
    assert!(
        hits["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["thread"] == tid.as_str()),
        "{hits}"
    );
    let hits = nodes[1].api(
        &john,
        "GET",
        "/api/v1/search?q=engineers&kind=person",
        None,
        200,
    );
    assert!(
        hits["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == "swilliams"),
        "{hits}"
    );
    nodes[1].api(&john, "GET", "/api/v1/search?q=x&kind=pets", None, 422);
    // Public changes travel by gossip (once peers know each other's subscriptions).
    let gossiped: f64 = nodes
        .iter()
        .map(|n| n.metric("weft_gossip_received_total"))
        .sum();
    assert!(
        gossiped >= 1.0,
        "no public change was gossiped: {}",
        nodes[0].log.lock().unwrap().join("\n")
    );

    // Errors have the API's shape.
    let (s, body) = nodes[0].request("GET", "/api/v1/me", None, None).unwrap();
    assert_eq!(s, 401);
    assert!(body.contains("\"unauthenticated\""));
    let (s, _) = nodes[0]
        .request(
            "GET",
            &format!("/api/v1/threads/{}", "t-00000000000000000000000000000000"),
            None,
            Some(&helene),
        )
        .unwrap();
    assert_eq!(s, 404);
    nodes[1].api(
        &john,
        "PATCH",
        &format!("/api/v1/posts/{root}"),
        Some(json!({"body": "hacked"})),
        403,
    );
    nodes[0].api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "x", "visibility": "open"})),
        422,
    );
    // Bodies: too large (413), not JSON (400), missing field (422) — all in the error shape.
    let big = json!({"name": "x".repeat(2 * 1024 * 1024), "visibility": "public"});
    let (s, body) = nodes[0]
        .request("POST", "/api/v1/groups", Some(&big), Some(&helene))
        .unwrap();
    assert_eq!(s, 413);
    assert!(body.contains("\"too_large\""), "{body}");
    let (s, head, text) = crate::harness::http_raw(
        nodes[0].http_port,
        "POST",
        "/api/v1/groups",
        &[
            "Content-Type: application/json".into(),
            format!("Authorization: Bearer {helene}"),
        ],
        "{not json",
    )
    .unwrap();
    assert_eq!(s, 400, "{head}");
    assert!(text.contains("\"malformed\""), "{text}");
    let (s, body) = nodes[0]
        .request(
            "POST",
            "/api/v1/groups",
            Some(&json!({"visibility": "public"})),
            Some(&helene),
        )
        .unwrap();
    assert_eq!(s, 422);
    assert!(body.contains("\"invalid\""), "{body}");
    // A post too long for a post (64 KiB) but within the body limit: 413 too.
    let (s, _) = nodes[1]
        .request(
            "POST",
            &format!("/api/v1/threads/{tid}/posts"),
            Some(&json!({"body": "y".repeat(70_000)})),
            Some(&john),
        )
        .unwrap();
    assert_eq!(s, 413);
    // John may not act at Paris: his account is at New York.
    let (s, _) = nodes[0]
        .request(
            "POST",
            "/api/v1/session",
            Some(&json!({"login": "jsmith", "password": crate::harness::PASSWORD})),
            None,
        )
        .unwrap();
    assert_eq!(s, 401);
}

/// `public_changes = "direct"` (a company whose sites all list each other as peers): a public
/// change goes from its site to every other once, sent by the sync engine — no gossip, and no
/// waiting for a catch-up round (an hour apart here).
#[test]
fn direct_public_changes_reach_every_site_without_gossip() {
    let company = Company::new();
    for i in 0..3 {
        company.configure(
            i,
            "public_changes = \"direct\"\nresync_interval_secs = 3600",
        );
    }
    let nodes: Vec<Node> = (0..3).map(|i| company.start(i)).collect();
    all_connected(&nodes);
    let helene = nodes[0].login("hdupre");
    let john = nodes[1].login("jsmith");
    let priya = nodes[2].login("pkumar@example.in");
    let g = nodes[0].api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Direct line", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    let t = nodes[0].api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Sans détour", "body": "Reçu ?"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    for (node, token) in [(&nodes[1], &john), (&nodes[2], &priya)] {
        let v = eventually(node, token, &format!("/api/v1/threads/{tid}"), |_| true);
        assert_eq!(v["title"], "Sans détour");
    }
    nodes[1].api(
        &john,
        "POST",
        &format!("/api/v1/threads/{tid}/posts"),
        Some(json!({"body": "Reçu, de New York."})),
        201,
    );
    for (node, token) in [(&nodes[0], &helene), (&nodes[2], &priya)] {
        eventually(node, token, &format!("/api/v1/threads/{tid}"), |v| {
            v["reply_count"] == 1
        });
    }
    for n in &nodes {
        assert_eq!(n.metric("weft_gossip_received_total"), 0.0);
    }
}

#[test]
fn repeated_failed_logins_are_refused_with_429() {
    let company = Company::new();
    let node = company.start(0);
    for _ in 0..5 {
        let (s, _) = node
            .request(
                "POST",
                "/api/v1/session",
                Some(&json!({"login": "hdupre", "password": "wrong"})),
                None,
            )
            .unwrap();
        assert_eq!(s, 401);
    }
    let (s, body) = node
        .request(
            "POST",
            "/api/v1/session",
            Some(&json!({"login": "hdupre", "password": crate::harness::PASSWORD})),
            None,
        )
        .unwrap();
    assert_eq!(s, 429, "{body}");
    assert!(body.contains("rate_limited"));
}

#[test]
fn a_private_group_never_reaches_a_site_without_members() {
    let company = Company::new();
    let nodes: Vec<Node> = (0..3).map(|i| company.start(i)).collect();
    all_connected(&nodes);
    let helene = nodes[0].login("hdupre");
    let john = nodes[1].login("jsmith");
    let priya = nodes[2].login("pkumar");
    let g = nodes[0].api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Works council prep", "visibility": "private"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    nodes[0].api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/members"),
        Some(json!({"user": "jsmith"})),
        200,
    );
    let t = nodes[0].api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Salaires", "body": "Confidentiel"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    eventually(&nodes[1], &john, &format!("/api/v1/threads/{tid}"), |_| {
        true
    });
    // Give Bangalore every chance to receive it: wait until it has finished two catch-up
    // rounds with each of its peers since the thread was made (a causal barrier, not a
    // sleep: Paris had the thread before those rounds began).
    let rounds = nodes[2].metric("weft_sync_rounds_total");
    nodes[2].wait_until(Duration::from_secs(60), "two catch-up rounds", |n| {
        n.metric("weft_sync_rounds_total") >= rounds + 4.0
    });
    // Bangalore knows the group by its card only (name, owners, members: to ask to join),
    // not its content.
    let (s, card) = nodes[2]
        .request("GET", &format!("/api/v1/groups/{gid}"), None, Some(&priya))
        .unwrap();
    assert_eq!(s, 200, "{card}");
    let card: Value = serde_json::from_str(&card).unwrap();
    assert_eq!(card["card"], true, "{card}");
    assert!(!card.to_string().contains("Salaires"));
    let (s, _) = nodes[2]
        .request(
            "GET",
            &format!("/api/v1/groups/{gid}/threads"),
            None,
            Some(&priya),
        )
        .unwrap();
    assert_eq!(s, 404);
    let (s, _) = nodes[2]
        .request("GET", &format!("/api/v1/threads/{tid}"), None, Some(&priya))
        .unwrap();
    assert_eq!(s, 404);
    // Search: the member finds it at New York; nothing at Bangalore.
    let hits = eventually(&nodes[1], &john, "/api/v1/search?q=salaire", |v| {
        !v["items"].as_array().unwrap().is_empty()
    });
    assert_eq!(hits["items"][0]["thread"], tid.as_str());
    let hits = nodes[2].api(&priya, "GET", "/api/v1/search?q=salaire", None, 200);
    assert!(hits["items"].as_array().unwrap().is_empty(), "{hits}");
    // Not even in its store.
    let mut nodes = nodes;
    let c = nodes.pop().unwrap();
    assert!(c.stop().success());
    let store = weft_node::Store::open(&company.store_dir(2)).unwrap();
    for id in [&gid, &tid] {
        let doc = weft_node::crdt::DocId::parse(id).unwrap();
        assert!(!store.holds_doc(&doc).unwrap(), "{id} reached Bangalore");
    }
    for item in store.changes() {
        let (doc, _) = item.unwrap();
        assert_ne!(doc.as_str(), gid);
        assert_ne!(doc.as_str(), tid);
    }
}

#[test]
fn every_acknowledged_post_survives_sigkill() {
    let company = Company::new();
    // One employee posting as fast as the node answers: no write budget.
    company.configure(0, "write_budget_burst = 0");
    let a = company.start(0);
    let b = company.start(1);
    let pair = [a, b];
    all_connected(&pair);
    let [a, b] = pair;
    let helene = a.login("hdupre");
    let g = a.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Crash test", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    let t = a.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Loop", "body": "start"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    // Post in a loop from another thread; kill the node while it runs.
    let port = a.http_port;
    let token = helene.clone();
    let path = format!("/api/v1/threads/{tid}/posts");
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = count.clone();
    let poster = std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        for i in 0..100_000 {
            let body = json!({"body": format!("post {i}")});
            match crate::harness::http(port, "POST", &path, Some(&body), Some(&token)) {
                Some((201, text)) => {
                    let v: Value = serde_json::from_str(&text).unwrap();
                    acknowledged.push(v["body"].as_str().unwrap().to_owned());
                    counted.store(acknowledged.len(), std::sync::atomic::Ordering::Release);
                }
                _ => break,
            }
        }
        acknowledged
    });
    // Killed mid-stream, once a good number of posts were acknowledged.
    let start = Instant::now();
    while count.load(std::sync::atomic::Ordering::Acquire) < 30 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the poster is stuck"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    a.kill();
    let acknowledged = poster.join().unwrap();
    assert!(
        acknowledged.len() > 10,
        "only {} posts before the kill",
        acknowledged.len()
    );
    // Restarted, A has every acknowledged post; B gets them too.
    let a = company.start(0);
    let helene = a.login("hdupre");
    let john = b.login("jsmith");
    for (node, token) in [(&a, &helene), (&b, &john)] {
        let v = eventually(node, token, &format!("/api/v1/threads/{tid}"), |v| {
            v["replies"]
                .as_array()
                .is_some_and(|r| r.len() >= acknowledged.len())
        });
        let bodies: Vec<&str> = v["replies"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["body"].as_str())
            .collect();
        for ack in &acknowledged {
            assert!(
                bodies.contains(&ack.as_str()),
                "{ack} lost at {}",
                node.http_port
            );
        }
    }
    eprintln!(
        "{} acknowledged posts before SIGKILL, all present after restart",
        acknowledged.len()
    );
}

#[test]
fn a_site_that_was_down_catches_up_with_what_it_missed() {
    let company = Company::new();
    let mut nodes: Vec<Node> = (0..3).map(|i| company.start(i)).collect();
    all_connected(&nodes);
    let helene = nodes[0].login("hdupre");
    let john = nodes[1].login("jsmith");
    let g = nodes[0].api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Veille", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    let t = nodes[0].api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Journal", "body": "début"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    let priya = nodes[2].login("pkumar");
    eventually(&nodes[2], &priya, &format!("/api/v1/threads/{tid}"), |_| {
        true
    });
    let before = nodes[2].json("/api/v1/node")["change_bytes"]
        .as_u64()
        .unwrap();
    let c = nodes.pop().unwrap();
    assert!(c.stop().success());

    for i in 0..200 {
        let (node, token) = if i % 2 == 0 {
            (&nodes[0], &helene)
        } else {
            (&nodes[1], &john)
        };
        node.api(token, "POST", &format!("/api/v1/threads/{tid}/posts"), Some(json!({"body": format!("entrée {i} du journal de bord, pendant que Bangalore est hors ligne")})), 201);
    }
    eventually(&nodes[0], &helene, &format!("/api/v1/threads/{tid}"), |v| {
        v["reply_count"] == 200
    });
    let total = nodes[0].json("/api/v1/node")["change_bytes"]
        .as_u64()
        .unwrap();
    let missed = total - before;

    let c = company.start(2);
    let priya = c.login("pkumar");
    eventually(&c, &priya, &format!("/api/v1/threads/{tid}"), |v| {
        v["reply_count"] == 200
    });
    let received = c.metric("weft_bytes_received_total");
    eprintln!(
        "Bangalore missed {missed} bytes of changes and received {received} bytes to catch up ({:.2}×)",
        received / missed as f64
    );
    assert!(
        received < 1.5 * missed as f64 + 65_536.0,
        "received {received} for {missed} missed"
    );
}

#[test]
fn events_stream_changes_from_other_sites_to_those_who_may_see_them() {
    use std::io::{BufRead, BufReader, Write};
    let company = Company::new();
    let nodes: Vec<Node> = (0..3).map(|i| company.start(i)).collect();
    all_connected(&nodes);
    let helene = nodes[0].login("hdupre");
    let john = nodes[1].login("jsmith");
    let priya = nodes[2].login("pkumar");
    // Subscribe at New York and at Bangalore.
    let subscribe = |port: u16, token: &str| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        BufReader::new(s)
    };
    let mut ny = subscribe(nodes[1].http_port, &john);
    let mut blr = subscribe(nodes[2].http_port, &priya);
    // The stream's answer has begun once its handler subscribed to the node's events: read
    // the status line of both (a barrier, not a sleep).
    for s in [&mut ny, &mut blr] {
        let mut status = String::new();
        let start = Instant::now();
        while status.is_empty() {
            let _ = s.read_line(&mut status);
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no answer to the stream"
            );
        }
        assert!(status.contains("200"), "{status}");
    }
    // A private group with a New York member, posted to at Paris.
    let g = nodes[0].api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Live", "visibility": "private"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    nodes[0].api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/members"),
        Some(json!({"user": "jsmith"})),
        200,
    );
    let t = nodes[0].api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Direct", "body": "en direct"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    let seen = |r: &mut BufReader<std::net::TcpStream>, want: &str, secs: u64| {
        let start = Instant::now();
        let mut line = String::new();
        while start.elapsed() < Duration::from_secs(secs) {
            line.clear();
            if r.read_line(&mut line).is_ok() && line.starts_with("data:") && line.contains(want) {
                return true;
            }
        }
        false
    };
    assert!(
        seen(&mut ny, &tid, 20),
        "New York never heard of the new thread"
    );
    // Bangalore has no member: it hears nothing about that thread.
    assert!(
        !seen(&mut blr, &tid, 3),
        "Bangalore was told about a private thread"
    );
    // A mention notifies John live, at his own site.
    nodes[0].api(
        &helene,
        "POST",
        &format!("/api/v1/threads/{tid}/posts"),
        Some(json!({"body": "@jsmith, tu peux regarder ?"})),
        201,
    );
    assert!(
        seen(&mut ny, "\"unread\":1", 20),
        "New York never told John of his mention"
    );
}

#[test]
fn feed_notifications_and_follows_across_sites() {
    let company = Company::new();
    let nodes: Vec<Node> = (0..2).map(|i| company.start(i)).collect();
    all_connected(&nodes);
    let helene = nodes[0].login("hdupre");
    let john = nodes[1].login("jsmith");
    let g = nodes[0].api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Cloud guild", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    let t = nodes[0].api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Kubernetes at Paris", "body": "@jsmith how do you run it in New York?"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    // John is told at New York, where he is homed.
    let n = eventually(&nodes[1], &john, "/api/v1/notifications", |v| {
        v["items"].as_array().is_some_and(|a| !a.is_empty())
    });
    let first = &n["items"][0];
    assert_eq!(first["kind"], "mention");
    assert_eq!(first["by"], "hdupre");
    assert_eq!(first["doc"], tid.as_str());
    assert_eq!(first["read"], false);
    assert!(first["url"].as_str().unwrap().starts_with("/threads/"));
    let me = nodes[1].api(&john, "GET", "/api/v1/me", None, 200);
    assert_eq!(me["notifications"]["unread"], 1);
    assert_eq!(me["id"], "jsmith");
    // His feed does not show the thread (not his group) until he joins or follows someone.
    let feed = nodes[1].api(&john, "GET", "/api/v1/feed", None, 200);
    assert!(feed["items"].as_array().unwrap().is_empty(), "{feed}");
    nodes[1].api(&john, "PUT", "/api/v1/people/hdupre/follow", None, 204);
    let feed = nodes[1].api(&john, "GET", "/api/v1/feed", None, 200);
    assert_eq!(feed["items"][0]["id"], tid.as_str());
    assert_eq!(feed["items"][0]["unread"], true);
    assert_eq!(feed["items"][0]["group_name"], "Cloud guild");
    // Reading it clears the marker; replying follows it.
    let read = nodes[1].api(&john, "GET", &format!("/api/v1/threads/{tid}"), None, 200);
    assert_eq!(read["following"], false);
    let feed = nodes[1].api(&john, "GET", "/api/v1/feed", None, 200);
    assert_eq!(feed["items"][0]["unread"], false);
    nodes[1].api(
        &john,
        "POST",
        &format!("/api/v1/threads/{tid}/posts"),
        Some(json!({"body": "With Terraform and a lot of coffee"})),
        201,
    );
    let read = nodes[1].api(&john, "GET", &format!("/api/v1/threads/{tid}"), None, 200);
    assert_eq!(read["following"], true);
    // Helene follows her thread (she started it), so she hears of John's reply at Paris.
    let n = eventually(&nodes[0], &helene, "/api/v1/notifications", |v| {
        v["items"].as_array().is_some_and(|a| !a.is_empty())
    });
    assert_eq!(n["items"][0]["kind"], "reply");
    assert_eq!(n["items"][0]["by"], "jsmith");
    // Marking read.
    let r = nodes[1].api(&john, "POST", "/api/v1/notifications/read", None, 200);
    assert_eq!(r["unread"], 0);
    let me = nodes[1].api(&john, "GET", "/api/v1/me", None, 200);
    assert_eq!(me["notifications"]["unread"], 0);
    // Unfollowing.
    nodes[1].api(
        &john,
        "DELETE",
        &format!("/api/v1/threads/{tid}/follow"),
        None,
        204,
    );
    let read = nodes[1].api(&john, "GET", &format!("/api/v1/threads/{tid}"), None, 200);
    assert_eq!(read["following"], false);
    nodes[1].api(
        &john,
        "PUT",
        &format!("/api/v1/threads/{tid}/follow"),
        None,
        204,
    );
    // "Mark all as read" clears the feed's markers; unfollowing drops the thread and the
    // person's threads from the feed.
    nodes[0].api(
        &helene,
        "POST",
        &format!("/api/v1/threads/{tid}/posts"),
        Some(json!({"body": "Merci John !"})),
        201,
    );
    eventually(&nodes[1], &john, "/api/v1/feed", |v| {
        v["items"][0]["unread"] == true
    });
    nodes[1].api(&john, "POST", "/api/v1/feed/read", None, 204);
    let feed = nodes[1].api(&john, "GET", "/api/v1/feed", None, 200);
    assert_eq!(feed["items"][0]["unread"], false);
    let path = format!("/api/v1/threads/{tid}/follow");
    nodes[1].api(&john, "DELETE", &path, None, 204);
    nodes[1].api(&john, "DELETE", "/api/v1/people/hdupre/follow", None, 204);
    let feed = nodes[1].api(&john, "GET", "/api/v1/feed", None, 200);
    assert!(feed["items"].as_array().unwrap().is_empty(), "{feed}");
    // Finding people for @mentions: by name without accents, by site.
    let p = nodes[1].api(&john, "GET", "/api/v1/people?q=helene", None, 200);
    assert_eq!(p["items"][0]["id"], "hdupre");
    let p = nodes[1].api(&john, "GET", "/api/v1/people?q=dup%20paris", None, 200);
    assert!(
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["site"] == "paris")
    );
    assert!(!p["items"].as_array().unwrap().is_empty());
    // Errors, in the API's shape.
    let code = |s: &str| serde_json::from_str::<Value>(s).unwrap()["error"]["code"].clone();
    let (s, b) = nodes[1]
        .request(
            "PUT",
            "/api/v1/threads/t-00000000000000000000000000000000/follow",
            None,
            Some(&john),
        )
        .unwrap();
    assert_eq!((s, code(&b)), (404, json!("not_found")));
    let (s, b) = nodes[1]
        .request("PUT", "/api/v1/people/jsmith/follow", None, Some(&john))
        .unwrap();
    assert_eq!((s, code(&b)), (422, json!("invalid")));
    let (s, b) = nodes[1]
        .request("PUT", "/api/v1/people/nobody/follow", None, Some(&john))
        .unwrap();
    assert_eq!((s, code(&b)), (404, json!("not_found")));
    let (s, b) = nodes[1]
        .request("GET", "/api/v1/feed?before=yesterday", None, Some(&john))
        .unwrap();
    assert_eq!((s, code(&b)), (400, json!("malformed")));
    let (s, b) = nodes[1]
        .request(
            "POST",
            "/api/v1/notifications/read",
            Some(&json!({"up_to": "soon"})),
            Some(&john),
        )
        .unwrap();
    assert_eq!((s, code(&b)), (422, json!("invalid")));
    let (s, _) = nodes[1].request("GET", "/api/v1/feed", None, None).unwrap();
    assert_eq!(s, 401);
    let (s, _) = nodes[1]
        .request("GET", "/api/v1/notifications", None, None)
        .unwrap();
    assert_eq!(s, 401);
}

#[test]
fn a_profile_picture_travels_with_the_profile_and_is_served_as_an_image() {
    use crate::harness::http_raw;
    let company = Company::new();
    let nodes: Vec<Node> = (0..2).map(|i| company.start(i)).collect();
    all_connected(&nodes);
    let helene = nodes[0].login("hdupre");
    let john = nodes[1].login("jsmith");
    let put = |body: &str| {
        http_raw(
            nodes[0].http_port,
            "PUT",
            "/api/v1/me/photo",
            &[
                format!("Authorization: Bearer {helene}"),
                "Content-Type: image/webp".to_string(),
            ],
            body,
        )
        .unwrap()
    };
    // Not an image: 422; too large: 413; both in the API's error shape.
    let (s, _, b) = put("<svg onload=alert(1)>");
    assert_eq!(s, 422, "{b}");
    assert!(b.contains("\"invalid\""), "{b}");
    let (s, _, b) = put(&format!("RIFF0000WEBP{}", "x".repeat(70_000)));
    assert_eq!(s, 413, "{b}");
    assert!(b.contains("\"too_large\""), "{b}");
    // A (tiny, WebP-headed) picture: stored, signed into the profile, replicated.
    let picture = "RIFF0000WEBPVP8 a tiny test picture";
    let (s, _, b) = put(picture);
    assert_eq!(s, 204, "{b}");
    let p = eventually(&nodes[1], &john, "/api/v1/people/hdupre", |v| {
        v["photo_url"].is_string()
    });
    let url = p["photo_url"].as_str().unwrap().to_owned();
    let (s, head, body) = http_raw(
        nodes[1].http_port,
        "GET",
        &url,
        &[format!("Authorization: Bearer {john}")],
        "",
    )
    .unwrap();
    assert_eq!(s, 200);
    assert_eq!(body, picture);
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: image/webp"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    // Only for people logged in; unknown people have none.
    let (s, _, _) = http_raw(nodes[1].http_port, "GET", &url, &[], "").unwrap();
    assert_eq!(s, 401);
    let (s, _) = nodes[1]
        .request("GET", "/api/v1/people/jsmith/photo", None, Some(&john))
        .unwrap();
    assert_eq!(s, 404);
    // Removed, everywhere.
    nodes[0].api(&helene, "DELETE", "/api/v1/me/photo", None, 204);
    eventually(&nodes[1], &john, "/api/v1/people/hdupre", |v| {
        v["photo_url"].is_null()
    });
    // Groups can be filtered by words of their name or description.
    nodes[0].api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Théâtre amateur", "description": "Répétitions le jeudi", "visibility": "public"})),
        201,
    );
    let g = nodes[0].api(
        &helene,
        "GET",
        "/api/v1/groups?q=theatre%20jeudi",
        None,
        200,
    );
    assert_eq!(g["items"].as_array().unwrap().len(), 1, "{g}");
    let g = nodes[0].api(&helene, "GET", "/api/v1/groups?q=opera", None, 200);
    assert!(g["items"].as_array().unwrap().is_empty());
}
