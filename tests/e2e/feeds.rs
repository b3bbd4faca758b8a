//! Atom feeds out (issue 17): a group's, a topic's and a person's feed parse as Atom (checked
//! by a strict little XML parser written here) and hold only what their reader may read;
//! the feed token, its reset, and conditional requests.

use crate::harness::{Company, http_raw};

/// An XML element: its name, attributes, children and text.
#[derive(Debug, Default, Clone)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) children: Vec<Element>,
    pub(crate) text: String,
}

impl Element {
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses an XML document strictly enough for feeds: one root, balanced tags, quoted
/// attributes, only the five named entities and character references, no `<` or a bare `&`
/// in text. Comments, processing instructions and CDATA sections are understood.
pub(crate) fn parse_xml(doc: &str) -> Result<Element, String> {
    let mut p = Parser {
        s: doc.as_bytes(),
        i: 0,
    };
    p.skip_prolog()?;
    let root = p.element()?;
    p.skip_misc()?;
    if p.i != p.s.len() {
        return Err(format!("content after the root element at {}", p.i));
    }
    Ok(root)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn starts(&self, t: &str) -> bool {
        self.s[self.i..].starts_with(t.as_bytes())
    }

    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn skip_until(&mut self, end: &str) -> Result<(), String> {
        while self.i < self.s.len() && !self.starts(end) {
            self.i += 1;
        }
        if self.i >= self.s.len() {
            return Err(format!("no {end}"));
        }
        self.i += end.len();
        Ok(())
    }

    fn skip_misc(&mut self) -> Result<(), String> {
        loop {
            self.skip_ws();
            if self.starts("<?") {
                self.skip_until("?>")?;
            } else if self.starts("<!--") {
                self.skip_until("-->")?;
            } else {
                return Ok(());
            }
        }
    }

    fn skip_prolog(&mut self) -> Result<(), String> {
        self.skip_misc()?;
        if self.starts("<!DOCTYPE") {
            return Err("no DOCTYPE expected in a feed".into());
        }
        Ok(())
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || b":_-.".contains(&self.s[self.i]))
        {
            self.i += 1;
        }
        if start == self.i {
            return Err(format!("a name expected at {start}"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// Text up to `<` (or the quote ending an attribute), entities decoded.
    fn text(&mut self, end: u8) -> Result<String, String> {
        let mut out = Vec::new();
        while self.i < self.s.len() && self.s[self.i] != end {
            let c = self.s[self.i];
            if c == b'<' {
                return Err(format!("'<' in text at {}", self.i));
            }
            if c == b'&' {
                let semi = self.s[self.i..]
                    .iter()
                    .position(|&b| b == b';')
                    .ok_or("an unterminated entity")?;
                let ent = std::str::from_utf8(&self.s[self.i + 1..self.i + semi])
                    .map_err(|e| e.to_string())?;
                let ch = match ent {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or(format!("bad reference {e}"))?,
                    e if e.starts_with('#') => e[1..]
                        .parse::<u32>()
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or(format!("bad reference {e}"))?,
                    e => return Err(format!("unknown entity &{e};")),
                };
                let mut buf = [0; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                self.i += semi + 1;
            } else {
                if c < 0x20 && !b"\t\n\r".contains(&c) {
                    return Err(format!("control character {c} at {}", self.i));
                }
                out.push(c);
                self.i += 1;
            }
        }
        String::from_utf8(out).map_err(|e| e.to_string())
    }

    fn element(&mut self) -> Result<Element, String> {
        if !self.starts("<") {
            return Err(format!("an element expected at {}", self.i));
        }
        self.i += 1;
        let mut el = Element {
            name: self.name()?,
            ..Element::default()
        };
        loop {
            self.skip_ws();
            if self.starts("/>") {
                self.i += 2;
                return Ok(el);
            }
            if self.starts(">") {
                self.i += 1;
                break;
            }
            let k = self.name()?;
            self.skip_ws();
            if !self.starts("=") {
                return Err(format!("'=' expected after {k}"));
            }
            self.i += 1;
            self.skip_ws();
            let q = *self.s.get(self.i).ok_or("end of input")?;
            if q != b'"' && q != b'\'' {
                return Err(format!("an unquoted attribute {k}"));
            }
            self.i += 1;
            let v = self.text(q)?;
            self.i += 1;
            if el.attrs.iter().any(|(a, _)| *a == k) {
                return Err(format!("attribute {k} twice"));
            }
            el.attrs.push((k, v));
        }
        loop {
            if self.starts("</") {
                self.i += 2;
                let end = self.name()?;
                if end != el.name {
                    return Err(format!("</{end}> closes <{}>", el.name));
                }
                self.skip_ws();
                if !self.starts(">") {
                    return Err("'>' expected".into());
                }
                self.i += 1;
                return Ok(el);
            } else if self.starts("<!--") {
                self.skip_until("-->")?;
            } else if self.starts("<![CDATA[") {
                self.i += 9;
                let start = self.i;
                self.skip_until("]]>")?;
                el.text
                    .push_str(&String::from_utf8_lossy(&self.s[start..self.i - 3]));
            } else if self.starts("<") {
                el.children.push(self.element()?);
            } else if self.i >= self.s.len() {
                return Err(format!("<{}> never closed", el.name));
            } else {
                let t = self.text(b'<')?;
                el.text.push_str(&t);
            }
        }
    }
}

/// Checks what RFC 4287 requires of a feed and of each entry, and returns the entries'
/// titles in order.
pub(crate) fn atom_titles(doc: &str) -> Vec<String> {
    let feed = parse_xml(doc).unwrap_or_else(|e| panic!("not XML: {e}\n{doc}"));
    assert_eq!(feed.name, "feed");
    assert_eq!(feed.attr("xmlns"), Some("http://www.w3.org/2005/Atom"));
    let rfc3339 = |s: &str| {
        s.len() >= 20
            && s.as_bytes()[4] == b'-'
            && s.as_bytes()[10] == b'T'
            && (s.ends_with('Z') || s.contains('+'))
    };
    for required in ["id", "title", "updated"] {
        assert!(feed.child(required).is_some(), "the feed has no {required}");
    }
    assert!(rfc3339(&feed.child("updated").unwrap().text));
    assert!(
        feed.all("link")
            .any(|l| l.attr("rel") == Some("self") && !l.attr("href").unwrap().contains("token")),
        "a self link, without the token"
    );
    feed.all("entry")
        .map(|e| {
            for required in ["id", "title", "updated"] {
                assert!(e.child(required).is_some(), "an entry without {required}");
            }
            assert!(rfc3339(&e.child("updated").unwrap().text));
            assert!(
                e.child("author")
                    .and_then(|a| a.child("name"))
                    .is_some_and(|n| !n.text.is_empty()),
                "an entry without an author (the feed has none either)"
            );
            e.child("title").unwrap().text.clone()
        })
        .collect()
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn feeds_parse_as_atom_and_hold_only_what_their_reader_may_read() {
    let company = Company::new();
    let node = company.start(0);
    let port = node.http_port;
    let helene = node.login("hdupre");
    let claire = node.login("cmartin");
    let make = |name: &str, visibility: &str| -> String {
        let g = node.api(
            &helene,
            "POST",
            "/api/v1/groups",
            Some(serde_json::json!({"name": name, "visibility": visibility})),
            201,
        );
        g["id"].as_str().unwrap().to_owned()
    };
    let public = make("Actualités", "public");
    let private = make("Direction", "private");
    let post = |gid: &str, title: &str, body: &str| {
        node.api(
            &helene,
            "POST",
            &format!("/api/v1/groups/{gid}/threads"),
            Some(serde_json::json!({"title": title, "body": body})),
            201,
        );
    };
    let tricky = "Bienvenue <script>alert(1)</script> & « merci » 'à tous'";
    post(&public, tricky, "Le **lancement** est fait. #Lancement");
    post(&private, "Budget confidentiel", "Les chiffres. #lancement");

    // Claire's token, from the API.
    let feeds = node.api(&claire, "GET", "/api/v1/me/feeds", None, 200);
    let token = feeds["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);
    assert!(feeds["group"].as_str().unwrap().contains(&token));
    let get = |path: &str, extra: &[String]| http_raw(port, "GET", path, extra, "").unwrap();

    // The public group's feed: the thread, its title intact through escaping.
    let url = format!("/feeds/groups/{public}.atom?token={token}");
    let (s, head, body) = get(&url, &[]);
    assert_eq!(s, 200, "{body}");
    assert!(
        header(&head, "content-type")
            .unwrap()
            .starts_with("application/atom+xml")
    );
    assert!(header(&head, "cache-control").unwrap().contains("private"));
    assert!(!body.contains("<script>"), "markup is escaped");
    assert_eq!(atom_titles(&body), vec![tricky.to_owned()]);
    let summary = parse_xml(&body).unwrap();
    let entry = summary.child("entry").unwrap();
    assert_eq!(
        entry.child("summary").map(|s| s.attr("type")),
        Some(Some("html"))
    );
    assert!(
        entry
            .child("summary")
            .unwrap()
            .text
            .contains("<strong>lancement</strong>"),
        "the excerpt as HTML"
    );
    assert_eq!(
        entry.child("author").unwrap().child("name").unwrap().text,
        "Hélène Dupré"
    );
    // Conditional: the same tag answers 304, without a body.
    let etag = header(&head, "etag").unwrap().to_owned();
    let (s, head304, body304) = get(&url, &[format!("If-None-Match: {etag}")]);
    assert_eq!((s, body304.as_str()), (304, ""));
    assert_eq!(header(&head304, "etag"), Some(etag.as_str()));

    // The private group: not Claire's to read.
    let (s, _, _) = get(&format!("/feeds/groups/{private}.atom?token={token}"), &[]);
    assert_eq!(s, 404);
    // The topic and Hélène's own feed hold only the public thread for Claire…
    for path in [
        format!("/feeds/topics/lancement.atom?token={token}"),
        format!("/feeds/people/hdupre.atom?token={token}"),
    ] {
        let (s, _, body) = get(&path, &[]);
        assert_eq!(s, 200, "{path}");
        assert_eq!(atom_titles(&body), vec![tricky.to_owned()], "{path}");
    }
    // …and both for Hélène, read with her session this time.
    let (s, _, body) = get(
        "/feeds/people/hdupre.atom",
        &[format!("Authorization: Bearer {helene}")],
    );
    assert_eq!(s, 200);
    let mut titles = atom_titles(&body);
    titles.sort();
    let mut want = vec!["Budget confidentiel".to_owned(), tricky.to_owned()];
    want.sort();
    assert_eq!(titles, want);

    // Something new: the tag changes.
    post(&public, "Deuxième nouvelle", "Encore.");
    let (s, head, body) = get(&url, &[format!("If-None-Match: {etag}")]);
    assert_eq!(s, 200);
    assert_ne!(header(&head, "etag"), Some(etag.as_str()));
    assert_eq!(atom_titles(&body)[0], "Deuxième nouvelle", "newest first");

    // No token, no session: 401; a made-up token: 404; a reset token stops working.
    let (s, _, _) = get(&format!("/feeds/groups/{public}.atom"), &[]);
    assert_eq!(s, 401);
    let (s, _, _) = get(
        &format!("/feeds/groups/{public}.atom?token={}", "a".repeat(64)),
        &[],
    );
    assert_eq!(s, 404);
    let reset = node.api(&claire, "POST", "/api/v1/me/feeds/reset", None, 200);
    assert_ne!(reset["token"], token.as_str());
    let (s, _, _) = get(&url, &[]);
    assert_eq!(s, 404, "the old token no longer opens anything");
    let fresh = reset["token"].as_str().unwrap();
    let (s, _, _) = get(&format!("/feeds/groups/{public}.atom?token={fresh}"), &[]);
    assert_eq!(s, 200);
}

#[test]
fn the_test_parser_refuses_what_is_not_xml() {
    for bad in [
        "<feed>",
        "<feed></fed>",
        "<feed>a < b</feed>",
        "<feed>a &nbsp; b</feed>",
        "<feed a=b></feed>",
        "<feed></feed><feed></feed>",
    ] {
        assert!(parse_xml(bad).is_err(), "{bad}");
    }
    let ok = parse_xml("<?xml version=\"1.0\"?><a x='1'><b>&lt;&#233;&#xE9;</b><c/></a>").unwrap();
    assert_eq!(ok.child("b").unwrap().text, "<éé");
    assert_eq!(ok.attr("x"), Some("1"));
}

/// A feed served by a little HTTP server of the test's own: its body and `ETag` can be
/// changed while it runs, and it remembers the `If-None-Match` of each request.
struct FeedServer {
    port: u16,
    state: std::sync::Arc<std::sync::Mutex<Served>>,
}

/// The feed's body, its `ETag`, and the `If-None-Match` of each request.
type Served = (String, String, Vec<Option<String>>);

impl FeedServer {
    fn start(body: &str, etag: &str) -> FeedServer {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = std::sync::Arc::new(std::sync::Mutex::new((
            body.to_owned(),
            etag.to_owned(),
            Vec::new(),
        )));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut reader = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                let mut inm = None;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':')
                        && k.eq_ignore_ascii_case("if-none-match")
                    {
                        inm = Some(v.trim().to_owned());
                    }
                }
                let (status, kind, body, etag) = {
                    let mut st = shared.lock().unwrap();
                    if path == "/feed.xml" {
                        st.2.push(inm.clone());
                    }
                    match path.as_str() {
                        "/feed.xml" if inm.as_deref() == Some(st.1.as_str()) => (
                            "304 Not Modified",
                            "application/rss+xml",
                            String::new(),
                            st.1.clone(),
                        ),
                        "/feed.xml" => {
                            ("200 OK", "application/rss+xml", st.0.clone(), st.1.clone())
                        }
                        "/page.html" => (
                            "200 OK",
                            "text/html",
                            "<html><body>Bonjour</body></html>".into(),
                            "\"p\"".into(),
                        ),
                        "/big.xml" => (
                            "200 OK",
                            "application/rss+xml",
                            format!("<rss>{}</rss>", "x".repeat(200_000)),
                            "\"b\"".into(),
                        ),
                        _ => ("404 Not Found", "text/plain", "no".into(), "\"n\"".into()),
                    }
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        FeedServer { port, state }
    }

    fn set(&self, body: &str, etag: &str) {
        let mut st = self.state.lock().unwrap();
        st.0 = body.to_owned();
        st.1 = etag.to_owned();
    }

    fn conditional_requests(&self) -> Vec<Option<String>> {
        self.state.lock().unwrap().2.clone()
    }
}

fn rss(items: &[(u32, &str)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Veille cuivre</title>",
    );
    // The newest first, as feeds list them.
    for (n, title) in items.iter().rev() {
        out.push_str(&format!(
            "<item><title>{title}</title><link>https://news.example.com/{n}</link><guid>item-{n}</guid><description>&lt;p&gt;Article {n}&lt;/p&gt;</description></item>"
        ));
    }
    out.push_str("</channel></rss>");
    out
}

#[test]
fn a_group_follows_an_outside_feed_posted_by_the_sites_feed_account() {
    let company = Company::new();
    // The directory lists a feed account at Paris and one at New York.
    company.publish(|d| {
        for (id, site) in [("veille-paris", "paris"), ("veille-ny", "new-york")] {
            let mut e = d["employees"]["cmartin"].clone();
            e["id"] = serde_json::json!(id);
            e["display_name"] = serde_json::json!(format!("Veille {site}"));
            e["given_name"] = serde_json::json!("Veille");
            e["email"] = serde_json::json!(format!("{id}@example.com"));
            e["site"] = serde_json::json!(site);
            e["manager"] = serde_json::Value::Null;
            e["roles"] = serde_json::json!([]);
            e["history"] = serde_json::json!([]);
            d["employees"][id] = e;
        }
    });
    company.configure(
        0,
        "feed_bot = \"veille-paris\"\nfeeds_allow_private = true\nfeeds_max_kb = 64",
    );
    company.configure(1, "feed_bot = \"veille-ny\"");
    let a = company.start(0);
    let b = company.start(1);
    for n in [&a, &b] {
        n.wait_until(std::time::Duration::from_secs(60), "connected", |n| {
            n.connected_peers() == 1
        });
    }
    let server = FeedServer::start(
        &rss(&[
            (1, "Un"),
            (2, "Deux"),
            (3, "Trois"),
            (4, "Quatre"),
            (5, "Cinq"),
        ]),
        "\"v1\"",
    );
    let url = format!("http://127.0.0.1:{}/feed.xml", server.port);
    let helene = a.login("hdupre");
    let claire = a.login("cmartin");
    let g = a.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(serde_json::json!({"name": "Matières premières", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    let feeds = format!("/api/v1/groups/{gid}/feeds");
    // Only the group's owners choose.
    a.api(
        &claire,
        "POST",
        &feeds,
        Some(serde_json::json!({"url": url})),
        403,
    );
    // An address that gives no feed, or too much: refused, with why.
    let e = a.api(
        &helene,
        "POST",
        &feeds,
        Some(serde_json::json!({"url": format!("http://127.0.0.1:{}/page.html", server.port)})),
        422,
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("no feed"),
        "{e}"
    );
    let e = a.api(
        &helene,
        "POST",
        &feeds,
        Some(serde_json::json!({"url": format!("http://127.0.0.1:{}/big.xml", server.port)})),
        422,
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than"),
        "{e}"
    );
    // Followed: the three newest items are posted, oldest first, by the feed account.
    let f = a.api(
        &helene,
        "POST",
        &feeds,
        Some(serde_json::json!({"url": url})),
        201,
    );
    assert_eq!(f["title"], "Veille cuivre");
    assert_eq!(f["posted"], 3);
    let fid = f["id"].as_str().unwrap().to_owned();
    let titles = |node: &crate::harness::Node, token: &str| -> Vec<(String, String)> {
        let t = node.api(
            token,
            "GET",
            &format!("/api/v1/groups/{gid}/threads"),
            None,
            200,
        );
        t["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["title"].as_str().unwrap().to_owned(),
                    t["author"]
                        .as_str()
                        .unwrap_or(t["root"]["author"].as_str().unwrap_or(""))
                        .to_owned(),
                )
            })
            .collect()
    };
    let mut got = titles(&a, &helene);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("Cinq".to_owned(), "veille-paris".to_owned()),
            ("Quatre".to_owned(), "veille-paris".to_owned()),
            ("Trois".to_owned(), "veille-paris".to_owned()),
        ]
    );
    // Nothing new: the conditional request gets 304, nothing posted.
    let f = a.api(
        &helene,
        "POST",
        &format!("{feeds}/{fid}/refresh"),
        None,
        200,
    );
    assert_eq!(f["posted"], 3);
    assert_eq!(f["last_error"], serde_json::Value::Null);
    assert_eq!(
        server
            .conditional_requests()
            .last()
            .cloned()
            .flatten()
            .as_deref(),
        Some("\"v1\""),
        "the ETag is sent back"
    );
    // A new item: posted.
    server.set(
        &rss(&[
            (1, "Un"),
            (2, "Deux"),
            (3, "Trois"),
            (4, "Quatre"),
            (5, "Cinq"),
            (6, "Six"),
        ]),
        "\"v2\"",
    );
    let f = a.api(
        &helene,
        "POST",
        &format!("{feeds}/{fid}/refresh"),
        None,
        200,
    );
    assert_eq!(f["posted"], 4);
    assert!(titles(&a, &helene).iter().any(|(t, _)| t == "Six"));
    // New York sees the posts; its own site, which does not fetch internal addresses,
    // refuses to follow this one.
    let john = b.login("jsmith");
    b.wait_until(
        std::time::Duration::from_secs(60),
        "the posts reach New York",
        |n| {
            n.request(
                "GET",
                &format!("/api/v1/groups/{gid}/threads"),
                None,
                Some(&john),
            )
            .is_some_and(|(s, body)| s == 200 && body.contains("Six"))
        },
    );
    let g2 = b.api(
        &john,
        "POST",
        "/api/v1/groups",
        Some(serde_json::json!({"name": "Veille NY", "visibility": "public"})),
        201,
    );
    let e = b.api(
        &john,
        "POST",
        &format!("/api/v1/groups/{}/feeds", g2["id"].as_str().unwrap()),
        Some(serde_json::json!({"url": url})),
        422,
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("internal address"),
        "{e}"
    );
    // A private group: its feed account becomes a member to post there.
    let p = a.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(serde_json::json!({"name": "Achats", "visibility": "private"})),
        201,
    );
    let pid = p["id"].as_str().unwrap();
    a.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{pid}/feeds"),
        Some(serde_json::json!({"url": url})),
        201,
    );
    let group = a.api(&helene, "GET", &format!("/api/v1/groups/{pid}"), None, 200);
    assert_eq!(group["member_count"], 2, "{group}");
    let posted = a.api(
        &helene,
        "GET",
        &format!("/api/v1/groups/{pid}/threads"),
        None,
        200,
    );
    assert_eq!(posted["items"].as_array().unwrap().len(), 3, "{posted}");
    // Listed, and removed.
    let list = a.api(&helene, "GET", &feeds, None, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    a.api(&helene, "DELETE", &format!("{feeds}/{fid}"), None, 204);
    let list = a.api(&helene, "GET", &feeds, None, 200);
    assert_eq!(list["items"], serde_json::json!([]));
    // Through the group's page: its owner follows the feed again with the form.
    let cookie = crate::ui::ui_login(a.http_port, "hdupre");
    let page = format!("/groups/{gid}");
    let (s, _) = crate::ui::post_form(
        a.http_port,
        &cookie,
        &page,
        &format!("{page}/feeds"),
        &format!("url={}", crate::ui::enc(&url)),
    );
    assert_eq!(s, 303);
    let (_, _, html) =
        http_raw(a.http_port, "GET", &page, std::slice::from_ref(&cookie), "").unwrap();
    assert!(
        html.contains("Veille cuivre") && html.contains("/remove"),
        "{html}"
    );
}
