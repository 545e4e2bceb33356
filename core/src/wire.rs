//! The wire's shapes at run time: where money and times sit in every event,
//! record and query result, so that the bindings convert values by the
//! declared type of their field, never by its key name.
//!
//! The table is generated from the JSON Schema of the Rust wire types (the
//! `schema` feature, module `wire::schema`) by `cargo run -p upline --features schema
//! --example schema_gen` and embedded here as `wire/shapes.json`; a CI step
//! fails when it differs from a fresh generation. Reading it needs no
//! schema library: it is parsed once, on first use.
//!
//! A shape is a small tree of [`Node`]s. Only the parts that hold money or
//! times are kept: any field, list or map without either is [`Node::Plain`],
//! so a converter walks a plain subtree with no lookup at all.
//!
//! ```
//! use upline::wire::{Root, Shape};
//!
//! let balances = Shape::of(Root::Balances);
//! assert!(balances.field("pending").is_money());
//! assert!(balances.field("currency").is_plain());
//! let applied = Shape::of(Root::Applied);
//! // Money at any depth: a distribution's lines' `base`.
//! assert!(applied.field("distribution").field("lines").item().field("base").is_money());
//! assert!(applied.field("entries").item().field("available_at").is_time());
//! ```

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

#[cfg(feature = "schema")]
pub mod schema;

/// The generated table (see the module docs).
const SHAPES_JSON: &str = include_str!("wire/shapes.json");

/// Every value the bindings convert, by the Rust type it is the wire form
/// of. Adding a binding method that returns a new type: add a variant here
/// and in `wire::schema`'s root list (`core/src/wire/schema.rs`), then regenerate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Root {
    /// An event ([`crate::Event`]), in.
    Event,
    /// A list of events (`backtest`'s history), in.
    EventList,
    /// The Node constructor's options (`{path?, plan?}`), in.
    EngineOptions,
    /// A plan in wire form ([`crate::PlanSpec`]), in and out.
    PlanSpec,
    /// A payout policy ([`crate::payout::PayoutPolicy`]), in.
    PayoutPolicy,
    /// Screening rules ([`crate::event::ScreeningRulesSet`]), in.
    ScreeningRulesSet,
    /// `{currency: amount}` thresholds (`tax_summary`), in.
    Thresholds,
    /// The result of an applied event ([`crate::Applied`]), out.
    Applied,
    /// A distribution ([`crate::Distribution`]), out.
    Distribution,
    /// Balances ([`crate::Balances`]), out.
    Balances,
    /// The audit head ([`crate::Head`]), out.
    Head,
    /// A prepared payout's state ([`crate::payout::PayoutState`]), out.
    PayoutState,
    /// Tax summary lines ([`crate::payout::TaxLine`]), out.
    TaxSummary,
    /// A leaderboard ([`crate::rewards::Leaderboard`]), out.
    Leaderboard,
    /// A challenge's progress ([`crate::rewards::ChallengeStatus`]), out.
    ChallengeStatus,
    /// A member's awards ([`crate::event::Award`]), out.
    Awards,
    /// Member metrics ([`crate::metrics::MemberMetrics`]), out.
    MemberMetrics,
    /// Network metrics ([`crate::metrics::NetworkMetrics`]), out.
    NetworkMetrics,
    /// The viral coefficient report ([`crate::metrics::ViralReport`]), out.
    ViralReport,
    /// A page of a member's statement ([`crate::statement::Statement`]), out.
    Statement,
    /// A projection ([`crate::metrics::Projection`]), out.
    Projection,
    /// `Engine::export_json`'s tree, out.
    TreeNode,
    /// `Engine::export_subtree_json`'s export, out.
    SubtreeExport,
    /// A screening backtest report ([`crate::screen::Report`]), out.
    BacktestReport,
    /// A screening preset's rules, out.
    ScreeningRules,
}

impl Root {
    /// Every root, in declaration order.
    pub const ALL: [Root; 25] = [
        Root::Event,
        Root::EventList,
        Root::EngineOptions,
        Root::PlanSpec,
        Root::PayoutPolicy,
        Root::ScreeningRulesSet,
        Root::Thresholds,
        Root::Applied,
        Root::Distribution,
        Root::Balances,
        Root::Head,
        Root::PayoutState,
        Root::TaxSummary,
        Root::Leaderboard,
        Root::ChallengeStatus,
        Root::Awards,
        Root::MemberMetrics,
        Root::NetworkMetrics,
        Root::ViralReport,
        Root::Statement,
        Root::Projection,
        Root::TreeNode,
        Root::SubtreeExport,
        Root::BacktestReport,
        Root::ScreeningRules,
    ];

    /// Its name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Root::Event => "Event",
            Root::EventList => "EventList",
            Root::EngineOptions => "EngineOptions",
            Root::PlanSpec => "PlanSpec",
            Root::PayoutPolicy => "PayoutPolicy",
            Root::ScreeningRulesSet => "ScreeningRulesSet",
            Root::Thresholds => "Thresholds",
            Root::Applied => "Applied",
            Root::Distribution => "Distribution",
            Root::Balances => "Balances",
            Root::Head => "Head",
            Root::PayoutState => "PayoutState",
            Root::TaxSummary => "TaxSummary",
            Root::Leaderboard => "Leaderboard",
            Root::ChallengeStatus => "ChallengeStatus",
            Root::Awards => "Awards",
            Root::MemberMetrics => "MemberMetrics",
            Root::NetworkMetrics => "NetworkMetrics",
            Root::ViralReport => "ViralReport",
            Root::Statement => "Statement",
            Root::Projection => "Projection",
            Root::TreeNode => "TreeNode",
            Root::SubtreeExport => "SubtreeExport",
            Root::BacktestReport => "BacktestReport",
            Root::ScreeningRules => "ScreeningRules",
        }
    }
}

/// One node of a shape.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// Nothing to convert here or below.
    Plain,
    /// A decimal string: an amount or a rate.
    Money,
    /// An RFC 3339 time string.
    Time,
    /// An object: the shapes of the fields that hold money or times (any
    /// other field is plain).
    Object(BTreeMap<String, u32>),
    /// A list whose items all have this shape.
    List(u32),
    /// An object whose values all have this shape (`{currency: amount}`).
    Map(u32),
    /// An object tagged by the string field `tag`: the shape of each variant.
    Tagged {
        /// The tag's key (`"type"`).
        tag: String,
        /// The variants by tag value.
        variants: BTreeMap<String, u32>,
    },
}

/// The parsed table.
#[derive(Debug, Deserialize)]
struct Table {
    roots: BTreeMap<String, u32>,
    nodes: Vec<Node>,
}

static PLAIN: Node = Node::Plain;

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        // The embedded table is generated and checked in CI; should it ever
        // fail to parse, nothing is converted rather than anything panicking.
        serde_json::from_str(SHAPES_JSON).unwrap_or(Table {
            roots: BTreeMap::new(),
            nodes: Vec::new(),
        })
    })
}

/// A position in a shape: cheap to copy, walked alongside a value.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    node: &'static Node,
}

impl Shape {
    /// The shape of a root.
    pub fn of(root: Root) -> Shape {
        let table = table();
        Shape::at(table.roots.get(root.name()).copied())
    }

    /// A shape with nothing to convert.
    pub fn plain() -> Shape {
        Shape { node: &PLAIN }
    }

    /// A money shape (a single amount argument).
    pub fn money() -> Shape {
        Shape::at(Some(1))
    }

    fn at(id: Option<u32>) -> Shape {
        let node = id
            .and_then(|id| table().nodes.get(id as usize))
            .unwrap_or(&PLAIN);
        Shape { node }
    }

    /// Its node.
    pub fn node(self) -> &'static Node {
        self.node
    }

    /// Whether nothing here or below is converted.
    pub fn is_plain(self) -> bool {
        matches!(self.node, Node::Plain)
    }

    /// Whether this is an amount or a rate.
    pub fn is_money(self) -> bool {
        matches!(self.node, Node::Money)
    }

    /// Whether this is a time.
    pub fn is_time(self) -> bool {
        matches!(self.node, Node::Time)
    }

    /// The shape of field `key` of an object (of a map's value for a map;
    /// plain for anything else, and for a tagged object, whose variant
    /// [`Shape::variant`] picks first).
    pub fn field(self, key: &str) -> Shape {
        match self.node {
            Node::Object(fields) => Shape::at(fields.get(key).copied()),
            Node::Map(value) => Shape::at(Some(*value)),
            _ => Shape::plain(),
        }
    }

    /// The shape of a list's items (plain for anything but a list).
    pub fn item(self) -> Shape {
        match self.node {
            Node::List(item) => Shape::at(Some(*item)),
            _ => Shape::plain(),
        }
    }

    /// For a tagged shape, its tag's key.
    pub fn tag(self) -> Option<&'static str> {
        match self.node {
            Node::Tagged { tag, .. } => Some(tag),
            _ => None,
        }
    }

    /// For a tagged shape, the variant whose tag is `value` (plain for an
    /// unknown tag, which the core refuses anyway); any other shape is
    /// returned unchanged.
    pub fn variant(self, value: Option<&str>) -> Shape {
        match self.node {
            Node::Tagged { variants, .. } => {
                Shape::at(value.and_then(|v| variants.get(v)).copied())
            }
            _ => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_root_is_in_the_table_and_every_id_resolves() {
        let table = table();
        assert!(!table.nodes.is_empty(), "the embedded table did not parse");
        assert_eq!(table.nodes[0], Node::Plain);
        assert_eq!(table.nodes[1], Node::Money);
        assert_eq!(table.nodes[2], Node::Time);
        for root in Root::ALL {
            assert!(table.roots.contains_key(root.name()), "{root:?} missing");
        }
        let n = table.nodes.len() as u32;
        for node in &table.nodes {
            let ids: Vec<u32> = match node {
                Node::Object(f) => f.values().copied().collect(),
                Node::List(i) | Node::Map(i) => vec![*i],
                Node::Tagged { variants, .. } => variants.values().copied().collect(),
                _ => vec![],
            };
            assert!(
                ids.iter().all(|&i| i < n),
                "{node:?} points outside the table"
            );
        }
    }

    #[test]
    fn money_and_time_by_type_not_name() {
        let applied = Shape::of(Root::Applied);
        let dist = applied.field("distribution");
        assert!(dist.field("amount").is_money());
        assert!(dist.field("retained").is_money());
        assert!(dist.field("currency").is_plain());
        assert!(dist.field("fx").field("rate").is_money());
        assert!(dist.field("fx").field("currency").is_plain());
        let line = dist.field("lines").item();
        assert!(line.field("rate").is_money() && line.field("base").is_money());
        assert!(line.field("level").is_plain() && line.field("earner").is_plain());
        assert!(applied.field("batch").field("as_of").is_time());
        // Member metrics' `period` is a window of times, not money.
        let metrics = Shape::of(Root::MemberMetrics);
        assert!(!metrics.field("period").is_money());
        let event = Shape::of(Root::Event);
        assert_eq!(event.tag(), Some("type"));
        let sale = event.variant(Some("sale_recorded"));
        assert!(sale.field("amount").is_money() && sale.field("at").is_time());
        assert!(sale.field("fx").field("rate").is_money());
        assert!(sale.field("currency").is_plain());
        assert!(event.variant(Some("nope")).is_plain());
        assert!(Shape::of(Root::Thresholds).field("USD").is_money());
    }
}
