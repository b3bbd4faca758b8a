//! E-mail: notification mails (Yammer's delay-then-notify), daily and weekly digests
//! (Jive's), one-click unsubscribing (RFC 8058), through the SMTP server of `[smtp]` in
//! `weft.toml` (lettre; STARTTLS or TLS by rustls).
//!
//! * A notification that may be mailed (a mention, a post on one's wall, a reply in a
//!   followed thread, an invitation, a join request) queues a mail due
//!   `mail_delay_secs` later, in the same commit ([`crate::store::MailJob`]). When it is
//!   due, it is sent only if the notification is still unread, the thread not read since,
//!   the employee still wants such mail, and may still see what it is about (the post is
//!   there, not hidden or deleted; the request or invitation stands).
//! * A digest is scheduled per employee who asked for one, at `digest_hour` in their time
//!   zone (Mondays for weekly ones): the threads of their groups and follows with activity
//!   by others they have not read, in the last day or week, grouped by group (at most
//!   [`DIGEST_MAX`] threads). Nothing is sent when there is nothing.
//! * Every mail has a plain-text and an HTML part, in the employee's language, a link to
//!   their mail settings, and `List-Unsubscribe` with `List-Unsubscribe-Post:
//!   List-Unsubscribe=One-Click`: a POST to that link (no session: its secret token is the
//!   credential) turns all of the employee's mail off.
//! * A mail is sent at most once (see [`crate::store::MailJob`]).

use std::fmt::Write as _;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use weft_crdt::DocId;

use crate::config::{Config, SmtpTls};
use crate::error::NodeError;
use crate::personal::{DigestEvery, MailPrefs, NoticeKind, Notification};
use crate::store::{MailJob, MailKey};

/// The most threads a digest lists.
pub const DIGEST_MAX: usize = 50;
/// How many mails one pass of the sender takes from the queue.
pub const BATCH: usize = 50;
/// Failed attempts after which a mail is given up.
pub const MAX_ATTEMPTS: u32 = 6;
/// How much of a post a notification mail quotes (characters).
const QUOTE_CHARS: usize = 600;

/// How this site sends mail.
#[derive(Clone)]
pub struct MailSettings {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    pub from: Mailbox,
    /// Where links in mails point (the node's public address).
    pub base_url: String,
    pub delay_ms: i64,
    pub digest_hour: u8,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MailSettings({}, {})", self.from, self.base_url)
    }
}

impl MailSettings {
    /// The settings of `config`, if it names an SMTP server.
    pub fn of(config: &Config) -> Result<Option<MailSettings>, NodeError> {
        let Some(smtp) = &config.smtp else {
            return Ok(None);
        };
        let bad = |e: lettre::transport::smtp::Error| NodeError::Config(format!("smtp: {e}"));
        let builder = match smtp.tls {
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(bad)?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(bad)?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        };
        let mut builder = builder
            .port(smtp.port)
            .timeout(Some(std::time::Duration::from_secs(30)));
        if let (Some(u), Some(p)) = (&smtp.username, &smtp.password) {
            builder = builder.credentials(
                lettre::transport::smtp::authentication::Credentials::new(u.clone(), p.0.clone()),
            );
        }
        let from: Mailbox = smtp
            .from
            .parse()
            .map_err(|e| NodeError::Config(format!("smtp.from: {e}")))?;
        let base_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.http_addr))
            .trim_end_matches('/')
            .to_owned();
        Ok(Some(MailSettings {
            transport: builder.build(),
            from,
            base_url,
            delay_ms: i64::try_from(config.mail_delay_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX),
            digest_hour: config.digest_hour,
        }))
    }

    /// Hands `message` to the SMTP server.
    pub async fn send(&self, message: Message) -> Result<(), lettre::transport::smtp::Error> {
        self.transport.send(message).await.map(|_| ())
    }
}

/// A mail ready to go, with its place in the queue.
#[derive(Debug)]
pub struct Outgoing {
    pub key: MailKey,
    pub job: MailJob,
    pub message: Message,
}

/// What the sender does after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted: removed from the queue.
    Sent,
    /// Refused before it was accepted (a 4xx answer, no connection): tried again later.
    Retry,
    /// Refused for good (5xx), or unknown (a timeout after the data may have been taken):
    /// given up, never sent twice.
    GiveUp,
}

impl Outcome {
    pub fn of(r: &Result<(), lettre::transport::smtp::Error>) -> Outcome {
        match r {
            Ok(()) => Outcome::Sent,
            Err(e) if e.is_permanent() || e.is_timeout() => Outcome::GiveUp,
            Err(_) => Outcome::Retry,
        }
    }
}

/// When to try again after `attempts` failures (ms): a minute, doubling, at most an hour.
pub fn retry_after(attempts: u32) -> i64 {
    60_000 * (1i64 << attempts.min(6)).min(60)
}

/// The next time (ms) a digest `every` is due after `now`: `hour`:00 in `zone`, on a Monday
/// for weekly ones. `None` when off.
pub fn next_digest(
    now: i64,
    zone: &jiff::tz::TimeZone,
    hour: u8,
    every: DigestEvery,
) -> Option<i64> {
    if every == DigestEvery::Off {
        return None;
    }
    let now_ts = jiff::Timestamp::from_millisecond(now).ok()?;
    let local = now_ts.to_zoned(zone.clone());
    let mut day = local.date();
    for _ in 0..9 {
        let at = day
            .at(i8::try_from(hour).ok()?, 0, 0, 0)
            .to_zoned(zone.clone())
            .ok()?;
        let fits = every == DigestEvery::Daily || at.weekday() == jiff::civil::Weekday::Monday;
        if fits && at.timestamp() > now_ts {
            return Some(at.timestamp().as_millisecond());
        }
        day = day.tomorrow().ok()?;
    }
    None
}

/// The language of an employee's mail: their choice, else their profile's, else English.
pub fn lang_of(prefs: &MailPrefs, profile_locale: Option<&str>) -> Lang {
    match prefs.lang.as_deref().or(profile_locale) {
        Some(l) if l.starts_with("fr") => Lang::Fr,
        _ => Lang::En,
    }
}

/// A mail's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    fn pick(self, en: &'static str, fr: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Fr => fr,
        }
    }
}

/// Text escaped for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A subject or a line of text without the line breaks a header may not hold.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The start of `body` (Markdown source), at most [`QUOTE_CHARS`] characters.
fn quote(body: &str) -> String {
    let mut q: String = body.chars().take(QUOTE_CHARS).collect();
    if body.chars().count() > QUOTE_CHARS {
        q.push('…');
    }
    q
}

/// Who a mail is for, and the links every mail carries.
pub struct Recipient<'a> {
    pub to: Mailbox,
    pub lang: Lang,
    pub base_url: &'a str,
    /// The one-click unsubscribe link (`…/mail/unsubscribe/<token>`).
    pub unsubscribe: String,
}

impl Recipient<'_> {
    fn footer_text(&self, why: &str) -> String {
        format!(
            "\n-- \n{why}\n{}: {}/settings/mail\n{}: {}\n",
            self.lang.pick(
                "Choose what Weft mails you",
                "Choisir ce que Weft vous envoie"
            ),
            self.base_url,
            self.lang.pick(
                "Unsubscribe from every mail",
                "Se désabonner de tous les e-mails"
            ),
            self.unsubscribe
        )
    }

    fn footer_html(&self, why: &str) -> String {
        format!(
            "<hr><p style=\"color:#5b6675;font-size:13px\">{}<br><a href=\"{}/settings/mail\">{}</a> · <a href=\"{}\">{}</a></p>",
            esc(why),
            esc(self.base_url),
            self.lang.pick(
                "Choose what Weft mails you",
                "Choisir ce que Weft vous envoie"
            ),
            esc(&self.unsubscribe),
            self.lang.pick(
                "Unsubscribe from every mail",
                "Se désabonner de tous les e-mails"
            ),
        )
    }
}

/// What a notification mail says.
pub struct NoticeMail<'a> {
    pub notice: &'a Notification,
    /// The author's name (or id).
    pub by_name: &'a str,
    /// The post's text, for mentions, replies and wall posts.
    pub body: Option<&'a str>,
    /// The group's name, for invitations and requests.
    pub group_name: &'a str,
}

/// Builds a mail.
fn message(
    from: &Mailbox,
    r: &Recipient<'_>,
    key: &MailKey,
    subject: &str,
    text: String,
    html: String,
) -> Result<Message, NodeError> {
    let domain = from.email.domain().to_owned();
    Message::builder()
        .from(from.clone())
        .to(r.to.clone())
        .subject(one_line(subject))
        .message_id(Some(format!("<weft.{}@{domain}>", key.id())))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            format!("<{}>", r.unsubscribe),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click".to_owned(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ))
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| NodeError::Invalid(format!("a mail could not be made: {e}")))
}

/// The mail of one notification.
pub fn notice_mail(
    from: &Mailbox,
    r: &Recipient<'_>,
    key: &MailKey,
    m: &NoticeMail<'_>,
) -> Result<Message, NodeError> {
    let n = m.notice;
    let l = r.lang;
    let (title, by) = (n.title.as_str(), m.by_name);
    let subject = match (n.kind, l) {
        (NoticeKind::Mention, Lang::En) => format!("{by} mentioned you in “{title}”"),
        (NoticeKind::Mention, Lang::Fr) => format!("{by} vous a mentionné dans « {title} »"),
        (NoticeKind::Wall, Lang::En) => format!("{by} wrote on your wall"),
        (NoticeKind::Wall, Lang::Fr) => format!("{by} a écrit sur votre mur"),
        (NoticeKind::JoinRequest, Lang::En) => format!("{by} asks to join {}", m.group_name),
        (NoticeKind::JoinRequest, Lang::Fr) => {
            format!("{by} demande à rejoindre {}", m.group_name)
        }
        (NoticeKind::Invitation, Lang::En) => format!("You are invited to join {}", m.group_name),
        (NoticeKind::Invitation, Lang::Fr) => {
            format!("Vous êtes invité à rejoindre {}", m.group_name)
        }
        (_, Lang::En) => format!("{by} replied in “{title}”"),
        (_, Lang::Fr) => format!("{by} a répondu dans « {title} »"),
    };
    let link = match (&n.post, n.kind) {
        (_, NoticeKind::JoinRequest | NoticeKind::Invitation) => {
            format!("{}/groups/{}", r.base_url, n.doc)
        }
        (Some(p), _) => format!("{}/threads/{}#p-{p}", r.base_url, n.doc),
        (None, _) => format!("{}/threads/{}", r.base_url, n.doc),
    };
    let open = l.pick("Open in Weft", "Ouvrir dans Weft");
    let why = match n.kind {
        NoticeKind::Reply => l.pick(
            "You get this mail because you follow this thread and had not read it.",
            "Vous recevez ce message car vous suivez ce fil et ne l'aviez pas lu.",
        ),
        NoticeKind::JoinRequest => l.pick(
            "You get this mail because you own this group.",
            "Vous recevez ce message car vous êtes propriétaire de ce groupe.",
        ),
        _ => l.pick(
            "You get this mail because you had not seen this in Weft.",
            "Vous recevez ce message car vous ne l'aviez pas vu dans Weft.",
        ),
    };
    let mut text = format!("{subject}\n\n");
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;color:#1c2430\"><p><strong>{}</strong></p>",
        esc(&subject)
    );
    if let Some(body) = m.body {
        let q = quote(body);
        for line in q.lines() {
            let _ = writeln!(text, "> {line}");
        }
        text.push('\n');
        let _ = write!(
            html,
            "<blockquote style=\"border-left:3px solid #dfe3e8;margin:0;padding:0 12px;white-space:pre-wrap\">{}</blockquote>",
            esc(&q)
        );
    }
    let _ = writeln!(text, "{open}: {link}");
    let _ = write!(html, "<p><a href=\"{}\">{open}</a></p>", esc(&link));
    text.push_str(&r.footer_text(why));
    html.push_str(&r.footer_html(why));
    html.push_str("</body></html>");
    message(from, r, key, &subject, text, html)
}

/// One thread of a digest.
#[derive(Debug, Clone)]
pub struct DigestThread {
    pub thread: DocId,
    pub title: String,
    pub excerpt: String,
    pub replies: usize,
    pub last_author: String,
}

/// A digest: threads grouped by group (name, threads), groups by name.
pub fn digest_mail(
    from: &Mailbox,
    r: &Recipient<'_>,
    key: &MailKey,
    every: DigestEvery,
    groups: &[(String, Vec<DigestThread>)],
) -> Result<Message, NodeError> {
    let l = r.lang;
    let n: usize = groups.iter().map(|(_, t)| t.len()).sum();
    let subject = match (every, l) {
        (DigestEvery::Weekly, Lang::En) => format!("Your weekly Weft digest: {n} threads"),
        (DigestEvery::Weekly, Lang::Fr) => format!("Votre résumé Weft de la semaine : {n} fils"),
        (_, Lang::En) => format!("Your daily Weft digest: {n} threads"),
        (_, Lang::Fr) => format!("Votre résumé Weft du jour : {n} fils"),
    };
    let mut text = format!("{subject}\n");
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;color:#1c2430\"><h1 style=\"font-size:20px\">{}</h1>",
        esc(&subject)
    );
    for (group, threads) in groups {
        let _ = writeln!(text, "\n== {group} ==");
        let _ = write!(
            html,
            "<h2 style=\"font-size:16px;margin-top:20px\">{}</h2><ul>",
            esc(group)
        );
        for t in threads {
            let link = format!("{}/threads/{}", r.base_url, t.thread);
            let replies = match l {
                Lang::En => format!("{} replies, last by {}", t.replies, t.last_author),
                Lang::Fr => format!("{} réponses, la dernière de {}", t.replies, t.last_author),
            };
            let _ = writeln!(text, "* {} ({replies})\n  {link}", t.title);
            if !t.excerpt.is_empty() {
                let _ = writeln!(text, "  {}", one_line(&quote(&t.excerpt)));
            }
            let _ = write!(
                html,
                "<li><a href=\"{}\">{}</a> <span style=\"color:#5b6675\">({})</span><br>{}</li>",
                esc(&link),
                esc(&t.title),
                esc(&replies),
                esc(&one_line(&t.excerpt))
            );
        }
        html.push_str("</ul>");
    }
    let why = l.pick(
        "You get this digest because you asked for it; it lists what you have not read.",
        "Vous recevez ce résumé car vous l'avez demandé ; il liste ce que vous n'avez pas lu.",
    );
    text.push_str(&r.footer_text(why));
    html.push_str(&r.footer_html(why));
    html.push_str("</body></html>");
    message(from, r, key, &subject, text, html)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn digests_fall_at_the_hour_in_the_employees_zone_and_weekly_ones_on_mondays() {
        // Friday 2026-12-04 10:00 UTC.
        let now = jiff::Timestamp::from_second(1_796_378_400)
            .unwrap()
            .as_millisecond();
        let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let at = |ms: i64| {
            jiff::Timestamp::from_millisecond(ms)
                .unwrap()
                .to_zoned(paris.clone())
                .strftime("%a %Y-%m-%d %H:%M")
                .to_string()
        };
        let daily = next_digest(now, &paris, 7, DigestEvery::Daily).unwrap();
        assert_eq!(at(daily), "Sat 2026-12-05 07:00");
        let weekly = next_digest(now, &paris, 7, DigestEvery::Weekly).unwrap();
        assert_eq!(at(weekly), "Mon 2026-12-07 07:00");
        // Before the hour, the same day.
        let later = next_digest(now, &paris, 18, DigestEvery::Daily).unwrap();
        assert_eq!(at(later), "Fri 2026-12-04 18:00");
        assert_eq!(next_digest(now, &paris, 7, DigestEvery::Off), None);
    }

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        assert_eq!(retry_after(0), 60_000);
        assert_eq!(retry_after(1), 120_000);
        assert_eq!(retry_after(10), 3_600_000);
    }

    #[test]
    fn a_mail_has_both_parts_its_unsubscribe_headers_and_escapes_what_people_wrote() {
        let from: Mailbox = "Weft Paris <weft@paris.example.com>".parse().unwrap();
        let r = Recipient {
            to: "Claire Martin <claire@example.com>".parse().unwrap(),
            lang: Lang::Fr,
            base_url: "https://weft.paris.example.com",
            unsubscribe: "https://weft.paris.example.com/mail/unsubscribe/abc".into(),
        };
        let n = Notification {
            id: 7,
            kind: NoticeKind::Mention,
            doc: "t-00000000000000000000000000000001".into(),
            post: Some("p1".into()),
            by: "jsmith".into(),
            title: "Budget <2027>".into(),
            at: 0,
            read: false,
        };
        let key = MailKey::for_tests(5, 9);
        let m = notice_mail(
            &from,
            &r,
            &key,
            &NoticeMail {
                notice: &n,
                by_name: "John Smith",
                body: Some("Peux-tu relire <script>alert(1)</script> ?"),
                group_name: "",
            },
        )
        .unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(
            raw.contains("List-Unsubscribe: <https://weft.paris.example.com/mail/unsubscribe/abc>"),
            "{raw}"
        );
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
        assert!(raw.contains("Message-ID: <weft."));
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }
}
