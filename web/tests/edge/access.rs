//! Who may see and do what, through the router: a group one may not see is "not found"
//! everywhere (API and pages), a private group one may only see listed answers 403 to
//! members' writes, and a page's form is refused without its token.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use weft_web::WebOptions;

use super::{HERE, app, bearer, code, from, json, login, node, send, with_cookie};

/// A group made by `e0` with one thread; returns (group, thread).
async fn group_with_thread(app: &axum::Router, owner: &str, visibility: &str) -> (String, String) {
    let (s, g) = json(
        app,
        bearer(owner, Request::post("/api/v1/groups")),
        serde_json::json!({"name": format!("A {visibility} group"), "visibility": visibility}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let g = g["id"].as_str().unwrap().to_owned();
    let (s, t) = json(
        app,
        bearer(owner, Request::post(format!("/api/v1/groups/{g}/threads"))),
        serde_json::json!({"title": "Budget", "body": "The numbers"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    (g, t["id"].as_str().unwrap().to_owned())
}

async fn status(app: &axum::Router, r: axum::http::request::Builder) -> StatusCode {
    send(app, from(HERE, r.body(Body::empty()).unwrap()))
        .await
        .0
}

/// A secret group is not found by anyone outside it, whatever they ask for: the group, its
/// threads, a thread, a reply, the pages. A private group is listed, its content is
/// members-only (404 to read, like a group one may not see; 403 to write, since its
/// existence is no secret), and a member reads and writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_group_is_not_found_and_a_private_one_is_for_members() {
    let n = node().await;
    let app = app(&n, WebOptions::default());
    let owner = login(&app, "e0").await;
    let outsider = login(&app, "e2").await;
    let (secret, secret_thread) = group_with_thread(&app, &owner, "secret").await;
    let (private, private_thread) = group_with_thread(&app, &owner, "private").await;

    for path in [
        format!("/api/v1/groups/{secret}"),
        format!("/api/v1/groups/{secret}/threads"),
        format!("/api/v1/threads/{secret_thread}"),
    ] {
        let r = bearer(&outsider, Request::get(&path));
        let (s, _, body) = send(&app, from(HERE, r.body(Body::empty()).unwrap())).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(code(&body), "not_found");
    }
    let (s, b) = json(
        &app,
        bearer(
            &outsider,
            Request::post(format!("/api/v1/threads/{secret_thread}/posts")),
        ),
        serde_json::json!({"body": "hello?"}),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (s, b) = json(
        &app,
        bearer(
            &outsider,
            Request::post(format!("/api/v1/groups/{secret}/threads")),
        ),
        serde_json::json!({"title": "x", "body": "y"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    for page in [
        format!("/threads/{secret_thread}"),
        format!("/groups/{secret}"),
    ] {
        assert_eq!(
            status(&app, with_cookie(&outsider, Request::get(&page))).await,
            StatusCode::NOT_FOUND,
            "{page}"
        );
    }
    let (_, _, listed) = send(
        &app,
        from(
            HERE,
            bearer(&outsider, Request::get("/api/v1/groups"))
                .body(Body::empty())
                .unwrap(),
        ),
    )
    .await;
    assert!(
        !listed.contains(&secret) && listed.contains(&private),
        "{listed}"
    );

    // The private group: listed, its content members-only.
    assert_eq!(
        status(
            &app,
            bearer(&outsider, Request::get(format!("/api/v1/groups/{private}")))
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        status(
            &app,
            bearer(
                &outsider,
                Request::get(format!("/api/v1/threads/{private_thread}"))
            )
        )
        .await,
        StatusCode::NOT_FOUND
    );
    let (s, b) = json(
        &app,
        bearer(
            &outsider,
            Request::post(format!("/api/v1/groups/{private}/threads")),
        ),
        serde_json::json!({"title": "Let me in", "body": "please"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(b["error"]["code"], "forbidden");

    // Once a member, the same writes and reads work.
    let (s, _) = json(
        &app,
        bearer(
            &owner,
            Request::post(format!("/api/v1/groups/{private}/members")),
        ),
        serde_json::json!({"user": "e2"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = json(
        &app,
        bearer(
            &outsider,
            Request::post(format!("/api/v1/groups/{private}/threads")),
        ),
        serde_json::json!({"title": "In", "body": "thanks"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(
        status(
            &app,
            bearer(
                &outsider,
                Request::get(format!("/api/v1/threads/{private_thread}"))
            )
        )
        .await,
        StatusCode::OK
    );
}

fn form(token: &str, path: &str, body: String) -> Request<Body> {
    with_cookie(token, Request::post(path))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

/// A page's form needs its session's token: without it, or with another session's, it is
/// refused (403) and changes nothing; without a session it goes to the login page. The
/// login form needs the token of its own cookie.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_token_is_refused() {
    let n = node().await;
    let app = app(&n, WebOptions::default());
    let me = login(&app, "e0").await;
    let other = login(&app, "e1").await;
    let mine = weft_web::auth::csrf_of(&me);
    let theirs = weft_web::auth::csrf_of(&other);
    for body in [
        "name=Forged&visibility=public".to_owned(),
        "name=Forged&visibility=public&_csrf=".to_owned(),
        format!("name=Forged&visibility=public&_csrf={theirs}"),
    ] {
        let (s, _, b) = send(&app, from(HERE, form(&me, "/groups", body))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert!(b.contains("invalid form token"), "{b}");
    }
    let (_, _, listed) = send(
        &app,
        from(
            HERE,
            bearer(&me, Request::get("/api/v1/groups"))
                .body(Body::empty())
                .unwrap(),
        ),
    )
    .await;
    assert!(
        !listed.contains("Forged"),
        "a refused form changed something"
    );
    let (s, h, _) = send(
        &app,
        from(
            HERE,
            form(
                &me,
                "/groups",
                format!("name=Made&visibility=public&_csrf={mine}"),
            ),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(
        h[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/groups/g-")
    );

    // Logging out is a form too: refused without the token, and the session lives on.
    let (s, _, _) = send(&app, from(HERE, form(&me, "/logout", String::new()))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        status(&app, bearer(&me, Request::get("/api/v1/me"))).await,
        StatusCode::OK
    );

    // No session: the login page, for pages and forms alike.
    for r in [
        Request::get("/").body(Body::empty()).unwrap(),
        Request::post("/groups")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("name=X&visibility=public&_csrf={mine}")))
            .unwrap(),
    ] {
        let (s, h, _) = send(&app, from(HERE, r)).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(h[header::LOCATION], "/login");
    }

    // The login form: its token must be the one of its cookie.
    let login_form = |cookie: Option<&str>, csrf: &str| {
        let mut r = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, format!("weft_csrf={c}"));
        }
        let body = format!(
            "login=e0&password={}&_csrf={csrf}",
            super::enc(super::PASSWORD)
        );
        from(HERE, r.body(Body::from(body)).unwrap())
    };
    assert_eq!(
        send(&app, login_form(None, "t")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, login_form(Some("t1"), "t2")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, login_form(Some(""), "")).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, h, _) = send(&app, login_form(Some("t1"), "t1")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(
        h[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .starts_with("weft_session=")
    );
}

/// A private group's polls and events: outsiders (who see the group listed) may not read
/// them (404), vote, answer or list its agenda (403); a secret group's are not found at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_and_events_of_a_group_one_is_not_in_are_out_of_reach() {
    let n = node().await;
    let app = app(&n, WebOptions::default());
    let owner = login(&app, "e0").await;
    let outsider = login(&app, "e1").await;
    for (visibility, listed) in [("private", true), ("secret", false)] {
        let (g, _) = group_with_thread(&app, &owner, visibility).await;
        let (s, poll) = json(
            &app,
            bearer(&owner, Request::post(format!("/api/v1/groups/{g}/polls"))),
            serde_json::json!({"question": "Pay rise?", "options": ["Yes", "No"]}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{poll}");
        let pid = poll["root"]["poll"]["id"].as_str().unwrap().to_owned();
        let (s, ev) = json(
            &app,
            bearer(&owner, Request::post(format!("/api/v1/groups/{g}/events"))),
            serde_json::json!({"title": "Strike", "starts_at": "2027-01-10T10:00:00Z"}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{ev}");
        let eid = ev["id"].as_str().unwrap().to_owned();
        let hidden = StatusCode::NOT_FOUND;
        let write = if listed {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(
            status(
                &app,
                bearer(&outsider, Request::get(format!("/api/v1/polls/{pid}")))
            )
            .await,
            hidden
        );
        assert_eq!(
            status(
                &app,
                bearer(&outsider, Request::get(format!("/api/v1/events/{eid}")))
            )
            .await,
            hidden
        );
        assert_eq!(
            status(
                &app,
                bearer(
                    &outsider,
                    Request::get(format!("/api/v1/groups/{g}/events"))
                )
            )
            .await,
            write,
            "{visibility} agenda"
        );
        assert_eq!(
            status(
                &app,
                bearer(
                    &outsider,
                    Request::get(format!("/api/v1/groups/{g}/events.ics"))
                )
            )
            .await,
            write
        );
        let (s, _) = json(
            &app,
            bearer(&outsider, Request::put(format!("/api/v1/polls/{pid}/vote"))),
            serde_json::json!({"options": ["1"]}),
        )
        .await;
        assert_eq!(s, hidden, "{visibility} vote");
        let (s, _) = json(
            &app,
            bearer(
                &outsider,
                Request::put(format!("/api/v1/events/{eid}/rsvp")),
            ),
            serde_json::json!({"answer": "yes"}),
        )
        .await;
        assert_eq!(s, hidden, "{visibility} answer");
        // Nor does it show in their agenda.
        let (s, mine) = json(
            &app,
            bearer(&outsider, Request::get("/api/v1/me/events")),
            serde_json::Value::Null,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            mine["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["id"] != eid.as_str()),
            "{mine}"
        );
    }
}
