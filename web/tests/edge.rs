//! The web edge against a real node in this process, through `oneshot` (no HTTP server, no
//! other process): cookie-authenticated writes, the operations endpoints, redirects, cookie
//! flags, search input, event streams and who hears of what; in its modules, who may see and
//! do what and the form tokens ([`access`]), the shapes of answers and errors ([`shapes`]),
//! and request tracing ([`trace`]). Each test starts its own node; all run in seconds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "edge/access.rs"]
mod access;
#[path = "edge/shapes.rs"]
mod shapes;
#[path = "edge/trace.rs"]
mod trace;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use tower::ServiceExt;
use weft_node::crdt::testkit::World;
use weft_node::service::Service;
use weft_node::{Config, files};
use weft_web::WebOptions;

const PASSWORD: &str = "correct horse battery staple";
const TOKEN: &str = "an operator token of some length";

/// A node of one site (`site0`) with employees `e0`, `e1`, `e2`, each with [`PASSWORD`].
struct Node {
    service: Service,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn node() -> Node {
    let w = World::new(1, 3);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    files::write_secret_key(&d.join("node.key"), &w.nodes[0]).unwrap();
    files::write_public_key(&d.join("authority.pub"), &w.authority.public()).unwrap();
    files::write_atomic(&d.join("directory.signed"), &w.directory.to_bytes()).unwrap();
    let config = Config {
        site: "site0".into(),
        data_dir: d.join("data"),
        node_key: d.join("node.key"),
        directory: d.join("directory.signed"),
        trust: vec![d.join("authority.pub")],
        listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
        ..Config::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = weft_node::start(&config, async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let hash = weft_web::auth::hash_password(PASSWORD).unwrap();
    running
        .handle
        .call(move |c| {
            for e in ["e0", "e1", "e2"] {
                c.store().set_password_hash(e, &hash).unwrap();
            }
        })
        .await
        .unwrap();
    Node {
        service: running.service(),
        _stop: stop,
        _dir: dir,
    }
}

fn app(n: &Node, options: WebOptions) -> Router {
    weft_web::router(n.service.clone(), options)
}

fn from(ip: [u8; 4], mut r: Request<Body>) -> Request<Body> {
    r.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
    r
}

const HERE: [u8; 4] = [127, 0, 0, 1];
const ELSEWHERE: [u8; 4] = [10, 0, 0, 5];

async fn send(app: &Router, r: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let resp = app.clone().oneshot(r).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

async fn login(app: &Router, who: &str) -> String {
    let r = Request::post("/api/v1/session")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::json!({"login": who, "password": PASSWORD}).to_string(),
        ))
        .unwrap();
    let (s, _, body) = send(app, from(HERE, r)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["token"].as_str().unwrap().to_owned()
}

fn with_cookie(token: &str, r: axum::http::request::Builder) -> axum::http::request::Builder {
    r.header(header::COOKIE, format!("weft_session={token}"))
}

fn bearer(token: &str, r: axum::http::request::Builder) -> axum::http::request::Builder {
    r.header(header::AUTHORIZATION, format!("Bearer {token}"))
}

/// Sends `body` as JSON; the status and the answer's JSON (null when there is none).
async fn json(
    app: &Router,
    r: axum::http::request::Builder,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let r = r
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (s, _, b) = send(app, from(HERE, r)).await;
    (s, serde_json::from_str(&b).unwrap_or_default())
}

fn code(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body).unwrap()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A page on another site can make the browser send our cookie with a form, in any of the
/// three types a form may have, but never with JSON: every such write is refused unread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_authenticated_api_writes_must_be_json() {
    let n = node().await;
    let app = app(&n, WebOptions::default());
    let token = login(&app, "e0").await;
    let body = r#"{"name": "Forged", "visibility": "public"}"#;
    for kind in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut r = with_cookie(&token, Request::post("/api/v1/groups"));
        if let Some(k) = kind {
            r = r.header(header::CONTENT_TYPE, k);
        }
        let (s, _, b) = send(&app, from(HERE, r.body(Body::from(body)).unwrap())).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{kind:?}: {b}");
        assert_eq!(code(&b), "json_required");
    }
    // Writes with no body at all too (a reaction, a follow, a logout).
    for (method, path) in [
        (
            "PUT",
            "/api/v1/threads/t-00000000000000000000000000000000/follow",
        ),
        ("DELETE", "/api/v1/session"),
        ("POST", "/api/v1/feed/read"),
    ] {
        let r = with_cookie(&token, Request::builder().method(method).uri(path));
        let (s, _, _) = send(&app, from(HERE, r.body(Body::empty()).unwrap())).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{method} {path}");
    }
    // JSON with the cookie is fine, and so is a bearer token (never sent by a browser on its
    // own) whatever the body.
    let r = with_cookie(&token, Request::post("/api/v1/groups"))
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(send(&app, from(HERE, r)).await.0, StatusCode::CREATED);
    let r = Request::post("/api/v1/feed/read")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, from(HERE, r)).await.0, StatusCode::NO_CONTENT);
    // Reading with the cookie needs nothing.
    let r = with_cookie(&token, Request::get("/api/v1/me"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, from(HERE, r)).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_endpoints_answer_this_machine_or_the_token() {
    let n = node().await;
    let app = app(
        &n,
        WebOptions {
            metrics_token: Some(TOKEN.into()),
            ..WebOptions::default()
        },
    );
    for path in ["/metrics", "/api/v1/node"] {
        let get = || Request::get(path);
        let (s, _, _) = send(&app, from(HERE, get().body(Body::empty()).unwrap())).await;
        assert_eq!(s, StatusCode::OK, "{path} from this machine");
        let (s, _, _) = send(&app, from(ELSEWHERE, get().body(Body::empty()).unwrap())).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path} from elsewhere");
        // Relayed by a proxy on this machine: not this machine's request.
        let r = get()
            .header("x-forwarded-for", "203.0.113.9")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, from(HERE, r)).await.0, StatusCode::FORBIDDEN);
        let r = get()
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, from(ELSEWHERE, r)).await.0, StatusCode::OK);
        let r = get()
            .header(header::AUTHORIZATION, "Bearer not the token at all")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, from(HERE, r)).await.0, StatusCode::FORBIDDEN);
    }
    // A proxy on this machine that relays without saying so is still a proxy.
    let proxied = self::app(
        &n,
        WebOptions {
            trusted_proxies: vec![weft_node::config::IpRange::parse("127.0.0.1").unwrap()],
            ..WebOptions::default()
        },
    );
    let r = Request::get("/metrics").body(Body::empty()).unwrap();
    assert_eq!(send(&proxied, from(HERE, r)).await.0, StatusCode::FORBIDDEN);
    // Without a token configured, other machines get nothing whatever they send.
    let plain = self::app(&n, WebOptions::default());
    let r = Request::get("/metrics")
        .header(header::AUTHORIZATION, "Bearer ")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&plain, from(ELSEWHERE, r)).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_links_go_back_only_to_pages_of_this_site() {
    let n = node().await;
    let app = app(&n, WebOptions::default());
    for (referer, back) in [
        ("http://weft.example/groups?q=1", "/groups?q=1"),
        ("http://weft.example//evil.example/x", "/"),
        ("http://weft.example/\\evil.example", "/"),
        ("//evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ] {
        let r = Request::get("/lang/fr")
            .header(header::REFERER, referer)
            .body(Body::empty())
            .unwrap();
        let (s, h, _) = send(&app, from(HERE, r)).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(h[header::LOCATION], back, "{referer}");
        let cookie = h[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with("weft_lang=fr") && !cookie.contains("Secure"));
    }
}

/// The attributes of a `Set-Cookie` value, sorted (their order is the library's).
fn attributes(set_cookie: &axum::http::HeaderValue) -> Vec<String> {
    let mut a: Vec<String> = set_cookie
        .to_str()
        .unwrap()
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_owned())
        .collect();
    a.sort();
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_when_the_public_address_is_https() {
    let n = node().await;
    let app = app(
        &n,
        WebOptions {
            public_url: Some("https://weft.paris.example".into()),
            ..WebOptions::default()
        },
    );
    let (_, h, _) = send(
        &app,
        from(HERE, Request::get("/login").body(Body::empty()).unwrap()),
    )
    .await;
    let c = &h[header::SET_COOKIE];
    assert!(c.to_str().unwrap().starts_with("weft_csrf="));
    assert_eq!(
        attributes(c),
        ["HttpOnly", "Path=/login", "SameSite=Strict", "Secure"]
    );
    let r = Request::post("/api/v1/session")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::json!({"login": "e1", "password": PASSWORD}).to_string(),
        ))
        .unwrap();
    let (s, h, body) = send(&app, from(HERE, r)).await;
    assert_eq!(s, StatusCode::OK);
    let c = &h[header::SET_COOKIE];
    let token: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = token["token"].as_str().unwrap();
    assert_eq!(
        c.to_str().unwrap().split(';').next(),
        Some(format!("weft_session={token}").as_str())
    );
    assert_eq!(
        attributes(c),
        [
            "HttpOnly",
            "Max-Age=604800",
            "Path=/",
            "SameSite=Lax",
            "Secure"
        ]
    );
    let r = Request::get("/lang/fr").body(Body::empty()).unwrap();
    let (_, h, _) = send(&app, from(HERE, r)).await;
    assert_eq!(
        attributes(&h[header::SET_COOKIE]),
        [
            "HttpOnly",
            "Max-Age=31536000",
            "Path=/",
            "SameSite=Lax",
            "Secure"
        ]
    );
    // Logging out removes the cookie, with the same flags.
    let r = Request::delete("/api/v1/session")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let (s, h, _) = send(&app, from(HERE, r)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let gone = attributes(&h[header::SET_COOKIE]);
    for a in ["HttpOnly", "Max-Age=0", "Path=/", "SameSite=Lax", "Secure"] {
        assert!(gone.iter().any(|g| g == a), "{a} not in {gone:?}");
    }
}

fn enc(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Whatever is typed in the search box or the API, the answer is 200 or 400 and the node
/// goes on (tantivy's query grammar used to overflow the stack on nested parentheses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_answers_200_or_400_whatever_it_holds() {
    let n = node().await;
    let app = app(&n, WebOptions::default());
    let token = login(&app, "e0").await;
    let nasty = [
        "(".repeat(2_000),
        format!("{}a{}", "(".repeat(400), ")".repeat(400)),
        "\"".repeat(999),
        "a:b c:d title:x body_en:y".into(),
        "* ~ ^ + - ! && || NOT AND OR ( ) [ ] { } \\ / :".into(),
        "word^1000000 \"a b c d e f g h i j\"~99".into(),
        "x".repeat(5_000),
        (0..200).map(|i| format!("w{i} ")).collect(),
        "\u{0}\u{202e}𝔸𝔹 é \u{feff}".into(),
        "[a TO z] {1 TO 9} field:[* TO *]".into(),
        String::new(),
    ];
    for q in &nasty {
        let r = Request::get(format!("/api/v1/search?q={}", enc(q)))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let (s, _, b) = send(&app, from(HERE, r)).await;
        assert!(
            s == StatusCode::OK || s == StatusCode::BAD_REQUEST,
            "{s} for {:?}: {b}",
            q.chars().take(40).collect::<String>()
        );
        let page = with_cookie(&token, Request::get(format!("/search?q={}", enc(q))))
            .body(Body::empty())
            .unwrap();
        let (s, _, _) = send(&app, from(HERE, page)).await;
        assert!(
            s == StatusCode::OK || s == StatusCode::BAD_REQUEST,
            "page: {s}"
        );
    }
    // The name filters of groups and people run on the node's loop too: bounded likewise.
    let long = "a ".repeat(5_000);
    for path in ["/api/v1/groups", "/api/v1/people", "/groups"] {
        let r = with_cookie(&token, Request::get(format!("{path}?q={}", enc(&long))))
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            send(&app, from(HERE, r)).await.0,
            StatusCode::BAD_REQUEST,
            "{path}"
        );
    }
    let ok = n.service.health().await;
    assert!(ok.is_ok(), "the node is still up");
}

type Events = axum::body::BodyDataStream;

/// Reads a Server-Sent Events stream until `want` is in it (`Some(true)`), the stream ends
/// (`None`), or `within` passes (`Some(false)`); what was read is appended to `seen`.
async fn read_until(
    stream: &mut Events,
    seen: &mut String,
    want: &str,
    within: Duration,
) -> Option<bool> {
    use futures_util::StreamExt;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => return Some(false),
            Ok(None | Some(Err(_))) => return None,
            Ok(Some(Ok(bytes))) => {
                seen.push_str(&String::from_utf8_lossy(&bytes));
                if !want.is_empty() && seen.contains(want) {
                    return Some(true);
                }
            }
        }
    }
}

async fn events(app: &Router, token: &str) -> Events {
    let r = Request::get("/api/v1/events")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(from(HERE, r)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.into_body().into_data_stream()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_ends_with_its_session() {
    let n = node().await;
    let app = app(&n, WebOptions::default());
    let token = login(&app, "e1").await;
    let other = login(&app, "e1").await;
    let mut stream = events(&app, &token).await;
    let mut kept = events(&app, &other).await;
    let mut seen = String::new();
    let quiet = Duration::from_millis(300);
    assert_eq!(
        read_until(&mut stream, &mut seen, "", quiet).await,
        Some(false)
    );
    let r = Request::delete("/api/v1/session")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, from(HERE, r)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        read_until(&mut stream, &mut seen, "", Duration::from_secs(5)).await,
        None,
        "the stream of the ended session is still open"
    );
    // The same employee's other session, and its stream, go on.
    assert_eq!(
        read_until(&mut kept, &mut seen, "", quiet).await,
        Some(false)
    );
    let r = Request::get("/api/v1/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, from(HERE, r)).await.0, StatusCode::UNAUTHORIZED);
}

/// Someone who may only see a private group listed hears nothing of what happens in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_events_go_only_to_those_with_full_access() {
    let n = node().await;
    let app = app(&n, WebOptions::default());
    let owner = login(&app, "e0").await;
    let outsider = login(&app, "e2").await;
    let create = |name: &str, vis: &str| {
        Request::post("/api/v1/groups")
            .header(header::AUTHORIZATION, format!("Bearer {owner}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                serde_json::json!({"name": name, "visibility": vis}).to_string(),
            ))
            .unwrap()
    };
    let mut stream = events(&app, &outsider).await;
    let (s, _, private) = send(&app, from(HERE, create("Board", "private"))).await;
    assert_eq!(s, StatusCode::CREATED);
    let private: serde_json::Value = serde_json::from_str(&private).unwrap();
    let private = private["id"].as_str().unwrap().to_owned();
    let (_, _, public) = send(&app, from(HERE, create("Open", "public"))).await;
    let public: serde_json::Value = serde_json::from_str(&public).unwrap();
    let public = public["id"].as_str().unwrap().to_owned();
    // Events come in order: once the public group's is here, the private one's would have
    // been before it.
    let mut seen = String::new();
    let got = read_until(&mut stream, &mut seen, &public, Duration::from_secs(10)).await;
    assert_eq!(
        got,
        Some(true),
        "the public group's event never came: {seen}"
    );
    assert!(!seen.contains(&private), "{seen}");
}
