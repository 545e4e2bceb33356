//! The JSON Schema of the wire (feature `schema`): every event, record and
//! query result, derived from the Rust types with `schemars`, their doc
//! comments as descriptions. Money is `{"type": "string", "format":
//! "decimal"}`, times are `{"type": "string", "format": "date-time"}`: the
//! generators and the converters know them by that type, not by a key.
//!
//! From the one schema, [`generate`] writes the shape table the converters
//! walk ([`super::Shape`]), the TypeScript declarations of the Node binding
//! and the `TypedDict`s of the Python stubs (see `examples/schema_gen.rs`).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value};

use super::Root;

mod python;
mod typescript;

use self::{python::*, typescript::*};

/// An inline schema: `$ty` is written as `$json` under the name `$name`.
macro_rules! inline_schema {
    ($ty:ty, $name:literal, $json:tt) => {
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($json)
            }
        }
    };
}

/// Marks a `Decimal` field as money or a rate: a decimal string
/// (`#[schemars(with = "crate::wire::schema::Amount")]`).
pub struct Amount;

/// Marks a threshold or target that is a whole count (a JSON integer or
/// its text) for count metrics and an amount string for money metrics: not
/// converted either way (an integer stays an integer, as the vectors send
/// it; the core checks it against the metric).
pub struct CountOrAmount;

/// Marks a `String` field of an event as a time: an RFC 3339 string with an
/// offset (`#[schemars(with = "crate::wire::schema::TimeText")]`).
pub struct TimeText;

inline_schema!(Amount, "Decimal", {"type": "string", "format": "decimal"});
inline_schema!(crate::money::DecimalText, "Decimal", {"type": "string", "format": "decimal"});
inline_schema!(crate::money::Rate, "Decimal", {"type": "string", "format": "decimal"});
inline_schema!(CountOrAmount, "CountOrAmount", {"type": ["string", "integer"]});
inline_schema!(TimeText, "Timestamp", {"type": "string", "format": "date-time"});
inline_schema!(crate::time::Timestamp, "Timestamp", {"type": "string", "format": "date-time"});
inline_schema!(crate::money::Currency, "Currency", {"type": "string", "description": "A currency code (`USD`, `JPY`, a registered code)."});
inline_schema!(crate::audit::Hash, "Hash", {"type": "string", "description": "A SHA-256 hash as 64 lower-case hex digits."});

impl<V: JsonSchema> JsonSchema for crate::plan::Pairs<V> {
    fn schema_name() -> Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        <BTreeMap<String, V>>::json_schema(g)
    }
}

// ---- wire forms built by hand (no Rust struct of their own) ----------------

/// The result of applying one event: its place in the audit chain, the
/// records it produced (by kind of event) and the ledger entries it wrote.
#[derive(JsonSchema)]
#[schemars(rename = "Applied")]
#[allow(dead_code)]
struct AppliedWire {
    /// The event's sequence number in the audit chain (from 1).
    seq: u64,
    /// The audit hash after this event.
    hash: crate::audit::Hash,
    /// `true` when this was an idempotent retry of an event already
    /// applied (nothing changed; `seq`, `hash` and records are the original
    /// ones); absent otherwise.
    #[schemars(skip_serializing_if = "Option::is_none")]
    replayed: Option<bool>,
    /// A sale's distribution (`sale_recorded`).
    #[schemars(skip_serializing_if = "Option::is_none")]
    distribution: Option<crate::event::Distribution>,
    /// The refund id (`refund_recorded`).
    #[schemars(skip_serializing_if = "Option::is_none")]
    refund: Option<String>,
    /// The sale refunded (`refund_recorded`).
    #[schemars(skip_serializing_if = "Option::is_none")]
    sale: Option<String>,
    /// Reversals by this refund (`refund_recorded`).
    #[schemars(skip_serializing_if = "Option::is_none")]
    reversals: Option<Vec<crate::event::Reversal>>,
    /// All refunds of the sale so far, this one included (`refund_recorded`).
    #[schemars(skip_serializing_if = "Option::is_none", with = "Option<Amount>")]
    refunded_total: Option<()>,
    /// Milestones the refund pushed back below their threshold
    /// (`refund_recorded`; absent when empty).
    #[schemars(skip_serializing_if = "Option::is_none")]
    milestone_reversals: Option<Vec<crate::event::MilestoneReversal>>,
    /// A payout batch (`payouts_prepared`).
    #[schemars(skip_serializing_if = "Option::is_none")]
    batch: Option<crate::event::Batch>,
    /// Milestones a join made members reach (`member_joined`).
    #[schemars(skip_serializing_if = "Option::is_none")]
    awards: Option<Vec<crate::event::Award>>,
    /// A closed challenge (`challenge_closed`).
    #[schemars(skip_serializing_if = "Option::is_none")]
    challenge: Option<crate::event::ChallengeResult>,
    /// The ledger entries the event wrote (empty for retries).
    entries: Vec<crate::event::EntryRecord>,
}

/// The Node `Engine` constructor's options.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct EngineOptions {
    /// The SQLite file the engine is persisted in (created if missing,
    /// reopened and verified if it exists).
    path: Option<String>,
    /// A plan activated from the start of time instead of the default.
    plan: Option<crate::PlanSpec>,
    /// A PostgreSQL connection URL: the engine is a replica of
    /// `programme`'s log there (not with `path`).
    url: Option<String>,
    /// The programme (tenant) whose log the engine replicates; needs `url`.
    programme: Option<String>,
    /// A read-only replica: every change is refused with `read_only`.
    follower: Option<bool>,
    /// When this writer hands its single events to the append lock's
    /// holder under contention (group commit across writers, PostgreSQL
    /// only): `auto` (the default: once commits take 1 ms or more),
    /// `always` or `never`. Needs `url`.
    #[schemars(rename = "groupCommit")]
    group_commit: Option<GroupCommitMode>,
}

/// When a PostgreSQL writer hands events off (`upline_postgres::GroupCommit`).
#[derive(JsonSchema)]
#[schemars(rename_all = "lowercase")]
#[allow(dead_code)]
enum GroupCommitMode {
    /// Once the store's commits take 1 ms or more.
    Auto,
    /// Always, under contention.
    Always,
    /// Never: the append lock alone.
    Never,
}

/// One member of `export_json`'s tree.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct TreeNode {
    /// The member's id.
    member: String,
    /// Its status.
    status: crate::MemberStatus,
    /// Its direct referrals, in join order (empty below `max_depth`).
    referrals: Vec<TreeNode>,
}

/// One member of `export_subtree_json`'s tree.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct SubtreeNode {
    /// The member's id.
    member: String,
    /// Its status.
    status: crate::MemberStatus,
    /// When it joined.
    joined_at: crate::time::Timestamp,
    /// Lifetime earnings by currency code.
    #[schemars(with = "BTreeMap<String, Amount>")]
    earnings: (),
    /// Its direct referrals inside the export, in join order.
    referrals: Vec<SubtreeNode>,
}

/// `export_subtree_json`'s result: a breadth-first subtree with lifetime
/// earnings on every node.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct SubtreeExport {
    /// Whether `max_nodes` or `max_depth` cut the subtree short.
    truncated: bool,
    /// Members in the export.
    nodes: u64,
    /// The root member and, nested, everyone below it in the export.
    tree: SubtreeNode,
}

/// Whether a root is an input (events and arguments) or an output
/// (records and query results): Python renders money and times in inputs
/// as `Decimal | int | str` and `datetime | str`, in outputs as `Decimal`
/// and `datetime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Given by the host.
    In,
    /// Returned to the host.
    Out,
}

/// The schema of every root: its name, direction and schema (a `$ref` into
/// `definitions`, or inline), and every named definition.
pub struct WireSchema {
    /// `(root, direction, schema)`.
    pub roots: Vec<(Root, Direction, Value)>,
    /// The named definitions the roots refer to (`$defs`).
    pub definitions: Map<String, Value>,
}

/// Derives the schema of every [`Root`]: inputs as serde reads them,
/// outputs as serde writes them (a field skipped when empty is optional, a
/// field written as `null` is required). A type whose two forms differ
/// keeps its name for the output and is `{Name}In` for the input.
pub fn wire_schema() -> WireSchema {
    use Direction::{In, Out};
    let settings = schemars::generate::SchemaSettings::draft2020_12;
    let mut gin = settings().for_deserialize().into_generator();
    let mut gout = settings().for_serialize().into_generator();
    let mut roots = Vec::new();
    for root in Root::ALL {
        let (direction, schema) = match root {
            Root::Event => (In, gin.subschema_for::<crate::Event>()),
            Root::EventList => (In, gin.subschema_for::<Vec<crate::Event>>()),
            Root::EngineOptions => (In, gin.subschema_for::<EngineOptions>()),
            Root::PlanSpec => (In, gin.subschema_for::<crate::PlanSpec>()),
            Root::PayoutPolicy => (In, gin.subschema_for::<crate::payout::PayoutPolicy>()),
            Root::ScreeningRulesSet => (In, gin.subschema_for::<crate::event::ScreeningRulesSet>()),
            Root::Thresholds => (In, gin.subschema_for::<BTreeMap<String, Amount>>()),
            Root::Applied => (Out, gout.subschema_for::<AppliedWire>()),
            Root::Distribution => (Out, gout.subschema_for::<crate::Distribution>()),
            Root::Balances => (Out, gout.subschema_for::<crate::Balances>()),
            Root::Head => (Out, gout.subschema_for::<crate::Head>()),
            Root::PayoutState => (Out, gout.subschema_for::<crate::payout::PayoutState>()),
            Root::TaxSummary => (Out, gout.subschema_for::<Vec<crate::payout::TaxLine>>()),
            Root::Leaderboard => (Out, gout.subschema_for::<crate::rewards::Leaderboard>()),
            Root::ChallengeStatus => (Out, gout.subschema_for::<crate::rewards::ChallengeStatus>()),
            Root::Awards => (Out, gout.subschema_for::<Vec<crate::event::Award>>()),
            Root::MemberMetrics => (Out, gout.subschema_for::<crate::metrics::MemberMetrics>()),
            Root::NetworkMetrics => (Out, gout.subschema_for::<crate::metrics::NetworkMetrics>()),
            Root::ViralReport => (Out, gout.subschema_for::<crate::metrics::ViralReport>()),
            Root::Statement => (Out, gout.subschema_for::<crate::statement::Statement>()),
            Root::Projection => (Out, gout.subschema_for::<crate::metrics::Projection>()),
            Root::TreeNode => (Out, gout.subschema_for::<TreeNode>()),
            Root::SubtreeExport => (Out, gout.subschema_for::<SubtreeExport>()),
            Root::BacktestReport => (Out, gout.subschema_for::<crate::screen::Report>()),
            Root::ScreeningRules => (Out, gout.subschema_for::<Vec<Value>>()),
        };
        roots.push((root, direction, schema.to_value()));
    }
    let mut definitions = gout.take_definitions(true);
    let inputs = gin.take_definitions(true);
    let renamed: BTreeSet<String> = inputs
        .iter()
        .filter(|(k, v)| definitions.get(*k).is_some_and(|o| o != *v))
        .map(|(k, _)| k.clone())
        .collect();
    for (k, mut v) in inputs {
        rename_refs(&mut v, &renamed);
        let name = if renamed.contains(&k) {
            format!("{k}In")
        } else {
            k
        };
        definitions.insert(name, v);
    }
    for (_, direction, schema) in &mut roots {
        if *direction == In {
            rename_refs(schema, &renamed);
        }
    }
    WireSchema { roots, definitions }
}

fn rename_refs(v: &mut Value, renamed: &BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref") {
                if let Some(name) = r.strip_prefix("#/$defs/") {
                    if renamed.contains(name) {
                        *r = format!("#/$defs/{name}In");
                    }
                }
            }
            for c in m.values_mut() {
                rename_refs(c, renamed);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| rename_refs(c, renamed)),
        _ => {}
    }
}

/// The whole schema as one JSON Schema document: `$defs` plus, under
/// `x-roots`, each root's schema.
pub fn schema_document(w: &WireSchema) -> Value {
    let mut roots = Map::new();
    for (root, direction, schema) in &w.roots {
        let mut s = schema.clone();
        if let Value::Object(m) = &mut s {
            m.insert(
                "x-direction".into(),
                Value::from(if *direction == Direction::In {
                    "in"
                } else {
                    "out"
                }),
            );
        }
        roots.insert(root.name().into(), s);
    }
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Upline wire types",
        "description": "Every event, record and query result of Upline, generated from the Rust types (cargo run -p upline --features schema --example schema_gen). Money is a string with format \"decimal\", times a string with format \"date-time\".",
        "x-roots": roots,
        "$defs": w.definitions,
    })
}

// ---- generation ----------------------------------------------------------

/// The generated files' contents.
pub struct Generated {
    /// `core/src/wire/schema.json`: the JSON Schema document.
    pub schema: String,
    /// `core/src/wire/shapes.json`: the table [`super::Shape`] reads.
    pub shapes: String,
    /// `bindings-node/generated.d.ts`.
    pub typescript: String,
    /// `bindings-python/python/upline/_types.pyi`.
    pub python: String,
}

/// Generates every file from [`wire_schema`]. Fails (naming the type) on a
/// schema construct the generators do not know, rather than guessing.
pub fn generate() -> Result<Generated, String> {
    let w = wire_schema();
    let schema = pretty(&schema_document(&w))?;
    let shapes = shapes_json(&w)?;
    let dirs = directions(&w);
    let typescript = Ts::new(&w, &dirs).render()?;
    let python = Py::new(&w, &dirs).render()?;
    Ok(Generated {
        schema,
        shapes,
        typescript,
        python,
    })
}

fn pretty(v: &Value) -> Result<String, String> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

fn ref_name(s: &Value) -> Option<&str> {
    s.get("$ref")?.as_str()?.strip_prefix("#/$defs/")
}

fn def<'a>(defs: &'a Map<String, Value>, name: &str) -> Result<&'a Value, String> {
    defs.get(name)
        .ok_or_else(|| format!("$ref to unknown definition {name}"))
}

fn is_null(s: &Value) -> bool {
    s.get("type").and_then(Value::as_str) == Some("null")
}

fn format_of(s: &Value) -> Option<&str> {
    s.get("format").and_then(Value::as_str)
}

/// A schema's `type`, one name or a list of them (none when absent).
fn types_of(s: &Value) -> Vec<&str> {
    match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

fn variants(s: &Value) -> Option<&Vec<Value>> {
    s.get("oneOf")
        .or_else(|| s.get("anyOf"))
        .and_then(Value::as_array)
}

/// The tag key and value of an object variant: a property with a `const`.
fn tag_of(s: &Value) -> Option<(&str, &str)> {
    let props = s.get("properties")?.as_object()?;
    props
        .iter()
        .find_map(|(k, v)| Some((k.as_str(), v.get("const")?.as_str()?)))
}

/// Every schema directly below `s` (properties, items, variants, …).
fn children(s: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    if let Some(p) = s.get("properties").and_then(Value::as_object) {
        out.extend(p.values());
    }
    for key in ["items", "additionalProperties"] {
        if let Some(v) = s.get(key).filter(|v| v.is_object()) {
            out.push(v);
        }
    }
    for key in ["prefixItems", "oneOf", "anyOf", "allOf"] {
        if let Some(a) = s.get(key).and_then(Value::as_array) {
            out.extend(a);
        }
    }
    out
}

/// Whether `s` holds money or a time anywhere, given what is known of the
/// definitions.
fn converts(s: &Value, known: &BTreeMap<String, bool>) -> bool {
    if matches!(format_of(s), Some("decimal" | "date-time")) {
        return true;
    }
    if let Some(name) = ref_name(s) {
        return known.get(name).copied().unwrap_or(false);
    }
    children(s).into_iter().any(|c| converts(c, known))
}

/// A definition being built (a reference to it now is a recursion).
const PENDING: u32 = u32::MAX;

struct ShapeBuilder<'a> {
    defs: &'a Map<String, Value>,
    known: BTreeMap<String, bool>,
    nodes: Vec<Value>,
    memo: BTreeMap<String, u32>,
}

impl ShapeBuilder<'_> {
    /// Adds a node, or finds the same one (so the table stays small).
    fn push(&mut self, node: Value) -> u32 {
        if let Some(i) = self.nodes.iter().position(|n| *n == node) {
            return i as u32;
        }
        self.nodes.push(node);
        (self.nodes.len() - 1) as u32
    }

    /// The node id of `s` (0 plain, 1 money, 2 time).
    fn node(&mut self, s: &Value, at: &str) -> Result<u32, String> {
        if !converts(s, &self.known) {
            return Ok(0);
        }
        match format_of(s) {
            Some("decimal") => return Ok(1),
            Some("date-time") => return Ok(2),
            _ => {}
        }
        if let Some(name) = ref_name(s) {
            match self.memo.get(name) {
                Some(&PENDING) => {
                    // A type that contains itself: a slot filled below.
                    self.nodes.push(Value::Null);
                    let slot = (self.nodes.len() - 1) as u32;
                    self.memo.insert(name.to_string(), slot);
                    return Ok(slot);
                }
                Some(&id) => return Ok(id),
                None => {}
            }
            self.memo.insert(name.to_string(), PENDING);
            let target = def(self.defs, name)?.clone();
            let inner = self.node(&target, name)?;
            return Ok(match self.memo.get(name) {
                Some(&slot) if slot != PENDING => {
                    self.nodes[slot as usize] = self.nodes[inner as usize].clone();
                    slot
                }
                _ => {
                    self.memo.insert(name.to_string(), inner);
                    inner
                }
            });
        }
        let node = self.build(s, at)?;
        Ok(self.push(node))
    }

    fn build(&mut self, s: &Value, at: &str) -> Result<Value, String> {
        if let Some(vs) = variants(s) {
            let vs: Vec<&Value> = vs.iter().filter(|v| !is_null(v)).collect();
            if vs.len() == 1 {
                let id = self.node(vs[0], at)?;
                return Ok(self
                    .nodes
                    .get(id as usize)
                    .cloned()
                    .unwrap_or("plain".into()));
            }
            let tags: Vec<Option<(&str, &str)>> = vs.iter().map(|v| tag_of(v)).collect();
            if let Some(Some((tag, _))) = tags.first() {
                if tags.iter().all(|t| t.is_some_and(|(k, _)| k == *tag)) {
                    let mut out = Map::new();
                    for (v, t) in vs.iter().zip(&tags) {
                        let (_, value) = t.unwrap_or_default();
                        out.insert(value.to_string(), Value::from(self.node(v, at)?));
                    }
                    return Ok(serde_json::json!({"tagged": {"tag": tag, "variants": out}}));
                }
            }
            // Untagged objects (`{"bonus": …}` or `{"perk": …}`): merge
            // their fields, which must agree.
            let mut fields: BTreeMap<String, u32> = BTreeMap::new();
            for v in vs {
                let props = v
                    .get("properties")
                    .and_then(Value::as_object)
                    .ok_or_else(|| {
                        format!("{at}: a union of non-objects holding money or times")
                    })?;
                for (k, p) in props {
                    let id = self.node(p, &format!("{at}.{k}"))?;
                    if let Some(prev) = fields.insert(k.clone(), id) {
                        if prev != id {
                            return Err(format!("{at}.{k}: variants disagree on its type"));
                        }
                    }
                }
            }
            return Ok(object_node(fields));
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            let mut fields = BTreeMap::new();
            for (k, p) in props {
                fields.insert(k.clone(), self.node(p, &format!("{at}.{k}"))?);
            }
            return Ok(object_node(fields));
        }
        if let Some(ap) = s.get("additionalProperties").filter(|v| v.is_object()) {
            return Ok(serde_json::json!({"map": self.node(ap, &format!("{at}.*"))?}));
        }
        if let Some(items) = s.get("items").filter(|v| v.is_object()) {
            return Ok(serde_json::json!({"list": self.node(items, &format!("{at}[]"))?}));
        }
        if let Some(items) = s.get("prefixItems").and_then(Value::as_array) {
            let ids = items
                .iter()
                .map(|i| self.node(i, &format!("{at}[]")))
                .collect::<Result<BTreeSet<u32>, String>>()?;
            if ids.len() == 1 {
                return Ok(serde_json::json!({"list": ids.first()}));
            }
            return Err(format!("{at}: a tuple of mixed money/time items"));
        }
        Err(format!("{at}: no shape for {s}"))
    }
}

fn object_node(fields: BTreeMap<String, u32>) -> Value {
    let fields: Map<String, Value> = fields
        .into_iter()
        .filter(|(_, id)| *id != 0)
        .map(|(k, id)| (k, Value::from(id)))
        .collect();
    if fields.is_empty() {
        Value::from("plain")
    } else {
        serde_json::json!({ "object": fields })
    }
}

fn shapes_json(w: &WireSchema) -> Result<String, String> {
    // Which definitions hold money or times: a fixpoint (types recurse).
    let mut known: BTreeMap<String, bool> =
        w.definitions.keys().map(|k| (k.clone(), false)).collect();
    loop {
        let next: BTreeMap<String, bool> = w
            .definitions
            .iter()
            .map(|(k, s)| (k.clone(), converts(s, &known)))
            .collect();
        if next == known {
            break;
        }
        known = next;
    }
    let mut b = ShapeBuilder {
        defs: &w.definitions,
        known,
        nodes: vec!["plain".into(), "money".into(), "time".into()],
        memo: BTreeMap::new(),
    };
    let mut roots = Map::new();
    for (root, _, schema) in &w.roots {
        roots.insert(
            root.name().into(),
            Value::from(b.node(schema, root.name())?),
        );
    }
    // One node per line: small diffs when a type changes.
    let mut out = String::from("{\n  \"roots\": ");
    out.push_str(&serde_json::to_string(&roots).map_err(|e| e.to_string())?);
    out.push_str(",\n  \"nodes\": [\n");
    for (i, n) in b.nodes.iter().enumerate() {
        out.push_str("    ");
        out.push_str(&serde_json::to_string(n).map_err(|e| e.to_string())?);
        out.push_str(if i + 1 < b.nodes.len() { ",\n" } else { "\n" });
    }
    out.push_str("  ]\n}\n");
    Ok(out)
}

/// For each definition, whether an input root reaches it (`In`), else `Out`.
fn directions(w: &WireSchema) -> BTreeMap<String, Direction> {
    fn reach(s: &Value, defs: &Map<String, Value>, seen: &mut BTreeSet<String>) {
        if let Some(name) = ref_name(s) {
            if seen.insert(name.to_string()) {
                if let Some(d) = defs.get(name) {
                    reach(d, defs, seen);
                }
            }
            return;
        }
        for c in children(s) {
            reach(c, defs, seen);
        }
    }
    let mut input = BTreeSet::new();
    for (_, direction, schema) in &w.roots {
        if *direction == Direction::In {
            reach(schema, &w.definitions, &mut input);
        }
    }
    w.definitions
        .keys()
        .map(|k| {
            let d = if input.contains(k) {
                Direction::In
            } else {
                Direction::Out
            };
            (k.clone(), d)
        })
        .collect()
}

/// A Rust doc comment as plain documentation: no doctests, no intra-doc
/// link brackets.
fn doc(s: &Value) -> Option<String> {
    let text = s.get("description")?.as_str()?;
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            out.push(line);
        }
    }
    let mut text = out.join("\n").trim().to_string();
    // [`Name`](path) and [`Name`] → `Name`
    while let Some(start) = text.find("[`") {
        let Some(end) = text[start..].find("`]").map(|e| start + e) else {
            break;
        };
        let name = text[start + 1..end + 1].to_string();
        let mut after = end + 2;
        if text[after..].starts_with('(') {
            if let Some(close) = text[after..].find(')') {
                after += close + 1;
            }
        }
        text.replace_range(start..after, &name);
    }
    (!text.is_empty()).then_some(text)
}

/// An output field serde skips when empty is absent, never `null`: its
/// schema without the null.
fn absent_not_null(p: &Value, dir: Direction, required: bool) -> Value {
    let mut p = p.clone();
    if dir == Direction::In || required {
        return p;
    }
    if let Some(Value::Array(types)) = p.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let t = types[0].clone();
            p["type"] = t;
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(vs)) = p.get_mut(key) {
            vs.retain(|v| !is_null(v));
            if vs.len() == 1 {
                let only = vs[0].clone();
                if let (Value::Object(m), Value::Object(o)) = (&mut p, only) {
                    m.remove(key);
                    m.extend(o);
                }
            }
        }
    }
    p
}

fn camel(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The name of a union's object variant: by its tag value for events
/// (`MemberJoined`), else the union's name plus the tag or the first field.
fn variant_name(union: &str, v: &Value, defs: &Map<String, Value>) -> String {
    if let Some((_, value)) = tag_of(v) {
        return if union == "Event" && !defs.contains_key(&camel(value)) {
            camel(value)
        } else if union == "Event" {
            format!("{}Event", camel(value))
        } else {
            format!("{union}{}", camel(value))
        };
    }
    let first = v
        .get("required")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(Value::as_str)
        .unwrap_or("Variant");
    format!("{union}{}", camel(first))
}

fn is_object_variant(v: &Value) -> bool {
    v.get("properties").is_some()
}

fn required(s: &Value) -> BTreeSet<&str> {
    s.get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn root_doc(root: Root) -> &'static str {
    match root {
        Root::Event => "An event (`Engine.apply`).",
        Root::EventList => "A list of events (`backtest`'s history).",
        Root::EngineOptions => "The Node `Engine` constructor's options.",
        Root::PlanSpec => "A plan in wire form.",
        Root::PayoutPolicy => "A payout policy (`prepare_payouts`).",
        Root::ScreeningRulesSet => "Screening rules (`backtest`'s candidate).",
        Root::Thresholds => "Thresholds per currency code (`tax_summary`).",
        Root::Applied => "The result of an applied event.",
        Root::Distribution => "A sale's distribution (`distribution_of`).",
        Root::Balances => "Balances (`balances`).",
        Root::Head => "The audit head (`audit_head`, `verify`).",
        Root::PayoutState => "A prepared payout's state (`payout_state`).",
        Root::TaxSummary => "Tax summary lines (`tax_summary`).",
        Root::Leaderboard => "A leaderboard (`leaderboard`).",
        Root::ChallengeStatus => "A challenge's progress (`challenge_status`).",
        Root::Awards => "A member's awards (`awards`).",
        Root::MemberMetrics => "Member metrics (`member_metrics`).",
        Root::NetworkMetrics => "Network metrics (`network_metrics`).",
        Root::ViralReport => "The viral coefficient report (`viral_coefficient`).",
        Root::Statement => "A page of a member's statement (`statement`).",
        Root::Projection => "A growth projection (`projection`).",
        Root::TreeNode => "The tree `export_json` returns.",
        Root::SubtreeExport => "The export `export_subtree_json` returns.",
        Root::BacktestReport => "A screening backtest report (`backtest`).",
        Root::ScreeningRules => "A screening preset's rules (`screening_preset`).",
    }
}

const HEADER: &str = "Generated from the Rust wire types by `cargo run -p upline --features schema --example schema_gen`: do not edit by hand (CI fails when this file differs from a fresh generation).";

#[cfg(test)]
mod tests {
    use super::super::Shape;
    use super::*;

    fn generated() -> Generated {
        match generate() {
            Ok(g) => g,
            Err(e) => panic!("generation failed: {e}"),
        }
    }

    /// The committed files are what the generator writes now (CI runs this:
    /// a wire type changed without `schema_gen` fails here).
    #[test]
    fn committed_files_are_fresh() {
        let g = generated();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (path, text) in [
            ("core/src/wire/schema.json", &g.schema),
            ("core/src/wire/shapes.json", &g.shapes),
            ("bindings-node/generated.d.ts", &g.typescript),
            ("bindings-python/python/upline/_types.pyi", &g.python),
        ] {
            let committed = std::fs::read_to_string(root.join(path)).unwrap_or_default();
            assert!(
                committed == *text,
                "{path} is stale: run `cargo run -p upline --features schema --example schema_gen`"
            );
        }
    }

    #[test]
    fn every_type_is_in_both_generated_files() {
        let g = generated();
        let w = wire_schema();
        let names: Vec<String> = w
            .definitions
            .keys()
            .cloned()
            .chain(w.roots.iter().map(|(r, _, _)| r.name().to_string()))
            .collect();
        assert!(names.len() > 50);
        for name in names {
            assert!(
                g.typescript.contains(&format!("export interface {name} "))
                    || g.typescript.contains(&format!("export type {name} =")),
                "{name} missing in generated.d.ts"
            );
            assert!(
                g.python.contains(&format!("class {name}(TypedDict):"))
                    || g.python.contains(&format!("{name}: TypeAlias ="))
                    || g.python.contains(&format!("{name} = TypedDict(")),
                "{name} missing in _types.pyi"
            );
        }
        // Doc comments come along, in both.
        for text in [&g.typescript, &g.python] {
            assert!(text.contains("Commissions still inside their hold period."));
            assert!(text.contains("Units of `currency` per unit of the sale's currency"));
        }
    }

    /// Walks a schema and the embedded shape together, every path of every
    /// root (recursive types to a bounded depth): a leaf is money in the
    /// shape exactly when the schema declares a decimal, a time exactly
    /// when it declares a date-time.
    fn walk(
        defs: &Map<String, Value>,
        s: &Value,
        shape: Shape,
        at: &str,
        depth: u32,
        leaves: &mut u32,
    ) {
        if depth > 12 {
            return;
        }
        let mut s = s;
        while let Some(name) = ref_name(s) {
            s = &defs[name];
        }
        match format_of(s) {
            Some("decimal") => {
                assert!(
                    shape.is_money(),
                    "{at}: a decimal the shape does not call money"
                );
                *leaves += 1;
                return;
            }
            Some("date-time") => {
                assert!(
                    shape.is_time(),
                    "{at}: a date-time the shape does not call a time"
                );
                *leaves += 1;
                return;
            }
            _ => {}
        }
        if let Some(vs) = variants(s) {
            for v in vs.iter().filter(|v| !is_null(v)) {
                let sub = match (shape.tag(), tag_of(v)) {
                    (Some(_), Some((_, value))) => shape.variant(Some(value)),
                    _ => shape,
                };
                walk(defs, v, sub, at, depth + 1, leaves);
            }
            return;
        }
        let mut nested = false;
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            for (k, p) in props {
                walk(
                    defs,
                    p,
                    shape.field(k),
                    &format!("{at}.{k}"),
                    depth + 1,
                    leaves,
                );
            }
            nested = true;
        }
        if let Some(ap) = s.get("additionalProperties").filter(|v| v.is_object()) {
            walk(
                defs,
                ap,
                shape.field("ANY"),
                &format!("{at}.*"),
                depth + 1,
                leaves,
            );
            nested = true;
        }
        if let Some(items) = s.get("items").filter(|v| v.is_object()) {
            walk(
                defs,
                items,
                shape.item(),
                &format!("{at}[]"),
                depth + 1,
                leaves,
            );
            nested = true;
        }
        if let Some(items) = s.get("prefixItems").and_then(Value::as_array) {
            for item in items {
                walk(
                    defs,
                    item,
                    shape.item(),
                    &format!("{at}[]"),
                    depth + 1,
                    leaves,
                );
            }
            nested = true;
        }
        if !nested {
            assert!(
                !shape.is_money() && !shape.is_time(),
                "{at}: the shape converts a value the schema does not declare money or a time"
            );
        }
    }

    #[test]
    fn the_shape_table_agrees_with_the_schema_on_every_path() {
        let w = wire_schema();
        let mut leaves = 0;
        for (root, _, schema) in &w.roots {
            walk(
                &w.definitions,
                schema,
                Shape::of(*root),
                root.name(),
                0,
                &mut leaves,
            );
        }
        assert!(leaves > 100, "only {leaves} money/time leaves seen");
    }
}
