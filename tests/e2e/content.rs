//! What people post besides threads (issue 16), over the JSON API against real, connected
//! nodes: polls voted at three sites count the same everywhere, and a private group's poll
//! never reaches a site without a member.

use std::time::Duration;

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
    // A poll is found by its question and options, at every site.
    let hits = eventually(&nodes[2], &tokens[2], "/api/v1/search?q=suit", |v| {
        !v["items"].as_array().unwrap().is_empty()
    });
    assert_eq!(hits["items"][0]["id"], pid2.as_str(), "{hits}");
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

/// A strict reading of an iCalendar document (RFC 5545) as a test parser: CRLF line ends,
/// lines of at most 75 octets, unfolding, `NAME[;PARAM=…]:value` content lines, balanced
/// BEGIN/END, the properties a VCALENDAR and each VEVENT must have, UTC date-times, and
/// TEXT escapes. Returns each VEVENT's properties (values unescaped).
fn parse_ics(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    use std::collections::BTreeMap;
    assert!(text.ends_with("\r\n"), "ends with CRLF");
    let raw: Vec<&str> = text.strip_suffix("\r\n").unwrap().split("\r\n").collect();
    for l in &raw {
        assert!(l.len() <= 75, "a line of {} octets: {l:?}", l.len());
        assert!(
            !l.contains('\n') && !l.contains('\r'),
            "a bare line break in {l:?}"
        );
    }
    // Unfold: a line starting with a space or tab continues the previous one.
    let mut lines: Vec<String> = Vec::new();
    for l in raw {
        match l.strip_prefix([' ', '\t']) {
            Some(rest) => lines
                .last_mut()
                .expect("a continuation first")
                .push_str(rest),
            None => lines.push(l.to_owned()),
        }
    }
    let unescape = |v: &str| {
        let mut out = String::new();
        let mut it = v.chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                match it.next() {
                    Some('n' | 'N') => out.push('\n'),
                    Some(c @ ('\\' | ';' | ',')) => out.push(c),
                    other => panic!("a bad escape \\{other:?} in {v:?}"),
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    let utc = |v: &str| {
        assert!(
            v.len() == 16
                && v.ends_with('Z')
                && v.as_bytes()[8] == b'T'
                && v[..8]
                    .bytes()
                    .chain(v[9..15].bytes())
                    .all(|b| b.is_ascii_digit()),
            "not a UTC date-time: {v:?}"
        );
    };
    let mut stack: Vec<String> = Vec::new();
    let mut calendar: BTreeMap<String, String> = BTreeMap::new();
    let mut events = Vec::new();
    let mut current: Option<BTreeMap<String, String>> = None;
    for l in &lines {
        let (name_params, value) = l
            .split_once(':')
            .unwrap_or_else(|| panic!("no colon: {l:?}"));
        let name = name_params.split(';').next().unwrap();
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "a bad name in {l:?}"
        );
        match name {
            "BEGIN" => {
                if value == "VEVENT" {
                    assert_eq!(stack.last().map(String::as_str), Some("VCALENDAR"));
                    current = Some(BTreeMap::new());
                } else {
                    assert_eq!(value, "VCALENDAR");
                    assert!(stack.is_empty(), "VCALENDAR inside something");
                }
                stack.push(value.to_owned());
            }
            "END" => {
                assert_eq!(
                    stack.pop().as_deref(),
                    Some(value),
                    "unbalanced END:{value}"
                );
                if value == "VEVENT" {
                    let e = current.take().unwrap();
                    for required in ["UID", "DTSTAMP", "DTSTART"] {
                        assert!(
                            e.contains_key(required),
                            "a VEVENT without {required}: {e:?}"
                        );
                    }
                    for t in ["DTSTAMP", "DTSTART", "DTEND"] {
                        if let Some(v) = e.get(t) {
                            utc(v);
                        }
                    }
                    if let (Some(s), Some(e2)) = (e.get("DTSTART"), e.get("DTEND")) {
                        assert!(s <= e2, "ends before it starts");
                    }
                    events.push(e);
                }
            }
            _ => {
                let target = current.as_mut().unwrap_or(&mut calendar);
                target.insert(name.to_owned(), unescape(value));
            }
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    assert_eq!(calendar.get("VERSION").map(String::as_str), Some("2.0"));
    assert!(calendar.contains_key("PRODID"));
    events
}

/// The body of a GET that must answer 200 with `text/calendar`.
fn get_ics(node: &Node, path: &str, token: Option<&str>) -> String {
    let extra: Vec<String> = token
        .map(|t| vec![format!("Authorization: Bearer {t}")])
        .unwrap_or_default();
    let (status, head, body) =
        crate::harness::http_raw(node.http_port, "GET", path, &extra, "").unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/calendar"),
        "{head}"
    );
    body
}

#[test]
fn an_event_is_answered_at_three_sites_and_subscribed_to_as_icalendar() {
    // Next year's March: within the agendas' year ahead, and in Paris's winter time.
    let y: i32 = rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    )[..4]
        .parse::<i32>()
        .unwrap()
        + 1;
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
        Some(json!({"name": "Club photo", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    let events = format!("/api/v1/groups/{gid}/events");
    for bad in [
        json!({"title": "Sortie", "starts_at": format!("{y}-03-10T10:00"), "time_zone": "Mars/Base"}),
        json!({"title": "Sortie", "starts_at": "le 10 mars"}),
        json!({"title": "Sortie", "starts_at": format!("{y}-03-10T10:00"), "ends_at": format!("{y}-03-10T09:00")}),
        json!({"title": "", "starts_at": format!("{y}-03-10T10:00")}),
    ] {
        nodes[0].api(&tokens[0], "POST", &events, Some(bad), 422);
    }
    // Planned at Paris, in Paris time: 10:00 in March is 09:00 UTC.
    let e = nodes[0].api(
        &tokens[0],
        "POST",
        &events,
        Some(json!({
            "title": "Sortie au Jardin des Plantes; macro, et fleurs",
            "description": "Apportez vos objectifs.\nRendez-vous à l'entrée.",
            "starts_at": format!("{y}-03-10T10:00"),
            "ends_at": format!("{y}-03-10T12:30"),
            "time_zone": "Europe/Paris",
            "location": "57 rue Cuvier, Paris",
        })),
        201,
    );
    let eid = e["id"].as_str().unwrap().to_owned();
    assert_eq!(e["starts_at"], format!("{y}-03-10T09:00:00.000Z"));
    assert_eq!(e["ends_at"], format!("{y}-03-10T11:30:00.000Z"));
    assert_eq!(e["time_zone"], "Europe/Paris");
    assert_eq!(e["rsvp"], json!({"yes": 0, "maybe": 0, "no": 0}));
    assert_eq!(e["my_rsvp"], Value::Null);
    // New York says yes, Bangalore maybe, each at their own site.
    for (i, answer) in [(1, "yes"), (2, "maybe")] {
        eventually(
            &nodes[i],
            &tokens[i],
            &format!("/api/v1/events/{eid}"),
            |_| true,
        );
        nodes[i].api(
            &tokens[i],
            "PUT",
            &format!("/api/v1/events/{eid}/rsvp"),
            Some(json!({"answer": "perhaps"})),
            422,
        );
        let e = nodes[i].api(
            &tokens[i],
            "PUT",
            &format!("/api/v1/events/{eid}/rsvp"),
            Some(json!({"answer": answer})),
            200,
        );
        assert_eq!(e["my_rsvp"], answer);
    }
    for (node, token) in nodes.iter().zip(&tokens) {
        eventually(node, token, &format!("/api/v1/events/{eid}"), |e| {
            e["rsvp"] == json!({"yes": 1, "maybe": 1, "no": 0})
        });
        let list = eventually(node, token, &events, |l| {
            l["items"].as_array().unwrap().len() == 1
        });
        assert_eq!(list["items"][0]["id"], eid.as_str());
    }
    // Only its author changes it.
    nodes[1].api(
        &tokens[1],
        "PATCH",
        &format!("/api/v1/events/{eid}"),
        Some(json!({"starts_at": format!("{y}-03-11T10:00"), "time_zone": "Europe/Paris"})),
        403,
    );

    // The group's agenda as iCalendar (with the session's bearer token).
    let ics = get_ics(
        &nodes[1],
        &format!("/api/v1/groups/{gid}/events.ics"),
        Some(&tokens[1]),
    );
    let parsed = parse_ics(&ics);
    assert_eq!(parsed.len(), 1, "{ics}");
    let ev = &parsed[0];
    assert_eq!(ev["UID"], format!("{eid}@weft"));
    assert_eq!(ev["DTSTART"], format!("{y}0310T090000Z"));
    assert_eq!(ev["DTEND"], format!("{y}0310T113000Z"));
    assert_eq!(
        ev["SUMMARY"],
        "Sortie au Jardin des Plantes; macro, et fleurs"
    );
    assert_eq!(
        ev["DESCRIPTION"],
        "Apportez vos objectifs.\nRendez-vous à l'entrée."
    );
    assert_eq!(ev["LOCATION"], "57 rue Cuvier, Paris");
    assert_eq!(ev["STATUS"], "CONFIRMED");
    let (s, _, _) = crate::harness::http_raw(
        nodes[1].http_port,
        "GET",
        &format!("/api/v1/groups/{gid}/events.ics"),
        &[],
        "",
    )
    .unwrap();
    assert_eq!(s, 401, "the group's .ics needs a session or a bearer token");

    // New York's own agenda: not a member of the club, but said yes — so it is listed,
    // and the secret subscription URL serves it without a session.
    let mine = nodes[1].api(&tokens[1], "GET", "/api/v1/me/events", None, 200);
    assert_eq!(mine["items"][0]["id"], eid.as_str(), "{mine}");
    let cal = nodes[1].api(&tokens[1], "GET", "/api/v1/me/calendar", None, 200);
    let url = cal["url"].as_str().unwrap().to_owned();
    assert!(cal["webcal"].as_str().unwrap().starts_with("webcal://"));
    assert_eq!(
        nodes[1].api(&tokens[1], "GET", "/api/v1/me/calendar", None, 200)["url"],
        url.as_str(),
        "the same URL until it is replaced"
    );
    let path = &url[url.find("/calendar/").unwrap()..];
    let parsed = parse_ics(&get_ics(&nodes[1], path, None));
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0]["UID"], format!("{eid}@weft"));
    // Not at another site, not with another token.
    assert_eq!(
        crate::harness::http_get(nodes[0].http_port, path)
            .unwrap()
            .0,
        404
    );
    let forged = format!("/calendar/{}.ics", "ab".repeat(32));
    assert_eq!(
        crate::harness::http_get(nodes[1].http_port, &forged)
            .unwrap()
            .0,
        404
    );
    // One who said no has nothing there.
    nodes[1].api(
        &tokens[1],
        "PUT",
        &format!("/api/v1/events/{eid}/rsvp"),
        Some(json!({"answer": "no"})),
        200,
    );
    assert!(parse_ics(&get_ics(&nodes[1], path, None)).is_empty());
    nodes[1].api(
        &tokens[1],
        "PUT",
        &format!("/api/v1/events/{eid}/rsvp"),
        Some(json!({"answer": "yes"})),
        200,
    );
    // A reset URL replaces the old one at once.
    let new = nodes[1].api(&tokens[1], "POST", "/api/v1/me/calendar/reset", None, 200);
    assert_ne!(new["url"], url.as_str());
    assert_eq!(
        crate::harness::http_get(nodes[1].http_port, path)
            .unwrap()
            .0,
        404
    );

    // Cancelled at Paris: shown cancelled at New York, in JSON and in the calendar.
    nodes[0].api(
        &tokens[0],
        "PATCH",
        &format!("/api/v1/events/{eid}"),
        Some(json!({"starts_at": format!("{y}-03-10T10:00"), "ends_at": format!("{y}-03-10T12:30"), "time_zone": "Europe/Paris", "location": "57 rue Cuvier, Paris", "cancelled": true})),
        200,
    );
    eventually(
        &nodes[1],
        &tokens[1],
        &format!("/api/v1/events/{eid}"),
        |e| e["cancelled"] == true,
    );
    let ics = get_ics(
        &nodes[1],
        &format!("/api/v1/groups/{gid}/events.ics"),
        Some(&tokens[1]),
    );
    assert_eq!(parse_ics(&ics)[0]["STATUS"], "CANCELLED");

    // A private group's event: at its members' sites only.
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
    let e = nodes[0].api(
        &tokens[0],
        "POST",
        &format!("/api/v1/groups/{private}/events"),
        Some(json!({"title": "Réunion CSE", "starts_at": format!("{y}-03-12T14:00:00Z")})),
        201,
    );
    let secret = e["id"].as_str().unwrap().to_owned();
    eventually(
        &nodes[1],
        &tokens[1],
        &format!("/api/v1/events/{secret}"),
        |_| true,
    );
    nodes[1].api(
        &tokens[1],
        "PUT",
        &format!("/api/v1/events/{secret}/rsvp"),
        Some(json!({"answer": "yes"})),
        200,
    );
    // New York's agenda has it (a member's group).
    eventually(&nodes[1], &tokens[1], "/api/v1/me/events", |l| {
        l["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == secret.as_str())
    });
    let rounds = nodes[2].metric("weft_sync_rounds_total");
    nodes[2].wait_until(Duration::from_secs(60), "two catch-up rounds", |n| {
        n.metric("weft_sync_rounds_total") >= rounds + 4.0
    });
    let (s, _) = nodes[2]
        .request(
            "GET",
            &format!("/api/v1/events/{secret}"),
            None,
            Some(&tokens[2]),
        )
        .unwrap();
    assert_eq!(s, 404);
    let mine = nodes[2].api(&tokens[2], "GET", "/api/v1/me/events", None, 200);
    assert!(
        mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["id"] != secret.as_str()),
        "{mine}"
    );
    let mut nodes = nodes;
    let c = nodes.pop().unwrap();
    assert!(c.stop().success());
    let store = weft_node::Store::open(&company.store_dir(2)).unwrap();
    let doc = weft_node::crdt::DocId::parse(&secret).unwrap();
    assert!(
        !store.holds_doc(&doc).unwrap(),
        "the private event reached Bangalore"
    );
}

/// The id of the All company group at `node`, once it has arrived there.
fn all_company(node: &Node, token: &str) -> String {
    let groups = eventually(node, token, "/api/v1/groups", |g| {
        g["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "All company")
    });
    groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "All company")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn wall_posts(v: &Value) -> Vec<Value> {
    v["root"]
        .as_object()
        .map(|_| v["root"].clone())
        .into_iter()
        .chain(v["replies"].as_array().unwrap().iter().cloned())
        .collect()
}

#[test]
fn walls_announcements_pins_questions_and_bookmarks_across_sites() {
    let company = Company::new();
    let nodes: Vec<Node> = (0..3).map(|i| company.start(i)).collect();
    all_connected(&nodes);
    let helene = nodes[0].login("hdupre");
    let manon = nodes[0].login("mroux");
    let john = nodes[1].login("jsmith");
    let emma = nodes[1].login("ejohnson");
    let priya = nodes[2].login("pkumar");
    for (n, t) in [
        (&nodes[0], &helene),
        (&nodes[1], &john),
        (&nodes[2], &priya),
    ] {
        all_company(n, t);
    }

    // Walls: New York and Bangalore write on Hélène's; she is told, and hides one.
    nodes[1].api(&john, "GET", "/api/v1/people/nobody/wall", None, 404);
    let empty = nodes[1].api(&john, "GET", "/api/v1/people/hdupre/wall", None, 200);
    assert_eq!(empty["root"], Value::Null);
    let p = nodes[1].api(
        &john,
        "POST",
        "/api/v1/people/hdupre/wall",
        Some(json!({"body": "Welcome to the New York office next week!"})),
        201,
    );
    assert_eq!(p["author"], "jsmith");
    eventually(&nodes[2], &priya, "/api/v1/people/hdupre/wall", |w| {
        w["root"].is_object()
    });
    let spam = nodes[2].api(
        &priya,
        "POST",
        "/api/v1/people/hdupre/wall",
        Some(json!({"body": "Buy my old bicycle"})),
        201,
    );
    let spam_id = spam["id"].as_str().unwrap().to_owned();
    let wall = eventually(&nodes[0], &helene, "/api/v1/people/hdupre/wall", |w| {
        wall_posts(w).len() == 2
    });
    assert_eq!(wall["wall_of"], "hdupre");
    let told = eventually(&nodes[0], &helene, "/api/v1/notifications", |n| {
        n["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "wall")
            .count()
            == 2
    });
    assert!(
        told["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["by"] == "pkumar")
    );
    // John may not hide a post on Hélène's wall; Hélène may.
    nodes[1].api(
        &john,
        "PUT",
        &format!("/api/v1/posts/{spam_id}/hidden"),
        Some(json!({"hidden": true, "reason": "spam"})),
        403,
    );
    nodes[0].api(
        &helene,
        "PUT",
        &format!("/api/v1/posts/{spam_id}/hidden"),
        Some(json!({"hidden": true, "reason": "Pas ici, merci"})),
        204,
    );
    let wall = eventually(&nodes[1], &john, "/api/v1/people/hdupre/wall", |w| {
        wall_posts(w)
            .iter()
            .any(|p| p["id"] == spam_id.as_str() && p["hidden"] == true)
    });
    assert!(
        wall_posts(&wall)
            .iter()
            .any(|p| p["body"] == "Welcome to the New York office next week!")
    );
    // Walls are not listed among All company's threads.
    let all = all_company(&nodes[1], &john);
    let listed = nodes[1].api(
        &john,
        "GET",
        &format!("/api/v1/groups/{all}/threads"),
        None,
        200,
    );
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["wall_of"].is_null()),
        "{listed}"
    );

    // Announcements: community managers and communication only; for a site, or everyone.
    nodes[1].api(
        &john,
        "POST",
        "/api/v1/announcements",
        Some(json!({"title": "Free pizza", "body": "Now"})),
        403,
    );
    let a = nodes[0].api(
        &manon,
        "POST",
        "/api/v1/announcements",
        Some(json!({"title": "New York: office move on Friday", "body": "Pack your desks.", "site": "new-york"})),
        201,
    );
    let ny_only = a["id"].as_str().unwrap().to_owned();
    assert_eq!(a["announcement"]["site"], "new-york");
    let b = nodes[1].api(
        &emma,
        "POST",
        "/api/v1/announcements",
        Some(json!({"title": "Weft is live at every site", "body": "Tell your colleagues."})),
        201,
    );
    let everyone = b["id"].as_str().unwrap().to_owned();
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let for_john = eventually(&nodes[1], &john, "/api/v1/announcements", |v| {
        ids(v).len() == 2
    });
    assert!(ids(&for_john).contains(&ny_only));
    let for_priya = eventually(&nodes[2], &priya, "/api/v1/announcements", |v| {
        ids(v).contains(&everyone)
    });
    assert!(
        !ids(&for_priya).contains(&ny_only),
        "a New York announcement at Bangalore: {for_priya}"
    );
    nodes[2].api(
        &priya,
        "POST",
        &format!("/api/v1/announcements/{everyone}/dismiss"),
        None,
        204,
    );
    let after = nodes[2].api(&priya, "GET", "/api/v1/announcements", None, 200);
    assert!(!ids(&after).contains(&everyone), "dismissed: {after}");
    assert!(
        ids(&nodes[1].api(&john, "GET", "/api/v1/announcements", None, 200)).contains(&everyone)
    );

    // A group: John's question, Priya's answer, picked by John; Hélène pins it.
    let g = nodes[0].api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Photo club", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    eventually(&nodes[1], &john, &format!("/api/v1/groups/{gid}"), |_| true);
    let q = nodes[1].api(
        &john,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(
            json!({"title": "Which lens for portraits?", "body": "Budget 500 €", "question": true}),
        ),
        201,
    );
    assert_eq!(q["question"], true);
    let qid = q["id"].as_str().unwrap().to_owned();
    eventually(&nodes[2], &priya, &format!("/api/v1/threads/{qid}"), |_| {
        true
    });
    let answer = nodes[2].api(
        &priya,
        "POST",
        &format!("/api/v1/threads/{qid}/posts"),
        Some(json!({"body": "A 50 mm f/1.8"})),
        201,
    );
    let aid = answer["id"].as_str().unwrap().to_owned();
    eventually(&nodes[1], &john, &format!("/api/v1/threads/{qid}"), |t| {
        t["reply_count"] == 1
    });
    nodes[2].api(
        &priya,
        "PUT",
        &format!("/api/v1/threads/{qid}/best_answer"),
        Some(json!({"post": aid})),
        403,
    );
    let t = nodes[1].api(
        &john,
        "PUT",
        &format!("/api/v1/threads/{qid}/best_answer"),
        Some(json!({"post": aid})),
        200,
    );
    assert_eq!(t["best_answer"], aid.as_str());
    nodes[1].api(
        &john,
        "PUT",
        &format!("/api/v1/threads/{qid}/pinned"),
        Some(json!({"pinned": true})),
        403,
    );
    eventually(
        &nodes[0],
        &helene,
        &format!("/api/v1/threads/{qid}"),
        |_| true,
    );
    let t = nodes[0].api(
        &helene,
        "PUT",
        &format!("/api/v1/threads/{qid}/pinned"),
        Some(json!({"pinned": true})),
        200,
    );
    assert_eq!(t["pinned"], true);
    for (n, tok) in [(&nodes[1], &john), (&nodes[2], &priya)] {
        eventually(n, tok, &format!("/api/v1/threads/{qid}"), |t| {
            t["pinned"] == true && t["best_answer"] == aid.as_str()
        });
    }

    // Bookmarks: Priya's own, at her site only.
    let root = q["root"]["id"].as_str().unwrap().to_owned();
    nodes[2].api(
        &priya,
        "PUT",
        &format!("/api/v1/posts/{root}/bookmark"),
        None,
        204,
    );
    let mine = nodes[2].api(&priya, "GET", "/api/v1/me/bookmarks", None, 200);
    assert_eq!(mine["items"][0]["post"], root.as_str());
    assert_eq!(mine["items"][0]["title"], "Which lens for portraits?");
    let johns = nodes[1].api(&john, "GET", "/api/v1/me/bookmarks", None, 200);
    assert_eq!(johns["items"], json!([]));
    nodes[2].api(
        &priya,
        "PUT",
        "/api/v1/posts/t-00000000000000000000000000000000~x/bookmark",
        None,
        404,
    );
    nodes[2].api(
        &priya,
        "DELETE",
        &format!("/api/v1/posts/{root}/bookmark"),
        None,
        204,
    );
    assert_eq!(
        nodes[2].api(&priya, "GET", "/api/v1/me/bookmarks", None, 200)["items"],
        json!([])
    );

    // The people directory: by department, and a manager's direct reports.
    let d = nodes[2].api(
        &priya,
        "GET",
        "/api/v1/directory?department=Communication",
        None,
        200,
    );
    let ids: Vec<&str> = d["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"hdupre") && ids.contains(&"mroux"), "{d}");
    assert_eq!(d["total"].as_u64().unwrap() as usize, ids.len());
    let reports = nodes[2].api(&priya, "GET", "/api/v1/directory?manager=hdupre", None, 200);
    assert!(
        reports["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["manager"] == "hdupre")
            && reports["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["id"] == "mroux"),
        "{reports}"
    );
    let page = nodes[2].api(&priya, "GET", "/api/v1/directory?limit=10", None, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 10);
    assert_eq!(page["next"], 10);
    nodes[2].api(&priya, "GET", "/api/v1/directory?limit=0", None, 422);
}
