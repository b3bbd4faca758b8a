//! What people post besides threads (issue 16), over the JSON API against real, connected
//! nodes: polls voted at three sites count the same everywhere, and a private group's poll
//! never reaches a site without a member.

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

/// Polls until `path` answers 200 for `token` at `node` with JSON that `ok` accepts.
fn eventually(node: &Node, token: &str, path: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    let mut last = None;
    loop {
        if let Some((200, body)) = node.request("GET", path, None, Some(token))
            && let Ok(v) = serde_json::from_str::<Value>(&body)
        {
            if ok(&v) {
                return v;
            }
            last = Some(v);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{path} never became as expected at {}: last {last:?}",
            node.http_port
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The counts of a poll's options, in order (None where withheld).
fn counts(poll: &Value) -> Vec<Option<u64>> {
    poll["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["votes"].as_u64())
        .collect()
}

#[test]
fn a_poll_voted_at_three_sites_counts_the_same_everywhere() {
    let company = Company::new();
    let nodes: Vec<Node> = (0..3).map(|i| company.start(i)).collect();
    all_connected(&nodes);
    let tokens = [
        nodes[0].login("hdupre"),
        nodes[1].login("jsmith"),
        nodes[2].login("pkumar"),
    ];
    let g = nodes[0].api(
        &tokens[0],
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Séminaire 2027", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    let polls = format!("/api/v1/groups/{gid}/polls");
    // What a poll must be.
    for bad in [
        json!({"question": "Où ?", "options": ["Lyon"]}),
        json!({"question": "", "options": ["Lyon", "Nice"]}),
        json!({"question": "Où ?", "options": ["Lyon", "Nice"], "closes_at": "2020-01-01T00:00:00Z"}),
        json!({"question": "Où ?", "options": ["Lyon", "Nice"], "closes_at": "demain"}),
        json!({"question": "Où ?", "options": (0..21).map(|i| i.to_string()).collect::<Vec<_>>()}),
    ] {
        nodes[0].api(&tokens[0], "POST", &polls, Some(bad), 422);
    }
    let t = nodes[0].api(
        &tokens[0],
        "POST",
        &polls,
        Some(json!({
            "question": "Where should the 2027 seminar be?",
            "options": ["Paris", "New York", "Bangalore"],
            "multiple": false,
            "results_after_vote": true,
        })),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    assert_eq!(t["title"], "Where should the 2027 seminar be?");
    let poll = &t["root"]["poll"];
    let pid = poll["id"].as_str().unwrap().to_owned();
    assert_eq!(poll["options"][1]["label"], "New York");
    assert_eq!(poll["multiple"], false);
    assert_eq!(poll["closes_at"], Value::Null);
    assert_eq!(poll["my_votes"], json!([]));
    assert_eq!(poll["results_visible"], true, "its author sees the counts");

    // Before voting, New York sees the poll without counts (results after voting).
    let v = eventually(
        &nodes[1],
        &tokens[1],
        &format!("/api/v1/threads/{tid}"),
        |_| true,
    );
    let p = &v["root"]["poll"];
    assert_eq!(p["results_visible"], false);
    assert_eq!(counts(p), [None, None, None]);
    let vote = format!("/api/v1/polls/{pid}/vote");
    // Refused votes: two options of a single-choice poll, an option it does not have.
    nodes[1].api(
        &tokens[1],
        "PUT",
        &vote,
        Some(json!({"options": ["1", "2"]})),
        422,
    );
    nodes[1].api(
        &tokens[1],
        "PUT",
        &vote,
        Some(json!({"options": ["7"]})),
        422,
    );
    nodes[1].api(
        &tokens[1],
        "PUT",
        "/api/v1/polls/nope/vote",
        Some(json!({"options": ["1"]})),
        404,
    );

    // Each votes at their own site; Bangalore waits to have the thread first.
    eventually(
        &nodes[2],
        &tokens[2],
        &format!("/api/v1/threads/{tid}"),
        |_| true,
    );
    for (i, choice) in ["1", "2", "2"].iter().enumerate() {
        let p = nodes[i].api(
            &tokens[i],
            "PUT",
            &vote,
            Some(json!({"options": [choice]})),
            200,
        );
        assert_eq!(p["my_votes"], json!([choice]));
        assert_eq!(p["results_visible"], true);
    }
    for (node, token) in nodes.iter().zip(&tokens) {
        let p = eventually(node, token, &format!("/api/v1/polls/{pid}"), |p| {
            counts(p) == [Some(1), Some(2), Some(0)]
        });
        assert_eq!(p["voters"], 3);
    }
    // New York changes its mind: the vote moves, it is not added.
    nodes[1].api(
        &tokens[1],
        "PUT",
        &vote,
        Some(json!({"options": ["1"]})),
        200,
    );
    for (node, token) in nodes.iter().zip(&tokens) {
        let p = eventually(node, token, &format!("/api/v1/polls/{pid}"), |p| {
            counts(p) == [Some(2), Some(1), Some(0)]
        });
        assert_eq!(p["voters"], 3);
    }
    // The thread's JSON carries the same poll; votes are not reactions.
    let v = nodes[0].api(
        &tokens[0],
        "GET",
        &format!("/api/v1/threads/{tid}"),
        None,
        200,
    );
    assert_eq!(counts(&v["root"]["poll"]), [Some(2), Some(1), Some(0)]);
    assert_eq!(v["root"]["reactions"], json!({}));

    // A poll that closes: votes until then, none after, at every site.
    let soon = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 3_000;
    let t2 = nodes[0].api(
        &tokens[0],
        "POST",
        &format!("/api/v1/threads/{tid}/posts"),
        Some(json!({
            "body": "And which week?",
            "poll": {
                "question": "Which weeks suit you?",
                "options": ["W10", "W11", "W12"],
                "multiple": true,
                "closes_at": rfc3339(soon),
            }
        })),
        201,
    );
    let pid2 = t2["poll"]["id"].as_str().unwrap().to_owned();
    let vote2 = format!("/api/v1/polls/{pid2}/vote");
    let p = nodes[0].api(
        &tokens[0],
        "PUT",
        &vote2,
        Some(json!({"options": ["1", "3"]})),
        200,
    );
    assert_eq!(p["my_votes"], json!(["1", "3"]));
    assert_eq!(p["closed"], false);
    while (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64)
        <= soon + 50
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    eventually(
        &nodes[1],
        &tokens[1],
        &format!("/api/v1/polls/{pid2}"),
        |p| p["closed"] == true && counts(p) == [Some(1), Some(0), Some(1)],
    );
    let (s, body) = nodes[1]
        .request(
            "PUT",
            &vote2,
            Some(&json!({"options": ["2"]})),
            Some(&tokens[1]),
        )
        .unwrap();
    assert_eq!(s, 422, "{body}");
    assert!(body.contains("closed"), "{body}");

    // A private group's poll: voted by its members at Paris and New York, never at Bangalore.
    let g = nodes[0].api(
        &tokens[0],
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Works council prep", "visibility": "private"})),
        201,
    );
    let private = g["id"].as_str().unwrap().to_owned();
    nodes[0].api(
        &tokens[0],
        "POST",
        &format!("/api/v1/groups/{private}/members"),
        Some(json!({"user": "jsmith"})),
        200,
    );
    let t3 = nodes[0].api(
        &tokens[0],
        "POST",
        &format!("/api/v1/groups/{private}/polls"),
        Some(json!({"question": "Strike on Thursday?", "options": ["Yes", "No"]})),
        201,
    );
    let tid3 = t3["id"].as_str().unwrap().to_owned();
    let pid3 = t3["root"]["poll"]["id"].as_str().unwrap().to_owned();
    eventually(
        &nodes[1],
        &tokens[1],
        &format!("/api/v1/threads/{tid3}"),
        |_| true,
    );
    nodes[1].api(
        &tokens[1],
        "PUT",
        &format!("/api/v1/polls/{pid3}/vote"),
        Some(json!({"options": ["2"]})),
        200,
    );
    eventually(
        &nodes[0],
        &tokens[0],
        &format!("/api/v1/polls/{pid3}"),
        |p| counts(p) == [Some(0), Some(1)],
    );
    // Bangalore: two catch-up rounds with each peer since (a causal barrier, not a sleep).
    let rounds = nodes[2].metric("weft_sync_rounds_total");
    nodes[2].wait_until(Duration::from_secs(60), "two catch-up rounds", |n| {
        n.metric("weft_sync_rounds_total") >= rounds + 4.0
    });
    for path in [
        format!("/api/v1/threads/{tid3}"),
        format!("/api/v1/polls/{pid3}"),
    ] {
        let (s, _) = nodes[2]
            .request("GET", &path, None, Some(&tokens[2]))
            .unwrap();
        assert_eq!(s, 404, "{path}");
    }
    let (s, _) = nodes[2]
        .request(
            "PUT",
            &format!("/api/v1/polls/{pid3}/vote"),
            Some(&json!({"options": ["1"]})),
            Some(&tokens[2]),
        )
        .unwrap();
    assert_eq!(s, 404);
    let mut nodes = nodes;
    let c = nodes.pop().unwrap();
    assert!(c.stop().success());
    let store = weft_node::Store::open(&company.store_dir(2)).unwrap();
    let doc = weft_node::crdt::DocId::parse(&tid3).unwrap();
    assert!(
        !store.holds_doc(&doc).unwrap(),
        "the private poll reached Bangalore"
    );
    for item in store.changes() {
        let (d, _) = item.unwrap();
        assert_ne!(d.as_str(), tid3);
    }
}

/// RFC 3339 (UTC, milliseconds), as the API writes times.
fn rfc3339(ms: i64) -> String {
    weft_web::time::rfc3339(ms)
}
