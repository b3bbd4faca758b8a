//! A real browser (headless Chromium through chromedriver) against real nodes: log in at
//! Paris, create a private group, invite a colleague homed in New York, post; in New York, see
//! the post and a reply arrive live without reloading; in Bangalore, where no member lives, the
//! group's address is not found; script in a post renders as text.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). The WebDriver
//! calls are made with the harness's tiny HTTP client: a handful of JSON requests.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Company, Node, PASSWORD, free_port, http_raw};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (apt-get install chromium chromium-driver; .ci/run does)");
        let d = Driver { child, port };
        let start = Instant::now();
        while http_raw(port, "GET", "/status", &[], "").is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let text = if method == "GET" {
            String::new()
        } else {
            body.to_string()
        };
        let (status, _, out) = http_raw(
            self.port,
            method,
            path,
            &["Content-Type: application/json".to_string()],
            &text,
        )
        .expect("chromedriver answers");
        let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        assert!(status < 300, "{method} {path}: {status} {out}");
        v["value"].clone()
    }

    fn browser(&self, profile: &std::path::Path) -> Browser<'_> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=1200,900",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let v = self.call("POST", "/session", caps);
        Browser {
            d: self,
            id: v["sessionId"].as_str().unwrap().to_owned(),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Browser<'a> {
    d: &'a Driver,
    id: String,
}

impl Browser<'_> {
    fn go(&self, url: &str) {
        self.d.call(
            "POST",
            &format!("/session/{}/url", self.id),
            json!({"url": url}),
        );
    }

    fn url(&self) -> String {
        self.d
            .call("GET", &format!("/session/{}/url", self.id), Value::Null)
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn find(&self, css: &str) -> String {
        let v = self.d.call(
            "POST",
            &format!("/session/{}/element", self.id),
            json!({"using": "css selector", "value": css}),
        );
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.d.call(
            "POST",
            &format!("/session/{}/element/{e}/value", self.id),
            json!({"text": text}),
        );
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.d.call(
            "POST",
            &format!("/session/{}/element/{e}/click", self.id),
            json!({}),
        );
    }

    fn js(&self, script: &str) -> Value {
        self.d.call(
            "POST",
            &format!("/session/{}/execute/sync", self.id),
            json!({"script": script, "args": []}),
        )
    }

    fn text(&self) -> String {
        self.js("return document.body.innerText;")
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    fn wait_text(&self, want: &str, secs: u64) {
        let start = Instant::now();
        while !self.text().contains(want) {
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "never saw {want:?} in:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn login(&self, node: &Node, user: &str) {
        self.go(&format!("http://127.0.0.1:{}/login", node.http_port));
        self.type_into("#login", user);
        self.type_into("#password", PASSWORD);
        self.click("form[action='/login'] button");
        self.wait_text("Home", 10);
    }

    fn screenshot(&self, name: &str) {
        let png = self.d.call(
            "GET",
            &format!("/session/{}/screenshot", self.id),
            Value::Null,
        );
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        let _ = std::fs::create_dir_all(&dir);
        if let Some(b64) = png.as_str() {
            let _ = std::fs::write(dir.join(format!("{name}.png.b64")), b64);
        }
    }
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        let _ = http_raw(
            self.d.port,
            "DELETE",
            &format!("/session/{}", self.id),
            &[],
            "",
        );
    }
}

#[test]
fn a_private_post_travels_live_to_a_member_site_only() {
    let company = Company::new();
    let nodes: Vec<Node> = (0..3).map(|i| company.start(i)).collect();
    for n in &nodes {
        n.wait_until(Duration::from_secs(60), "connected", |n| {
            n.connected_peers() == 2
        });
    }
    let driver = Driver::start();
    let profiles = tempfile::tempdir().unwrap();
    let paris = driver.browser(&profiles.path().join("a"));
    let ny = driver.browser(&profiles.path().join("b"));
    let blr = driver.browser(&profiles.path().join("c"));
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);

    // Paris: a private group, an invitation to John in New York, a thread.
    paris.login(a, "hdupre");
    paris.go(&format!("http://127.0.0.1:{}/groups", a.http_port));
    paris.type_into("#gname", "Comité de pilotage");
    paris.click("input[value='private']");
    paris.click("form[action='/groups'] button");
    paris.wait_text("Comité de pilotage", 10);
    let group_path = paris
        .url()
        .split_once(&format!(":{}", a.http_port))
        .unwrap()
        .1
        .to_owned();
    paris.type_into("#invitee", "jsmith");
    paris.click("form[action$='/invite'] button");
    paris.wait_text("jsmith", 10);
    let evil =
        "Réunion mardi. <script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">";
    paris.type_into("#ttitle", "Ordre du jour");
    paris.type_into("#tbody", evil);
    paris.click("form[action$='/threads'] button");
    paris.wait_text("Réunion mardi", 10);
    let thread_path = paris
        .url()
        .split_once(&format!(":{}", a.http_port))
        .unwrap()
        .1
        .to_owned();
    paris.screenshot("thread-paris");

    // New York: John reads it once it has arrived.
    ny.login(b, "jsmith");
    let start = Instant::now();
    loop {
        ny.go(&format!("http://127.0.0.1:{}{thread_path}", b.http_port));
        if ny.text().contains("Réunion mardi") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the thread never reached New York"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The payload is text, and it did not run.
    assert!(
        ny.text().contains("<script>window.__xss=1</script>"),
        "{}",
        ny.text()
    );
    assert!(
        ny.js("return window.__xss === undefined;")
            .as_bool()
            .unwrap()
    );
    // A reply at Paris appears in New York's open page without a reload.
    ny.js("window.__still_here = 42; return null;");
    paris.type_into("#rbody", "Nouveau point ajouté en direct");
    paris.click("form[action$='/reply'] button");
    ny.wait_text("Nouveau point ajouté en direct", 20);
    assert_eq!(
        ny.js("return window.__still_here;").as_i64(),
        Some(42),
        "the page was reloaded"
    );
    ny.screenshot("thread-new-york-live");
    // Search at New York finds it ("réunions" → réunion), with the payload still inert.
    ny.go(&format!(
        "http://127.0.0.1:{}/search?q=r%C3%A9unions",
        b.http_port
    ));
    ny.wait_text("Ordre du jour", 20);
    assert!(
        ny.js("return window.__xss === undefined;")
            .as_bool()
            .unwrap()
    );

    // Bangalore: no member there, so the group's address is not found.
    blr.login(c, "pkumar");
    blr.go(&format!("http://127.0.0.1:{}{group_path}", c.http_port));
    blr.wait_text("Not found", 10);
    blr.go(&format!("http://127.0.0.1:{}{thread_path}", c.http_port));
    blr.wait_text("Not found", 10);
}
