//! E-mail (issue 18) through a real SMTP server: aiosmtpd (PyPI, installed by
//! `scripts/test.sh` into `target/smtp-venv`), started by the test, writing each message it
//! accepts as JSON (`smtp_catcher.py`). Delay-then-notify, digests, one-click
//! unsubscribe, and a restart that sends no mail twice.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Company, Node, free_port, http_raw};

/// The SMTP server of a test, stopped when dropped.
struct Catcher {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Catcher {
    fn start() -> Catcher {
        let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/smtp-venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run `bash scripts/test.sh` (it installs aiosmtpd)",
            python.display()
        );
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/smtp_catcher.py");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut child = Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        Catcher { child, port, dir }
    }

    /// Every message accepted so far, oldest first.
    fn messages(&self) -> Vec<Value> {
        read_dir_json(self.dir.path())
    }

    /// Waits until `ok` holds of the messages (30 s at most).
    fn wait(&self, what: &str, ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let m = self.messages();
            if ok(&m) {
                return m;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "never {what}: {m:#?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The messages to `address`.
    fn to(&self, address: &str) -> Vec<Value> {
        self.messages()
            .into_iter()
            .filter(|m| {
                m["rcpt_tos"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r == address)
            })
            .collect()
    }
}

impl Drop for Catcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_dir_json(dir: &Path) -> Vec<Value> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

const CLAIRE: &str = "cmartin@example.fr";
const MARC: &str = "mroux@example.fr";

/// Paris sends mail through `catcher`, notifications `delay` seconds after they are made.
fn mail_from_paris(company: &Company, catcher: &Catcher, delay: u64) {
    company.configure(
        0,
        &format!(
            "mail_delay_secs = {delay}\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"Weft Paris <weft@paris.example.com>\"",
            catcher.port
        ),
    );
}

fn connected(nodes: &[&Node]) {
    for n in nodes {
        n.wait_until(Duration::from_secs(60), "connected", |n| {
            n.connected_peers() == nodes.len() - 1
        });
    }
}

/// Opens a thread's page as the holder of `token` (which marks it read).
fn look(node: &Node, token: &str, thread: &str) {
    let (s, _, _) = http_raw(
        node.http_port,
        "GET",
        &format!("/threads/{thread}"),
        &[format!("Cookie: weft_session={token}")],
        "",
    )
    .unwrap();
    assert_eq!(s, 200);
}

#[test]
fn mail_goes_to_those_who_have_not_looked_digests_group_threads_and_unsubscribing_works() {
    let catcher = Catcher::start();
    let company = Company::new();
    mail_from_paris(&company, &catcher, 3);
    let paris = company.start(0);
    let ny = company.start(1);
    connected(&[&paris, &ny]);
    let claire = paris.login("cmartin");
    let marc = paris.login("mroux");
    let john = ny.login("jsmith");
    let mk_group = |name: &str| -> String {
        let g = ny.api(
            &john,
            "POST",
            "/api/v1/groups",
            Some(json!({"name": name, "visibility": "public"})),
            201,
        );
        g["id"].as_str().unwrap().to_owned()
    };
    let budget = mk_group("Budget 2027");
    let travel = mk_group("Travel");
    for (token, user) in [(&claire, "cmartin"), (&marc, "mroux")] {
        for g in [&budget, &travel] {
            paris.eventually(token, &format!("/api/v1/groups/{g}"), |_| true);
            paris.api(
                token,
                "POST",
                &format!("/api/v1/groups/{g}/members"),
                Some(json!({"user": user})),
                200,
            );
        }
    }
    // John (New York) mentions Claire and Marc (Paris). Marc looks within the delay; Claire
    // does not.
    let t = ny.api(
        &john,
        "POST",
        &format!("/api/v1/groups/{budget}/threads"),
        Some(
            json!({"title": "Q3 figures", "body": "@cmartin @mroux can you check the Q3 figures?"}),
        ),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    paris.eventually(&marc, "/api/v1/notifications", |n| {
        n["items"].as_array().is_some_and(|i| !i.is_empty())
    });
    look(&paris, &marc, &tid);
    let got = catcher.wait("Claire was mailed", |m| !m.is_empty());
    let m = &got[0];
    assert_eq!(m["rcpt_tos"], json!([CLAIRE]));
    assert!(
        m["subject"]
            .as_str()
            .unwrap()
            .contains("mentioned you in “Q3 figures”"),
        "{m}"
    );
    assert!(
        m["text"]
            .as_str()
            .unwrap()
            .contains("can you check the Q3 figures?")
    );
    assert!(
        m["text"]
            .as_str()
            .unwrap()
            .contains(&format!("/threads/{tid}"))
    );
    assert!(
        m["html"]
            .as_str()
            .unwrap()
            .contains("can you check the Q3 figures?")
    );
    assert_eq!(m["content_type"], "multipart/alternative");
    assert_eq!(m["list_unsubscribe_post"], "List-Unsubscribe=One-Click");
    // Marc, who looked, gets nothing (well past his mail's due time).
    std::thread::sleep(Duration::from_secs(6));
    assert!(catcher.to(MARC).is_empty(), "{:#?}", catcher.messages());
    assert_eq!(catcher.to(CLAIRE).len(), 1);

    // A digest: Claire asks for daily ones; three threads she has not read, in two groups.
    look(&paris, &claire, &tid);
    paris.api(
        &claire,
        "PUT",
        "/api/v1/me/mail",
        Some(json!({"digest": "daily", "mentions": false})),
        200,
    );
    let mut titles = Vec::new();
    for (g, title) in [
        (&budget, "Headcount plan"),
        (&budget, "Capex review"),
        (&travel, "New travel policy"),
    ] {
        let t = ny.api(
            &john,
            "POST",
            &format!("/api/v1/groups/{g}/threads"),
            Some(json!({"title": title, "body": format!("About {title}.")})),
            201,
        );
        titles.push((title, t["id"].as_str().unwrap().to_owned()));
    }
    paris.eventually(&claire, "/api/v1/feed", |f| {
        titles.iter().all(|(t, _)| f.to_string().contains(t))
    });
    paris.api(&claire, "POST", "/api/v1/me/mail/digest", None, 202);
    let got = catcher.wait("the digest came", |m| {
        m.iter()
            .any(|x| x["subject"].as_str().unwrap().contains("digest"))
    });
    let digest = got
        .iter()
        .find(|x| x["subject"].as_str().unwrap().contains("digest"))
        .unwrap();
    assert_eq!(digest["rcpt_tos"], json!([CLAIRE]));
    assert!(
        digest["subject"].as_str().unwrap().contains("3 threads"),
        "{digest}"
    );
    let text = digest["text"].as_str().unwrap();
    // Grouped by group: both threads of Budget 2027 under its heading, the other under
    // Travel; the thread she read is not there.
    let b = text.find("== Budget 2027 ==").expect(text);
    let tr = text.find("== Travel ==").expect(text);
    for (title, id) in &titles {
        let at = text.find(title).expect(text);
        let under_travel = at > tr;
        assert_eq!(under_travel, *title == "New travel policy", "{text}");
        assert!(at > b.min(tr));
        assert!(text.contains(&format!("/threads/{id}")));
    }
    assert!(!text.contains("Q3 figures"), "{text}");
    assert!(digest["html"].as_str().unwrap().contains("Capex review"));

    // One-click unsubscribe: a POST to the mail's link, without a session, as a mail client
    // sends it; every mail is off.
    let link = digest["list_unsubscribe"]
        .as_str()
        .unwrap()
        .trim_matches(|c| c == '<' || c == '>')
        .to_owned();
    let path = link.split_once("//").unwrap().1.split_once('/').unwrap().1;
    let (s, _, page) = http_raw(paris.http_port, "GET", &format!("/{path}"), &[], "").unwrap();
    assert_eq!(s, 200);
    assert!(page.contains("<form method=\"post\""), "{page}");
    let prefs = paris.api(&claire, "GET", "/api/v1/me/mail", None, 200);
    assert_eq!(prefs["digest"], "daily", "a GET unsubscribes nothing");
    let (s, _, _) = http_raw(
        paris.http_port,
        "POST",
        &format!("/{path}"),
        &["Content-Type: application/x-www-form-urlencoded".into()],
        "List-Unsubscribe=One-Click",
    )
    .unwrap();
    assert_eq!(s, 200);
    let prefs = paris.api(&claire, "GET", "/api/v1/me/mail", None, 200);
    assert_eq!(
        (
            &prefs["mentions"],
            &prefs["replies"],
            &prefs["groups"],
            &prefs["digest"]
        ),
        (&json!(false), &json!(false), &json!(false), &json!("off"))
    );
    let (s, _, _) = http_raw(
        paris.http_port,
        "POST",
        &format!("/mail/unsubscribe/{}", "0".repeat(64)),
        &[],
        "",
    )
    .unwrap();
    assert_eq!(s, 404);
    let before = catcher.to(CLAIRE).len();
    ny.api(
        &john,
        "POST",
        &format!("/api/v1/threads/{tid}/posts"),
        Some(json!({"body": "@cmartin one more thing"})),
        201,
    );
    paris.eventually(&claire, "/api/v1/notifications", |n| {
        n.to_string().contains("mention") && n["items"].as_array().unwrap().len() >= 2
    });
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(catcher.to(CLAIRE).len(), before, "unsubscribed, yet mailed");
}

#[test]
fn a_restart_sends_no_mail_twice() {
    let catcher = Catcher::start();
    let company = Company::new();
    mail_from_paris(&company, &catcher, 4);
    let paris = company.start(0);
    let ny = company.start(1);
    connected(&[&paris, &ny]);
    let claire = paris.login("cmartin");
    let john = ny.login("jsmith");
    let g = ny.api(
        &john,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Ops", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    // One mention is mailed before the restart; another is still waiting for its delay
    // when Paris stops.
    ny.api(
        &john,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "First", "body": "@cmartin first"})),
        201,
    );
    catcher.wait("the first mail", |m| m.len() == 1);
    ny.api(
        &john,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(json!({"title": "Second", "body": "@cmartin second"})),
        201,
    );
    paris.eventually(&claire, "/api/v1/notifications", |n| {
        n["items"].as_array().is_some_and(|i| i.len() == 2)
    });
    let status = paris.stop();
    assert!(status.success(), "{status:?}");
    assert_eq!(catcher.messages().len(), 1, "the second was not due yet");
    let paris = company.start(0);
    connected(&[&paris, &ny]);
    let got = catcher.wait("the second mail, after the restart", |m| m.len() == 2);
    // Well past every due time and several passes of the sender: nothing more.
    std::thread::sleep(Duration::from_secs(8));
    let got_after = catcher.messages();
    assert_eq!(got_after.len(), 2, "{got_after:#?}");
    let subjects: BTreeSet<&str> = got.iter().map(|m| m["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    let ids: BTreeSet<&str> = got
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    let metrics = paris.get("/metrics").unwrap().1;
    assert!(metrics.contains("weft_mail_sent_total"), "{metrics}");
    drop(paris);
}
