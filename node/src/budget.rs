//! Write budgets: how fast one employee may change things through this node.
//!
//! Every command that writes (a post, a reaction, joining or leaving a group, following…)
//! spends from its employee's bucket, which refills at a steady rate; an empty bucket answers
//! [`NodeError::RateLimited`] with the seconds to wait (the web layer turns it into `429` with
//! `Retry-After`). Membership changes spend a second, much smaller bucket per employee and
//! group, so that toggling join/leave — which grows a group document that every site keeps in
//! memory, and can notify owners each time — stops after a few rounds.
//!
//! The numbers are for people, not scripts: a burst of 120 writes, then one a second; six
//! membership changes in a group, then one every five minutes. Integrations that need more use
//! their own settings (`write_budget_burst`, `write_budget_per_minute` in `weft.toml`; `0`
//! turns the budget off, as the benchmarks do).

use std::collections::HashMap;

use crate::error::NodeError;

/// Settings of the write budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteBudget {
    /// Writes one employee may make at once; 0 = no budget at all.
    pub burst: u32,
    /// Writes per minute after the burst.
    pub per_minute: u32,
}

impl Default for WriteBudget {
    fn default() -> WriteBudget {
        WriteBudget {
            burst: 120,
            per_minute: 60,
        }
    }
}

impl WriteBudget {
    /// No limit (benchmarks, imports).
    pub fn unlimited() -> WriteBudget {
        WriteBudget {
            burst: 0,
            per_minute: 0,
        }
    }
}

/// Membership changes one employee may make in one group at once.
const MEMBERSHIP_BURST: f64 = 6.0;
/// Seconds for one more membership change in a group.
const MEMBERSHIP_REFILL_SECS: f64 = 300.0;
/// Buckets kept before full ones are forgotten (a full bucket carries no information).
const MAX_BUCKETS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// When it was last taken from (ms since the epoch, from the node's clock).
    at: i64,
}

/// Seconds from `then` to `now` (ms), never negative (a clock set back refills nothing).
fn secs_between(then: i64, now: i64) -> f64 {
    now.saturating_sub(then).max(0) as f64 / 1000.0
}

impl Bucket {
    /// Takes one token; `Err(seconds to wait)` if there is none.
    fn take(&mut self, now: i64, capacity: f64, per_sec: f64) -> Result<(), u64> {
        let elapsed = secs_between(self.at, now);
        self.tokens = (self.tokens + elapsed * per_sec).min(capacity);
        self.at = self.at.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait = if per_sec > 0.0 {
            ((1.0 - self.tokens) / per_sec).ceil() as u64
        } else {
            u64::MAX
        };
        Err(wait.max(1))
    }

    fn is_full(&self, now: i64, capacity: f64, per_sec: f64) -> bool {
        let elapsed = secs_between(self.at, now);
        self.tokens + elapsed * per_sec >= capacity
    }
}

/// The buckets of the employees homed at this node.
#[derive(Debug, Default)]
pub struct Budgets {
    settings: WriteBudget,
    writes: HashMap<String, Bucket>,
    membership: HashMap<(String, String), Bucket>,
    /// Writes refused so far (for `/metrics`).
    refused: u64,
}

impl Budgets {
    pub fn new(settings: WriteBudget) -> Budgets {
        Budgets {
            settings,
            ..Budgets::default()
        }
    }

    pub fn set(&mut self, settings: WriteBudget) {
        self.settings = settings;
    }

    /// How many writes were refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Spends one write of `employee` at `now` (ms since the epoch).
    pub fn write(&mut self, employee: &str, now: i64) -> Result<(), NodeError> {
        if self.settings.burst == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.settings.burst);
        let rate = f64::from(self.settings.per_minute) / 60.0;
        self.forget_full(now);
        let bucket = self.writes.entry(employee.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        bucket.take(now, capacity, rate).map_err(|secs| {
            self.refused += 1;
            NodeError::RateLimited {
                retry_after_secs: secs,
            }
        })
    }

    /// Spends one membership change of `employee` in `group` at `now` (ms since the epoch).
    pub fn membership(&mut self, employee: &str, group: &str, now: i64) -> Result<(), NodeError> {
        if self.settings.burst == 0 {
            return Ok(());
        }
        let bucket = self
            .membership
            .entry((employee.to_owned(), group.to_owned()))
            .or_insert(Bucket {
                tokens: MEMBERSHIP_BURST,
                at: now,
            });
        bucket
            .take(now, MEMBERSHIP_BURST, 1.0 / MEMBERSHIP_REFILL_SECS)
            .map_err(|secs| {
                self.refused += 1;
                NodeError::RateLimited {
                    retry_after_secs: secs,
                }
            })
    }

    /// Forgets full buckets once there are many (memory stays bounded by the active users).
    fn forget_full(&mut self, now: i64) {
        if self.writes.len() + self.membership.len() < MAX_BUCKETS {
            return;
        }
        let capacity = f64::from(self.settings.burst);
        let rate = f64::from(self.settings.per_minute) / 60.0;
        self.writes.retain(|_, b| !b.is_full(now, capacity, rate));
        self.membership
            .retain(|_, b| !b.is_full(now, MEMBERSHIP_BURST, 1.0 / MEMBERSHIP_REFILL_SECS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_and_a_wait_that_says_how_long() {
        let mut b = Budgets::new(WriteBudget {
            burst: 3,
            per_minute: 60,
        });
        let t = 1_700_000_000_000;
        for _ in 0..3 {
            b.write("hdupre", t).unwrap();
        }
        let err = b.write("hdupre", t).unwrap_err();
        assert!(matches!(
            err,
            NodeError::RateLimited {
                retry_after_secs: 1
            }
        ));
        // Someone else is not affected; a second later there is one more.
        b.write("jsmith", t).unwrap();
        b.write("hdupre", t + 1_100).unwrap();
        assert_eq!(b.refused(), 1);
    }

    #[test]
    fn membership_toggles_stop_after_a_few() {
        let mut b = Budgets::new(WriteBudget::default());
        let t = 1_700_000_000_000;
        let ok = (0..20)
            .filter(|_| b.membership("hdupre", "g-1", t).is_ok())
            .count();
        assert_eq!(ok, 6);
        assert!(b.membership("hdupre", "g-2", t).is_ok());
        assert!(
            Budgets::new(WriteBudget::unlimited())
                .membership("x", "g", t)
                .is_ok()
        );
    }
}
