//! Commission plans: rate tables as data, validated when activated.
//!
//! A [`PlanSpec`] is the wire form (serde, JSON/TOML-friendly, money and
//! rates as decimal strings). [`PlanSpec::validate`] turns it into a
//! [`Plan`] or refuses it with `invalid_plan`, naming the field
//! (`levels[3].rate`). Plans are effective-dated by the engine
//! ([`PlanActivated`](crate::event::PlanActivated)); this module does not
//! compute commissions ([`crate::calc`] does).

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, ErrorKind, Result};
use crate::limits::{DEFAULT_MAX_WALK, MAX_DAYS, MAX_LEVELS, MAX_OVERRIDES, MAX_WALK_LIMIT};
use crate::money::{Currencies, Currency, DecimalText, Rate, Rounding};

/// Default hold period before a commission becomes available, in days.
pub const DEFAULT_HOLD_DAYS: u32 = 30;

/// A JSON object kept as ordered pairs, so a duplicate key is seen (and
/// refused) instead of silently overwriting the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairs<V>(pub Vec<(String, V)>);

impl<V> Default for Pairs<V> {
    fn default() -> Self {
        Pairs(Vec::new())
    }
}

impl<V: Serialize> Serialize for Pairs<V> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Pairs<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<V> {
            type Value = Pairs<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Pairs<V>, A::Error> {
                let mut pairs = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, V>()? {
                    if pairs.len() >= crate::limits::MAX_OVERRIDES * 4 {
                        return Err(serde::de::Error::custom("too many entries in an object"));
                    }
                    pairs.push((k, v));
                }
                Ok(Pairs(pairs))
            }
        }
        d.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

/// One level of a rate table, in wire form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LevelSpec {
    /// The share of the sale paid at this level (`"0.20"`).
    pub rate: DecimalText,
    /// Active direct referrals the earner needs to earn at this level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_active_directs: Option<u32>,
    /// Largest line per sale, per currency (`{"USD": "10.00"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Pairs<DecimalText>>,
}

impl LevelSpec {
    /// A level paying `rate` with no qualification and no cap.
    pub fn rate(rate: &str) -> Self {
        LevelSpec {
            rate: DecimalText::new(rate),
            min_active_directs: None,
            caps: None,
        }
    }
}

/// A plan in wire form, exactly as hosts write it in JSON.
///
/// ```
/// use upline::{Currencies, PlanSpec};
///
/// let spec: PlanSpec = serde_json::from_str(r#"{
///     "id": "launch", "version": 1,
///     "levels": [{"rate": "0.10"}, {"rate": "0.05", "min_active_directs": 2}],
///     "compression": true, "hold_days": 14
/// }"#).map_err(|e| upline::Error::general(upline::ErrorKind::Malformed, e.to_string()))?;
/// let plan = spec.validate(&Currencies::default())?;
/// assert_eq!(plan.levels().len(), 2);
///
/// let bad: PlanSpec = serde_json::from_str(r#"{"id": "x", "version": 1,
///     "levels": [{"rate": "0.6"}, {"rate": "0.5"}]}"#).unwrap();
/// let err = bad.validate(&Currencies::default()).unwrap_err();
/// assert_eq!(err.code(), "invalid_plan");
/// assert_eq!(err.field(), Some("levels"));
/// # Ok::<(), upline::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    /// The plan's id (1–128 bytes).
    pub id: String,
    /// The plan's version (≥ 1); `(id, version)` names one content forever.
    pub version: u32,
    /// The default rate table, nearest level first (1–16 levels).
    pub levels: Vec<LevelSpec>,
    /// Rate tables per sale category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<Pairs<Vec<LevelSpec>>>,
    /// Dynamic compression: skip ineligible uplines instead of retaining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<bool>,
    /// Most ancestors compression may look at (default 64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_walk: Option<u32>,
    /// Rounding of lines and reversals (default `half_even`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounding: Option<Rounding>,
    /// Days a commission stays pending (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_days: Option<u32>,
    /// Smallest sale that earns anything, per currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_sale: Option<Pairs<DecimalText>>,
    /// Only sales within this many days of the buyer joining earn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commission_window_days: Option<u32>,
}

/// A validated level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    rate: Rate,
    min_active_directs: u32,
    caps: Vec<(Currency, Decimal)>,
}

impl Level {
    /// The level's rate.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Active direct referrals the earner needs.
    pub fn min_active_directs(&self) -> u32 {
        self.min_active_directs
    }

    /// The cap per sale in `currency`, if any.
    pub fn cap(&self, currency: Currency) -> Option<Decimal> {
        self.caps
            .iter()
            .find(|(c, _)| *c == currency)
            .map(|(_, cap)| *cap)
    }
}

/// A validated plan. Values that exist are valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    spec: PlanSpec,
    levels: Vec<Level>,
    overrides: BTreeMap<String, Vec<Level>>,
    compression: bool,
    max_walk: u32,
    rounding: Rounding,
    hold_days: u32,
    min_sale: Vec<(Currency, Decimal)>,
    commission_window_days: Option<u32>,
}

impl Plan {
    /// The first programme: 7 levels paying 20/15/10/8/5/3/2%, no
    /// qualification, compression off, half-even rounding, 30-day hold.
    pub fn default_plan() -> Plan {
        let spec = PlanSpec {
            id: "default".into(),
            version: 1,
            levels: ["0.20", "0.15", "0.10", "0.08", "0.05", "0.03", "0.02"]
                .into_iter()
                .map(LevelSpec::rate)
                .collect(),
            overrides: None,
            compression: None,
            max_walk: None,
            rounding: None,
            hold_days: None,
            min_sale: None,
            commission_window_days: None,
        };
        match spec.validate(&Currencies::default()) {
            Ok(plan) => plan,
            Err(err) => unreachable!("the default plan is valid: {err}"),
        }
    }

    /// The wire form this plan was validated from.
    pub fn spec(&self) -> &PlanSpec {
        &self.spec
    }

    /// The plan's id.
    pub fn id(&self) -> &str {
        &self.spec.id
    }

    /// The plan's version.
    pub fn version(&self) -> u32 {
        self.spec.version
    }

    /// The default rate table.
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// The table for a sale in `category`.
    ///
    /// Categories are paths separated by `/`: a sale uses the override of
    /// its category, else of the nearest parent path that has one
    /// (`furniture/office/chairs` → `furniture/office` → `furniture`), else
    /// the plan's `levels`. Only whole segments match: `furniture-outlet`
    /// is not under `furniture` (DESIGN.md, "Plans and rate tables").
    pub fn table(&self, category: Option<&str>) -> &[Level] {
        let Some(mut path) = category else {
            return &self.levels;
        };
        if self.overrides.is_empty() {
            return &self.levels;
        }
        loop {
            if let Some(levels) = self.overrides.get(path) {
                return levels;
            }
            match path.rfind('/') {
                Some(cut) => path = &path[..cut],
                None => return &self.levels,
            }
        }
    }

    /// Whether compression is on.
    pub fn compression(&self) -> bool {
        self.compression
    }

    /// Most ancestors compression may look at.
    pub fn max_walk(&self) -> u32 {
        self.max_walk
    }

    /// The rounding of lines and reversals.
    pub fn rounding(&self) -> Rounding {
        self.rounding
    }

    /// Days a commission stays pending.
    pub fn hold_days(&self) -> u32 {
        self.hold_days
    }

    /// The minimum sale in `currency`, if any.
    pub fn min_sale(&self, currency: Currency) -> Option<Decimal> {
        self.min_sale
            .iter()
            .find(|(c, _)| *c == currency)
            .map(|(_, min)| *min)
    }

    /// The commission window in days, if any.
    pub fn commission_window_days(&self) -> Option<u32> {
        self.commission_window_days
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidPlan, field, message)
}

/// Re-labels an amount/currency/id error as `invalid_plan`, keeping its
/// field and reason.
fn as_plan_error(err: Error) -> Error {
    let field = err.field().unwrap_or("plan").to_string();
    invalid(field, err.message().to_string())
}

fn money_table(
    pairs: &Pairs<DecimalText>,
    currencies: &Currencies,
    field: &str,
) -> Result<Vec<(Currency, Decimal)>> {
    let mut out: Vec<(Currency, Decimal)> = Vec::with_capacity(pairs.0.len());
    for (code, text) in &pairs.0 {
        let path = format!("{field}.{code}");
        let currency = currencies.get(code, &path).map_err(as_plan_error)?;
        if out.iter().any(|(c, _)| *c == currency) {
            return Err(invalid(
                path,
                format!("currency {code} appears twice in {field}"),
            ));
        }
        let amount = text
            .text(&path)
            .and_then(|t| currency.parse_amount(t, &path))
            .map_err(as_plan_error)?;
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(invalid(
                path.clone(),
                format!("{path} \"{amount}\" is negative"),
            ));
        }
        out.push((currency, amount));
    }
    Ok(out)
}

fn table(specs: &[LevelSpec], currencies: &Currencies, field: &str) -> Result<Vec<Level>> {
    if specs.is_empty() {
        return Err(invalid(
            field,
            format!("{field} is empty; a table needs 1 to {MAX_LEVELS} levels"),
        ));
    }
    if specs.len() > MAX_LEVELS {
        return Err(invalid(
            field,
            format!(
                "{field} has {} levels; the limit is {MAX_LEVELS}",
                specs.len()
            ),
        ));
    }
    let mut levels = Vec::with_capacity(specs.len());
    let mut total = Decimal::ZERO;
    for (i, spec) in specs.iter().enumerate() {
        let path = format!("{field}[{i}]");
        let rate_path = format!("{path}.rate");
        let rate = spec
            .rate
            .text(&rate_path)
            .and_then(|t| Rate::parse(t, &rate_path))
            .map_err(as_plan_error)?;
        total += rate.value(); // at most 16 rates of at most 1: no overflow
        let caps = match &spec.caps {
            Some(caps) => money_table(caps, currencies, &format!("{path}.caps"))?,
            None => Vec::new(),
        };
        levels.push(Level {
            rate,
            min_active_directs: spec.min_active_directs.unwrap_or(0),
            caps,
        });
    }
    if total > Decimal::ONE {
        return Err(invalid(
            field,
            format!("the rates in {field} add up to {total}, more than 1"),
        ));
    }
    Ok(levels)
}

impl PlanSpec {
    /// Validates the plan against the known currencies.
    pub fn validate(&self, currencies: &Currencies) -> Result<Plan> {
        crate::id::check_id(&self.id, "id").map_err(as_plan_error)?;
        if self.version == 0 {
            return Err(invalid("version", "version must be at least 1"));
        }
        let levels = table(&self.levels, currencies, "levels")?;
        let mut overrides = BTreeMap::new();
        if let Some(pairs) = &self.overrides {
            if pairs.0.len() > MAX_OVERRIDES {
                return Err(invalid(
                    "overrides",
                    format!(
                        "{} override tables; the limit is {MAX_OVERRIDES}",
                        pairs.0.len()
                    ),
                ));
            }
            for (category, specs) in &pairs.0 {
                let path = format!("overrides.{category}");
                crate::id::check_id(category, &path).map_err(as_plan_error)?;
                let levels = table(specs, currencies, &path)?;
                if overrides.insert(category.clone(), levels).is_some() {
                    return Err(invalid(
                        path,
                        format!("category {category:?} appears twice"),
                    ));
                }
            }
        }
        let max_walk = self.max_walk.unwrap_or(DEFAULT_MAX_WALK);
        if max_walk == 0 || max_walk > MAX_WALK_LIMIT {
            return Err(invalid(
                "max_walk",
                format!("max_walk {max_walk} is outside 1..={MAX_WALK_LIMIT}"),
            ));
        }
        let hold_days = self.hold_days.unwrap_or(DEFAULT_HOLD_DAYS);
        if hold_days > MAX_DAYS {
            return Err(invalid(
                "hold_days",
                format!("hold_days {hold_days} is above {MAX_DAYS}"),
            ));
        }
        if let Some(days) = self.commission_window_days {
            if days == 0 || days > MAX_DAYS {
                return Err(invalid(
                    "commission_window_days",
                    format!("commission_window_days {days} is outside 1..={MAX_DAYS}"),
                ));
            }
        }
        let min_sale = match &self.min_sale {
            Some(pairs) => money_table(pairs, currencies, "min_sale")?,
            None => Vec::new(),
        };
        Ok(Plan {
            spec: self.clone(),
            levels,
            overrides,
            compression: self.compression.unwrap_or(false),
            max_walk,
            rounding: self.rounding.unwrap_or_default(),
            hold_days,
            min_sale,
            commission_window_days: self.commission_window_days,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> PlanSpec {
        serde_json::from_str(json).unwrap()
    }

    fn refused(json: &str) -> Error {
        spec(json).validate(&Currencies::default()).unwrap_err()
    }

    #[test]
    fn default_plan_is_the_first_programme() {
        let plan = Plan::default_plan();
        let rates: Vec<String> = plan.levels().iter().map(|l| l.rate().to_string()).collect();
        assert_eq!(
            rates,
            ["0.2", "0.15", "0.1", "0.08", "0.05", "0.03", "0.02"]
        );
        assert!(!plan.compression());
        assert_eq!(plan.hold_days(), 30);
        assert_eq!(plan.rounding(), Rounding::HalfEven);
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases = [
            (r#"{"id":"p","version":1,"levels":[]}"#, "levels"),
            (
                r#"{"id":"p","version":1,"levels":[{"rate":"0.1"},{"rate":"1.5"}]}"#,
                "levels[1].rate",
            ),
            (
                r#"{"id":"p","version":1,"levels":[{"rate":"0.1234567"}]}"#,
                "levels[0].rate",
            ),
            (
                r#"{"id":"p","version":1,"levels":[{"rate":"-0.1"}]}"#,
                "levels[0].rate",
            ),
            (
                r#"{"id":"p","version":1,"levels":[{"rate":0.1}]}"#,
                "levels[0].rate",
            ),
            (
                r#"{"id":"p","version":1,"levels":[{"rate":"0.6"},{"rate":"0.5"}]}"#,
                "levels",
            ),
            (
                r#"{"id":"p","version":1,"levels":[{"rate":"0.1","caps":{"USD":"-1.00"}}]}"#,
                "levels[0].caps.USD",
            ),
            (
                r#"{"id":"p","version":1,"levels":[{"rate":"0.1","caps":{"USD":"1.001"}}]}"#,
                "levels[0].caps.USD",
            ),
            (
                r#"{"id":"p","version":1,"levels":[{"rate":"0.1","caps":{"XYZ":"1"}}]}"#,
                "levels[0].caps.XYZ",
            ),
            (
                r#"{"id":"p","version":1,"levels":[{"rate":"0.1"}],"overrides":{"a":[{"rate":"0.1"}],"a":[{"rate":"0.2"}]}}"#,
                "overrides.a",
            ),
            (
                r#"{"id":"p","version":1,"levels":[{"rate":"0.1"}],"overrides":{"a":[]}}"#,
                "overrides.a",
            ),
            (
                r#"{"id":"p","version":0,"levels":[{"rate":"0.1"}]}"#,
                "version",
            ),
            (r#"{"id":"","version":1,"levels":[{"rate":"0.1"}]}"#, "id"),
            (
                r#"{"id":"p","version":1,"levels":[{"rate":"0.1"}],"max_walk":0}"#,
                "max_walk",
            ),
            (
                r#"{"id":"p","version":1,"levels":[{"rate":"0.1"}],"hold_days":99999}"#,
                "hold_days",
            ),
            (
                r#"{"id":"p","version":1,"levels":[{"rate":"0.1"}],"min_sale":{"USD":"-5"}}"#,
                "min_sale.USD",
            ),
            (
                r#"{"id":"p","version":1,"levels":[{"rate":"0.1"}],"commission_window_days":0}"#,
                "commission_window_days",
            ),
        ];
        for (json, field) in cases {
            let err = refused(json);
            assert_eq!(err.kind(), ErrorKind::InvalidPlan, "{json}");
            assert_eq!(err.field(), Some(field), "{json}: {err}");
        }
        let seventeen = format!(
            r#"{{"id":"p","version":1,"levels":[{}]}}"#,
            vec![r#"{"rate":"0.01"}"#; 17].join(",")
        );
        assert_eq!(refused(&seventeen).field(), Some("levels"));
    }

    #[test]
    fn rates_may_sum_to_exactly_one() {
        let plan = spec(r#"{"id":"p","version":1,"levels":[{"rate":"0.5"},{"rate":"0.5"}]}"#)
            .validate(&Currencies::default());
        assert!(plan.is_ok());
    }
}
