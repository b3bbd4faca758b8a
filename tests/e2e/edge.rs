//! The web edge against real `weft run` processes, as an ordinary employee (or a page on
//! another site, or a client behind a proxy) would try it: search input that used to abort
//! the node, a burst of guesses at one password, clients behind a reverse proxy, what
//! search ranking could tell about hidden groups, sessions that must end, a second "All
//! company", the modes of a fresh store.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Company, Node, PASSWORD, http_raw, http_raw_on, weft};
use crate::ui::{cookie_value, enc, hidden_csrf, location, post_form, ui_login};

fn all_connected(nodes: &[&Node]) {
    for n in nodes {
        n.wait_until(Duration::from_secs(60), "all peers are connected", |n| {
            n.connected_peers() == nodes.len() - 1
        });
    }
}

fn status(r: Option<(u16, String)>) -> u16 {
    r.map_or(0, |r| r.0)
}

/// Queries that nest, that are huge, or that speak some query grammar.
fn nasty_queries() -> Vec<String> {
    vec![
        "(".repeat(2_000),
        "(".repeat(900),
        format!("{}kubernetes{}", "(".repeat(300), ")".repeat(300)),
        "a ".repeat(8_000),
        "\"".repeat(900),
        "title:secret AND body_en:merger OR kind:post NOT (x)".into(),
        "[* TO *] {a TO b} field:[1 TO 9] ~2 ^3 +x -y \\ / :".into(),
        "\"unclosed phrase with many words in it and more".into(),
        "x".repeat(900),
        "\u{0}\u{202e}𝔸 é ✓".into(),
    ]
}

#[test]
fn nested_and_huge_search_queries_leave_every_site_up() {
    let company = Company::new();
    let nodes: Vec<Node> = (0..3).map(|i| company.start(i)).collect();
    let users = ["hdupre", "jsmith", "pkumar"];
    for (n, u) in nodes.iter().zip(users) {
        let token = n.login(u);
        for q in nasty_queries() {
            let short: String = q.chars().take(30).collect();
            let api = n.request(
                "GET",
                &format!("/api/v1/search?q={}", enc(&q)),
                None,
                Some(&token),
            );
            let s = status(api);
            assert!(s == 200 || s == 400, "API at {u}'s site: {s} for {short:?}");
            // The HTML page needs only the session cookie: a link is enough to send it.
            let page = http_raw(
                n.http_port,
                "GET",
                &format!("/search?q={}", enc(&q)),
                &[format!("Cookie: weft_session={token}")],
                "",
            );
            let s = page.map_or(0, |p| p.0);
            assert!(
                s == 200 || s == 400,
                "page at {u}'s site: {s} for {short:?}"
            );
        }
    }
    for (n, u) in nodes.iter().zip(users) {
        assert_eq!(n.get("/healthz").map(|r| r.0), Some(200), "{u}'s site");
    }
    // And search still finds things.
    let token = nodes[0].login("hdupre");
    let g = nodes[0].api(
        &token,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Parenthèses", "visibility": "public"})),
        201,
    );
    nodes[0].api(
        &token,
        "POST",
        &format!("/api/v1/groups/{}/threads", g["id"].as_str().unwrap()),
        Some(json!({"title": "Lisp", "body": "(((kubernetes)))"})),
        201,
    );
    let hits = nodes[0].api(
        &token,
        "GET",
        &format!("/api/v1/search?q={}", enc("((kubernetes")),
        None,
        200,
    );
    assert_eq!(hits["items"].as_array().unwrap().len(), 1, "{hits}");
}

/// `VmRSS` and `VmHWM` (peak) of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn login_body(user: &str, password: &str) -> String {
    json!({"login": user, "password": password}).to_string()
}

fn post_login(stream: TcpStream, user: &str, password: &str, extra: &[String]) -> (u16, String) {
    let mut h = vec!["Content-Type: application/json".to_string()];
    h.extend_from_slice(extra);
    http_raw_on(
        stream,
        "POST",
        "/api/v1/session",
        &h,
        &login_body(user, password),
    )
    .map_or((0, String::new()), |(s, head, _)| (s, head))
}

fn from(src: [u8; 4], port: u16) -> TcpStream {
    crate::harness::connect_from(Ipv4Addr::from(src), port).expect("a connection")
}

/// 300 guesses at once for one account: a handful of them are checked (each check holds
/// ~19 MiB), the rest are refused before any work, memory stays flat, and another employee
/// logs in at once from another address.
#[test]
fn three_hundred_concurrent_wrong_logins_check_a_handful_and_lock_out_no_one_else() {
    let company = Company::new();
    let node = company.start(0);
    let pid = node.child.id();
    let port = node.http_port;
    let checks_before = node.metric("weft_password_checks_total");
    let (rss_before, peak_before) = memory_kib(pid);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(301));
    let guesses: Vec<_> = (0..300)
        .map(|i| {
            let b = barrier.clone();
            std::thread::spawn(move || {
                let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                b.wait();
                post_login(s, "hdupre", &format!("guess number {i}"), &[]).0
            })
        })
        .collect();
    let victim = from([127, 0, 0, 2], port);
    barrier.wait();
    let started = Instant::now();
    let (s, head) = post_login(victim, "cmartin", PASSWORD, &[]);
    let victim_took = started.elapsed();
    assert_eq!(s, 200, "another account from another address: {head}");
    let mut statuses: Vec<u16> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    statuses.sort_unstable();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429 || **s == 503).count();
    assert_eq!(checked + refused, 300, "{statuses:?}");
    assert!(checked <= 5, "{checked} guesses were checked");
    let checks = node.metric("weft_password_checks_total") - checks_before;
    assert!(checks <= 6.0, "{checks} password checks");
    let (rss_after, peak) = memory_kib(pid);
    eprintln!(
        "300 wrong logins: {checked} checked (401), {refused} refused; {checks} argon2 checks in all; \
         resident {rss_before} KiB before, {rss_after} KiB after; peak {peak_before} KiB \
         before, {peak} KiB after; \
         the other account logged in in {victim_took:?}"
    );
    assert!(
        peak.saturating_sub(rss_before) < 96 * 1024,
        "memory grew from {rss_before} KiB to a peak of {peak} KiB"
    );
    // The account guessed at is locked for now (that is the account limit); the refusal
    // costs nothing.
    let (s, _) = post_login(from([127, 0, 0, 3], port), "hdupre", PASSWORD, &[]);
    assert_eq!(s, 429);
    assert_eq!(node.get("/healthz").map(|r| r.0), Some(200));
}

/// Behind a reverse proxy every connection comes from the proxy: with `trusted_proxies`
/// each client is counted by the address the proxy reports, and only the proxy is believed.
#[test]
fn behind_a_trusted_proxy_each_client_is_counted_by_its_own_address() {
    let company = Company::new();
    company.configure(
        0,
        "trusted_proxies = [\"127.0.0.1\"]\nlogin_failures_per_address = 3\npublic_url = \"https://weft.paris.example\"\nmetrics_token = \"scraper token, long enough\"",
    );
    let node = company.start(0);
    let port = node.http_port;
    let proxy = |xff: &str| {
        (
            from([127, 0, 0, 1], port),
            vec![format!("X-Forwarded-For: {xff}")],
        )
    };
    // Client A, behind the proxy, mistypes three logins: A's address is now refused...
    for i in 0..3 {
        let (s, extra) = proxy("198.51.100.1");
        assert_eq!(post_login(s, &format!("nobody{i}"), "wrong", &extra).0, 401);
    }
    let (s, extra) = proxy("198.51.100.1");
    assert_eq!(post_login(s, "hdupre", PASSWORD, &extra).0, 429);
    // ... also when A writes its own header before the proxy appends the real address.
    let (s, extra) = proxy("198.51.100.2, 198.51.100.1");
    assert_eq!(post_login(s, "hdupre", PASSWORD, &extra).0, 429);
    // Client B, behind the same proxy, is not: everyone else at the site logs in.
    let (s, extra) = proxy("198.51.100.2");
    let (code, head) = post_login(s, "hdupre", PASSWORD, &extra);
    assert_eq!(code, 200, "{head}");
    let cookie = head
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: weft_session=")
        })
        .unwrap();
    let flags: Vec<&str> = cookie.trim_end().split("; ").skip(1).collect();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(flags.contains(&flag), "{flag} not in {cookie}");
    }
    // A client that is not a proxy gains nothing by writing the header: it is counted as
    // itself, whatever it claims.
    for i in 0..3 {
        let h = ["X-Forwarded-For: 198.51.100.3".to_string()];
        let s = from([127, 0, 0, 2], port);
        assert_eq!(post_login(s, &format!("ghost{i}"), "wrong", &h).0, 401);
    }
    let h = ["X-Forwarded-For: 198.51.100.4".to_string()];
    assert_eq!(
        post_login(from([127, 0, 0, 2], port), "cmartin", PASSWORD, &h).0,
        429
    );
    let (s, extra) = proxy("198.51.100.3");
    assert_eq!(post_login(s, "cmartin", PASSWORD, &extra).0, 200);
    // The operations endpoints: this machine, or the token; never someone the proxy relays
    // (the proxy is on this machine, but its clients are not), even if the proxy forgets to
    // say so. Other machines are refused in the web crate's tests, which can pretend to be
    // one.
    let get =
        |s: TcpStream, extra: &[String]| http_raw_on(s, "GET", "/metrics", extra, "").map(|r| r.0);
    assert_eq!(get(from([127, 0, 0, 2], port), &[]), Some(200));
    assert_eq!(get(from([127, 0, 0, 1], port), &[]), Some(403));
    let (s, extra) = proxy("198.51.100.2");
    assert_eq!(get(s, &extra), Some(403));
    let (s, mut extra) = proxy("198.51.100.2");
    extra.push("Authorization: Bearer scraper token, long enough".to_string());
    assert_eq!(get(s, &extra), Some(200));
    // And the language links go back only to pages of this site.
    for (referer, back) in [
        ("https://weft.paris.example/groups", "/groups"),
        ("https://weft.paris.example//evil.example/", "/"),
    ] {
        let (s, head, _) = http_raw(
            port,
            "GET",
            "/lang/fr",
            &[format!("Referer: {referer}")],
            "",
        )
        .unwrap();
        assert_eq!((s, location(&head).as_str()), (303, back));
    }
}

/// The order of two visible results must not tell how often a word occurs where the
/// searcher may not look: a word used throughout a secret group and a word used nowhere
/// else rank the same.
#[test]
fn ranking_is_the_same_for_a_word_hidden_groups_use_and_one_they_do_not() {
    let company = Company::new();
    let node = company.start(0);
    let owner = node.login("hdupre");
    let searcher = node.login("cmartin");
    let group = |name: &str, vis: &str| {
        node.api(
            &owner,
            "POST",
            "/api/v1/groups",
            Some(json!({"name": name, "visibility": vis})),
            201,
        )["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let post = |g: &str, body: &str| {
        node.api(
            &owner,
            "POST",
            &format!("/api/v1/groups/{g}/threads"),
            Some(json!({"title": "note", "body": body})),
            201,
        )["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let secret = group("Board", "secret");
    for _ in 0..30 {
        post(&secret, "zeppelin zeppelin merger");
    }
    let open = group("Open", "public");
    let long = post(&open, "report alpha beta gamma delta");
    let hidden_word = post(&open, "zeppelin");
    let control_word = post(&open, "quokka");
    let order = |q: &str| -> Vec<String> {
        let hits = node.api(
            &searcher,
            "GET",
            &format!("/api/v1/search?kind=post&q={}", enc(q)),
            None,
            200,
        );
        hits["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["thread"].as_str().unwrap().to_owned())
            .collect()
    };
    let with_hidden = order("report zeppelin");
    let with_control: Vec<String> = order("report quokka")
        .into_iter()
        .map(|t| {
            if t == control_word {
                hidden_word.clone()
            } else {
                t
            }
        })
        .collect();
    assert_eq!(with_hidden.len(), 2, "{with_hidden:?}");
    assert!(with_hidden.contains(&long));
    assert_eq!(
        with_hidden, with_control,
        "the order depends on words of the secret group"
    );
    assert_eq!(order("merger"), Vec::<String>::new());
}

/// Opens `/api/v1/events` with a bearer token; the connection closes when the stream ends.
fn subscribe(port: u16, token: &str) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut r = BufReader::new(s);
    let mut first = String::new();
    let start = Instant::now();
    while first.is_empty() && start.elapsed() < Duration::from_secs(10) {
        let _ = r.read_line(&mut first);
    }
    assert!(first.contains(" 200 "), "{first}");
    r
}

/// Whether the stream ends (the server closes it) within `within`.
fn closes_within(r: &mut BufReader<TcpStream>, within: Duration) -> bool {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    while start.elapsed() < within {
        match r.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// `weft user invite`'s link for `user`, as a path.
fn invite(company: &Company, i: usize, user: &str) -> String {
    let config = company.sites[i].config.to_str().unwrap().to_owned();
    let out = weft(
        company.root(),
        &["user", "invite", "--config", &config, "--user", user],
    );
    let url = out.trim();
    url[url.find("/setup/").unwrap()..].to_owned()
}

/// The setup page's form token and its cookie.
fn setup_form(port: u16, path: &str) -> (u16, Vec<String>, String) {
    let (s, head, html) = http_raw(port, "GET", path, &[], "").unwrap();
    if s != 200 {
        return (s, vec![], String::new());
    }
    let cookie = cookie_value(&head, "weft_csrf").unwrap();
    let h = vec![
        "Content-Type: application/x-www-form-urlencoded".to_string(),
        format!("Cookie: weft_csrf={cookie}"),
    ];
    (s, h, hidden_csrf(&html))
}

fn get_me(node: &Node, token: &str) -> u16 {
    status(node.request("GET", "/api/v1/me", None, Some(token)))
}

#[test]
fn sessions_survive_a_restart_and_end_with_logout_and_a_new_password() {
    let company = Company::new();
    let node = company.start(0);
    // A restart logs nobody out.
    let t1 = node.login("hdupre");
    assert_eq!(node.stop().code(), Some(0));
    let node = company.start(0);
    let port = node.http_port;
    assert_eq!(
        get_me(&node, &t1),
        200,
        "the session did not survive the restart"
    );
    // Logout ends the session and closes its event stream.
    let mut stream = subscribe(port, &t1);
    assert!(!closes_within(&mut stream, Duration::from_millis(500)));
    node.api(&t1, "DELETE", "/api/v1/session", None, 204);
    assert!(
        closes_within(&mut stream, Duration::from_secs(10)),
        "the stream outlived the logout"
    );
    assert_eq!(get_me(&node, &t1), 401);

    // A new password (a setup link, as for a reset) ends every session made with the old one.
    let (t2, t3) = (node.login("hdupre"), node.login("hdupre"));
    let other = node.login("cmartin");
    let mut stream = subscribe(port, &t2);
    let link = invite(&company, 0, "hdupre");
    let (s, h, csrf) = setup_form(port, &link);
    assert_eq!(s, 200);
    let fresh = "a brand new passphrase";
    let body = format!("password={}&again={}&_csrf={csrf}", enc(fresh), enc(fresh));
    let (s, head, _) = http_raw(port, "POST", &link, &h, &body).unwrap();
    assert_eq!(s, 303, "{head}");
    let new_session = cookie_value(&head, "weft_session").unwrap();
    assert!(
        closes_within(&mut stream, Duration::from_secs(10)),
        "a stream outlived the reset"
    );
    assert_eq!((get_me(&node, &t2), get_me(&node, &t3)), (401, 401));
    assert_eq!(get_me(&node, &new_session), 200);
    assert_eq!(
        get_me(&node, &other),
        200,
        "another employee's session ended"
    );
    let (s, _) = post_login(
        TcpStream::connect(("127.0.0.1", port)).unwrap(),
        "hdupre",
        fresh,
        &[],
    );
    assert_eq!(s, 200);
    // The link is used up.
    assert_eq!(setup_form(port, &link).0, 404);

    // Two requests with one link at the same moment: exactly one sets the password.
    let link = invite(&company, 0, "cmartin");
    let (_, h, csrf) = setup_form(port, &link);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let racers: Vec<_> = ["first passphrase!", "second passphrase!"]
        .into_iter()
        .map(|p| {
            let (link, h, b) = (link.clone(), h.clone(), barrier.clone());
            let body = format!("password={}&again={}&_csrf={csrf}", enc(p), enc(p));
            std::thread::spawn(move || {
                let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                b.wait();
                http_raw_on(s, "POST", &link, &h, &body).unwrap().0
            })
        })
        .collect();
    let mut codes: Vec<u16> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    codes.sort_unstable();
    assert_eq!(codes, [303, 404]);
    assert_eq!(
        get_me(&node, &other),
        401,
        "the old password's session survived"
    );
}

/// Marks `left` as having left and moves `moved` to `to` in the draft directory, and
/// publishes the next version.
fn publish_changes(company: &Company, left: &str, moved: &str, to: &str) {
    let draft = company.root().join("directory.draft.json");
    let mut d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&draft).unwrap()).unwrap();
    d["employees"][left]["status"] = json!("left");
    d["employees"][moved]["site"] = json!(to);
    std::fs::write(&draft, serde_json::to_string_pretty(&d).unwrap()).unwrap();
    weft(
        company.root(),
        &["directory", "publish", "--authority", "authority"],
    );
}

/// When the directory (arriving from another site) marks an employee as gone, or moves
/// them to another site, their sessions here end at once, their open streams close, and a
/// setup link made for them before no longer works.
#[test]
fn a_directory_that_marks_someone_left_or_moved_ends_their_sessions_and_streams() {
    let company = Company::new();
    company.set_password(0, "tbernard");
    let paris = company.start(0);
    let ny = company.start(1);
    all_connected(&[&paris, &ny]);
    let leaving = paris.login("cmartin");
    let moving = paris.login("tbernard");
    let staying = paris.login("hdupre");
    let link = invite(&company, 0, "cmartin");
    let mut stream = subscribe(paris.http_port, &leaving);
    let mut moving_stream = subscribe(paris.http_port, &moving);
    let version = paris.json("/api/v1/node")["directory_version"]
        .as_u64()
        .unwrap();
    // New York's operator installs the new directory; it reaches Paris over the network.
    assert_eq!(ny.stop().code(), Some(0));
    publish_changes(&company, "cmartin", "tbernard", "new-york");
    let ny = company.start(1);
    paris.wait_until(
        Duration::from_secs(60),
        "the new directory reaches Paris",
        |n| n.json("/api/v1/node")["directory_version"].as_u64() > Some(version),
    );
    assert!(
        closes_within(&mut stream, Duration::from_secs(10)),
        "the stream of someone who left stayed open"
    );
    assert!(
        closes_within(&mut moving_stream, Duration::from_secs(10)),
        "the stream of someone who moved stayed open"
    );
    assert_eq!(get_me(&paris, &leaving), 401);
    assert_eq!(get_me(&paris, &moving), 401);
    assert_eq!(get_me(&paris, &staying), 200);
    assert_eq!(
        setup_form(paris.http_port, &link).0,
        404,
        "a link from before still works"
    );
    let (s, _) = post_login(
        TcpStream::connect(("127.0.0.1", paris.http_port)).unwrap(),
        "cmartin",
        PASSWORD,
        &[],
    );
    assert_eq!(s, 401);
    let _: &Node = &ny;
}

/// There is one "All company", made by the founding site's node; nobody makes a second one,
/// by the API, by the form or by renaming a group, and its threads reach everyone's feed.
#[test]
fn a_second_all_company_is_refused() {
    let company = Company::new();
    let paris = company.start(0);
    // Bangalore is the first site by id: its node makes the group.
    let bangalore = company.start(2);
    all_connected(&[&paris, &bangalore]);
    let helene = paris.login("hdupre");
    let priya = bangalore.login("pkumar");
    let mut all = String::new();
    paris.wait_until(Duration::from_secs(60), "All company reaches Paris", |n| {
        let groups = n.api(&helene, "GET", "/api/v1/groups", None, 200);
        if let Some(g) = groups["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == "All company")
        {
            all = g["id"].as_str().unwrap().to_owned();
        }
        !all.is_empty()
    });
    for name in [
        "All company",
        "  all COMPANY ",
        "All-Company!",
        "Toute l'entreprise",
    ] {
        let (s, body) = paris
            .request(
                "POST",
                "/api/v1/groups",
                Some(&json!({"name": name, "visibility": "public"})),
                Some(&helene),
            )
            .unwrap();
        assert_eq!(s, 422, "{name}: {body}");
    }
    let who = ui_login(paris.http_port, "hdupre");
    let (s, _) = post_form(
        paris.http_port,
        &who,
        "/groups",
        "/groups",
        "name=All+company&visibility=public",
    );
    assert_eq!(s, 422, "the form made a second All company");
    let (s, to) = post_form(
        paris.http_port,
        &who,
        "/groups",
        "/groups",
        "name=Picnic&visibility=public",
    );
    assert_eq!(s, 303);
    let (s, _) = post_form(
        paris.http_port,
        &who,
        &to,
        &format!("{to}/settings"),
        "name=All+company&description=x",
    );
    assert_eq!(s, 422, "a group was renamed All company");
    // The real one's threads reach Paris's feed, member or not.
    let t = bangalore.api(
        &priya,
        "POST",
        &format!("/api/v1/groups/{all}/threads"),
        Some(json!({"title": "Welcome everyone", "body": "Hello from Bangalore"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    paris.wait_until(
        Duration::from_secs(30),
        "the thread reaches Paris's feed",
        |n| {
            n.api(&helene, "GET", "/api/v1/feed", None, 200)["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["id"] == tid.as_str())
        },
    );
}

/// Every folder of a fresh node's data is 0700 and every file 0600, and a node refuses to
/// start on a store others could read.
#[test]
fn a_fresh_store_is_private_and_a_readable_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let company = Company::new();
    let node = company.start(0);
    let token = node.login("hdupre");
    node.api(
        &token,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Private stuff", "visibility": "secret"})),
        201,
    );
    invite(&company, 0, "cmartin");
    assert_eq!(node.stop().code(), Some(0));
    let data = company.store_dir(0).parent().unwrap().to_owned();
    fn walk(p: &Path, out: &mut Vec<(std::path::PathBuf, u32, bool)>) {
        let meta = std::fs::metadata(p).unwrap();
        out.push((
            p.to_owned(),
            meta.permissions().mode() & 0o777,
            meta.is_dir(),
        ));
        if meta.is_dir() {
            for e in std::fs::read_dir(p).unwrap() {
                walk(&e.unwrap().path(), out);
            }
        }
    }
    let mut all = Vec::new();
    walk(&data, &mut all);
    assert!(all.len() > 10, "{all:?}");
    for (path, mode, dir) in &all {
        let want = if *dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} is {mode:o}", path.display());
    }
    let store = company.store_dir(0);
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new(crate::harness::WEFT)
        .args(["run", "--config", company.sites[0].config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod -R go-rwx"), "{err}");
}
