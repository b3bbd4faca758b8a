//! What the API answers looks as it says: every error is `{"error": {"code", "message"}}`
//! with its status, and every body has exactly the fields the OpenAPI document describes.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use weft_web::WebOptions;

use super::{HERE, app, bearer, from, login, node, send, with_cookie};

/// Sends `r` and checks the answer is an error of this status and code, in the one shape.
async fn error_of(app: &axum::Router, r: Request<Body>, status: StatusCode, code: &str) {
    let (s, h, body) = send(app, from(HERE, r)).await;
    assert_eq!(s, status, "{body}");
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{status}: {:?}",
        h[header::CONTENT_TYPE]
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&v), ["error"], "{body}");
    assert_eq!(keys(&v["error"]), ["code", "message"], "{body}");
    assert_eq!(v["error"]["code"], code, "{body}");
    assert!(!v["error"]["message"].as_str().unwrap().is_empty());
}

fn json_body(r: axum::http::request::Builder, body: impl Into<Body>) -> Request<Body> {
    r.header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_one_shape_and_a_fitting_status() {
    let n = node().await;
    let app = app(&n, WebOptions::default());
    let t = login(&app, "e0").await;
    let outsider = login(&app, "e2").await;
    let post = |path: &str| bearer(&t, Request::post(path));

    // 400: not JSON; a query beyond its limits.
    error_of(
        &app,
        json_body(post("/api/v1/groups"), "{\"name\": "),
        StatusCode::BAD_REQUEST,
        "malformed",
    )
    .await;
    let q = "(".repeat(2_000);
    let r = bearer(
        &t,
        Request::get(format!("/api/v1/search?q={}", super::enc(&q))),
    );
    error_of(
        &app,
        r.body(Body::empty()).unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_query",
    )
    .await;
    // 401: no session, a session that does not exist.
    let r = Request::get("/api/v1/me").body(Body::empty()).unwrap();
    error_of(&app, r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = bearer("0".repeat(64).as_str(), Request::get("/api/v1/feed"));
    error_of(
        &app,
        r.body(Body::empty()).unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // 403: a members-only write in a private group one may see.
    let (_, _, g) = send(
        &app,
        from(
            HERE,
            json_body(
                post("/api/v1/groups"),
                json!({"name": "Board", "visibility": "private"}).to_string(),
            ),
        ),
    )
    .await;
    let g: Value = serde_json::from_str(&g).unwrap();
    let r = json_body(
        bearer(
            &outsider,
            Request::post(format!(
                "/api/v1/groups/{}/threads",
                g["id"].as_str().unwrap()
            )),
        ),
        json!({"title": "x", "body": "y"}).to_string(),
    );
    error_of(&app, r, StatusCode::FORBIDDEN, "forbidden").await;
    // 404: an id of nothing, an id of the wrong kind, no such route.
    for path in [
        "/api/v1/groups/g-00000000000000000000000000000000",
        "/api/v1/groups/t-00000000000000000000000000000000",
        "/api/v1/threads/not-an-id",
        "/api/v1/people/nobody",
        "/api/v1/no/such/thing",
    ] {
        let r = bearer(&t, Request::get(path)).body(Body::empty()).unwrap();
        error_of(&app, r, StatusCode::NOT_FOUND, "not_found").await;
    }
    // 413: a body over the limit (read no further than the limit).
    let big = format!(
        "{{\"name\": \"{}\", \"visibility\": \"public\"}}",
        "x".repeat(2 << 20)
    );
    error_of(
        &app,
        json_body(post("/api/v1/groups"), big),
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    // 415: a cookie-authenticated write that is not JSON.
    let r = with_cookie(&t, Request::post("/api/v1/groups"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    error_of(&app, r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "json_required").await;
    // 422: a field of the wrong value, a missing field, an unknown one.
    for body in [
        json!({"name": "x", "visibility": "open"}),
        json!({"visibility": "public"}),
        json!({"name": "x", "visibility": "public", "owner": "e1"}),
    ] {
        error_of(
            &app,
            json_body(post("/api/v1/groups"), body.to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        )
        .await;
    }
    let r = bearer(
        &t,
        Request::put("/api/v1/posts/t-00000000000000000000000000000000~p/reactions/hate"),
    );
    error_of(
        &app,
        r.body(Body::empty()).unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
    )
    .await;
    // 429: logins past the account's limit.
    let wrong = || {
        json_body(
            Request::post("/api/v1/session"),
            json!({"login": "e1", "password": "not the password"}).to_string(),
        )
    };
    for _ in 0..5 {
        error_of(&app, wrong(), StatusCode::UNAUTHORIZED, "bad_credentials").await;
    }
    error_of(&app, wrong(), StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

/// The fields of a schema of the document (following `$ref` and `allOf`).
fn fields(doc: &Value, schema: &Value) -> Vec<String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return fields(doc, &doc["components"]["schemas"][name]);
    }
    let mut f: Vec<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        f.extend(fields(doc, part));
    }
    f.sort();
    f
}

/// Checks that `v` has exactly the fields the document says `name` has, and returns it.
fn shaped<'a>(doc: &Value, name: &str, v: &'a Value) -> &'a Value {
    let want = fields(
        doc,
        &json!({"$ref": format!("#/components/schemas/{name}")}),
    );
    assert!(!want.is_empty(), "no schema {name}");
    let mut got: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("{name} is not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    got.sort();
    assert_eq!(got, want, "{name}: {v}");
    v
}

/// Each answer has the fields its schema in `/api/v1/openapi.json` names, no more, no less,
/// and the values the API promises (ids, RFC 3339 times, counts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_have_the_fields_the_document_describes() {
    let n = node().await;
    let app = app(&n, WebOptions::default());
    let (s, _, doc) = send(
        &app,
        from(
            HERE,
            Request::get("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let call = async |r: Request<Body>, want: StatusCode| -> Value {
        let (s, _, body) = send(&app, from(HERE, r)).await;
        assert_eq!(s, want, "{body}");
        serde_json::from_str(&body).unwrap()
    };

    let session = call(
        json_body(
            Request::post("/api/v1/session"),
            json!({"login": "e0", "password": super::PASSWORD}).to_string(),
        ),
        StatusCode::OK,
    )
    .await;
    shaped(&doc, "SessionJson", &session);
    shaped(&doc, "Person", &session["user"]);
    let t = session["token"].as_str().unwrap().to_owned();
    let get = |path: &str| bearer(&t, Request::get(path)).body(Body::empty()).unwrap();
    let post =
        |path: &str, body: Value| json_body(bearer(&t, Request::post(path)), body.to_string());

    let me = call(get("/api/v1/me"), StatusCode::OK).await;
    shaped(&doc, "Me", &me);
    assert_eq!(
        (me["id"].as_str(), me["notifications"]["unread"].as_u64()),
        (Some("e0"), Some(0))
    );

    let g = call(
        post(
            "/api/v1/groups",
            json!({"name": "Cyclists", "visibility": "public"}),
        ),
        StatusCode::CREATED,
    )
    .await;
    shaped(&doc, "Group", &g);
    assert_eq!(
        (
            g["visibility"].as_str(),
            g["member_count"].as_u64(),
            g["is_member"].as_bool()
        ),
        (Some("public"), Some(1), Some(true))
    );
    assert!(g["created_at"].as_str().unwrap().ends_with('Z'));
    let gid = g["id"].as_str().unwrap().to_owned();

    let th = call(
        post(
            &format!("/api/v1/groups/{gid}/threads"),
            json!({"title": "Routes", "body": "Hi @e1 #bike"}),
        ),
        StatusCode::CREATED,
    )
    .await;
    shaped(&doc, "Thread", &th);
    let root = shaped(&doc, "Post", &th["root"]);
    assert_eq!(root["mentions"], json!(["e1"]));
    assert_eq!(root["topics"], json!(["bike"]));
    let tid = th["id"].as_str().unwrap().to_owned();
    let reply = call(
        post(
            &format!("/api/v1/threads/{tid}/posts"),
            json!({"body": "**Yes**"}),
        ),
        StatusCode::CREATED,
    )
    .await;
    shaped(&doc, "Post", &reply);
    assert_eq!(
        reply["html"].as_str().unwrap().trim(),
        "<p><strong>Yes</strong></p>"
    );
    let r = bearer(
        &t,
        Request::put(format!(
            "/api/v1/posts/{}/reactions/like",
            reply["id"].as_str().unwrap()
        )),
    );
    assert_eq!(
        send(&app, from(HERE, r.body(Body::empty()).unwrap()))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let th = call(get(&format!("/api/v1/threads/{tid}")), StatusCode::OK).await;
    shaped(&doc, "Thread", &th);
    assert_eq!(
        (th["reply_count"].as_u64(), th["following"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(th["replies"][0]["reactions"], json!({"like": 1}));
    assert_eq!(th["replies"][0]["my_reactions"], json!(["like"]));

    for (path, item) in [
        ("/api/v1/groups".to_owned(), "Group"),
        (format!("/api/v1/groups/{gid}/threads"), "Thread"),
        ("/api/v1/feed".to_owned(), "FeedThread"),
        ("/api/v1/people?q=e".to_owned(), "Person"),
        ("/api/v1/search?q=routes".to_owned(), "SearchHit"),
    ] {
        let list = call(get(&path), StatusCode::OK).await;
        let mut keys: Vec<&String> = list.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["items", "next"], "{path}");
        let items = list["items"].as_array().unwrap();
        assert!(!items.is_empty(), "{path} is empty");
        for i in items {
            shaped(&doc, item, i);
        }
    }
    let added = call(
        post(
            &format!("/api/v1/groups/{gid}/members"),
            json!({"user": "e1"}),
        ),
        StatusCode::OK,
    )
    .await;
    shaped(&doc, "MembershipJson", &added);
    // e1 was mentioned: a notification, in its shape.
    let t1 = login(&app, "e1").await;
    let r = bearer(&t1, Request::get("/api/v1/notifications"))
        .body(Body::empty())
        .unwrap();
    let list = call(r, StatusCode::OK).await;
    let n = shaped(&doc, "Notification", &list["items"][0]);
    assert_eq!(
        (n["kind"].as_str(), n["by"].as_str()),
        (Some("mention"), Some("e0"))
    );
    let r = json_body(bearer(&t1, Request::post("/api/v1/notifications/read")), "");
    shaped(&doc, "Unread", &call(r, StatusCode::OK).await);
    let (s, _, node) = send(
        &app,
        from(
            HERE,
            Request::get("/api/v1/node").body(Body::empty()).unwrap(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    shaped(&doc, "NodeInfo", &serde_json::from_str(&node).unwrap());
}

/// The answers of polls, events, agendas, walls, announcements, bookmarks and the people
/// directory have the fields the document describes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rich_content_answers_have_the_fields_the_document_describes() {
    let n = node().await;
    let app = app(&n, WebOptions::default());
    let (_, _, doc) = send(
        &app,
        from(
            HERE,
            Request::get("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        ),
    )
    .await;
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let call = async |r: Request<Body>, want: StatusCode| -> Value {
        let (s, _, body) = send(&app, from(HERE, r)).await;
        assert_eq!(s, want, "{body}");
        serde_json::from_str(&body).unwrap_or(Value::Null)
    };
    let t = login(&app, "e0").await;
    let get = |path: &str| bearer(&t, Request::get(path)).body(Body::empty()).unwrap();
    let post =
        |path: &str, body: Value| json_body(bearer(&t, Request::post(path)), body.to_string());
    let put = |path: &str, body: Value| json_body(bearer(&t, Request::put(path)), body.to_string());

    let g = call(
        post(
            "/api/v1/groups",
            json!({"name": "Choir", "visibility": "public"}),
        ),
        StatusCode::CREATED,
    )
    .await;
    let gid = g["id"].as_str().unwrap().to_owned();
    // A poll.
    let th = call(
        post(
            &format!("/api/v1/groups/{gid}/polls"),
            json!({"question": "Which song?", "options": ["A", "B"], "results_after_vote": true}),
        ),
        StatusCode::CREATED,
    )
    .await;
    shaped(&doc, "Thread", &th);
    let poll = shaped(&doc, "Poll", &th["root"]["poll"]);
    shaped(&doc, "PollOption", &poll["options"][0]);
    let pid = poll["id"].as_str().unwrap().to_owned();
    let voted = call(
        put(
            &format!("/api/v1/polls/{pid}/vote"),
            json!({"options": ["2"]}),
        ),
        StatusCode::OK,
    )
    .await;
    shaped(&doc, "Poll", &voted);
    assert_eq!(voted["options"][1]["votes"], 1);
    shaped(
        &doc,
        "Poll",
        &call(get(&format!("/api/v1/polls/{pid}")), StatusCode::OK).await,
    );
    // An event, its answer, the agendas and the calendar address.
    let in_a_month = weft_web::time::rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            + 30 * 24 * 3_600_000,
    );
    let e = call(
        post(
            &format!("/api/v1/groups/{gid}/events"),
            json!({"title": "Rehearsal", "starts_at": in_a_month, "time_zone": "Europe/Paris"}),
        ),
        StatusCode::CREATED,
    )
    .await;
    shaped(&doc, "Event", &e);
    shaped(&doc, "RsvpCounts", &e["rsvp"]);
    let eid = e["id"].as_str().unwrap().to_owned();
    let e = call(
        put(
            &format!("/api/v1/events/{eid}/rsvp"),
            json!({"answer": "yes"}),
        ),
        StatusCode::OK,
    )
    .await;
    assert_eq!(e["my_rsvp"], "yes");
    for path in [
        format!("/api/v1/groups/{gid}/events"),
        "/api/v1/me/events".to_owned(),
    ] {
        let list = call(get(&path), StatusCode::OK).await;
        shaped(&doc, "Event", &list["items"][0]);
    }
    shaped(
        &doc,
        "CalendarJson",
        &call(get("/api/v1/me/calendar"), StatusCode::OK).await,
    );
    // A wall.
    let p = call(
        post("/api/v1/people/e1/wall", json!({"body": "Welcome!"})),
        StatusCode::CREATED,
    )
    .await;
    shaped(&doc, "Post", &p);
    let wall = call(get("/api/v1/people/e1/wall"), StatusCode::OK).await;
    shaped(&doc, "Thread", &wall);
    assert_eq!(wall["wall_of"], "e1");
    // An announcement (e0 is a community manager).
    let a = call(
        post(
            "/api/v1/announcements",
            json!({"title": "Hello", "body": "All"}),
        ),
        StatusCode::CREATED,
    )
    .await;
    shaped(&doc, "Thread", &a);
    shaped(&doc, "Announcement", &a["announcement"]);
    let list = call(get("/api/v1/announcements"), StatusCode::OK).await;
    shaped(&doc, "AnnouncementItem", &list["items"][0]);
    // A bookmark, and the directory.
    let root = th["root"]["id"].as_str().unwrap().to_owned();
    let r = bearer(&t, Request::put(format!("/api/v1/posts/{root}/bookmark")))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, from(HERE, r)).await.0, StatusCode::NO_CONTENT);
    let list = call(get("/api/v1/me/bookmarks"), StatusCode::OK).await;
    shaped(&doc, "Bookmark", &list["items"][0]);
    let d = call(get("/api/v1/directory"), StatusCode::OK).await;
    shaped(&doc, "DirectoryJson", &d);
    shaped(&doc, "Person", &d["items"][0]);
}
