//! The HTML UI over real HTTP (the browser tests come with the full UI): login with its form
//! token, pages that show what the user may see, forms refused without their token, and post
//! content that can never run as script.

use crate::harness::{Company, PASSWORD, http_raw};

fn cookie_value(head: &str, name: &str) -> Option<String> {
    head.lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .find_map(|l| {
            let v = l.split_once(':')?.1.trim();
            let (k, rest) = v.split_once('=')?;
            (k == name).then(|| rest.split(';').next().unwrap_or("").to_owned())
        })
}

fn hidden_csrf(html: &str) -> String {
    let i = html.find("name=\"_csrf\" value=\"").unwrap() + "name=\"_csrf\" value=\"".len();
    html[i..i + 64].to_owned()
}

fn enc(s: &str) -> String {
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
