//! The HTML UI over real HTTP (the browser tests come with the full UI): login with its form
//! token, pages that show what the user may see, forms refused without their token, and post
//! content that can never run as script.

use crate::harness::{Company, PASSWORD, http_raw};

pub(crate) fn cookie_value(head: &str, name: &str) -> Option<String> {
    head.lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .find_map(|l| {
            let v = l.split_once(':')?.1.trim();
            let (k, rest) = v.split_once('=')?;
            (k == name).then(|| rest.split(';').next().unwrap_or("").to_owned())
        })
}

pub(crate) fn hidden_csrf(html: &str) -> String {
    let i = html.find("name=\"_csrf\" value=\"").unwrap() + "name=\"_csrf\" value=\"".len();
    html[i..i + 64].to_owned()
}

pub(crate) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn log_in_post_and_read_through_the_html_ui() {
    let company = Company::new();
    let node = company.start(0);
    let port = node.http_port;
    let form = ["Content-Type: application/x-www-form-urlencoded".to_string()];

    // Not logged in: the login page.
    let (s, head, _) = http_raw(port, "GET", "/", &[], "").unwrap();
    assert_eq!(s, 303, "{head}");
    let (s, head, html) = http_raw(
        port,
        "GET",
        "/login",
        &["Accept-Language: fr-FR,fr".into()],
        "",
    )
    .unwrap();
    assert_eq!(s, 200);
    assert!(
        html.contains("lang=\"fr\"") && html.contains("Se connecter"),
        "{html}"
    );
    let login_csrf = cookie_value(&head, "weft_csrf").unwrap();
    assert_eq!(hidden_csrf(&html), login_csrf);
    // Without the form token the login is refused; with it, it works.
    let body = format!("login=hdupre&password={}&_csrf=", enc(PASSWORD));
    let (s, _, _) = http_raw(port, "POST", "/login", &form, &body).unwrap();
    assert_eq!(s, 403);
    let body = format!("login=hdupre&password={}&_csrf={login_csrf}", enc(PASSWORD));
    let mut h = form.to_vec();
    h.push(format!("Cookie: weft_csrf={login_csrf}"));
    let (s, head, _) = http_raw(port, "POST", "/login", &h, &body).unwrap();
    assert_eq!(s, 303, "{head}");
    let session = cookie_value(&head, "weft_session").unwrap();
    assert!(head.to_ascii_lowercase().contains("httponly"));
    // Defence in depth: no inline script may run, no framing.
    let (_, head, _) = http_raw(port, "GET", "/login", &[], "").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-security-policy: default-src 'self'"),
        "{head}"
    );
    assert!(head.contains("x-frame-options: deny"), "{head}");
    let me = format!("Cookie: weft_session={session}");

    // Create a group and a thread whose body tries to run script.
    let (_, _, html) = http_raw(port, "GET", "/groups", std::slice::from_ref(&me), "").unwrap();
    let csrf = hidden_csrf(&html);
    let mut h = form.to_vec();
    h.push(me.clone());
    let (s, _, _) = http_raw(
        port,
        "POST",
        "/groups",
        &h,
        "name=Photo+club&visibility=public&_csrf=wrong",
    )
    .unwrap();
    assert_eq!(s, 403, "a form without its token must be refused");
    let (s, head, _) = http_raw(
        port,
        "POST",
        "/groups",
        &h,
        &format!("name=Photo+club&description=&visibility=public&_csrf={csrf}"),
    )
    .unwrap();
    assert_eq!(s, 303);
    let group = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("location:"))
        .unwrap()
        .split_once(':')
        .unwrap()
        .1
        .trim()
        .to_owned();
    let evil = "Hello <script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3)) **bold** @cmartin #photo";
    let (s, head, _) = http_raw(
        port,
        "POST",
        &format!("{group}/threads"),
        &h,
        &format!("title=Premier&body={}&_csrf={csrf}", enc(evil)),
    )
    .unwrap();
    assert_eq!(s, 303);
    let thread = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("location:"))
        .unwrap()
        .split_once(':')
        .unwrap()
        .1
        .trim()
        .to_owned();
    let (s, _, html) = http_raw(port, "GET", &thread, std::slice::from_ref(&me), "").unwrap();
    assert_eq!(s, 200);
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(!html.contains("href=\"javascript"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(html.contains("<strong>bold</strong>"));
    assert!(html.contains("href=\"/people/cmartin\""));
    // The feed shows it.
    let (_, _, html) = http_raw(port, "GET", "/", std::slice::from_ref(&me), "").unwrap();
    assert!(html.contains("Premier"), "{html}");
    // The search page finds it; the excerpt shows the script as text.
    let (s, _, html) = http_raw(
        port,
        "GET",
        "/search?q=hello",
        std::slice::from_ref(&me),
        "",
    )
    .unwrap();
    assert_eq!(s, 200);
    assert!(html.contains("Premier"), "{html}");
    assert!(!html.contains("<script>alert"), "{html}");
    // The topic page lists it.
    let (s, _, html) =
        http_raw(port, "GET", "/topics/photo", std::slice::from_ref(&me), "").unwrap();
    assert_eq!(s, 200);
    assert!(html.contains("Premier"), "{html}");
    // Profile: edit one's own fields.
    let (_, _, html) =
        http_raw(port, "GET", "/people/hdupre", std::slice::from_ref(&me), "").unwrap();
    let csrf = hidden_csrf(&html);
    let body = format!(
        "about={}&expertise={}&_csrf={csrf}",
        enc("Communication interne"),
        enc("photographie, théâtre")
    );
    let (s, _, _) = http_raw(port, "POST", "/me/profile", &h, &body).unwrap();
    assert_eq!(s, 303);
    let (_, _, html) =
        http_raw(port, "GET", "/people/hdupre", std::slice::from_ref(&me), "").unwrap();
    assert!(
        html.contains("Communication interne") && html.contains("théâtre"),
        "{html}"
    );
}

/// The location a redirect points to.
pub(crate) fn location(head: &str) -> String {
    head.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("location:"))
        .map(|l| l.split_once(':').unwrap().1.trim().to_owned())
        .unwrap_or_default()
}

/// Logs in through the login form; returns the session cookie header.
pub(crate) fn ui_login(port: u16, user: &str) -> String {
    let (_, head, _) = http_raw(port, "GET", "/login", &[], "").unwrap();
    let csrf = cookie_value(&head, "weft_csrf").unwrap();
    let h = [
        "Content-Type: application/x-www-form-urlencoded".to_string(),
        format!("Cookie: weft_csrf={csrf}"),
    ];
    let body = format!("login={user}&password={}&_csrf={csrf}", enc(PASSWORD));
    let (s, head, _) = http_raw(port, "POST", "/login", &h, &body).unwrap();
    assert_eq!(s, 303, "{head}");
    format!(
        "Cookie: weft_session={}",
        cookie_value(&head, "weft_session").unwrap()
    )
}

/// A form POST as `who`, with the form token of the page at `from`.
pub(crate) fn post_form(
    port: u16,
    who: &str,
    from: &str,
    action: &str,
    fields: &str,
) -> (u16, String) {
    let (s, _, html) = http_raw(port, "GET", from, &[who.to_owned()], "").unwrap();
    assert_eq!(s, 200, "{from}: {html}");
    let csrf = hidden_csrf(&html);
    let h = [
        "Content-Type: application/x-www-form-urlencoded".to_string(),
        who.to_owned(),
    ];
    let body = if fields.is_empty() {
        format!("_csrf={csrf}")
    } else {
        format!("{fields}&_csrf={csrf}")
    };
    let (s, head, _) = http_raw(port, "POST", action, &h, &body).unwrap();
    (s, location(&head))
}

fn page(port: u16, who: &str, path: &str) -> String {
    let (s, _, html) = http_raw(port, "GET", path, &[who.to_owned()], "").unwrap();
    assert_eq!(s, 200, "{path}: {html}");
    html
}

#[test]
fn setup_link_charter_notifications_and_running_a_group() {
    let company = Company::new();
    // The operator sets a usage charter.
    let site = &company.sites[0];
    let dir = site.config.parent().unwrap();
    std::fs::write(dir.join("charter.md"), "Be **kind** to each other.").unwrap();
    let mut cfg = std::fs::read_to_string(&site.config).unwrap();
    cfg.push_str("charter = \"charter.md\"\n");
    std::fs::write(&site.config, cfg).unwrap();
    // A setup link for someone homed elsewhere is refused; for cmartin it is printed.
    let cfg_path = site.config.to_str().unwrap();
    let out = std::process::Command::new(crate::harness::WEFT)
        .args(["user", "invite", "--config", cfg_path, "--user", "jsmith"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("homed at new-york"));
    let link = crate::harness::weft(
        dir,
        &["user", "invite", "--config", cfg_path, "--user", "fmercier"],
    );
    let node = company.start(0);
    let port = node.http_port;
    let path = link
        .trim()
        .split_once(&format!("127.0.0.1:{port}"))
        .unwrap()
        .1
        .to_owned();
    assert!(path.starts_with("/setup/"), "{link}");

    // The link: a form; too short or mismatched passwords are refused; then logged in.
    let (s, head, html) = http_raw(port, "GET", &path, &[], "").unwrap();
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("fmercier"));
    let csrf = cookie_value(&head, "weft_csrf").unwrap();
    let h = [
        "Content-Type: application/x-www-form-urlencoded".to_string(),
        format!("Cookie: weft_csrf={csrf}"),
    ];
    let (s, _, _) = http_raw(
        port,
        "POST",
        &path,
        &h,
        &format!("password=short&again=short&_csrf={csrf}"),
    )
    .unwrap();
    assert_eq!(s, 422);
    let (s, _, _) = http_raw(
        port,
        "POST",
        &path,
        &h,
        &format!("password=long+enough+1&again=long+enough+2&_csrf={csrf}"),
    )
    .unwrap();
    assert_eq!(s, 422);
    let (s, _, _) = http_raw(
        port,
        "POST",
        &path,
        &h[..1],
        &format!("password=long+enough+1&again=long+enough+1&_csrf={csrf}"),
    )
    .unwrap();
    assert_eq!(s, 403, "no form cookie");
    let (s, head, _) = http_raw(
        port,
        "POST",
        &path,
        &h,
        &format!("password=long+enough+1&again=long+enough+1&_csrf={csrf}"),
    )
    .unwrap();
    assert_eq!(s, 303, "{head}");
    let fm = format!(
        "Cookie: weft_session={}",
        cookie_value(&head, "weft_session").unwrap()
    );
    // The link works once.
    let (s, _, _) = http_raw(port, "GET", &path, &[], "").unwrap();
    assert_eq!(s, 404);
    // The new password works at the login form too.
    let (_, head, _) = http_raw(port, "GET", "/login", &[], "").unwrap();
    let lc = cookie_value(&head, "weft_csrf").unwrap();
    let (s, _, _) = http_raw(
        port,
        "POST",
        "/login",
        &[
            "Content-Type: application/x-www-form-urlencoded".to_string(),
            format!("Cookie: weft_csrf={lc}"),
        ],
        &format!("login=fmercier&password=long+enough+1&_csrf={lc}"),
    )
    .unwrap();
    assert_eq!(s, 303);

    // The charter comes first, then the feed.
    let (s, head, _) = http_raw(port, "GET", "/", std::slice::from_ref(&fm), "").unwrap();
    assert_eq!((s, location(&head).as_str()), (303, "/charter"));
    let html = page(port, &fm, "/charter");
    assert!(html.contains("<strong>kind</strong>"), "{html}");
    let (s, to) = post_form(port, &fm, "/charter", "/charter", "hash=stale");
    assert_eq!(
        (s, to.as_str()),
        (303, "/charter"),
        "a stale charter is shown again"
    );
    let hash = html.split("name=\"hash\" value=\"").nth(1).unwrap()[..64].to_owned();
    let (s, to) = post_form(port, &fm, "/charter", "/charter", &format!("hash={hash}"));
    assert_eq!((s, to.as_str()), (303, "/"));
    page(port, &fm, "/");

    // Hélène (also accepting the charter) makes a private group; Francis asks to join.
    let he = ui_login(port, "hdupre");
    let html = page(port, &he, "/charter");
    let hash = html.split("name=\"hash\" value=\"").nth(1).unwrap()[..64].to_owned();
    post_form(port, &he, "/charter", "/charter", &format!("hash={hash}"));
    let (s, group) = post_form(
        port,
        &he,
        "/groups",
        "/groups",
        "name=Comit%C3%A9&description=&visibility=private",
    );
    assert_eq!(s, 303);
    let (s, _) = post_form(port, &fm, &group, &format!("{group}/join"), "");
    assert_eq!(s, 303);
    assert!(page(port, &fm, &group).contains("waiting for an owner"));
    // Hélène sees it in her notifications (with the count in the header) and approves.
    let html = page(port, &he, "/");
    assert!(html.contains("id=\"unread\">1<"), "{html}");
    let html = page(port, &he, "/notifications");
    assert!(html.contains("@fmercier asked to join"), "{html}");
    assert!(
        page(port, &he, "/").contains("id=\"unread\" hidden"),
        "seen now"
    );
    let html = page(port, &he, &group);
    assert!(html.contains("Join requests"), "{html}");
    let (s, _) = post_form(
        port,
        &he,
        &group,
        &format!("{group}/requests/fmercier/approve"),
        "",
    );
    assert_eq!(s, 303);
    let html = page(port, &fm, &group);
    assert!(html.contains("Start a thread"), "a member may post: {html}");
    // Francis posts, mentioning Hélène; she is told; her feed marks it new.
    let (s, thread) = post_form(
        port,
        &fm,
        &group,
        &format!("{group}/threads"),
        "title=Ordre+du+jour&body=%40hdupre+on+commence+%C3%A0+9h",
    );
    assert_eq!(s, 303);
    assert!(page(port, &he, "/notifications").contains("@fmercier mentioned you"));
    let html = page(port, &he, "/");
    assert!(
        html.contains("Ordre du jour") && html.contains("class=\"new\""),
        "{html}"
    );
    page(port, &he, &thread);
    let html = page(port, &he, "/");
    assert!(!html.contains("class=\"new\""), "read now: {html}");
    // Francis edits then deletes his post; the thread shows both.
    let post = page(port, &fm, &thread)
        .split("/posts/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let edit = format!("{thread}/posts/{post}/edit");
    let (s, _) = post_form(port, &fm, &edit, &edit, "body=On+commence+%C3%A0+10h");
    assert_eq!(s, 303);
    let html = page(port, &he, &thread);
    assert!(
        html.contains("On commence à 10h") && html.contains("edited"),
        "{html}"
    );
    // Hélène cannot edit Francis's post.
    let (s, _, _) = http_raw(port, "GET", &edit, std::slice::from_ref(&he), "").unwrap();
    assert_eq!(s, 404);
    let (s, _) = post_form(
        port,
        &fm,
        &thread,
        &format!("{thread}/posts/{post}/delete"),
        "",
    );
    assert_eq!(s, 303);
    assert!(!page(port, &he, &thread).contains("10h"));
    // Following: Hélène stops following; Francis follows Hélène.
    let (s, _) = post_form(port, &fm, "/people/hdupre", "/people/hdupre/follow", "on=1");
    assert_eq!(s, 303);
    assert!(page(port, &fm, "/people/hdupre").contains("aria-pressed=\"true\""));
    // Hélène removes Francis; he no longer sees the threads.
    let (s, _) = post_form(
        port,
        &he,
        &group,
        &format!("{group}/members/fmercier/remove"),
        "",
    );
    assert_eq!(s, 303);
    let html = page(port, &fm, &group);
    assert!(!html.contains("Ordre du jour"), "{html}");
    let (s, _, _) = http_raw(port, "GET", &thread, std::slice::from_ref(&fm), "").unwrap();
    assert_eq!(s, 404);
    // Francis fills in his profile and picks French: the pages follow his profile.
    let (s, _) = post_form(
        port,
        &fm,
        "/people/fmercier",
        "/me/profile",
        "about=Juriste&expertise=droit+social&interests=v%C3%A9lo%2C+jazz&languages=fran%C3%A7ais%2C+anglais&locale=fr",
    );
    assert_eq!(s, 303);
    let html = page(port, &fm, "/people/fmercier");
    assert!(
        html.contains("lang=\"fr\"") && html.contains("Centres d'intérêt"),
        "{html}"
    );
    assert!(html.contains("jazz") && html.contains("anglais"), "{html}");
    // The directory's fields are shown, read only: the manager links to their page.
    let html = page(port, &he, "/people/fmercier");
    assert!(html.contains("lang=\"en\""), "Hélène keeps her language");
    assert!(html.contains("Manager"), "{html}");
    // Groups can be found by name.
    let html = page(port, &he, "/groups?q=comit");
    assert!(html.contains("Comité"), "{html}");
    let html = page(port, &he, "/groups?q=zzz");
    assert!(!html.contains("Comité"), "{html}");
    // Owners rename the group.
    let (s, _) = post_form(
        port,
        &he,
        &group,
        &format!("{group}/settings"),
        "name=Comit%C3%A9+social&description=CSE",
    );
    assert_eq!(s, 303);
    assert!(page(port, &he, &group).contains("Comité social"));
}

#[test]
fn the_feed_and_group_pages_page_through_older_threads() {
    use serde_json::json;
    let company = Company::new();
    let node = company.start(0);
    let token = node.login("hdupre");
    let g = node.api(
        &token,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Archives", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    for i in 0..55 {
        node.api(
            &token,
            "POST",
            &format!("/api/v1/groups/{gid}/threads"),
            Some(json!({"title": format!("Fil numéro {i:02}"), "body": "."})),
            201,
        );
    }
    // The API's session token is also the UI's session cookie.
    let me = format!("Cookie: weft_session={token}");
    for path in ["/".to_owned(), format!("/groups/{gid}")] {
        let html = page(node.http_port, &me, &path);
        assert!(html.contains("Fil numéro 54"), "newest first");
        assert!(
            !html.contains("Fil numéro 00"),
            "the oldest are on the next page"
        );
        let next = html
            .split("rel=\"next\"")
            .next()
            .unwrap()
            .rsplit("href=\"")
            .next()
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        assert!(next.contains("?before="), "{next}");
        let html = page(node.http_port, &me, &next);
        assert!(html.contains("Fil numéro 00"), "{path}: {html}");
        assert!(!html.contains("Fil numéro 54"));
        assert!(!html.contains("rel=\"next\""), "no third page");
    }
}

/// What people post besides threads, through the pages' forms alone (no script): a poll and
/// a vote, an event in Paris time shown in New York time to a viewer there, an answer, the
/// agenda and its calendar address, a question's best answer, a pin, a bookmark, a word on
/// a wall, an announcement, and the directory; in French too.
#[test]
fn polls_events_walls_and_the_rest_through_the_forms() {
    let company = Company::new();
    // Walls and announcements live in All company, which the founding site's node makes:
    // every site runs.
    let nodes: Vec<_> = (0..3).map(|i| company.start(i)).collect();
    let port = nodes[0].http_port;
    let helene = ui_login(port, "hdupre");
    let claire = ui_login(port, "cmartin");
    let start = std::time::Instant::now();
    while !page(port, &helene, "/groups").contains("All company") {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "All company never came"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for who in [&helene, &claire] {
        // Accept the charter if one is asked (none is configured here) and land on the feed.
        page(port, who, "/");
    }
    // A group, and a poll started from the thread form.
    let (s, loc) = post_form(
        port,
        &helene,
        "/groups",
        "/groups",
        "name=Chorale&description=&visibility=public",
    );
    assert_eq!(s, 303, "{loc}");
    let group = loc.clone();
    let (s, thread) = post_form(
        port,
        &helene,
        &group,
        &format!("{group}/threads"),
        &format!(
            "title={}&body={}&poll_question={}&poll_options={}&poll_hours=24",
            enc("Concert"),
            enc("Votez"),
            enc("Quel jour ?"),
            enc("Vendredi\nSamedi\n")
        ),
    );
    assert_eq!(s, 303, "{thread}");
    let html = page(port, &claire, &thread);
    assert!(
        html.contains("Quel jour ?") && html.contains("name=\"choice\""),
        "{html}"
    );
    let root = html
        .split("id=\"p-")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (s, _) = post_form(
        port,
        &claire,
        &thread,
        &format!("{thread}/vote/{root}"),
        "choice=2",
    );
    assert_eq!(s, 303);
    let html = page(port, &claire, &thread);
    assert!(
        html.contains("Samedi <span class=\"count\">(1)</span>"),
        "{html}"
    );

    // An event planned in Paris time, in a month; Claire's browser says New York.
    use weft_web::time::{local_input, short_in, zone};
    let (paris, new_york) = (
        zone("Europe/Paris").unwrap(),
        zone("America/New_York").unwrap(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let at = (now + 30 * 24 * 3_600_000) / 3_600_000 * 3_600_000;
    let (s, event) = post_form(
        port,
        &helene,
        &group,
        &format!("{group}/events"),
        &format!(
            "title={}&starts={}&ends={}&time_zone={}&location={}&description=",
            enc("Répétition"),
            enc(&local_input(at, &paris)),
            enc(&local_input(at + 2 * 3_600_000, &paris)),
            enc("Europe/Paris"),
            enc("Salle Pleyel")
        ),
    );
    assert_eq!(s, 303, "{event}");
    let ny = format!("{claire}; weft_tz=America/New_York");
    let html = page(port, &ny, &event);
    assert!(
        html.contains(&short_in(at, &new_york)),
        "New York time: {html}"
    );
    assert!(
        html.contains(&format!("{}, Europe/Paris", short_in(at, &paris))),
        "its own time: {html}"
    );
    let (s, _) = post_form(
        port,
        &claire,
        &event,
        &format!("{event}/rsvp"),
        "answer=yes",
    );
    assert_eq!(s, 303);
    // The group's agenda page, and its iCalendar file with the session cookie alone.
    let html = page(port, &claire, &format!("{group}/agenda"));
    assert!(
        html.contains("Répétition") && html.contains("events.ics"),
        "{html}"
    );
    let (s, head, ics) = http_raw(
        port,
        "GET",
        &format!("/api/v1{group}/events.ics"),
        std::slice::from_ref(&claire),
        "",
    )
    .unwrap();
    assert_eq!(s, 200, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("text/calendar") && ics.contains("SUMMARY:Répétition"),
        "{ics}"
    );
    let html = page(port, &claire, "/agenda");
    assert!(
        html.contains("Répétition") && html.contains("/calendar/"),
        "{html}"
    );

    // A question: Claire asks, Hélène answers, Claire picks it; Hélène (owner) pins it.
    let (s, q) = post_form(
        port,
        &claire,
        &group,
        &format!("{group}/threads"),
        &format!(
            "title={}&body={}&question=1",
            enc("Partitions ?"),
            enc("Où les trouver ?")
        ),
    );
    assert_eq!(s, 303, "{q}");
    let (s, _) = post_form(
        port,
        &helene,
        &q,
        &format!("{q}/reply"),
        &format!("body={}", enc("Dans l'armoire")),
    );
    assert_eq!(s, 303);
    let html = page(port, &claire, &q);
    let answer = html
        .split("id=\"p-")
        .nth(2)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (s, _) = post_form(port, &claire, &q, &format!("{q}/best/{answer}"), "");
    assert_eq!(s, 303);
    let (s, _) = post_form(port, &helene, &q, &format!("{q}/pin"), "");
    assert_eq!(s, 303);
    let html = page(port, &claire, &q);
    assert!(
        html.contains("Best answer") && html.contains("Pinned"),
        "{html}"
    );
    // Claire may not pin (not an owner): refused.
    let (s, _) = post_form(port, &claire, &thread, &format!("{thread}/pin"), "");
    assert_ne!(s, 303);
    // A bookmark.
    let (s, _) = post_form(port, &claire, &q, &format!("{q}/bookmark/{answer}"), "");
    assert_eq!(s, 303);
    assert!(page(port, &claire, "/bookmarks").contains("Partitions ?"));

    // A word on Hélène's wall; she is told; the page shows it, in French for her.
    let (s, _) = post_form(
        port,
        &claire,
        "/people/hdupre",
        "/people/hdupre/wall",
        &format!("body={}", enc("Merci pour le concert !")),
    );
    assert_eq!(s, 303);
    let fr = format!("{helene}; weft_lang=fr");
    let html = page(port, &fr, "/people/hdupre");
    assert!(
        html.contains("Merci pour le concert") && html.contains("Mur"),
        "{html}"
    );
    assert!(page(port, &fr, "/notifications").contains("a écrit sur votre mur"));

    // An announcement by Hélène (a community manager): above Claire's feed until dismissed.
    let (s, _) = post_form(
        port,
        &helene,
        "/announce",
        "/announce",
        &format!(
            "title={}&body={}&site=&days=7",
            enc("Fermeture le 24"),
            enc("Le site ferme à midi.")
        ),
    );
    assert_eq!(s, 303);
    let html = page(port, &claire, "/");
    assert!(
        html.contains("Fermeture le 24") && html.contains("class=\"announcement\""),
        "{html}"
    );
    assert!(
        !html.contains("Make an announcement"),
        "Claire may not announce"
    );
    let id = html
        .split("/announcements/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let (s, _) = post_form(
        port,
        &claire,
        "/",
        &format!("/announcements/{id}/dismiss"),
        "",
    );
    assert_eq!(s, 303);
    assert!(!page(port, &claire, "/").contains("class=\"announcement\""));
    // The directory, by department.
    let html = page(port, &claire, "/directory?department=Communication");
    assert!(html.contains("Manon Roux"), "{html}");
}
