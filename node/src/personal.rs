//! Each employee's own state at their home node: notifications, what they follow, how far
//! they have read, and their settings. It is never replicated (it says nothing other sites
//! need) and lives in the store's `personal` tree.

use serde::{Deserialize, Serialize};

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// Someone mentioned the employee in a post.
    Mention,
    /// Someone posted in a thread the employee follows.
    Reply,
    /// Someone asked to join a group the employee owns.
    JoinRequest,
    /// The employee was invited to a group.
    Invitation,
    /// Someone wrote on the employee's wall.
    Wall,
    /// Someone planned an event in a group the employee is a member of.
    Event,
    /// An event the employee said they would attend starts within the hour.
    Reminder,
    /// A poll the employee made or voted in has closed: its results are final.
    PollClosed,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Mention => "mention",
            NoticeKind::Reply => "reply",
            NoticeKind::JoinRequest => "join_request",
            NoticeKind::Invitation => "invitation",
            NoticeKind::Wall => "wall",
            NoticeKind::Event => "event",
            NoticeKind::Reminder => "reminder",
            NoticeKind::PollClosed => "poll_closed",
        }
    }
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Increasing per node; the newest has the largest id.
    pub id: u64,
    pub kind: NoticeKind,
    /// The thread (mention, reply) or group (join request, invitation).
    pub doc: String,
    /// The post, for a mention or a reply.
    pub post: Option<String>,
    /// Who did it (empty when unknown, as for an invitation, whose author the group does
    /// not record).
    pub by: String,
    /// For a post: the thread's title; for a group: its name.
    pub title: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub read: bool,
}

/// An employee's settings at their home node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// SHA-256 (hex) of the usage charter the employee accepted, if any: a new charter text
    /// asks again.
    #[serde(default)]
    pub charter: Option<String>,
    /// Threads whose last activity is at or before this time (ms) count as read. Set at the
    /// first login and by "mark all as read".
    #[serde(default)]
    pub read_before: i64,
    /// The secret of the employee's calendar subscription URL (see
    /// [`crate::service::Service::calendar_token`]), once drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_token: Option<String>,
    /// The secret of the employee's feed URLs (Atom, for feed readers), once drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_token: Option<String>,
    /// What the employee is sent by e-mail.
    #[serde(default)]
    pub mail: MailPrefs,
    /// The secret of the employee's one-click unsubscribe links, once drawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_token: Option<String>,
}

/// What an employee is sent by e-mail, and in which language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailPrefs {
    /// Mentions and posts on one's wall.
    pub mentions: bool,
    /// Posts in threads one follows.
    pub replies: bool,
    /// Invitations to groups, and requests to join groups one owns.
    pub groups: bool,
    /// A digest of what one has not read.
    pub digest: DigestEvery,
    /// `en` or `fr`; none: the profile's language, else English.
    pub lang: Option<String>,
}

impl Default for MailPrefs {
    fn default() -> MailPrefs {
        MailPrefs {
            mentions: true,
            replies: true,
            groups: true,
            digest: DigestEvery::Off,
            lang: None,
        }
    }
}

impl MailPrefs {
    /// Whether a notification of `kind` is mailed.
    pub fn wants(&self, kind: NoticeKind) -> bool {
        match kind {
            NoticeKind::Mention | NoticeKind::Wall => self.mentions,
            NoticeKind::Reply => self.replies,
            NoticeKind::Invitation | NoticeKind::JoinRequest => self.groups,
            NoticeKind::Event | NoticeKind::Reminder | NoticeKind::PollClosed => false,
        }
    }

    /// Nothing at all (what one-click unsubscribing leaves).
    pub fn none(lang: Option<String>) -> MailPrefs {
        MailPrefs {
            mentions: false,
            replies: false,
            groups: false,
            digest: DigestEvery::Off,
            lang,
        }
    }
}

/// How often a digest is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestEvery {
    #[default]
    Off,
    Daily,
    Weekly,
}

impl DigestEvery {
    pub fn as_str(self) -> &'static str {
        match self {
            DigestEvery::Off => "off",
            DigestEvery::Daily => "daily",
            DigestEvery::Weekly => "weekly",
        }
    }

    pub fn parse(s: &str) -> Option<DigestEvery> {
        match s {
            "off" => Some(DigestEvery::Off),
            "daily" => Some(DigestEvery::Daily),
            "weekly" => Some(DigestEvery::Weekly),
            _ => None,
        }
    }
}

/// How often reminders are looked for (ms), and how long before an event its attendees are
/// reminded.
pub const REMIND_EVERY_MS: i64 = 60_000;
pub const REMIND_BEFORE_MS: i64 = 3_600_000;
/// The most events and polls one look for reminders reads (each is a document).
pub const REMIND_MAX: usize = 1_000;

/// How many of a group's members a new event notifies at most.
pub const MAX_EVENT_NOTICES: usize = 5_000;

/// How many of a post's mentions notify (a post listing the whole company is not a way to
/// page everyone).
pub const MAX_MENTIONS_NOTIFIED: usize = 50;

/// Posts older than this when they arrive make no notification: a site catching up on
/// months of history should not bury its people under old mentions.
pub const NOTICE_HORIZON_MS: i64 = 14 * 24 * 3600 * 1000;

/// Turns what is new in the documents just committed into notifications for the employees
/// homed at this site, and follows a thread for whoever posts in it here. Returns who was
/// notified.
///
/// Rules: a mention notifies the mentioned person if they may read the thread; a post in a
/// followed thread notifies the followers (except its author, and anyone already notified of
/// it as a mention); a join request notifies the group's owners; an invitation notifies the
/// invitee. Nobody is notified of their own doing.
/// How many of an employee's latest notifications are looked at for one they have not read
/// yet about the same thing.
const DEDUPE_WINDOW: usize = 200;

/// Whether `employee` has an unread notification of `kind` about `doc` by `by` among their
/// latest ones.
fn already_told(
    store: &crate::Store,
    employee: &str,
    kind: NoticeKind,
    doc: &str,
    by: &str,
) -> Result<bool, crate::StoreError> {
    Ok(store
        .notifications(employee, None, DEDUPE_WINDOW)?
        .iter()
        .any(|n| !n.read && n.kind == kind && n.doc == doc && n.by == by))
}

/// `mail_after`: when mail is sent from this site, how long (ms) a notification that may be
/// mailed waits before its mail is due (see [`crate::mail`]).
pub(crate) fn deliver(
    store: &crate::Store,
    model: &crate::readmodel::ReadModel,
    directory: Option<&weft_keys::Directory>,
    site: &str,
    notices: Vec<crate::readmodel::Notice>,
    now: i64,
    mail_after: Option<i64>,
) -> Result<Vec<String>, crate::StoreError> {
    use crate::access::{self, Access};
    use crate::readmodel::Notice;
    let local = |e: &str| {
        directory
            .and_then(|d| d.employees.get(e))
            .is_some_and(|e| e.site == site && e.status == weft_keys::Status::Active)
    };
    let mut notified: Vec<String> = Vec::new();
    let mut add = |who: &str, n: Notification| -> Result<(), crate::StoreError> {
        let kind = n.kind;
        let id = store.add_notification(who, n)?;
        if let Some(delay) = mail_after
            && store.settings(who)?.mail.wants(kind)
        {
            store.queue_mail(
                &crate::store::MailJob {
                    employee: who.to_owned(),
                    what: crate::store::MailWhat::Notice(id),
                    sending: None,
                    attempts: 0,
                },
                now.saturating_add(delay),
            )?;
        }
        if !notified.iter().any(|w| w == who) {
            notified.push(who.to_owned());
        }
        Ok(())
    };
    for notice in notices {
        match notice {
            Notice::Post {
                thread,
                title,
                post,
                author,
                at,
                mentions,
                first,
            } => {
                if local(&author) && store.thread_follow(&author, &thread)?.is_none() {
                    store.set_thread_follow(&author, &thread, true)?;
                }
                if at < now - NOTICE_HORIZON_MS {
                    continue;
                }
                let Some(summary) = model.thread(&thread) else {
                    continue;
                };
                let group = summary.group.clone();
                let wall_of = summary.wall_of.clone();
                let event = first && summary.event.is_some();
                let note = |kind| Notification {
                    id: 0,
                    kind,
                    doc: thread.as_str().to_owned(),
                    post: Some(post.clone()),
                    by: author.clone(),
                    title: title.clone(),
                    at,
                    read: false,
                };
                let mut told: Vec<&str> = Vec::new();
                // A post naming hundreds of people notifies the first few dozen only.
                for m in mentions.iter().take(MAX_MENTIONS_NOTIFIED) {
                    if m != &author
                        && local(m)
                        && access::group(model, m, &group) == Access::Full
                        && !told.contains(&m.as_str())
                    {
                        add(m, note(NoticeKind::Mention))?;
                        told.push(m);
                    }
                }
                // A post on someone's wall tells them.
                if let Some(owner) = wall_of.as_deref()
                    && owner != author
                    && local(owner)
                    && !told.contains(&owner)
                {
                    add(owner, note(NoticeKind::Wall))?;
                    told.push(owner);
                }
                // A new event tells the group's members here (at most a few thousand).
                if event {
                    let members: Vec<String> = model
                        .group(&group)
                        .map(|g| g.members.iter().cloned().collect())
                        .unwrap_or_default();
                    for m in members
                        .iter()
                        .filter(|m| **m != author && local(m))
                        .take(MAX_EVENT_NOTICES)
                    {
                        if !told.contains(&m.as_str()) {
                            add(m, note(NoticeKind::Event))?;
                        }
                    }
                }
                for f in store.thread_followers(&thread)? {
                    if f != author
                        && !told.contains(&f.as_str())
                        && local(&f)
                        && access::group(model, &f, &group) == Access::Full
                    {
                        add(&f, note(NoticeKind::Reply))?;
                    }
                }
            }
            Notice::Requested { group, name, who } => {
                let owners: Vec<String> = model
                    .group(&group)
                    .map(|g| g.owners.iter().cloned().collect())
                    .unwrap_or_default();
                for o in owners.iter().filter(|o| **o != who && local(o)) {
                    // Asking again (withdrawing and asking, over and over) does not notify
                    // an owner who has not yet read the first request.
                    if already_told(store, o, NoticeKind::JoinRequest, group.as_str(), &who)? {
                        continue;
                    }
                    add(
                        o,
                        Notification {
                            id: 0,
                            kind: NoticeKind::JoinRequest,
                            doc: group.as_str().to_owned(),
                            post: None,
                            by: who.clone(),
                            title: name.clone(),
                            at: now,
                            read: false,
                        },
                    )?;
                }
            }
            Notice::Invited { group, name, who } => {
                if local(&who)
                    && !already_told(store, &who, NoticeKind::Invitation, group.as_str(), "")?
                {
                    add(
                        &who,
                        Notification {
                            id: 0,
                            kind: NoticeKind::Invitation,
                            doc: group.as_str().to_owned(),
                            post: None,
                            by: String::new(),
                            title: name,
                            at: now,
                            read: false,
                        },
                    )?;
                }
            }
        }
    }
    Ok(notified)
}
