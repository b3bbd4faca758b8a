//! Logins and sessions.
//!
//! Accounts exist for the employees the directory homes at this node's site; their password
//! hashes (argon2) are in the node's store. A login gives a random session token, kept here
//! only as its SHA-256 (a leak of memory or logs gives no usable token), sent back as an
//! `HttpOnly`, `SameSite=Lax` cookie and in the body for API clients (`Authorization: Bearer`).
//! Repeated failures for one login or from one address are refused with 429 for a while.
//! Sessions live in memory: restarting the node logs everyone out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use crate::AppError;
use crate::state::AppState;

/// How long a session lasts without use.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Failures allowed per login or address within [`FAILURE_WINDOW`] before 429.
pub const MAX_FAILURES: u32 = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The session cookie's name.
pub const COOKIE: &str = "weft_session";

/// Hashes a password for storage (argon2id, random salt).
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a password against a stored hash.
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

#[derive(Debug, Clone)]
struct Session {
    employee: String,
    last_used: Instant,
    /// The token forms of this session must carry (CSRF protection).
    csrf: String,
}

/// Active sessions and recent login failures.
#[derive(Debug, Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    /// Starts a session; returns the token to hand to the client.
    pub fn start(&self, employee: &str) -> Result<String, AppError> {
        let token = random_token()?;
        let csrf = random_token()?;
        if let Ok(mut s) = self.sessions.lock() {
            s.retain(|_, v| v.last_used.elapsed() < SESSION_TTL);
            s.insert(
                digest(&token),
                Session {
                    employee: employee.to_owned(),
                    last_used: Instant::now(),
                    csrf,
                },
            );
        }
        Ok(token)
    }

    /// The employee behind a token, if the session is alive.
    pub fn employee(&self, token: &str) -> Option<String> {
        let mut s = self.sessions.lock().ok()?;
        let key = digest(token);
        let session = s.get_mut(&key)?;
        if session.last_used.elapsed() >= SESSION_TTL {
            s.remove(&key);
            return None;
        }
        session.last_used = Instant::now();
        Some(session.employee.clone())
    }

    /// The CSRF token of a live session.
    pub fn csrf(&self, token: &str) -> Option<String> {
        let s = self.sessions.lock().ok()?;
        s.get(&digest(token)).map(|x| x.csrf.clone())
    }

    /// Ends a session.
    pub fn end(&self, token: &str) {
        if let Ok(mut s) = self.sessions.lock() {
            s.remove(&digest(token));
        }
    }

    /// Whether `keys` (a login, an address) are locked out by recent failures.
    pub fn locked_out(&self, keys: &[String]) -> bool {
        let Ok(f) = self.failures.lock() else {
            return false;
        };
        keys.iter().any(|k| {
            f.get(k)
                .is_some_and(|(n, since)| *n >= MAX_FAILURES && since.elapsed() < FAILURE_WINDOW)
        })
    }

    /// Records a failed login for each key.
    pub fn failed(&self, keys: &[String]) {
        if let Ok(mut f) = self.failures.lock() {
            for k in keys {
                let e = f.entry(k.clone()).or_insert((0, Instant::now()));
                if e.1.elapsed() >= FAILURE_WINDOW {
                    *e = (0, Instant::now());
                }
                e.0 += 1;
            }
        }
    }

    /// Clears failures after a success.
    pub fn succeeded(&self, keys: &[String]) {
        if let Ok(mut f) = self.failures.lock() {
            for k in keys {
                f.remove(k);
            }
        }
    }
}

/// The `Set-Cookie` value for a session token.
pub fn session_cookie(token: &str) -> String {
    format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}",
        SESSION_TTL.as_secs()
    )
}

/// 32 random bytes as hex.
pub fn random_token() -> Result<String, AppError> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|_| AppError::internal("no randomness"))?;
    Ok(weft_node::keys::to_hex(&raw))
}

/// Checks a login and password, with rate limiting; returns the employee id.
pub async fn authenticate(
    state: &AppState,
    login: &str,
    password: String,
    ip: Option<IpAddr>,
) -> Result<String, AppError> {
    use axum::http::StatusCode;
    let login = login.trim().to_lowercase();
    let keys = vec![format!("login:{login}"), address_key(ip)];
    if state.sessions.locked_out(&keys) {
        return Err(AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many failed logins; try again later",
        ));
    }
    let lookup = login.clone();
    let found = state
        .node
        .call(move |core| {
            let dir = core.replica().directory()?;
            let e = dir.directory.employees.values().find(|e| {
                e.site == core.site()
                    && e.status == weft_node::keys::Status::Active
                    && (e.id.to_lowercase() == lookup || e.email == lookup)
            })?;
            let hash = core.store().password_hash(&e.id).ok()??;
            Some((e.id.clone(), hash))
        })
        .await?;
    let ok = match found.clone() {
        Some((_, hash)) => tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false),
        None => {
            // Spend the same effort as a real check, so timing does not reveal accounts.
            let _ = tokio::task::spawn_blocking(move || hash_password(&password)).await;
            false
        }
    };
    match found.filter(|_| ok) {
        Some((employee, _)) => {
            state.sessions.succeeded(&keys);
            let who = employee.clone();
            let now = crate::api::now_ms();
            state.node.call(move |c| c.on_login(&who, now)).await??;
            Ok(employee)
        }
        None => {
            state.sessions.failed(&keys);
            tracing::info!(login = %login, "failed login");
            Err(AppError::new(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                "wrong login or password",
            ))
        }
    }
}

/// The session token a request carries: `Authorization: Bearer …` or the session cookie.
pub fn token_of(parts: &Parts) -> Option<String> {
    if let Some(v) = parts.headers.get(header::AUTHORIZATION)
        && let Ok(v) = v.to_str()
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some(t.trim().to_owned());
    }
    for v in parts.headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=')
                && k == COOKIE
            {
                return Some(val.to_owned());
            }
        }
    }
    None
}

/// The logged-in employee; rejects the request with 401 otherwise.
#[derive(Debug, Clone)]
pub struct Me(pub String);

impl FromRequestParts<AppState> for Me {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Me, AppError> {
        token_of(parts)
            .and_then(|t| state.sessions.employee(&t))
            .map(Me)
            .ok_or_else(AppError::unauthenticated)
    }
}

/// The client's address key for rate limiting.
pub fn address_key(ip: Option<IpAddr>) -> String {
    format!(
        "ip:{}",
        ip.map_or_else(|| "unknown".into(), |i| i.to_string())
    )
}
