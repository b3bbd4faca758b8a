//! Cookies, read and written in one place, and redirects that can only stay on this site.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: always `HttpOnly` (no script of ours reads a cookie), with the
/// given path and `SameSite`, an optional `Max-Age` in seconds (0 removes the cookie), and
/// `Secure` when the node is served over https.
pub fn cookie(
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    max_age: Option<u64>,
    secure: bool,
) -> String {
    let mut c = format!("{name}={value}; HttpOnly; SameSite={same_site}; Path={path}");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
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
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; weft_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(get(&h, "weft_session").as_deref(), Some("abc"));
        assert_eq!(get(&h, "c"), None);
        assert_eq!(
            cookie("n", "v", "/", "Lax", Some(60), true),
            "n=v; HttpOnly; SameSite=Lax; Path=/; Max-Age=60; Secure"
        );
        assert!(!cookie("n", "v", "/", "Strict", None, false).contains("Secure"));
    }
}
