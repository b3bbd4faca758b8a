//! The cookies the web layer sets, built in one place, and redirects that can only stay on
//! this site. Cookies are read through `axum_extra`'s [`CookieJar`].
//!
//! | cookie | holds | path | `SameSite` | lifetime |
//! |---|---|---|---|---|
//! | `weft_session` | the session token | `/` | `Lax` | [`crate::auth::SESSION_MAX`] |
//! | `weft_csrf` | the login or setup form's token (double submit) | `/login`, `/setup` | `Strict` | the browser's session |
//! | `weft_lang` | the language picked at the bottom of the pages | `/` | `Lax` | a year |
//!
//! Every one is `HttpOnly` (no script of ours reads a cookie) and `Secure` when the node is
//! served over https (`public_url`).

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

/// A cookie of ours: `HttpOnly`, with the given path and `SameSite`, a `Max-Age` when
/// `max_age` is given (else it ends with the browser's session), and `Secure` when the node
/// is served over https.
pub fn cookie(
    name: &'static str,
    value: String,
    path: &'static str,
    same_site: SameSite,
    max_age: Option<Duration>,
    secure: bool,
) -> Cookie<'static> {
    let mut c = Cookie::build((name, value))
        .http_only(true)
        .same_site(same_site)
        .path(path)
        .secure(secure);
    if let Some(age) = max_age {
        // Only a lifetime beyond what `time` holds (billions of years) fails; none of ours.
        c = c.max_age(age.try_into().unwrap_or_default());
    }
    c.build()
}

/// The cookie that removes `name` (same path and flags, empty, `Max-Age=0`, expired).
pub fn removal(
    name: &'static str,
    path: &'static str,
    same_site: SameSite,
    secure: bool,
) -> Cookie<'static> {
    let mut c = cookie(name, String::new(), path, same_site, None, secure);
    c.make_removal();
    c
}

/// Whether `target` is a path on this site: one `/` then anything but a second `/` or a
/// backslash (browsers read `//host` and `/\host` as another host), and no control
/// characters.
pub fn is_local(target: &str) -> bool {
    let b = target.as_bytes();
    b.first() == Some(&b'/')
        && !matches!(b.get(1), Some(b'/' | b'\\'))
        && !target.chars().any(char::is_control)
}

/// A redirect (303 See Other) to `target` if it is a path on this site, else to `/`. Never
/// fails, whatever `target` holds.
pub fn redirect(target: &str) -> Response {
    let to = if is_local(target) { target } else { "/" };
    let value = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response()
}

/// The path (with its query) of a URL or of a path, if it is local: for going back to the
/// page a `Referer` names.
pub fn local_path_of(url: &str) -> Option<String> {
    let path = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            &rest[rest.find('/')?..]
        }
        None => url,
    };
    is_local(path).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn redirects_stay_on_this_site() {
        for ok in ["/", "/groups?q=x", "/threads/t-1#p-2", "/a//b"] {
            assert!(is_local(ok), "{ok}");
        }
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "evil",
            "",
            "/a\r\nSet-Cookie: x=1",
        ] {
            assert!(!is_local(bad), "{bad:?}");
            let r = redirect(bad);
            assert_eq!(r.headers()[header::LOCATION], "/");
        }
        assert_eq!(
            local_path_of("http://weft.example/groups?q=1").as_deref(),
            Some("/groups?q=1")
        );
        assert_eq!(local_path_of("http://weft.example//evil.example/x"), None);
        assert_eq!(local_path_of("http://weft.example"), None);
    }

    #[test]
    fn cookies_are_read_and_written_in_one_shape() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; weft_session=abc; b=2".parse().unwrap(),
        );
        let jar = CookieJar::from_headers(&h);
        assert_eq!(jar.get("weft_session").map(Cookie::value), Some("abc"));
        assert!(jar.get("c").is_none());
        let c = cookie(
            "n",
            "v".into(),
            "/",
            SameSite::Lax,
            Some(Duration::from_secs(60)),
            true,
        )
        .to_string();
        let mut attributes: Vec<&str> = c.split("; ").collect();
        attributes.sort_unstable();
        assert_eq!(
            attributes,
            [
                "HttpOnly",
                "Max-Age=60",
                "Path=/",
                "SameSite=Lax",
                "Secure",
                "n=v"
            ]
        );
        let c = cookie("n", "v".into(), "/x", SameSite::Strict, None, false).to_string();
        assert!(!c.contains("Secure") && !c.contains("Max-Age") && c.contains("SameSite=Strict"));
        let gone = removal("n", "/", SameSite::Lax, true).to_string();
        assert!(gone.starts_with("n=;") && gone.contains("Max-Age=0") && gone.contains("Secure"));
    }
}
