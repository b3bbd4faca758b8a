//! A real browser (headless Chromium through chromedriver) against real nodes: log in at
//! Paris, create a private group, invite a colleague homed in New York, post; in New York, see
//! the post and a reply arrive live without reloading; in Bangalore, where no member lives, the
//! group's address is not found; script in a post renders as text.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/test.sh` installs them). The WebDriver
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
            .expect("chromedriver is installed (apt-get install chromium chromium-driver; scripts/test.sh does)");
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
        match self.try_call(method, path, body) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// A WebDriver call; `Err` with the status and answer when it fails.
    fn try_call(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
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
        if status >= 300 {
            return Err(format!("{method} {path}: {status} {out}"));
        }
        Ok(v["value"].clone())
    }

    fn browser(&self, profile: &std::path::Path) -> Browser<'_> {
        self.browser_sized(profile, "1200,900")
    }

    fn browser_sized(&self, profile: &std::path::Path, size: &str) -> Browser<'_> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", format!("--window-size={size}"),
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

    /// Types into the element `css` finds. Pages refresh themselves in place when something
    /// they show changes (live updates), so an element found a moment ago may be gone: it is
    /// found again then.
    fn type_into(&self, css: &str, text: &str) {
        self.on_element(css, "value", json!({"text": text}));
    }

    fn on_element(&self, css: &str, action: &str, body: Value) {
        for attempt in 0.. {
            let e = self.find(css);
            match self.d.try_call(
                "POST",
                &format!("/session/{}/element/{e}/{action}", self.id),
                body.clone(),
            ) {
                Ok(_) => return,
                Err(err) if err.contains("stale element") && attempt < 5 => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(err) => panic!("{err}"),
            }
        }
    }

    fn click(&self, css: &str) {
        self.on_element(css, "click", json!({}));
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

    /// Saves a PNG of the window in the target folder's `screenshots/`; with
    /// `WEFT_UPDATE_SCREENSHOTS=1`, also in `docs/screenshots/` (how the README's pictures are
    /// made).
    fn screenshot(&self, name: &str) {
        use base64::Engine;
        let png = self.d.call(
            "GET",
            &format!("/session/{}/screenshot", self.id),
            Value::Null,
        );
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("a screenshot"))
            .unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
        let mut dirs =
            vec![std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")];
        if std::env::var_os("WEFT_UPDATE_SCREENSHOTS").is_some() {
            dirs.push(
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots"),
            );
        }
        for dir in dirs {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.png")), &bytes).unwrap();
        }
    }

    fn count(&self, css: &str) -> usize {
        let v = self.d.call(
            "POST",
            &format!("/session/{}/elements", self.id),
            json!({"using": "css selector", "value": css}),
        );
        v.as_array().map_or(0, Vec::len)
    }

    fn wait_for(&self, css: &str, secs: u64) {
        let start = Instant::now();
        while self.count(css) == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "never saw {css} in:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(100));
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
    paris.click("form[action='/groups'][method='post'] button");
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
    let badge = |b: &Browser| -> i64 {
        b.js("return Number(document.getElementById('unread').textContent);")
            .as_i64()
            .unwrap()
    };
    let before = badge(&ny);
    assert!(before >= 1, "John was told of his invitation");
    paris.type_into("#rbody", "Nouveau point ajouté en direct, @jsmith");
    paris.click("form[action$='/reply'] button");
    ny.wait_text("Nouveau point ajouté en direct", 20);
    // The mention raises John's notification count on the open page, without a reload.
    let start = Instant::now();
    while badge(&ny) != before + 1 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the badge never counted the mention"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
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

    // Bangalore: no member there, so the group's address shows its card (to ask to join),
    // and its thread is not found.
    blr.login(c, "pkumar");
    blr.go(&format!("http://127.0.0.1:{}{group_path}", c.http_port));
    blr.wait_text("Ask to join", 10);
    assert!(!blr.text().contains("Ordre du jour"), "{}", blr.text());
    blr.go(&format!("http://127.0.0.1:{}{thread_path}", c.http_port));
    blr.wait_text("Not found", 10);
}

/// The demo's main pages in a real browser, with the pictures the README shows: login, the
/// charter at first login, feed, group, thread (with @mention completion), profile, search,
/// notifications, and a thread on a phone-sized screen.
#[test]
fn the_demo_pages_in_a_browser_with_screenshots() {
    use crate::demo::{Demo, free_base};
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(&dir.path().join("weft-demo"), free_base());
    let port = demo.port("paris");
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let token = demo.login("paris", "hdupre");
    let group = demo.group_id("paris", &token, "IT Transformation");
    let (_, threads) = demo.get("paris", &token, &format!("/api/v1/groups/{group}/threads"));
    let thread = threads["items"][0]["id"].as_str().unwrap().to_owned();

    let driver = Driver::start();
    let profiles = tempfile::tempdir().unwrap();
    let b = driver.browser(&profiles.path().join("desktop"));
    b.go(&url("/login"));
    b.wait_for("#password", 10);
    b.screenshot("login");
    b.type_into("#login", "hdupre");
    b.type_into("#password", crate::demo::PASSWORD);
    b.click("form[action='/login'] button");
    // First login: the usage charter, then the feed.
    b.wait_text("Usage charter", 10);
    b.click("form[action='/charter'] button");
    b.wait_text("Home", 10);
    assert!(b.count("main article.card") >= 3, "{}", b.text());
    b.screenshot("feed");
    b.go(&url(&format!("/groups/{group}")));
    b.wait_text("IT Transformation", 10);
    assert!(b.count("ul.people li") >= 2);
    b.screenshot("group");
    b.go(&url(&format!("/threads/{thread}")));
    b.wait_for("article.post", 10);
    // @mention completion from the directory: "@jsm" offers John Smith; Enter takes him.
    b.type_into("#rbody", "Merci @jsm");
    b.wait_for(".suggest li", 10);
    assert!(b.text().contains("John Smith"), "{}", b.text());
    b.js("document.querySelector('.suggest').scrollIntoView({block: 'end'}); return null;");
    b.screenshot("thread");
    b.type_into("#rbody", "\u{E007}");
    let typed = b.js("return document.getElementById('rbody').value;");
    assert_eq!(typed.as_str(), Some("Merci @jsmith "));
    b.go(&url("/people/hdupre"));
    b.wait_text("Hélène Dupré", 10);
    // A photo chosen in the file field is cropped and scaled to 256 pixels, then sent.
    b.js(
        "var c = document.createElement('canvas'); c.width = 400; c.height = 300;\
         var g = c.getContext('2d'); var gr = g.createLinearGradient(0, 0, 400, 300);\
         gr.addColorStop(0, '#1f5fbf'); gr.addColorStop(1, '#f0a020'); g.fillStyle = gr;\
         g.fillRect(0, 0, 400, 300); g.fillStyle = '#fff'; g.font = 'bold 110px sans-serif';\
         g.fillText('HD', 125, 190);\
         c.toBlob(function (b) { var dt = new DataTransfer();\
           dt.items.add(new File([b], 'me.png', {type: 'image/png'}));\
           var i = document.getElementById('photo'); i.files = dt.files;\
           i.dispatchEvent(new Event('change')); }, 'image/png'); return null;",
    );
    b.wait_for("img.avatar", 20);
    let start = Instant::now();
    while b
        .js("var i = document.querySelector('img.avatar'); return i.complete ? i.naturalWidth : 0;")
        .as_i64()
        != Some(256)
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the photo did not load at 256 px"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    b.screenshot("profile");
    // A poll voted at three sites: Hélène (Paris) votes; the counts include New York's and
    // Bangalore's votes.
    let all = demo.group_id("paris", &token, "All company");
    let (_, threads) = demo.get("paris", &token, &format!("/api/v1/groups/{all}/threads"));
    let poll = threads["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["root"]["poll"].is_object())
        .expect("the demo's poll");
    let poll_thread = poll["id"].as_str().unwrap().to_owned();
    let voters_before = poll["root"]["poll"]["voters"].as_u64().unwrap();
    b.go(&url(&format!("/threads/{poll_thread}")));
    b.wait_for("section.poll", 10);
    b.click("section.poll input[value='1']");
    b.click("section.poll button[type=submit]");
    b.wait_text("Change my vote", 10);
    assert!(b.count("section.poll li.chosen") == 1, "{}", b.text());
    let (_, after) = demo.get("paris", &token, &format!("/api/v1/threads/{poll_thread}"));
    assert_eq!(
        after["root"]["poll"]["voters"].as_u64().unwrap(),
        voters_before + 1
    );
    b.js(
        "var r = document.querySelector('section.poll').getBoundingClientRect();\
          window.scrollBy(0, r.top - 90); return null;",
    );
    b.screenshot("poll");
    // An event: Hélène answers; the agenda lists it with her answer.
    let eng = demo.group_id("paris", &token, "Running club");
    let (_, events) = demo.get("paris", &token, &format!("/api/v1/groups/{eng}/events"));
    let event = events["items"][0]["id"]
        .as_str()
        .expect("the demo's event")
        .to_owned();
    b.go(&url(&format!("/threads/{event}")));
    b.wait_for("section.event", 10);
    b.click("form.rsvp button[value='yes']");
    b.wait_for("form.rsvp button[value='yes'][aria-pressed='true']", 10);
    b.screenshot("event");
    b.go(&url("/agenda"));
    b.wait_for("ul.events li", 10);
    assert!(b.text().contains("I'm going"), "{}", b.text());
    let cal = b.js("return document.getElementById('calurl').value;");
    assert!(cal.as_str().unwrap().contains("/calendar/"), "{cal}");
    b.screenshot("agenda");
    // The announcement from internal communication, above the feed.
    b.go(&url("/"));
    b.wait_for("aside.announcement", 10);
    assert!(
        b.text().contains("New: polls, agenda and walls"),
        "{}",
        b.text()
    );
    // A wall: Hélène writes on John's, at New York's node's profile of him.
    b.go(&url("/people/jsmith"));
    b.wait_for("#wall", 10);
    b.type_into("#wbody", "Merci John, à bientôt à New York !");
    b.click("#wall form button[type=submit]");
    b.wait_text("Merci John, à bientôt à New York", 10);
    assert!(
        b.text().contains("Bravo pour la migration"),
        "the seeded wall post: {}",
        b.text()
    );
    b.js(
        "var r = document.getElementById('wall').getBoundingClientRect();\
          window.scrollBy(0, r.top - 90); return null;",
    );
    b.screenshot("wall");
    // The people directory, by department, and a reporting line.
    b.go(&url("/directory?department=Communication"));
    b.wait_for("ul.people-grid li", 10);
    assert!(b.text().contains("Manon Roux"), "{}", b.text());
    b.screenshot("directory");
    b.go(&url("/search?q=kubernetes"));
    b.wait_for("main article.card", 10);
    assert!(b.count("main article.card b") >= 1, "highlighted words");
    b.screenshot("search");
    b.go(&url("/notifications"));
    b.wait_text("mentioned you", 10);
    b.screenshot("notifications");
    // The moderation queue: a post reported from two sites; Hélène hides it with a reason.
    b.go(&url("/moderation"));
    b.wait_text("Selling my car", 10);
    assert!(
        b.text().contains("Personal sales do not belong"),
        "{}",
        b.text()
    );
    b.screenshot("moderation");
    b.type_into(
        "input[id^='why-']",
        "Petites annonces : voir le groupe dédié",
    );
    b.click(".decide form button[type=submit]");
    b.wait_text("Nothing to review", 10);
    // The usage dashboard: every site's figures added up, drawn by the node.
    b.go(&url("/analytics"));
    b.wait_for("svg.chart", 10);
    assert!(b.text().contains("bangalore"), "{}", b.text());
    // Publishing Paris's figures now counts Hélène, who has used Weft this week, as active.
    b.click("form[action='/analytics/publish'] button");
    b.wait_for("svg.chart", 10);
    let active = b.js(
        "return document.querySelector('main table tbody tr:last-child td:nth-child(3)').innerText;",
    );
    assert_ne!(active.as_str(), Some("0"), "{}", b.text());
    b.screenshot("analytics");
    // A photo, uploaded through the reply form's file field, shown as its thumbnail.
    let photo = profiles.path().join("terrasse.jpg");
    let img = image::RgbImage::from_fn(1200, 800, |x, y| {
        image::Rgb([(x / 5) as u8, (y / 4) as u8, 180])
    });
    img.save(&photo).unwrap();
    b.go(&url(&format!("/threads/{thread}")));
    b.wait_for("#rfiles", 10);
    b.type_into("#rbody", "Une photo de la terrasse");
    b.type_into("#rfiles", photo.to_str().unwrap());
    b.wait_for("ul.uploads img.thumb", 20);
    let ids = b.js("return document.querySelector('#rfiles').closest('form').querySelector('[name=attachments]').value;");
    assert_eq!(ids.as_str().map(str::len), Some(64), "{ids}");
    b.click("form[action$='/reply'] button[type=submit]");
    b.wait_for(".attachments a.photo img", 10);
    let loaded = b.js(
        "return Array.from(document.querySelectorAll('.attachments a.photo img')).every(i => i.complete && i.naturalWidth > 0);",
    );
    assert_eq!(loaded.as_bool(), Some(true), "the thumbnail loads");
    b.screenshot("photo");
    // The demo's tutorial video plays from the node (ranges).
    let onboarding = demo.group_id("paris", &token, "Onboarding & mentoring");
    let (_, threads) = demo.get(
        "paris",
        &token,
        &format!("/api/v1/groups/{onboarding}/threads"),
    );
    let video_thread = threads["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t.to_string().contains("video/mp4"))
        .expect("the tutorial")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    b.go(&url(&format!("/threads/{video_thread}")));
    b.wait_for(".attachments video", 10);
    b.js("const v = document.querySelector('.attachments video'); v.muted = true; v.play().catch(() => {}); return null;");
    let start = Instant::now();
    loop {
        let state = b.js("const v = document.querySelector('.attachments video'); return [v.readyState, v.currentTime, v.error ? v.error.code : 0];");
        let ready = state[0].as_u64().unwrap_or(0);
        assert_eq!(
            state[2].as_u64(),
            Some(0),
            "the video cannot be played: {state}"
        );
        if ready >= 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the video's readyState stayed {state}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    b.screenshot("video");
    // The IT library.
    b.go(&url(&format!("/groups/{group}/library")));
    b.wait_for("table.library", 10);
    assert!(b.text().contains("Charte informatique"), "{}", b.text());
    b.screenshot("library");
    // A phone.
    let phone = driver.browser_sized(&profiles.path().join("phone"), "390,844");
    phone.go(&url("/login"));
    phone.type_into("#login", "hdupre");
    phone.type_into("#password", crate::demo::PASSWORD);
    phone.click("form[action='/login'] button");
    phone.wait_text("Home", 10);
    phone.go(&url(&format!("/threads/{thread}")));
    phone.wait_for("article.post", 10);
    let b = phone;
    // Nothing wider than the phone's screen.
    let wide = b.js("return document.documentElement.scrollWidth <= window.innerWidth + 1;");
    assert_eq!(
        wide.as_bool(),
        Some(true),
        "the page scrolls sideways on a phone"
    );
    b.screenshot("thread-phone");
    // The new pages fit a phone's screen too.
    for path in [
        "/agenda",
        "/directory",
        "/people/hdupre",
        "/bookmarks",
        "/announce",
    ] {
        b.go(&url(path));
        b.wait_for("main h1", 10);
        let fits = b.js("return document.documentElement.scrollWidth <= window.innerWidth + 1;");
        assert_eq!(
            fits.as_bool(),
            Some(true),
            "{path} scrolls sideways on a phone"
        );
    }
    b.go(&url(&format!("/threads/{event}")));
    b.wait_for("section.event", 10);
    let fits = b.js("return document.documentElement.scrollWidth <= window.innerWidth + 1;");
    assert_eq!(
        fits.as_bool(),
        Some(true),
        "an event scrolls sideways on a phone"
    );
}
