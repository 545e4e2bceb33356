//! Tax summaries as CSV, for the accountant's spreadsheet: the same lines
//! as [`Engine::tax_summary`], written by [`crate::statement::tax_csv`].

use std::collections::BTreeMap;

use super::Engine;
use crate::error::Result;

impl Engine {
    /// [`tax_summary`](Self::tax_summary) as CSV: the header
    /// `earner,currency,earned,paid,reaches_threshold`, then one row per
    /// earner and currency (by earner id, then currency), amounts as exact
    /// decimal strings at the currency's scale.
    ///
    /// ```
    /// let engine = upline::Engine::new();
    /// let csv = engine.tax_summary_csv(2026, &Default::default())?;
    /// assert_eq!(csv, "earner,currency,earned,paid,reaches_threshold\n");
    /// # Ok::<(), upline::Error>(())
    /// ```
    pub fn tax_summary_csv(
        &self,
        year: i32,
        thresholds: &BTreeMap<String, String>,
    ) -> Result<String> {
        Ok(crate::statement::tax_csv(
            &self.tax_summary(year, thresholds)?,
        ))
    }
}
