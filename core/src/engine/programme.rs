//! The programme's configuration events: plans coming into force
//! (`plan_activated`) and host currencies (`currency_registered`), and
//! which plan is in force at an instant.

use crate::error::{Error, ErrorKind, Result};
use crate::event::*;
use crate::limits::MAX_PLAN_ACTIVATIONS;
use crate::plan::Plan;
use crate::time::Timestamp;

use super::pipeline::{time, Mutation, Prep, Prepared};
use super::Engine;

impl Engine {
    pub(super) fn prepare_plan(&self, e: &PlanActivated) -> Result<Prep> {
        let plan = e
            .plan
            .validate(&self.currencies)
            .map_err(|err| err.within("plan"))?;
        let from = time(&e.effective_from, "effective_from")?;
        let existing = self
            .plans
            .iter()
            .position(|p| p.id() == plan.id() && p.version() == plan.version());
        if let Some(index) = existing {
            if self.plans[index] != plan {
                return Err(Error::new(
                    ErrorKind::DuplicateId,
                    "plan.id",
                    format!(
                        "plan {:?} version {} was already activated with different content",
                        plan.id(),
                        plan.version()
                    ),
                ));
            }
        }
        if let Some(index) = existing {
            // The same plan activated again at the same instant, while it is
            // still the one in force from then: a retry.
            let at_from = self.schedule.iter().rev().find(|(f, _, _)| *f == from);
            if let Some(&(_, in_force, seq)) = at_from {
                if in_force as usize == index && seq > 0 {
                    return self.retry(seq, Outcome::None);
                }
            }
        }
        if self.schedule.len() >= MAX_PLAN_ACTIVATIONS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                "plan",
                format!("at most {MAX_PLAN_ACTIVATIONS} plan activations are kept"),
            ));
        }
        let mutation = match existing {
            Some(index) => Mutation::Plan {
                plan: None,
                index: index as u32,
                from,
            },
            None => Mutation::Plan {
                index: self.plans.len() as u32,
                plan: Some(plan),
                from,
            },
        };
        Ok(Prep::New(Prepared::state(mutation)))
    }

    pub(super) fn prepare_currency(&self, e: &CurrencyRegistered) -> Result<Prep> {
        let mutation = if self.currencies.check_register(&e.currency, e.minor_units)? {
            Mutation::Nothing
        } else {
            Mutation::Currency(e.currency.clone(), e.minor_units)
        };
        Ok(Prep::New(Prepared::state(mutation)))
    }

    pub(super) fn plan_index_at(&self, at: Timestamp) -> u32 {
        let after = self.schedule.partition_point(|(from, _, _)| *from <= at);
        // The default plan is scheduled from the start of time, so `after`
        // is at least 1.
        self.schedule[after.saturating_sub(1)].1
    }

    /// The plan in force at `at`.
    pub fn plan_at(&self, at: Timestamp) -> &Plan {
        &self.plans[self.plan_index_at(at) as usize]
    }
}
