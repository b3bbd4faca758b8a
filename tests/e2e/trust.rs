//! The trust core under attack through the normal API, with real node processes (issue 12):
//! a removed member's site learns of the removal and refuses their writes; a post over the
//! limits is refused with the limit; a thread whose stored history holds a change over the
//! peer limits (written by an older build) keeps every later acknowledged reply across a
//! restart; write budgets answer 429 with `Retry-After`.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Company, Node, http_raw};

fn connected(nodes: &[&Node]) {
    for n in nodes {
        n.wait_until(Duration::from_secs(60), "peers connected", |n| {
            n.connected_peers() + 1 >= nodes.len()
        });
    }
}

/// Until `token`'s view of group `gid` at `node` says they are no longer a member.
fn not_a_member_at(node: &Node, token: &str, gid: &str, what: &str) {
    node.wait_until(Duration::from_secs(30), what, |n| {
        n.request("GET", &format!("/api/v1/groups/{gid}"), None, Some(token))
            .and_then(|(s, b)| (s == 200).then_some(b))
            .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
            .is_some_and(|g| g["is_member"] == false)
    });
}

/// Until a request answers `want`, or the timeout.
fn status_becomes(
    node: &Node,
    token: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
    want: u16,
    what: &str,
) {
    node.wait_until(Duration::from_secs(30), what, |n| {
        n.request(method, path, body.as_ref(), Some(token))
            .map(|r| r.0)
            == Some(want)
    });
}

#[test]
fn a_removed_members_site_learns_of_the_removal_and_refuses_their_writes() {
    let company = Company::new();
    let paris = company.start(0);
    let ny = company.start(1);
    connected(&[&paris, &ny]);
    let helene = paris.login("hdupre");
    let g = paris.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Conseil", "visibility": "private"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    paris.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/members"),
        Some(json!({"user": "jsmith"})),
        200,
    );
    let john = ny.login("jsmith");
    let threads = format!("/api/v1/groups/{gid}/threads");
    let post = json!({"title": "From New York", "body": "hello"});
    // The group reaches New York and John may post.
    status_becomes(
        &ny,
        &john,
        "GET",
        &threads,
        None,
        200,
        "the group reaches New York",
    );
    ny.api(&john, "POST", &threads, Some(post.clone()), 201);

    // Removed while connected: New York learns at once.
    paris.api(
        &helene,
        "DELETE",
        &format!("/api/v1/groups/{gid}/members/jsmith"),
        None,
        204,
    );
    not_a_member_at(&ny, &john, &gid, "New York learns of the removal");
    ny.api(&john, "POST", &threads, Some(post.clone()), 403);

    // Added again, then removed while New York is down: it learns at its next catch-up.
    paris.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/members"),
        Some(json!({"user": "jsmith"})),
        200,
    );
    status_becomes(
        &ny,
        &john,
        "GET",
        &threads,
        None,
        200,
        "John is a member again",
    );
    ny.stop();
    paris.api(
        &helene,
        "DELETE",
        &format!("/api/v1/groups/{gid}/members/jsmith"),
        None,
        204,
    );
    let ny = company.start(1);
    let john = ny.login("jsmith");
    // Within one sync period (2 s in these tests) of reconnecting.
    not_a_member_at(
        &ny,
        &john,
        &gid,
        "New York learns of the removal after being down",
    );
    ny.api(&john, "POST", &threads, Some(post.clone()), 403);
    // Nothing new of John's reached Paris after the first removal: one thread only.
    let list = paris.api(&helene, "GET", &threads, None, 200);
    let from_john = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["root"]["author"] == "jsmith")
        .count();
    assert_eq!(from_john, 1, "{list}");
    assert!(
        ny.log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("no longer shares")),
        "New York was not told why"
    );
}

#[test]
fn a_post_over_the_limits_is_refused_with_the_limit_and_a_stored_one_hides_nothing() {
    let company = Company::new();
    let paris = company.start(0);
    let helene = paris.login("hdupre");
    let g = paris.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Tags", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    let t = paris.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Tags", "body": "start"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    let body: String = (0..1_100).map(|i| format!("#topic{i} ")).collect();
    let err = paris.api(
        &helene,
        "POST",
        &format!("/api/v1/threads/{tid}/posts"),
        Some(json!({"body": body})),
        422,
    );
    assert_eq!(err["error"]["code"], "too_many", "{err}");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("topics") && message.contains("25"),
        "{message}"
    );

    // An older build let the same post through: put such a change in the store by hand,
    // as that build would have, while the node is stopped.
    paris.stop();
    let site_dir = company.sites[0].config.parent().unwrap().to_path_buf();
    let node_key = weft_node::files::read_secret_key(&site_dir.join("node.key")).unwrap();
    let signed_dir = std::fs::read(site_dir.join("../../directory.signed")).unwrap();
    let signed_dir: weft_node::keys::directory::SignedDirectory =
        weft_node::keys::Signed::from_bytes(&signed_dir).unwrap();
    let dir = signed_dir.open().unwrap();
    let mut identity = weft_node::identity::Identity::new("paris", node_key);
    identity.refresh(&dir, 0);
    let author = identity.author("hdupre").unwrap().clone();
    let trust = weft_node::keys::TrustAnchors::single(
        weft_node::files::read_public_key(&site_dir.join("../../authority/authority.pub")).unwrap(),
    );
    {
        let store = weft_node::Store::open(&company.store_dir(0)).unwrap();
        let mut replica = weft_node::crdt::Replica::new(trust);
        replica.set_directory(&signed_dir).unwrap();
        let gid = weft_node::crdt::DocId::parse(&gid).unwrap();
        let tid = weft_node::crdt::DocId::parse(&tid).unwrap();
        let mut stored = store.changes_of(&gid).unwrap();
        stored.extend(store.changes_of(&tid).unwrap());
        replica.ingest_stored(stored.iter().map(Vec::as_slice));
        let heads = replica.doc(&gid).unwrap().heads();
        let now = weft_node::run::now_ms() as i64;
        let big = weft_node::crdt::testkit::unchecked_bytes(
            &replica,
            &author,
            Some(&tid),
            weft_node::crdt::DocKind::Thread,
            heads,
            now,
            None,
            |tx| {
                use automerge::ReadDoc;
                use automerge::transaction::Transactable;
                let posts = tx.get(automerge::ROOT, "posts")?.unwrap().1;
                let p = tx.put_object(
                    &posts,
                    format!("{}-00000000000000aa", author.key.public().id()),
                    automerge::ObjType::Map,
                )?;
                tx.put(&p, "author", "hdupre")?;
                tx.put(&p, "body", "an older build let this through")?;
                tx.put(&p, "created_at", automerge::ScalarValue::Timestamp(now))?;
                let topics = tx.put_object(&p, "topics", automerge::ObjType::Map)?;
                for i in 0..1_100 {
                    tx.put(&topics, format!("old{i}"), true)?;
                }
                Ok(())
            },
        )
        .unwrap();
        assert!(weft_node::crdt::SignedChange::decode(&big).is_err());
        store.append_changes([(&tid, big.as_slice())]).unwrap();
        store.flush().unwrap();
    }
    let paris = company.start(0);
    let helene = paris.login("hdupre");
    let thread = paris.api(&helene, "GET", &format!("/api/v1/threads/{tid}"), None, 200);
    assert_eq!(thread["reply_count"], 1, "{thread}");
    // A reply after it is acknowledged, and is still there after a crash and a restart.
    let reply = paris.api(
        &helene,
        "POST",
        &format!("/api/v1/threads/{tid}/posts"),
        Some(json!({"body": "acknowledged after the old change"})),
        201,
    );
    paris.kill();
    let paris = company.start(0);
    let helene = paris.login("hdupre");
    let thread = paris.api(&helene, "GET", &format!("/api/v1/threads/{tid}"), None, 200);
    let ids: Vec<&str> = thread["replies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(ids.contains(&reply["id"].as_str().unwrap()), "{thread}");
    assert_eq!(paris.metric("weft_stored_changes_unreadable_total"), 0.0);
}

#[test]
fn an_employees_write_budget_answers_429_with_retry_after() {
    let company = Company::new();
    company.configure(0, "write_budget_burst = 5\nwrite_budget_per_minute = 6");
    let paris = company.start(0);
    let helene = paris.login("hdupre");
    let claire = paris.login("cmartin");
    let g = paris.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Budget", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap();
    let threads = format!("/api/v1/groups/{gid}/threads");
    for i in 0..4 {
        paris.api(
            &helene,
            "POST",
            &threads,
            Some(json!({"title": format!("T{i}"), "body": "x"})),
            201,
        );
    }
    let body = json!({"title": "one too many", "body": "x"}).to_string();
    let (status, head, text) = http_raw(
        paris.http_port,
        "POST",
        &threads,
        &[
            format!("Authorization: Bearer {helene}"),
            "Content-Type: application/json".into(),
        ],
        &body,
    )
    .unwrap();
    assert_eq!(status, 429, "{text}");
    let wait: u64 = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("retry-after")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no Retry-After: {head}"));
    assert!((1..=10).contains(&wait), "{head}");
    assert!(text.contains("rate_limited"), "{text}");
    // Someone else still writes.
    paris.api(
        &claire,
        "POST",
        &format!("/api/v1/groups/{gid}/members"),
        Some(json!({"user": "cmartin"})),
        200,
    );
    paris.wait_until(Duration::from_secs(10), "the refusal is counted", |n| {
        n.metric("weft_writes_rate_limited_total") >= 1.0
    });
    // Joining and leaving a group over and over stops after a few rounds.
    let members = format!("/api/v1/groups/{gid}/members");
    let mut refused = false;
    for _ in 0..5 {
        let (s, _) = paris
            .request("DELETE", &format!("{members}/cmartin"), None, Some(&claire))
            .unwrap();
        let (s2, _) = paris
            .request(
                "POST",
                &members,
                Some(&json!({"user": "cmartin"})),
                Some(&claire),
            )
            .unwrap();
        if s == 429 || s2 == 429 {
            refused = true;
            break;
        }
    }
    assert!(refused, "join/leave toggles never stopped");
}

#[test]
fn a_revoked_site_key_is_shown_and_its_node_refuses_to_start() {
    use crate::harness::{WEFT, weft};
    let company = Company::new();
    let out = weft(
        company.root(),
        &[
            "directory",
            "revoke-key",
            "--site",
            "bangalore",
            "--reason",
            "server compromised",
        ],
    );
    assert!(out.contains("revoked"), "{out}");
    weft(
        company.root(),
        &["directory", "publish", "--authority", "authority"],
    );
    let shown = weft(
        company.root(),
        &["directory", "show", "--trust", "authority/authority.pub"],
    );
    assert!(
        shown.contains("REVOKED") && shown.contains("server compromised"),
        "{shown}"
    );
    let run = std::process::Command::new(WEFT)
        .args(["run", "--config", company.sites[2].config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("revokes this node's key"), "{err}");
    // The other sites run, and refuse the revoked key (tested over the wire in hostile.rs).
    let paris = company.start(0);
    assert_eq!(paris.get("/healthz").map(|r| r.0), Some(200));
}

/// Every write is answered only once it is durable, personal ones included: a follow and
/// "mark all read", acknowledged and then the node killed at once, are there after a restart.
#[test]
fn a_follow_acknowledged_just_before_a_crash_is_still_there() {
    let company = Company::new();
    let paris = company.start(0);
    let helene = paris.login("hdupre");
    let claire = paris.login("cmartin");
    let g = paris.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Durable", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap();
    let t = paris.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Follow me", "body": "x"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    let before = paris.api(&claire, "GET", &format!("/api/v1/threads/{tid}"), None, 200);
    assert_eq!(before["following"], false);
    paris.api(
        &claire,
        "PUT",
        &format!("/api/v1/threads/{tid}/follow"),
        None,
        204,
    );
    paris.api(&claire, "PUT", "/api/v1/people/hdupre/follow", None, 204);
    paris.kill();
    let paris = company.start(0);
    let claire = paris.login("cmartin");
    let after = paris.api(&claire, "GET", &format!("/api/v1/threads/{tid}"), None, 200);
    assert_eq!(after["following"], true, "{after}");
    let feed = paris.api(&claire, "GET", "/api/v1/feed", None, 200);
    assert!(feed.to_string().contains(&tid), "{feed}");
}
