//! Secret URLs for applications that cannot log in: a calendar application subscribing to
//! an employee's agenda (`/calendar/{token}.ics`), a feed reader following groups, topics
//! and people (`/feeds/…?token=`). Each kind has its own token, drawn at the first ask,
//! kept in the employee's settings and found again by its SHA-256 (only the hash is an
//! index key); resetting one draws a new one and the old URLs stop working at once. A token
//! reads what its employee may read, as long as they are active and homed here.

use sha2::{Digest, Sha256};

use super::{Service, Viewer};
use crate::core::Core;
use crate::error::NodeError;
use crate::personal::Settings;

/// What a subscription token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    /// The employee's agenda as iCalendar.
    Calendar,
    /// Atom feeds of what the employee may read.
    Feeds,
    /// The one-click unsubscribe links of the employee's mails.
    Mail,
}

impl Subscription {
    /// The index's key prefix.
    fn prefix(self) -> &'static [u8] {
        match self {
            Subscription::Calendar => b"ca",
            Subscription::Feeds => b"fe",
            Subscription::Mail => b"mu",
        }
    }

    fn slot(self, s: &mut Settings) -> &mut Option<String> {
        match self {
            Subscription::Calendar => &mut s.calendar_token,
            Subscription::Feeds => &mut s.feed_token,
            Subscription::Mail => &mut s.mail_token,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Subscription::Calendar => "subscriptions.calendar",
            Subscription::Feeds => "subscriptions.feeds",
            Subscription::Mail => "subscriptions.mail",
        }
    }
}

impl Service {
    /// The viewer's token of this kind, drawn at the first call.
    pub async fn subscription_token(
        &self,
        v: &Viewer,
        kind: Subscription,
    ) -> Result<String, NodeError> {
        let mut s = self.reader().settings(v.id())?;
        if let Some(t) = kind.slot(&mut s).clone() {
            return Ok(t);
        }
        self.reset_subscription_token(v, kind, false).await
    }

    /// Draws a new token of this kind for the viewer (the old URLs stop working); with
    /// `always` false, keeps one drawn meanwhile.
    pub async fn reset_subscription_token(
        &self,
        v: &Viewer,
        kind: Subscription,
        always: bool,
    ) -> Result<String, NodeError> {
        let (me, token) = (v.0.clone(), self.token()?);
        self.run(kind.name(), move |c| {
            c.set_subscription_token(&me, kind, &token, always)
        })
        .await
    }

    /// Whose token of this kind `token` is, if anyone's (an employee still active here).
    pub fn subscription_owner(
        &self,
        kind: Subscription,
        token: &str,
    ) -> Result<Option<Viewer>, NodeError> {
        let reader = self.reader();
        let Some(employee) = reader.token_owner(kind.prefix(), &token_hash(token))? else {
            return Ok(None);
        };
        // The token is the one in their settings (a reset replaced it), and they still
        // work here.
        let mut s = reader.settings(&employee)?;
        let current = kind.slot(&mut s).clone();
        let active = reader
            .directory()
            .active_employee(&employee)
            .is_some_and(|e| e.site.as_str() == reader.site());
        Ok((current.as_deref() == Some(token) && active).then(|| Viewer::from(employee.as_str())))
    }

    /// The viewer's calendar token (see [`Service::subscription_token`]).
    pub async fn calendar_token(&self, v: &Viewer) -> Result<String, NodeError> {
        self.subscription_token(v, Subscription::Calendar).await
    }

    /// Draws a new calendar token (see [`Service::reset_subscription_token`]).
    pub async fn reset_calendar_token(
        &self,
        v: &Viewer,
        always: bool,
    ) -> Result<String, NodeError> {
        self.reset_subscription_token(v, Subscription::Calendar, always)
            .await
    }

    /// Whose calendar token `token` is (see [`Service::subscription_owner`]).
    pub fn calendar_owner(&self, token: &str) -> Result<Option<Viewer>, NodeError> {
        self.subscription_owner(Subscription::Calendar, token)
    }
}

/// The SHA-256 (hex) a token is found by.
fn token_hash(token: &str) -> String {
    weft_keys::to_hex(&Sha256::digest(token.as_bytes()))
}

impl Core {
    /// Stores `token` as `employee`'s token of this kind (unless they have one and `always`
    /// is false) and returns the one in force.
    pub fn set_subscription_token(
        &mut self,
        employee: &str,
        kind: Subscription,
        token: &str,
        always: bool,
    ) -> Result<String, NodeError> {
        let mut s = self.store().settings(employee)?;
        let slot = kind.slot(&mut s);
        if let (Some(t), false) = (slot.as_ref(), always) {
            return Ok(t.clone());
        }
        if let Some(old) = slot.take() {
            self.store()
                .set_token_owner(kind.prefix(), &token_hash(&old), None)?;
        }
        self.store()
            .set_token_owner(kind.prefix(), &token_hash(token), Some(employee))?;
        *kind.slot(&mut s) = Some(token.to_owned());
        self.store().put_settings(employee, &s)?;
        Ok(token.to_owned())
    }
}
