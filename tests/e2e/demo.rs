//! `weft demo` end to end: a company starts, users at two sites talk, a private group stays
//! private, and everything is there again after a restart.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{WEFT, http};

pub(crate) const PASSWORD: &str = "weft-demo-password";

/// A port base whose six demo ports are free.
pub(crate) fn free_base() -> u16 {
    for _ in 0..50 {
        let p = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = p.saturating_sub(20).max(20_000);
        if base > 64_000 {
            continue;
        }
        let ports = [1, 2, 3, 11, 12, 13, 20].map(|o| base + o);
        if ports
            .iter()
            .all(|q| TcpListener::bind(("127.0.0.1", *q)).is_ok())
        {
            return base;
        }
    }
    panic!("no free ports");
}

pub(crate) struct Demo {
    child: Child,
    sites: Vec<(String, u16)>,
    /// Where the demo's mail catcher writes what the nodes mail.
    pub(crate) mail: std::path::PathBuf,
}

impl Demo {
    pub(crate) fn start(dir: &std::path::Path, base: u16) -> Demo {
        let mut child = Command::new(WEFT)
            .args([
                "demo",
                "--data-dir",
                dir.to_str().unwrap(),
                "--port-base",
                &base.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut sites = Vec::new();
        let mut logins = 0;
        let mut mail = None;
        let start = Instant::now();
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(300).saturating_sub(start.elapsed()))
                .expect("the demo printed `ready` in time");
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["site", id, url] => {
                    let port = url
                        .trim_end_matches('/')
                        .rsplit(':')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap();
                    sites.push((id.to_string(), port));
                }
                ["login", _, _, pw] => {
                    assert_eq!(*pw, PASSWORD);
                    logins += 1;
                }
                ["mail", dir] => mail = Some(std::path::PathBuf::from(dir)),
                ["ready"] => break,
                _ => panic!("unexpected demo output: {line}"),
            }
        }
        assert_eq!(sites.len(), 3);
        assert!(logins >= 6);
        Demo {
            child,
            sites,
            mail: mail.expect("the demo says where its mail goes"),
        }
    }

    pub(crate) fn port(&self, site: &str) -> u16 {
        self.sites.iter().find(|(s, _)| s == site).unwrap().1
    }

    pub(crate) fn login(&self, site: &str, user: &str) -> String {
        let (s, body) = http(
            self.port(site),
            "POST",
            "/api/v1/session",
            Some(&json!({"login": user, "password": PASSWORD})),
            None,
        )
        .unwrap();
        assert_eq!(s, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub(crate) fn get(&self, site: &str, token: &str, path: &str) -> (u16, serde_json::Value) {
        let (s, body) = http(self.port(site), "GET", path, None, Some(token)).unwrap();
        (
            s,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    pub(crate) fn group_id(&self, site: &str, token: &str, name: &str) -> String {
        let (_, groups) = self.get(site, token, "/api/v1/groups");
        groups["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap_or_else(|| panic!("no group {name}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// SIGINT, then a clean exit.
    fn interrupt(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "{status:?}");
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the demo did not stop"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_demo_runs_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("weft-demo");
    let base = free_base();
    let demo = Demo::start(&data, base);
    let helene = demo.login("paris", "hdupre");
    let john = demo.login("new-york", "jsmith");
    let priya = demo.login("bangalore", "pkumar");

    // Community management is seeded: a reported post awaits Hélène (a community manager),
    // every site published its figures, New York lists Paris's private committee by its
    // card, a second photo club is a likely duplicate, and Hélène's digest was mailed to
    // the catcher.
    let (_, queue) = demo.get("paris", &helene, "/api/v1/moderation");
    let reported = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Selling my car")
        .unwrap_or_else(|| panic!("{queue}"));
    assert_eq!(reported["reports"].as_array().unwrap().len(), 2);
    let start = Instant::now();
    loop {
        let (_, a) = demo.get("paris", &helene, "/api/v1/analytics?weeks=1");
        if a["sites"].as_array().is_some_and(|s| s.len() == 3) {
            assert!(a["company"][0]["contributing"].as_u64().unwrap() > 0, "{a}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{a}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, groups) = demo.get("new-york", &john, "/api/v1/groups");
    assert!(
        groups["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "Comité social et économique" && g["card"] == true),
        "{groups}"
    );
    let (_, pairs) = demo.get("paris", &helene, "/api/v1/groups/duplicates");
    let pair = &pairs["items"][0];
    assert_eq!(
        (&pair["group"]["name"], &pair["duplicate"]["name"]),
        (&json!("Photo club"), &json!("Club photo")),
        "{pairs}"
    );
    let start = Instant::now();
    loop {
        let digest = std::fs::read_dir(&demo.mail)
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
            .find(|m| m.contains("hdupre@example.fr") && m.contains("List-Unsubscribe-Post"));
        if digest.is_some() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no digest in the catcher"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Post at Paris; read it at New York within a few seconds.
    let all = demo.group_id("paris", &helene, "All company");
    let (_, threads) = demo.get("paris", &helene, &format!("/api/v1/groups/{all}/threads"));
    let tid = threads["items"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = http(
        demo.port("paris"),
        "POST",
        &format!("/api/v1/threads/{tid}/posts"),
        Some(&json!({"body": "Bonjour de Paris, test de la démo"})),
        Some(&helene),
    )
    .unwrap();
    assert_eq!(s, 201);
    let start = Instant::now();
    loop {
        let (s, t) = demo.get("new-york", &john, &format!("/api/v1/threads/{tid}"));
        if s == 200
            && t["replies"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["body"] == "Bonjour de Paris, test de la démo")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the post did not reach New York"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The works council's private group has no member at Bangalore: nothing of it is visible.
    let fmercier = demo.login("paris", "fmercier");
    let council = demo.group_id("paris", &fmercier, "Works council prep");
    let (_, threads) = demo.get(
        "paris",
        &fmercier,
        &format!("/api/v1/groups/{council}/threads"),
    );
    let secret_thread = threads["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        demo.get(
            "bangalore",
            &priya,
            &format!("/api/v1/threads/{secret_thread}")
        )
        .0,
        404
    );
    assert_eq!(
        demo.get("bangalore", &priya, &format!("/api/v1/groups/{council}"))
            .0,
        404
    );
    // …while New York, which homes a member, has it.
    let jgarcia = demo.login("new-york", "jgarcia");
    assert_eq!(
        demo.get(
            "new-york",
            &jgarcia,
            &format!("/api/v1/threads/{secret_thread}")
        )
        .0,
        200
    );

    // Files: the IT library has documents in folders, the charter three versions; the Photo
    // club's photos have thumbnails; the tutorial is a video. Opened at Bangalore, they come
    // from Paris and New York.
    let it = demo.group_id("bangalore", &priya, "IT Transformation");
    let (s, lib) = demo.get("bangalore", &priya, &format!("/api/v1/groups/{it}/library"));
    assert_eq!(s, 200, "{lib}");
    assert!(lib["folders"].as_array().unwrap().len() >= 3, "{lib}");
    let charter = lib["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["title"] == "Charte informatique")
        .expect("the charter");
    assert_eq!(charter["versions"].as_array().unwrap().len(), 3);
    let url = charter["versions"][0]["file"]["url"].as_str().unwrap();
    let (s, _) = http(demo.port("bangalore"), "GET", url, None, Some(&priya)).unwrap();
    assert_eq!(s, 200, "an old version, fetched from Paris");
    let (_, hits) = demo.get("bangalore", &priya, "/api/v1/search?q=télétravail");
    assert!(
        hits.to_string().contains(charter["id"].as_str().unwrap()),
        "{hits}"
    );
    let club = demo.group_id("paris", &helene, "Photo club");
    let (_, threads) = demo.get("paris", &helene, &format!("/api/v1/groups/{club}/threads"));
    let with_photos = threads["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| {
            t["root"]["attachments"]
                .as_array()
                .is_some_and(|a| a.len() == 3)
        })
        .expect("a post with photos");
    assert!(with_photos["root"]["attachments"][0]["thumbnail_url"].is_string());
    let onboarding = demo.group_id("paris", &helene, "Onboarding & mentoring");
    let (_, threads) = demo.get(
        "paris",
        &helene,
        &format!("/api/v1/groups/{onboarding}/threads"),
    );
    assert!(
        threads.to_string().contains("\"media_type\":\"video/mp4\""),
        "{threads}"
    );

    demo.interrupt();
    // A second run starts from what is on disk.
    let demo = Demo::start(&data, base);
    let john = demo.login("new-york", "jsmith");
    let (s, t) = demo.get("new-york", &john, &format!("/api/v1/threads/{tid}"));
    assert_eq!(s, 200);
    assert!(
        t["replies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["body"] == "Bonjour de Paris, test de la démo")
    );
    demo.interrupt();
}
