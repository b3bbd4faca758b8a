//! Every request is traced in one span with its route and viewer, and nothing secret is
//! logged: no password, session token, cookie or setup link. The latency histogram is
//! labelled by route too.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use weft_web::WebOptions;

use super::{HERE, PASSWORD, app, bearer, from, login, node, send, with_cookie};

/// Where the test's subscriber writes.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log of this test binary, from the first call on: a subscriber for the whole process
/// (one set for a single test's thread misses events whose callsites other tests, running
/// at the same time, registered first).
fn log() -> Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("weft_web=debug,tower_http=debug")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        log
    })
    .clone()
}

/// Other tests may log meanwhile: what is checked holds for every request, and the secrets
/// looked for are this test's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_traced_with_route_and_viewer_and_nothing_secret() {
    let log = log();

    let n = node().await;
    let app = app(&n, WebOptions::default());
    let token = login(&app, "e0").await;
    let r = bearer(
        &token,
        Request::get("/api/v1/groups/g-00000000000000000000000000000000"),
    );
    assert_eq!(
        send(&app, from(HERE, r.body(Body::empty()).unwrap()))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let r = with_cookie(&token, Request::get("/groups"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, from(HERE, r)).await.0, StatusCode::OK);
    let link = "ab".repeat(32);
    let r = Request::get(format!("/setup/{link}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, from(HERE, r)).await.0, StatusCode::NOT_FOUND);
    let wrong = Request::post("/api/v1/session")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::json!({"login": "e1", "password": "a wrong secret password"}).to_string(),
        ))
        .unwrap();
    assert_eq!(
        send(&app, from(HERE, wrong)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, _, metrics) = send(
        &app,
        from(HERE, Request::get("/metrics").body(Body::empty()).unwrap()),
    )
    .await;

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let line_with = |needles: &[&str]| {
        text.lines()
            .find(|l| needles.iter().all(|n| l.contains(n)))
            .unwrap_or_else(|| panic!("no line with {needles:?} in\n{text}"))
            .to_owned()
    };
    // The route, not the path, and the viewer once known.
    line_with(&[
        "route=/api/v1/groups/{id}",
        "viewer=e0",
        "finished processing request",
    ]);
    line_with(&["route=/groups", "viewer=e0"]);
    // A setup link's path holds its token: only the route is recorded (and no viewer).
    line_with(&["request{method=GET route=/setup/{token}}:", "status=404"]);
    line_with(&["route=/api/v1/session", "failed login"]);
    for secret in [
        token.as_str(),
        PASSWORD,
        "a wrong secret password",
        &link,
        "weft_session",
    ] {
        assert!(!text.contains(secret), "{secret:?} was logged:\n{text}");
    }
    // The latency histogram names routes, nested ones whole, and never a path.
    for route in [
        "/api/v1/groups/{id}",
        "/api/v1/session",
        "/setup/{token}",
        "/groups",
    ] {
        assert!(
            metrics.contains(&format!("route=\"{route}\"")),
            "{route} not in\n{metrics}"
        );
    }
    assert!(!metrics.contains(&link) && !metrics.contains("g-0000"));
}
