//! Logins and sessions.
//!
//! Accounts exist for the employees the directory homes at this node's site; their password
//! hashes (argon2) are in the node's store.
//!
//! **Logins** ([`Logins`], [`authenticate`]): an attempt is counted *before* its password is
//! checked, per account and per client address, so that however many guesses arrive at
//! once, at most [`LoginLimits::per_account`] of them are ever checked for one account within
//! [`FAILURE_WINDOW`] (the rest answer 429 at once, at no cost). The address limit is far
//! looser (an office behind one address is many people), and an account's limit never
//! touches another account: guesses against one account never lock out anyone else's
//! correct password from another address. The client's address is the connection's, or,
//! for a connection from one of the configured `trusted_proxies`, the one it reports in
//! `X-Forwarded-For` ([`client_ip`]). Password checks (about 19 MiB each) run at most
//! [`MAX_CHECKS`] at a time; when that many are queued already, a login answers 503.
//!
//! **Sessions** ([`Sessions`]): a login gives a random token, sent back as an `HttpOnly`,
//! `SameSite=Lax` cookie (`Secure` when the node's public address is https) and in the body
//! for API clients (`Authorization: Bearer`). The node's store keeps only its SHA-256, with
//! the employee, when it started and when it was last used, so a restart logs nobody out
//! and a copy of the store gives no usable session. A session ends after
//! [`SESSION_IDLE`] unused, [`SESSION_MAX`] after it started whatever its use, at logout, and
//! — every session of the employee — when their password is set again or when the
//! directory no longer lists them as active here (they left, or moved to another site).
//! Event streams close with their session ([`Sessions::ended`]).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};
use weft_node::config::IpRange;
use weft_node::metrics::Metrics;
use weft_node::service::Service;
use weft_node::service::SessionRecord;

use crate::cookies::{Cookie, SameSite};
use crate::error::AppError;

/// How long a session lasts unused.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// How long a session lasts at most, however much it is used: a stolen cookie stops working
/// within a week even if the thief keeps using it.
pub const SESSION_MAX: Duration = Duration::from_secs(7 * 24 * 3600);
/// The window in which failed logins are counted.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The session cookie's name.
pub const COOKIE: &str = "weft_session";
/// Password checks (argon2, about 19 MiB and tens of milliseconds each) running at once, at
/// most; the memory a burst of logins can take is bounded by this times 19 MiB.
pub const MAX_CHECKS: usize = 2;
/// Logins waiting for a check, at most; beyond, a login answers 503 at once.
pub const MAX_WAITING: usize = 32;
/// How long a login waits for a check before answering 503.
const CHECK_WAIT: Duration = Duration::from_secs(10);
/// A session's last use is written back to the store at most this often (ms): idle expiry
/// survives a restart within a minute's precision without a write per request.
const TOUCH_EVERY_MS: i64 = 60_000;
/// Passwords longer than this are refused unchecked (and counted as failures).
const MAX_PASSWORD_BYTES: usize = 1024;
/// Logins longer than this are no directory id or e-mail.
const MAX_LOGIN_BYTES: usize = 320;

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

/// A hash of nothing anyone knows, to spend the same effort on a login that names no
/// account as on one that does (so timing does not tell which accounts exist).
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("weft decoy password: matches nothing").unwrap_or_default())
}

/// The SHA-256 of a token: what is kept of it.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The token a session's forms carry (CSRF protection), derived from its token: nothing to
/// store, and nothing a copy of the store or another session can compute.
pub fn csrf_of(token: &str) -> String {
    let d: [u8; 32] = Sha256::digest(format!("weft-csrf\0{token}").as_bytes()).into();
    weft_node::keys::to_hex(&d)
}

/// Whether a session started at `created` and last used at `last_used` is still alive at
/// `now` (all ms).
pub fn session_alive(created: i64, last_used: i64, now: i64) -> bool {
    now.saturating_sub(created) < SESSION_MAX.as_millis() as i64
        && now.saturating_sub(last_used) < SESSION_IDLE.as_millis() as i64
}

/// A live session, as a request finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub employee: String,
    /// The digest of its token.
    pub digest: [u8; 32],
    /// When it started (ms): it ends [`SESSION_MAX`] after.
    pub created: i64,
}

#[derive(Debug, Clone)]
struct Entry {
    record: SessionRecord,
    /// The last use as written in the store.
    stored_use: i64,
}

/// The sessions of this node: in memory for every request, and in the store (as digests)
/// for restarts. Loaded from the store on first use.
pub struct Sessions {
    service: Service,
    live: Mutex<HashMap<[u8; 32], Entry>>,
    loaded: tokio::sync::OnceCell<()>,
    /// Bumped whenever a session ends, so that event streams look whether theirs did.
    ended: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions")
    }
}

impl Sessions {
    pub fn new(service: Service) -> Sessions {
        Sessions {
            service,
            live: Mutex::new(HashMap::new()),
            loaded: tokio::sync::OnceCell::new(),
            ended: tokio::sync::watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        // A panic while holding the lock leaves a map that is still consistent (every
        // operation is a single insert or remove): go on with it.
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, n: usize) {
        Metrics::set(&self.service.metrics().sessions, n as u64);
    }

    /// Reads the stored sessions once, dropping those that expired and those of employees
    /// no longer active here (the directory may have changed while the node was stopped).
    async fn load(&self) -> Result<(), AppError> {
        self.loaded
            .get_or_try_init(|| async {
                let now = self.service.now_ms();
                let mut kept = Vec::new();
                let mut dropped = Vec::new();
                for (d, r) in self.service.sessions().await? {
                    if session_alive(r.created, r.last_used, now)
                        && self.service.homed_here(&r.employee)
                    {
                        kept.push((d, r));
                    } else {
                        dropped.push(d);
                    }
                }
                if !dropped.is_empty() {
                    self.service.remove_sessions(dropped).await?;
                }
                let mut live = self.lock();
                for (d, record) in kept {
                    let stored_use = record.last_used;
                    live.entry(d).or_insert(Entry { record, stored_use });
                }
                self.count(live.len());
                Ok::<(), AppError>(())
            })
            .await?;
        Ok(())
    }

    /// Starts a session for `employee`; returns the token to hand to the client. It is in
    /// the store when this returns.
    pub async fn start(&self, employee: &str) -> Result<String, AppError> {
        self.load().await?;
        let token = random_token(&self.service)?;
        let d = digest(&token);
        let now = self.service.now_ms();
        let record = SessionRecord {
            employee: employee.to_owned(),
            created: now,
            last_used: now,
        };
        self.service.put_session(d, record.clone()).await?;
        let expired: Vec<[u8; 32]> = {
            let mut live = self.lock();
            let expired: Vec<[u8; 32]> = live
                .iter()
                .filter(|(_, e)| !session_alive(e.record.created, e.record.last_used, now))
                .map(|(d, _)| *d)
                .collect();
            for x in &expired {
                live.remove(x);
            }
            live.insert(
                d,
                Entry {
                    record,
                    stored_use: now,
                },
            );
            self.count(live.len());
            expired
        };
        // Sessions that expired unnoticed leave the store too.
        self.forget(expired);
        Ok(token)
    }

    /// The live session behind a token, marking it used.
    pub async fn check(&self, token: &str) -> Result<Option<Session>, AppError> {
        self.load().await?;
        let d = digest(token);
        let now = self.service.now_ms();
        let (session, write_back) = {
            let mut live = self.lock();
            let Some(e) = live.get_mut(&d) else {
                return Ok(None);
            };
            if !session_alive(e.record.created, e.record.last_used, now) {
                live.remove(&d);
                drop(live);
                self.forget(vec![d]);
                return Ok(None);
            }
            e.record.last_used = now;
            let write_back = (now - e.stored_use >= TOUCH_EVERY_MS).then(|| {
                e.stored_use = now;
                e.record.clone()
            });
            let s = Session {
                employee: e.record.employee.clone(),
                digest: d,
                created: e.record.created,
            };
            (s, write_back)
        };
        if let Some(record) = write_back {
            // Best effort, off the request's path: at worst idle expiry counts from a minute
            // earlier after a restart.
            let service = self.service.clone();
            tokio::spawn(async move {
                let _ = service.put_session(d, record).await;
            });
        }
        Ok(Some(session))
    }

    /// Whether the session with digest `d` is still alive (for event streams).
    pub fn is_alive(&self, d: &[u8; 32]) -> bool {
        let now = self.service.now_ms();
        self.lock()
            .get(d)
            .is_some_and(|e| session_alive(e.record.created, e.record.last_used, now))
    }

    /// Changes each time a session ends: event streams watch it to close with theirs.
    pub fn ended(&self) -> tokio::sync::watch::Receiver<u64> {
        self.ended.subscribe()
    }

    /// Removes sessions from the store (durably), then tells event streams.
    fn forget(&self, digests: Vec<[u8; 32]>) {
        if digests.is_empty() {
            return;
        }
        self.count(self.lock().len());
        self.ended.send_modify(|n| *n += 1);
        let service = self.service.clone();
        tokio::spawn(async move {
            let _ = service.remove_sessions(digests).await;
        });
    }

    /// Ends a session (logout). It is gone from the store when this returns.
    pub async fn end(&self, token: &str) -> Result<(), AppError> {
        self.load().await?;
        let d = digest(token);
        self.lock().remove(&d);
        self.count(self.lock().len());
        self.ended.send_modify(|n| *n += 1);
        self.service.remove_sessions(vec![d]).await?;
        Ok(())
    }

    /// Ends every session of `employee` (a new password; leaving; moving to another site).
    /// They are gone from the store when this returns. Returns how many were alive here.
    pub async fn end_all_of(&self, employee: &str) -> Result<usize, AppError> {
        self.load().await?;
        let n = {
            let mut live = self.lock();
            let before = live.len();
            live.retain(|_, e| e.record.employee != employee);
            before - live.len()
        };
        self.count(self.lock().len());
        self.ended.send_modify(|n| *n += 1);
        self.service.end_sessions_of(employee).await?;
        Ok(n)
    }

    /// Ends the sessions of every employee the directory no longer lists as active here.
    /// Called when a new directory version is installed.
    pub async fn revalidate(&self) -> Result<(), AppError> {
        self.load().await?;
        let who: HashSet<String> = self
            .lock()
            .values()
            .map(|e| e.record.employee.clone())
            .collect();
        let gone: Vec<String> = who
            .into_iter()
            .filter(|e| !self.service.homed_here(e))
            .collect();
        for employee in gone {
            let n = self.end_all_of(&employee).await?;
            tracing::info!(
                employee = %employee,
                sessions = n,
                "sessions ended: the directory no longer lists this employee as active here"
            );
        }
        Ok(())
    }

    /// Follows the node's directory versions, ending the sessions of employees who left or
    /// moved as each one is installed. Runs until the node stops.
    pub async fn follow_directory(self: std::sync::Arc<Self>) {
        use tokio::sync::broadcast::error::RecvError;
        let mut rx = self.service.subscribe();
        loop {
            match rx.recv().await {
                Ok(weft_node::Live::Directory { .. }) | Err(RecvError::Lagged(_)) => {
                    // Missed events may have held a directory: look again either way.
                    if let Err(e) = self.revalidate().await {
                        tracing::warn!(error = %e.message, "sessions not checked against the directory");
                    }
                }
                Ok(_) => {}
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// How many failed logins are allowed before 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures per account within [`FAILURE_WINDOW`].
    pub per_account: u32,
    /// Failures per client address within [`FAILURE_WINDOW`].
    pub per_address: u32,
}

impl Default for LoginLimits {
    fn default() -> LoginLimits {
        LoginLimits {
            per_account: 5,
            per_address: 100,
        }
    }
}

/// Failures and checks under way for one key (an account or an address).
#[derive(Debug, Clone, Copy)]
struct Tally {
    failures: u32,
    in_flight: u32,
    since: Instant,
}

/// Login attempts and password checks.
#[derive(Debug)]
pub struct Logins {
    limits: LoginLimits,
    tallies: Mutex<HashMap<String, Tally>>,
    checks: tokio::sync::Semaphore,
    waiting: AtomicUsize,
}

/// An attempt that was let through: it counts against its account and address until it
/// ends, as a failure, a success, or (dropped) neither.
#[derive(Debug)]
pub struct Attempt<'a> {
    logins: &'a Logins,
    keys: [String; 2],
    done: bool,
}

impl Logins {
    pub fn new(limits: LoginLimits) -> Logins {
        Logins {
            limits,
            tallies: Mutex::new(HashMap::new()),
            checks: tokio::sync::Semaphore::new(MAX_CHECKS),
            waiting: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Tally>> {
        self.tallies.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an attempt for `account` from `address` before anything is checked, or
    /// refuses it (`None`) when either already has as many failures and checks under way as
    /// its limit allows.
    pub fn begin(&self, account: &str, address: &str, now: Instant) -> Option<Attempt<'_>> {
        let keys = [format!("account:{account}"), format!("address:{address}")];
        let limits = [self.limits.per_account, self.limits.per_address];
        let mut t = self.lock();
        if t.len() > 10_000 {
            t.retain(|_, v| v.in_flight > 0 || now.duration_since(v.since) < FAILURE_WINDOW);
        }
        for (k, limit) in keys.iter().zip(limits) {
            if let Some(v) = t.get_mut(k) {
                if now.duration_since(v.since) >= FAILURE_WINDOW {
                    v.failures = 0;
                    v.since = now;
                }
                if v.failures + v.in_flight >= limit {
                    return None;
                }
            }
        }
        for k in &keys {
            let v = t.entry(k.clone()).or_insert(Tally {
                failures: 0,
                in_flight: 0,
                since: now,
            });
            v.in_flight += 1;
        }
        Some(Attempt {
            logins: self,
            keys,
            done: false,
        })
    }

    /// Waits for a turn to check (or hash) a password: at most [`MAX_CHECKS`] at a time;
    /// 503 when too many are waiting already or the wait is too long.
    pub async fn permit<'a>(&'a self, metrics: &'a Metrics) -> Result<CheckPermit<'a>, AppError> {
        let busy = || {
            Metrics::add(&metrics.logins_refused, 1);
            AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many logins at once; try again in a moment",
            )
        };
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy());
        }
        let permit = tokio::time::timeout(CHECK_WAIT, self.checks.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match permit {
            Ok(Ok(permit)) => Ok(CheckPermit {
                _permit: permit,
                metrics,
            }),
            _ => Err(busy()),
        }
    }

    /// Runs a password check (or hash) `f` when its turn comes (see [`Logins::permit`]).
    pub async fn check<T: Send + 'static>(
        &self,
        metrics: &Metrics,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        self.permit(metrics).await?.run(f).await
    }
}

/// A turn to check or hash one password.
#[derive(Debug)]
pub struct CheckPermit<'a> {
    _permit: tokio::sync::SemaphorePermit<'a>,
    metrics: &'a Metrics,
}

impl CheckPermit<'_> {
    /// Runs `f` (argon2) on a blocking thread, holding the turn until it is done.
    pub async fn run<T: Send + 'static>(
        self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        Metrics::add(&self.metrics.password_checks, 1);
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|_| AppError::internal("password check"))
    }
}

impl Attempt<'_> {
    fn finish(&mut self, failed: bool, clear_account: bool) {
        self.done = true;
        let mut t = self.logins.lock();
        for (i, k) in self.keys.iter().enumerate() {
            if let Some(v) = t.get_mut(k) {
                v.in_flight = v.in_flight.saturating_sub(1);
                if failed {
                    v.failures += 1;
                }
                if clear_account && i == 0 {
                    v.failures = 0;
                }
            }
        }
    }

    /// The password was wrong (or the account unknown).
    pub fn failed(mut self) {
        self.finish(true, false);
    }

    /// The password was right: the account's failures are forgotten (not the address's).
    pub fn succeeded(mut self) {
        self.finish(false, true);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.finish(false, false);
        }
    }
}

/// The session cookie for a token: `SameSite=Lax` (a link from elsewhere to a page here
/// arrives logged in; a form from elsewhere that writes is refused by its CSRF token, an API
/// write by its content type), for the whole site, as long as a session can last.
pub fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    crate::cookies::cookie(COOKIE, token, "/", SameSite::Lax, Some(SESSION_MAX), secure)
}

/// The cookie that removes the session cookie.
pub fn clear_session_cookie(secure: bool) -> Cookie<'static> {
    crate::cookies::removal(COOKIE, "/", SameSite::Lax, secure)
}

/// 32 random bytes as hex, from the node's random source.
pub fn random_token(service: &Service) -> Result<String, AppError> {
    service
        .token()
        .map_err(|_| AppError::internal("no randomness"))
}

/// The client's address: the connection's `peer`, unless that is a trusted proxy, in which
/// case the proxies' `X-Forwarded-For` is read from the right (each proxy appends the
/// address it received from) back to the first address that is not a trusted proxy. A
/// header from anyone else is ignored: it is whatever the client chose to write.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpRange]) -> Option<IpAddr> {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|r| r.contains(ip));
    let mut client = peer?;
    if !is_trusted(client) {
        return Some(client);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // Garbage where an address should be: believe nothing further left.
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    Some(client)
}

/// The key logins are counted under for an address: the address itself, or for IPv6 its
/// /64 network (one machine may hold a whole /64).
pub fn address_key(ip: Option<IpAddr>) -> String {
    match ip {
        None => "unknown".into(),
        Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map_or_else(String::new, |v4| v4.to_string()),
        Some(v4) => v4.to_string(),
    }
}

fn too_many(metrics: &Metrics) -> AppError {
    Metrics::add(&metrics.logins_refused, 1);
    AppError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many failed logins; try again later",
    )
}

/// Checks a login and password, with rate limiting; returns the employee id. `ip` is the
/// client's address as [`client_ip`] found it.
pub async fn authenticate(
    service: &Service,
    logins: &Logins,
    login: &str,
    password: String,
    ip: Option<IpAddr>,
) -> Result<String, AppError> {
    let metrics = service.metrics().clone();
    let login = login.trim().to_lowercase();
    let account: String = login.chars().take(MAX_LOGIN_BYTES).collect();
    let Some(attempt) = logins.begin(&account, &address_key(ip), Instant::now()) else {
        tracing::info!(login = %account, "login refused: too many failures");
        return Err(too_many(&metrics));
    };
    let lookup = login.clone();
    let found = if login.len() > MAX_LOGIN_BYTES || password.len() > MAX_PASSWORD_BYTES {
        None
    } else {
        service
            .account(&lookup)
            .await?
            .and_then(|(id, hash)| Some((id, hash?)))
    };
    let (who, hash) = match found {
        Some((who, hash)) => (Some(who), hash),
        // The same effort as a real check, so timing does not reveal accounts.
        None => (None, String::new()),
    };
    let ok = logins
        .check(&metrics, move || {
            let phc = if hash.is_empty() { decoy_hash() } else { &hash };
            verify_password(&password, phc) && !hash.is_empty()
        })
        .await?;
    match who.filter(|_| ok) {
        Some(employee) => {
            attempt.succeeded();
            service.logged_in(&employee).await?;
            Ok(employee)
        }
        None => {
            attempt.failed();
            tracing::info!(login = %account, "failed login");
            Err(AppError::new(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                "wrong login or password",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn sessions_end_when_idle_and_at_their_absolute_lifetime() {
        let h = 3_600_000;
        assert!(session_alive(0, 0, h));
        assert!(!session_alive(0, 0, 12 * h), "idle for 12 hours");
        // Used every hour, it still ends a week after it started.
        assert!(session_alive(0, 7 * 24 * h - 2 * h, 7 * 24 * h - h));
        assert!(!session_alive(0, 7 * 24 * h - h, 7 * 24 * h));
    }

    #[test]
    fn attempts_count_before_checking_and_per_account_and_address() {
        let l = Logins::new(LoginLimits {
            per_account: 3,
            per_address: 5,
        });
        let now = Instant::now();
        // Three attempts in flight at once use up the account: the fourth is refused before
        // anything is checked.
        let held: Vec<Attempt<'_>> = (0..3)
            .map(|_| l.begin("hdupre", "10.0.0.1", now).unwrap())
            .collect();
        assert!(l.begin("hdupre", "10.0.0.9", now).is_none());
        // Another account, from another address, is not touched.
        l.begin("cmartin", "10.0.0.2", now).unwrap().succeeded();
        for a in held {
            a.failed();
        }
        assert!(l.begin("hdupre", "10.0.0.3", now).is_none(), "3 failures");
        // The address allows more, and then refuses any account from it.
        l.begin("x1", "10.0.0.1", now).unwrap().failed();
        l.begin("x2", "10.0.0.1", now).unwrap().failed();
        assert!(l.begin("cmartin", "10.0.0.1", now).is_none());
        // After the window, everything is allowed again; a success clears the account.
        let later = now + FAILURE_WINDOW;
        l.begin("hdupre", "10.0.0.1", later).unwrap().succeeded();
        for _ in 0..2 {
            l.begin("hdupre", "10.0.0.7", later).unwrap().failed();
        }
        l.begin("hdupre", "10.0.0.7", later).unwrap().succeeded();
        l.begin("hdupre", "10.0.0.7", later).unwrap();
        // An attempt dropped unfinished (a cancelled request) counts as nothing.
        drop(l.begin("srao", "10.0.0.8", later).unwrap());
        let t = l.lock();
        assert_eq!(t["account:srao"].failures + t["account:srao"].in_flight, 0);
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted = [IpRange::parse("10.0.0.0/8").unwrap()];
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "198.51.100.7, 10.1.1.1".parse().unwrap());
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // From the proxy: the first untrusted address from the right.
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("198.51.100.7"));
        // From anyone else: the header is theirs to forge, and ignored.
        assert_eq!(
            client_ip(ip("203.0.113.5"), &h, &trusted),
            ip("203.0.113.5")
        );
        // A client that writes its own header before the proxy appends can only name
        // addresses to the left of the one the proxy saw.
        h.insert(
            "x-forwarded-for",
            "127.0.0.1, 198.51.100.8".parse().unwrap(),
        );
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("198.51.100.8"));
        h.insert("x-forwarded-for", "garbage".parse().unwrap());
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &[]),
            ip("10.0.0.2")
        );
        assert_eq!(address_key(ip("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
        assert_eq!(address_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
    }

    #[test]
    fn the_csrf_token_is_derived_from_the_session_and_not_its_digest() {
        let t = "a".repeat(64);
        assert_eq!(csrf_of(&t), csrf_of(&t));
        assert_ne!(csrf_of(&t), csrf_of(&"b".repeat(64)));
        assert_ne!(csrf_of(&t), weft_node::keys::to_hex(&digest(&t)));
    }
}
