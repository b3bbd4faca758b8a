//! E-mail through the service: each employee's mail settings, a digest on demand,
//! one-click unsubscribing, and the sender that takes due mails from the queue (see
//! [`crate::mail`] for what is sent when).

use std::collections::BTreeMap;

use weft_crdt::DocId;

use super::subscriptions::Subscription;
use super::{Service, Viewer};
use crate::core::Core;
use crate::error::NodeError;
use crate::mail::{
    DIGEST_MAX, DigestThread, MAX_ATTEMPTS, MailSettings, NoticeMail, Outcome, Outgoing, Recipient,
    digest_mail, lang_of, next_digest, notice_mail, retry_after,
};
use crate::personal::{DigestEvery, MailPrefs, NoticeKind};
use crate::store::{MailJob, MailKey, MailWhat};

/// How often the sender looks at the queue.
const SEND_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

impl Service {
    /// The viewer's mail settings.
    pub fn mail_prefs(&self, v: &Viewer) -> Result<MailPrefs, NodeError> {
        Ok(self.reader().settings(v.id())?.mail)
    }

    /// Whether this site sends mail at all.
    pub fn sends_mail(&self) -> bool {
        self.node.mail().is_some()
    }

    /// Changes the viewer's mail settings (and schedules their digest).
    pub async fn set_mail_prefs(&self, v: &Viewer, prefs: MailPrefs) -> Result<(), NodeError> {
        if let Some(l) = &prefs.lang
            && !["en", "fr"].contains(&l.as_str())
        {
            return Err(NodeError::Invalid("a mail language is en or fr".into()));
        }
        let (me, now) = (v.0.clone(), self.now_ms());
        let hour = self.node.mail().map(|m| m.digest_hour);
        self.run("mail.settings", move |c| {
            let mut s = c.store().settings(&me)?;
            s.mail = prefs;
            c.store().put_settings(&me, &s)?;
            c.schedule_digest(&me, now, hour)
        })
        .await
    }

    /// Queues the viewer's digest now (what they have not read in the last day, or week if
    /// they get weekly ones).
    pub async fn send_digest_now(&self, v: &Viewer) -> Result<(), NodeError> {
        if !self.sends_mail() {
            return Err(NodeError::Unavailable("this site sends no mail".into()));
        }
        let (me, now) = (v.0.clone(), self.now_ms());
        self.run("mail.digest_now", move |c| {
            c.store().queue_mail(
                &MailJob {
                    employee: me,
                    what: MailWhat::DigestNow,
                    sending: None,
                    attempts: 0,
                },
                now,
            )?;
            Ok(())
        })
        .await
    }

    /// The one-click unsubscribe: turns off every mail of the employee whose token it is.
    /// Whether the token was anyone's.
    pub async fn unsubscribe_mail(&self, token: &str) -> Result<bool, NodeError> {
        let Some(who) = self.subscription_owner(Subscription::Mail, token)? else {
            return Ok(false);
        };
        let lang = self.mail_prefs(&who)?.lang;
        self.set_mail_prefs(&who, MailPrefs::none(lang)).await?;
        tracing::info!(employee = %who.0, "unsubscribed from every mail");
        Ok(true)
    }

    /// Sends due mails until the node stops: every few seconds, the loop picks what is due
    /// and marks it being sent ([`Core::take_due_mail`]); each is handed to the SMTP server
    /// here, off the loop, and the outcome recorded ([`Core::mail_outcome`]).
    pub async fn send_mail_forever(&self) {
        let Some(mail) = self.node.mail().cloned() else {
            return;
        };
        let mut tick = tokio::time::interval(SEND_EVERY);
        loop {
            tick.tick().await;
            let (now, m, rng) = (self.now_ms(), mail.clone(), self.rng.clone());
            let batch = self
                .run("mail.take", move |c| {
                    c.take_due_mail(now, &m, &mut || {
                        let mut b = [0u8; 32];
                        rng.fill(&mut b).map(|()| weft_keys::to_hex(&b))
                    })
                })
                .await;
            self.node
                .metrics()
                .mail_queued
                .set(self.reader().queued_mail() as u64);
            let batch = match batch {
                Ok(b) => b,
                Err(NodeError::ShuttingDown) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "the mail queue could not be read");
                    continue;
                }
            };
            for out in batch {
                let to = out.message.envelope().to().first().map(ToString::to_string);
                let result = mail.send(out.message).await;
                let outcome = Outcome::of(&result);
                let metrics = self.node.metrics();
                match (&result, outcome) {
                    (Ok(()), _) => {
                        metrics.mail_sent.inc();
                        tracing::debug!(employee = %out.job.employee, "mail sent");
                    }
                    (Err(e), Outcome::Retry) => {
                        tracing::warn!(employee = %out.job.employee, to = ?to, error = %e, attempts = out.job.attempts + 1, "mail not sent; tried again later");
                    }
                    (Err(e), _) => {
                        metrics.mail_failed.inc();
                        tracing::warn!(employee = %out.job.employee, to = ?to, error = %e, "mail given up (refused, or uncertain after a timeout: never sent twice)");
                    }
                }
                let now = self.now_ms();
                let (key, job) = (out.key, out.job);
                match self
                    .run("mail.done", move |c| {
                        c.mail_outcome(&key, &job, outcome, now)
                    })
                    .await
                {
                    Ok(()) => {}
                    Err(NodeError::ShuttingDown) => return,
                    Err(e) => tracing::warn!(error = %e, "a mail's outcome was not recorded"),
                }
            }
        }
    }
}

impl Core {
    /// (Re)schedules `employee`'s digest after `now` as their settings say (none if off, or
    /// if this site sends no mail: `hour` is `None`).
    pub(crate) fn schedule_digest(
        &mut self,
        employee: &str,
        now: i64,
        hour: Option<u8>,
    ) -> Result<(), NodeError> {
        self.store().unschedule_digest(employee)?;
        let Some(hour) = hour else {
            return Ok(());
        };
        let every = self.store().settings(employee)?.mail.digest;
        let zone = self.time_zone_of(employee);
        if let Some(due) = next_digest(now, &zone, hour, every) {
            self.store().queue_mail(
                &MailJob {
                    employee: employee.to_owned(),
                    what: MailWhat::Digest,
                    sending: None,
                    attempts: 0,
                },
                due,
            )?;
        }
        Ok(())
    }

    /// The time zone an employee's profile names, else UTC.
    fn time_zone_of(&self, employee: &str) -> jiff::tz::TimeZone {
        read_model(self)
            .profile_card(employee)
            .and_then(|p| p.time_zone)
            .and_then(|z| jiff::tz::TimeZone::get(&z).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// The mails due at `now`, made and marked as being sent (durably, before they are
    /// handed over); those no longer to send are dropped from the queue. `token` draws a
    /// secret for an employee's unsubscribe links if they have none yet.
    pub fn take_due_mail(
        &mut self,
        now: i64,
        mail: &MailSettings,
        token: &mut dyn FnMut() -> Result<String, NodeError>,
    ) -> Result<Vec<Outgoing>, NodeError> {
        let due = self.store().due_mail(now, crate::mail::BATCH)?;
        let mut out = Vec::new();
        for (key, job) in due {
            if job.what == MailWhat::Digest {
                // The next one is scheduled whatever becomes of this one.
                self.store().mail_done(&key)?;
                self.schedule_digest(&job.employee, now, Some(mail.digest_hour))?;
            }
            let made = match self.compose_mail(&key, &job, now, mail, token) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(employee = %job.employee, error = %e, "a mail could not be made; dropped");
                    None
                }
            };
            match made {
                Some(message) => {
                    if job.what == MailWhat::Digest {
                        // Its record is gone (rescheduled): a record of its own to send it.
                        let job = MailJob {
                            what: MailWhat::DigestNow,
                            ..job
                        };
                        let k = self.store().queue_mail(&job, now)?;
                        self.store().mail_sending(&k, &job, now)?;
                        out.push(Outgoing {
                            key: k,
                            job,
                            message,
                        });
                    } else {
                        self.store().mail_sending(&key, &job, now)?;
                        out.push(Outgoing { key, job, message });
                    }
                }
                None => self.store().mail_done(&key)?,
            }
        }
        self.store().flush()?;
        Ok(out)
    }

    /// Records what became of a mail handed to the SMTP server.
    pub fn mail_outcome(
        &mut self,
        key: &MailKey,
        job: &MailJob,
        outcome: Outcome,
        now: i64,
    ) -> Result<(), NodeError> {
        match outcome {
            Outcome::Retry if job.attempts + 1 < MAX_ATTEMPTS => {
                self.store()
                    .mail_later(key, job, now.saturating_add(retry_after(job.attempts)))?;
            }
            _ => self.store().mail_done(key)?,
        }
        Ok(())
    }

    /// The mail `job` is now, or `None` if there is nothing (any longer) to send.
    fn compose_mail(
        &mut self,
        key: &MailKey,
        job: &MailJob,
        now: i64,
        mail: &MailSettings,
        token: &mut dyn FnMut() -> Result<String, NodeError>,
    ) -> Result<Option<lettre::Message>, NodeError> {
        let site = self.identity().site().to_owned();
        let Some(e) = self
            .replica()
            .directory()
            .and_then(|d| d.directory.employees.get(&job.employee).cloned())
            .filter(|e| e.site == site && e.status == weft_keys::Status::Active)
        else {
            return Ok(None);
        };
        let Ok(address) = e.email.parse::<lettre::Address>() else {
            return Ok(None);
        };
        let settings = self.store().settings(&job.employee)?;
        let prefs = settings.mail.clone();
        let locale = read_model(self)
            .profile_card(&job.employee)
            .and_then(|p| p.locale);
        let unsubscribe_token = match settings.mail_token {
            Some(t) => t,
            None => {
                self.set_subscription_token(&job.employee, Subscription::Mail, &token()?, false)?
            }
        };
        let r = Recipient {
            to: lettre::message::Mailbox::new(Some(e.display_name.clone()), address),
            lang: lang_of(&prefs, locale.as_deref()),
            base_url: &mail.base_url,
            unsubscribe: format!("{}/mail/unsubscribe/{unsubscribe_token}", mail.base_url),
        };
        match job.what {
            MailWhat::Notice(id) => {
                let Some(n) = self.store().notification(&job.employee, id)? else {
                    return Ok(None);
                };
                if n.read || !prefs.wants(n.kind) {
                    return Ok(None);
                }
                let name_of = |c: &Core, who: &str| {
                    c.replica()
                        .directory()
                        .and_then(|d| {
                            d.directory
                                .employees
                                .get(who)
                                .map(|e| e.display_name.clone())
                        })
                        .unwrap_or_else(|| who.to_owned())
                };
                let by_name = name_of(self, &n.by);
                // What the mail quotes: the post (still there, still theirs to see, and
                // not seen since), or for a group the request or invitation that stands.
                let body: Option<String> = match n.kind {
                    NoticeKind::JoinRequest | NoticeKind::Invitation => {
                        let Ok(gid) = DocId::parse(&n.doc) else {
                            return Ok(None);
                        };
                        let stands = read_model(self).group(&gid).is_some_and(|g| {
                            if n.kind == NoticeKind::JoinRequest {
                                g.requests.contains(&n.by) && g.owners.contains(&job.employee)
                            } else {
                                g.invitations.contains(&job.employee)
                                    && !g.members.contains(&job.employee)
                            }
                        });
                        if !stands {
                            return Ok(None);
                        }
                        None
                    }
                    _ => {
                        let Ok(tid) = DocId::parse(&n.doc) else {
                            return Ok(None);
                        };
                        if self
                            .store()
                            .read_marker(&job.employee, &tid)?
                            .is_some_and(|m| m >= n.at)
                        {
                            return Ok(None);
                        }
                        let Some(view) = self.thread_view_for(&job.employee, &tid) else {
                            return Ok(None);
                        };
                        let Some(post) = view
                            .posts
                            .iter()
                            .find(|p| Some(&p.id) == n.post.as_ref())
                            .filter(|p| !p.deleted && !p.hidden)
                        else {
                            return Ok(None);
                        };
                        Some(post.body.clone())
                    }
                };
                notice_mail(
                    &mail.from,
                    &r,
                    key,
                    &NoticeMail {
                        notice: &n,
                        by_name: &by_name,
                        body: body.as_deref(),
                        group_name: &n.title,
                    },
                )
                .map(Some)
            }
            MailWhat::Digest | MailWhat::DigestNow => {
                let every = match (job.what.clone(), prefs.digest) {
                    (MailWhat::Digest, DigestEvery::Off) => return Ok(None),
                    (_, DigestEvery::Weekly) => DigestEvery::Weekly,
                    _ => DigestEvery::Daily,
                };
                let window = if every == DigestEvery::Weekly {
                    7 * 24 * 3_600_000
                } else {
                    24 * 3_600_000
                };
                let items = self.reader().feed(&job.employee, None, 400)?;
                let mut groups: BTreeMap<String, Vec<DigestThread>> = BTreeMap::new();
                let mut n = 0;
                for i in items {
                    if !i.unread
                        || i.thread.last_activity < now - window
                        || i.thread.last_author == job.employee
                    {
                        continue;
                    }
                    groups
                        .entry(i.group_name.clone())
                        .or_default()
                        .push(DigestThread {
                            thread: i.thread.id.clone(),
                            title: i.thread.title.clone(),
                            excerpt: i.thread.excerpt.clone(),
                            replies: i.thread.replies,
                            last_author: i.thread.last_author.clone(),
                        });
                    n += 1;
                    if n == DIGEST_MAX {
                        break;
                    }
                }
                if n == 0 {
                    return Ok(None);
                }
                let groups: Vec<(String, Vec<DigestThread>)> = groups.into_iter().collect();
                digest_mail(&mail.from, &r, key, every, &groups).map(Some)
            }
        }
    }
}

fn read_model(c: &Core) -> std::sync::RwLockReadGuard<'_, crate::readmodel::ReadModel> {
    c.model()
}
