//! Who took part in what, week by week, for the usage statistics of this site's employees
//! (see `service::analytics`). In the `personal` tree, never replicated: each site counts
//! its own employees and publishes only the totals, in its weekly statistics document.
//!
//! Keys: `us\0<week>\0<kind>\0<scope>\0<who>`, empty values, where `kind` is
//! * `a`: active (visited that week), scope `-`;
//! * `p`: participating (reacted, voted, answered an event or replied), scope `-` and each
//!   group;
//! * `c`: contributing (started a thread, an event, a poll or a library document), scope `-`
//!   and each group;
//! * `t`: a post with that #topic (scope: the topic; who: the post's thread and id).

use std::collections::{BTreeMap, BTreeSet};

use super::{Store, StoreError, io};

/// What a usage record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UsageKind {
    Active,
    Participating,
    Contributing,
    Topic,
}

impl UsageKind {
    fn code(self) -> &'static [u8] {
        match self {
            UsageKind::Active => b"a",
            UsageKind::Participating => b"p",
            UsageKind::Contributing => b"c",
            UsageKind::Topic => b"t",
        }
    }

    fn of(code: &[u8]) -> Option<UsageKind> {
        match code {
            b"a" => Some(UsageKind::Active),
            b"p" => Some(UsageKind::Participating),
            b"c" => Some(UsageKind::Contributing),
            b"t" => Some(UsageKind::Topic),
            _ => None,
        }
    }
}

/// A week's usage: (kind, scope) → who.
pub type WeekUsage = BTreeMap<(UsageKind, String), BTreeSet<String>>;

fn key(week: &str, kind: UsageKind, scope: &str, who: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + week.len() + scope.len() + who.len());
    k.extend_from_slice(b"us\0");
    k.extend_from_slice(week.as_bytes());
    k.push(0);
    k.extend_from_slice(kind.code());
    k.push(0);
    k.extend_from_slice(scope.as_bytes());
    k.push(0);
    k.extend_from_slice(who.as_bytes());
    k
}

impl Store {
    /// Records that `who` did `kind` in `scope` during `week`.
    pub fn note_usage(
        &self,
        week: &str,
        kind: UsageKind,
        scope: &str,
        who: &str,
    ) -> Result<(), StoreError> {
        self.personal
            .insert(key(week, kind, scope, who), &[])
            .map_err(io("recording usage"))?;
        Ok(())
    }

    /// Whether `who` is already recorded as `kind` in `scope` during `week`.
    pub fn has_usage(
        &self,
        week: &str,
        kind: UsageKind,
        scope: &str,
        who: &str,
    ) -> Result<bool, StoreError> {
        self.personal
            .contains_key(key(week, kind, scope, who))
            .map_err(io("reading usage"))
    }

    /// Everything recorded for `week`.
    pub fn usage(&self, week: &str) -> Result<WeekUsage, StoreError> {
        let mut prefix = b"us\0".to_vec();
        prefix.extend_from_slice(week.as_bytes());
        prefix.push(0);
        let mut out = WeekUsage::new();
        for item in self.personal.scan_prefix(&prefix) {
            let (k, _) = item.map_err(io("reading usage"))?;
            let mut parts = k[prefix.len()..].splitn(3, |b| *b == 0);
            let (Some(kind), Some(scope), Some(who)) = (
                parts.next().and_then(UsageKind::of),
                parts.next().and_then(|s| std::str::from_utf8(s).ok()),
                parts.next().and_then(|s| std::str::from_utf8(s).ok()),
            ) else {
                continue;
            };
            out.entry((kind, scope.to_owned()))
                .or_default()
                .insert(who.to_owned());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn usage_is_counted_once_per_person_and_kept_per_week() {
        let dir = crate::store::private_tempdir();
        let s = Store::open(dir.path()).unwrap();
        for _ in 0..3 {
            s.note_usage("2026-W49", UsageKind::Active, "-", "ana")
                .unwrap();
        }
        s.note_usage("2026-W49", UsageKind::Participating, "g-1", "ana")
            .unwrap();
        s.note_usage("2026-W49", UsageKind::Participating, "g-1", "bo")
            .unwrap();
        s.note_usage("2026-W50", UsageKind::Active, "-", "bo")
            .unwrap();
        let w = s.usage("2026-W49").unwrap();
        assert_eq!(w[&(UsageKind::Active, "-".to_owned())].len(), 1);
        assert_eq!(w[&(UsageKind::Participating, "g-1".to_owned())].len(), 2);
        assert!(!w.contains_key(&(UsageKind::Contributing, "-".to_owned())));
        assert!(
            s.has_usage("2026-W50", UsageKind::Active, "-", "bo")
                .unwrap()
        );
        assert!(
            !s.has_usage("2026-W50", UsageKind::Active, "-", "ana")
                .unwrap()
        );
    }
}
