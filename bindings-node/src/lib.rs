//! Node binding of Upline (napi-rs v3).
//!
//! Thin by design: every rule lives in the `upline` core. This crate only
//! converts JavaScript values to the core's JSON wire form and back, and
//! turns core errors into JavaScript `Error`s with a stable `code` (and the
//! `field` they concern). No Rust panic crosses into JavaScript: every entry
//! point runs under `catch_unwind` and a panic becomes an error with code
//! `internal`.
//!
//! Conversions in (see `to_json`):
//! - plain objects, arrays, strings, booleans and `null` map to JSON;
//!   `undefined` object properties are left out (as `JSON.stringify` does);
//! - a `number` or `bigint` where the declared type is money or a rate
//!   (the wire shape generated from the Rust types, `upline::wire`: a plan's
//!   `rate` and `caps`, a sale's `amount`, a policy's `minimum`, …, at any
//!   depth) is refused with `invalid_amount` naming the field; no key name
//!   is looked at;
//! - other numbers must be integers (`version`, `min_active_directs`,
//!   `hold_days`, `minor_units`, …): a non-integer or non-finite number is
//!   `invalid_amount` naming the field; a `bigint` elsewhere is accepted when
//!   it fits in 64 bits;
//! - a `Date` becomes an RFC 3339 UTC string (an invalid `Date` is
//!   `invalid_time`); an object with a `toJSON` method (such as a `Plan`) is
//!   converted through it;
//! - symbols and functions are `malformed`.

#![deny(clippy::all)]

mod export;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};

use napi::bindgen_prelude::*;
use napi::{Env, JsValue, ValueType};
use napi_derive::napi;
use serde_json::{Map, Value};
use std::result::Result;
use upline::wire::{Root, Shape};
use upline::{Error as CoreError, ErrorKind};

mod books;
mod columns;
pub use columns::what_if_tables_ipc;
mod stored;

// ---- errors -----------------------------------------------------------------

/// The status type of our errors: its string becomes the JS error's `code`.
struct Code(&'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// A JS `Error` with `code`, `field` (when the core names one) and a message
/// that names the field.
fn js_error(env: &Env, e: &CoreError) -> napi::Error {
    let message = match e.field() {
        Some(field) if !e.message().contains(field) => format!("{field}: {}", e.message()),
        _ => e.message().to_string(),
    };
    let unknown = JsError::from(napi::Error::new(Code(e.code()), message)).into_unknown(*env);
    if let Some(field) = e.field() {
        if let Ok(mut object) = unknown.coerce_to_object() {
            let _ = object.set_named_property("field", field);
        }
    }
    napi::Error::from(unknown)
}

/// The plain-object form of an error, used in `applyBatch` slots.
fn error_value(e: &CoreError) -> Value {
    let mut inner = Map::new();
    inner.insert("code".into(), Value::String(e.code().into()));
    inner.insert("message".into(), Value::String(e.message().into()));
    inner.insert(
        "field".into(),
        e.field().map_or(Value::Null, |f| Value::String(f.into())),
    );
    let mut outer = Map::new();
    outer.insert("error".into(), Value::Object(inner));
    Value::Object(outer)
}

fn internal(message: impl Into<String>) -> CoreError {
    CoreError::general(ErrorKind::Internal, message)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error in Upline (a bug; please report it): {text}")
}

/// Runs `f`, turning a panic into an `internal` core error.
fn shielded<T>(f: impl FnOnce() -> Result<T, CoreError>) -> Result<T, CoreError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(internal(panic_message(&*payload))),
    }
}

/// Runs `f` shielded and converts its error into a thrown JS error.
fn guard<T>(env: &Env, f: impl FnOnce() -> Result<T, CoreError>) -> napi::Result<T> {
    shielded(f).map_err(|e| js_error(env, &e))
}

fn lock(engine: &Mutex<upline::Engine>) -> Result<MutexGuard<'_, upline::Engine>, CoreError> {
    engine.lock().map_err(|_| {
        internal("the engine is unusable: an earlier call panicked while holding it (a bug)")
    })
}

fn malformed(message: impl Into<String>) -> CoreError {
    CoreError::general(ErrorKind::Malformed, message)
}

fn napi_err(e: napi::Error) -> CoreError {
    malformed(format!("unreadable JS value: {}", e.reason))
}

// ---- JS value -> JSON -------------------------------------------------------

const MAX_DEPTH: u32 = 32;
const MAX_NODES: usize = 200_000;

struct Converter {
    path: String,
    nodes: usize,
}

fn field_or(path: &str, root: &'static str) -> String {
    if path.is_empty() {
        root.to_string()
    } else {
        path.to_string()
    }
}

impl Converter {
    fn new(root: &str) -> Self {
        Converter {
            path: root.to_string(),
            nodes: 0,
        }
    }

    fn field(&self) -> String {
        field_or(&self.path, "value")
    }

    fn amount_error(&self, what: &str) -> CoreError {
        let field = self.field();
        CoreError::new(
            ErrorKind::InvalidAmount,
            field.clone(),
            format!(
                "{field} is a JS {what}; money and rates must be decimal strings (like \"10.50\") \
                 so no float ever touches them"
            ),
        )
    }

    /// Converts one value; `Ok(None)` is `undefined`.
    /// Converts one value whose declared type is `shape`; `Ok(None)` is
    /// `undefined`. A JS number or bigint is refused where the type is
    /// money or a rate, whatever the key's name.
    fn convert(
        &mut self,
        value: Unknown<'_>,
        shape: Shape,
        depth: u32,
    ) -> Result<Option<Value>, CoreError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(CoreError::general(
                ErrorKind::LimitExceeded,
                format!("an input holds more than {MAX_NODES} values"),
            ));
        }
        let kind = value.get_type().map_err(napi_err)?;
        Ok(Some(match kind {
            ValueType::Undefined => return Ok(None),
            ValueType::Null => Value::Null,
            ValueType::Boolean => {
                let b: bool = unsafe { value.cast::<bool>() }.map_err(napi_err)?;
                Value::Bool(b)
            }
            ValueType::String => {
                let s: String = unsafe { value.cast::<String>() }.map_err(napi_err)?;
                Value::String(s)
            }
            ValueType::Number => {
                if shape.is_money() {
                    return Err(self.amount_error("number"));
                }
                let n: f64 = unsafe { value.cast::<f64>() }.map_err(napi_err)?;
                if !n.is_finite() || n.fract() != 0.0 || n.abs() > 9_007_199_254_740_991.0 {
                    let field = self.field();
                    return Err(CoreError::new(
                        ErrorKind::InvalidAmount,
                        field.clone(),
                        format!("{field} is {n}, not an integer; only counts are numbers, money and rates are decimal strings"),
                    ));
                }
                Value::from(n as i64)
            }
            ValueType::BigInt => {
                if shape.is_money() {
                    return Err(self.amount_error("bigint"));
                }
                let b: BigInt = unsafe { value.cast::<BigInt>() }.map_err(napi_err)?;
                let (n, lossless) = b.get_i64();
                if !lossless {
                    let field = self.field();
                    return Err(CoreError::new(
                        ErrorKind::InvalidAmount,
                        field.clone(),
                        format!("{field} is a bigint that does not fit in 64 bits"),
                    ));
                }
                Value::from(n)
            }
            ValueType::Object => {
                if depth >= MAX_DEPTH {
                    return Err(CoreError::new(
                        ErrorKind::LimitExceeded,
                        self.field(),
                        format!("{} nests deeper than {MAX_DEPTH} levels", self.field()),
                    ));
                }
                if value.is_date().map_err(napi_err)? {
                    return self.date(value).map(Some);
                }
                if value.is_array().map_err(napi_err)? {
                    let array: Array = unsafe { value.cast::<Array>() }.map_err(napi_err)?;
                    let len = array.len();
                    let mut out = Vec::with_capacity(len as usize);
                    let inner = shape.item();
                    for i in 0..len {
                        let saved = self.path.len();
                        self.path.push_str(&format!("[{i}]"));
                        let item: Unknown = array
                            .get::<Unknown>(i)
                            .map_err(napi_err)?
                            .ok_or_else(|| malformed("array hole"))?;
                        let v = self.convert(item, inner, depth + 1)?;
                        self.path.truncate(saved);
                        out.push(v.unwrap_or(Value::Null));
                    }
                    return Ok(Some(Value::Array(out)));
                }
                let object: Object = unsafe { value.cast::<Object>() }.map_err(napi_err)?;
                if let Some(to_json) = object.get::<Unknown>("toJSON").map_err(napi_err)? {
                    if to_json.get_type().map_err(napi_err)? == ValueType::Function {
                        let f: Function<(), Unknown> =
                            unsafe { to_json.cast() }.map_err(napi_err)?;
                        let converted = f.apply(object, ()).map_err(napi_err)?;
                        return self.convert(converted, shape, depth + 1);
                    }
                }
                let keys = Object::keys(&object).map_err(napi_err)?;
                let mut out = Map::new();
                let shape = match shape.tag() {
                    Some(tag) => {
                        let value = object.get::<Unknown>(tag).map_err(napi_err)?;
                        let text = match value {
                            Some(v) if v.get_type().map_err(napi_err)? == ValueType::String => {
                                Some(unsafe { v.cast::<String>() }.map_err(napi_err)?)
                            }
                            _ => None,
                        };
                        shape.variant(text.as_deref())
                    }
                    None => shape,
                };
                for key in keys {
                    let child_shape = shape.field(&key);
                    let item: Unknown = match object.get::<Unknown>(&key).map_err(napi_err)? {
                        Some(item) => item,
                        None => continue,
                    };
                    let saved = self.path.len();
                    if !self.path.is_empty() {
                        self.path.push('.');
                    }
                    self.path.push_str(&key);
                    let v = self.convert(item, child_shape, depth + 1)?;
                    self.path.truncate(saved);
                    if let Some(v) = v {
                        out.insert(key, v);
                    }
                }
                Value::Object(out)
            }
            ValueType::Symbol | ValueType::Function | ValueType::External | ValueType::Unknown => {
                let field = self.field();
                return Err(CoreError::new(
                    ErrorKind::Malformed,
                    field.clone(),
                    format!("{field} is a JS {kind}, which has no JSON form"),
                ));
            }
        }))
    }

    fn date(&self, value: Unknown<'_>) -> Result<Value, CoreError> {
        let field = self.field();
        let date: napi::JsDate = unsafe { value.cast::<napi::JsDate>() }
            .map_err(|e| malformed(format!("{field}: {}", e.reason)))?;
        let ms = date
            .value_of()
            .map_err(|e| malformed(format!("{field}: {}", e.reason)))?;
        let invalid = || {
            CoreError::new(
                ErrorKind::InvalidTime,
                field.clone(),
                format!("{field} is an invalid Date"),
            )
        };
        if !ms.is_finite() {
            return Err(invalid());
        }
        let stamp = upline::Timestamp::from_millis(ms as i64).ok_or_else(invalid)?;
        Ok(Value::String(stamp.to_string()))
    }
}

/// Converts a JS value, given as the wire type `shape`, to JSON; `root`
/// names it in errors (`""` for an event, whose fields are then named
/// bare: `amount`, `plan.levels[0].rate`).
fn to_json(value: Unknown<'_>, root: &str, shape: Shape) -> Result<Value, CoreError> {
    let mut converter = Converter::new(root);
    converter
        .convert(value, shape, 0)?
        .ok_or_else(|| malformed(format!("{} is undefined", field_or(root, "value"))))
}

fn decode_event(value: Unknown<'_>) -> Result<upline::Event, CoreError> {
    let json = to_json(value, "", Shape::of(Root::Event))?;
    if !json.is_object() {
        return Err(malformed("an event must be an object with a \"type\""));
    }
    upline::Event::from_value(json)
}

/// A time argument: a `Date` or an RFC 3339 string.
fn time_arg(value: Unknown<'_>, name: &str) -> Result<String, CoreError> {
    match to_json(value, name, Shape::plain())? {
        Value::String(s) => Ok(s),
        _ => Err(CoreError::new(
            ErrorKind::InvalidTime,
            name,
            format!("{name} must be a Date or an RFC 3339 string with an offset"),
        )),
    }
}

/// An optional time argument (`undefined` / `null` → absent).
fn opt_time(value: Option<Unknown<'_>>, name: &str) -> Result<Option<String>, CoreError> {
    match value {
        Some(v) if !matches!(v.get_type(), Ok(ValueType::Undefined | ValueType::Null)) => {
            Ok(Some(time_arg(v, name)?))
        }
        _ => Ok(None),
    }
}

fn serialize<T: serde::Serialize>(value: &T) -> Result<Value, CoreError> {
    serde_json::to_value(value).map_err(|e| internal(format!("serialization failed: {e}")))
}

fn batch_slots(env: &Env, events: &Array) -> napi::Result<Vec<Result<upline::Event, CoreError>>> {
    let len = events.len() as usize;
    if len > upline::limits::MAX_BATCH {
        return Err(js_error(
            env,
            &CoreError::new(
                ErrorKind::LimitExceeded,
                "events",
                format!(
                    "a batch of {len} events; the limit is {}",
                    upline::limits::MAX_BATCH
                ),
            ),
        ));
    }
    let mut slots = Vec::with_capacity(len);
    for i in 0..len as u32 {
        let item = events.get::<Unknown>(i)?;
        slots.push(match item {
            Some(item) => shielded(|| decode_event(item)),
            None => Err(malformed("array hole")),
        });
    }
    Ok(slots)
}

/// Applies the decodable events of `slots` in order with the core's
/// `apply_batch`; slots that could not be decoded keep their error.
fn run_batch(
    engine: &Mutex<upline::Engine>,
    slots: Vec<Result<upline::Event, CoreError>>,
) -> Result<Vec<Result<upline::Applied, CoreError>>, CoreError> {
    shielded(|| {
        let mut events = Vec::with_capacity(slots.len());
        let mut errors = Vec::with_capacity(slots.len());
        for slot in slots {
            match slot {
                Ok(event) => {
                    events.push(event);
                    errors.push(None);
                }
                Err(e) => errors.push(Some(e)),
            }
        }
        let mut applied = {
            let mut engine = lock(engine)?;
            engine.apply_batch(&events)?.into_iter()
        };
        errors
            .into_iter()
            .map(|slot| match slot {
                Some(e) => Ok(Err(e)),
                None => applied
                    .next()
                    .ok_or_else(|| internal("apply_batch returned fewer results than events")),
            })
            .collect()
    })
}

/// One JSON value per slot (each converted on its own, so a large batch
/// never hits napi's per-value node budget).
fn batch_value(results: Vec<Result<upline::Applied, CoreError>>, records: bool) -> Vec<Json> {
    results
        .iter()
        .map(|r| match r {
            Ok(applied) if records => Json(applied.to_json_value()),
            Ok(applied) => {
                let mut map = Map::new();
                map.insert("seq".into(), Value::from(applied.seq));
                map.insert("hash".into(), Value::String(applied.hash.to_hex()));
                if applied.replayed {
                    map.insert("replayed".into(), Value::Bool(true));
                }
                Json(Value::Object(map))
            }
            Err(e) => Json(error_value(e)),
        })
        .collect()
}

/// A string argument (JSON text); anything else is `malformed` naming `field`.
fn text_arg(value: Unknown<'_>, field: &str) -> Result<String, CoreError> {
    let kind = value.get_type().map_err(napi_err)?;
    if kind != ValueType::String {
        return Err(CoreError::new(
            ErrorKind::Malformed,
            field,
            format!("{field} must be a string of JSON, not a JS {kind}"),
        ));
    }
    unsafe { value.cast::<String>() }.map_err(napi_err)
}

/// `{ records?: boolean }` (default true): false returns only `{ seq, hash }`
/// per applied slot, so no per-line object is built on the JS side.
fn records_option(options: Option<Unknown>) -> Result<bool, CoreError> {
    let Some(options) = options else {
        return Ok(true);
    };
    match to_json(options, "options", Shape::plain())? {
        Value::Null => Ok(true),
        Value::Object(map) => {
            for key in map.keys() {
                if key != "records" {
                    return Err(malformed(format!(
                        "unknown option {key:?}; the options are: records"
                    )));
                }
            }
            match map.get("records") {
                None | Some(Value::Null) => Ok(true),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(CoreError::new(
                    ErrorKind::Malformed,
                    "options.records",
                    "options.records must be a boolean",
                )),
            }
        }
        _ => Err(malformed("options must be an object like { records }")),
    }
}

// ---- Engine -------------------------------------------------------------------

/// The engine: feed it events, query balances, the graph, the audit head.
#[napi]
pub struct Engine {
    inner: Arc<Mutex<upline::Engine>>,
}

impl Engine {
    fn with<T>(
        &self,
        env: &Env,
        f: impl FnOnce(&mut upline::Engine) -> Result<T, CoreError>,
    ) -> napi::Result<T> {
        guard(env, || {
            let mut engine = lock(&self.inner)?;
            f(&mut engine)
        })
    }
}

#[napi]
impl Engine {
    /// An empty in-memory engine with the default plan in force, or, with
    /// `{ path }`, an engine backed by the SQLite file at `path` (created if
    /// missing; reopened: its snapshot and events are replayed and checked).
    /// With `{ plan }`, that plan is activated from the start of time (an
    /// idempotent retry when the store already has it in force).
    /// With `{ url, programme }`, a replica of that programme's log in
    /// PostgreSQL, shared with other processes (`refresh()` applies what
    /// they wrote); with `follower: true`, a read-only one, which creates
    /// nothing (a programme the database holds nothing of is a `storage`
    /// error, as a missing file is for a SQLite follower); `groupCommit`
    /// (`'auto'`, the default, `'always'` or `'never'`) says when this
    /// writer hands single events to the lock's holder under contention.
    #[napi(
        constructor,
        ts_args_type = "options?: { path?: string; plan?: PlanSpec | Plan; url?: string; programme?: string; follower?: boolean; groupCommit?: 'auto' | 'always' | 'never' } | null"
    )]
    pub fn new(env: Env, options: Option<Unknown>) -> napi::Result<Self> {
        let engine = guard(&env, || {
            let map = match options {
                None => Map::new(),
                Some(o) => match to_json(o, "options", Shape::of(Root::EngineOptions))? {
                    Value::Null => Map::new(),
                    Value::Object(map) => map,
                    _ => return Err(malformed("options must be an object like { path }")),
                },
            };
            const OPTIONS: [&str; 6] = [
                "path",
                "plan",
                "url",
                "programme",
                "follower",
                "groupCommit",
            ];
            for key in map.keys() {
                if !OPTIONS.contains(&key.as_str()) {
                    return Err(malformed(format!(
                        "unknown option {key:?}; the options are: {}",
                        OPTIONS.join(", ")
                    )));
                }
            }
            let plan = map.get("plan").filter(|p| !p.is_null()).cloned();
            let text = |key: &str| -> Result<Option<String>, CoreError> {
                match map.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(p)) => Ok(Some(p.clone())),
                    Some(_) => Err(CoreError::new(
                        ErrorKind::Malformed,
                        format!("options.{key}"),
                        format!("options.{key} must be a string"),
                    )),
                }
            };
            let (path, url, programme) = (text("path")?, text("url")?, text("programme")?);
            let group_commit = match text("groupCommit")? {
                Some(_) if url.is_none() => {
                    return Err(CoreError::new(
                        ErrorKind::Malformed,
                        "options.groupCommit",
                        "options.groupCommit needs a url (group commit is PostgreSQL's)",
                    ));
                }
                Some(mode) => Some(upline_postgres::GroupCommit::parse(
                    &mode,
                    "options.groupCommit",
                )?),
                None => None,
            };
            let follower = match map.get("follower") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err(CoreError::new(
                        ErrorKind::Malformed,
                        "options.follower",
                        "options.follower must be a boolean",
                    ))
                }
            };
            let store: Option<Box<dyn upline::Store>> = match (path, url, programme) {
                (Some(_), Some(_), _) => {
                    return Err(CoreError::new(
                        ErrorKind::Malformed,
                        "options.url",
                        "give path (SQLite) or url (PostgreSQL), not both",
                    ))
                }
                (None, None, Some(_)) => {
                    return Err(CoreError::new(
                        ErrorKind::Malformed,
                        "options.programme",
                        "programme needs a url",
                    ))
                }
                (None, Some(_), None) => {
                    return Err(CoreError::new(
                        ErrorKind::InvalidId,
                        "options.programme",
                        "a PostgreSQL store needs { programme } (one database holds many)",
                    ))
                }
                (None, Some(url), Some(programme)) => {
                    // A follower never writes: it registers no programme,
                    // so a mistyped one is an error, not a new empty one.
                    let mut store = match follower {
                        true => upline_postgres::PostgresStore::open_existing(&url, &programme)?,
                        false => upline_postgres::PostgresStore::open(&url, &programme)?,
                    };
                    if let Some(mode) = group_commit {
                        store.set_group_commit(mode);
                    }
                    Some(Box::new(store))
                }
                // A follower never writes: it reads the file read-only, so
                // a mistyped path is an error, not a new empty store.
                (Some(path), None, _) if follower => {
                    Some(Box::new(upline_sqlite::SqliteStore::open_read_only(&path)?))
                }
                (Some(path), None, _) => Some(Box::new(upline_sqlite::SqliteStore::open(&path)?)),
                (None, None, None) => None,
            };
            let mut engine = match store {
                None if follower => {
                    return Err(CoreError::general(
                        ErrorKind::Storage,
                        "a follower needs a store: { path } or { url, programme }",
                    ))
                }
                None => upline::Engine::new(),
                Some(store) if follower => upline::Engine::open_follower(store)?,
                Some(store) => upline::Engine::open(store)?,
            };
            if let Some(plan) = plan {
                let mut event = Map::new();
                event.insert("type".into(), Value::String("plan_activated".into()));
                event.insert("plan".into(), plan);
                event.insert(
                    "effective_from".into(),
                    Value::String(upline::Timestamp::MIN.to_string()),
                );
                engine.apply(&upline::Event::from_value(Value::Object(event))?)?;
            }
            Ok(engine)
        })?;
        Ok(Engine {
            inner: Arc::new(Mutex::new(engine)),
        })
    }

    /// Verifies the store's whole chain (replaying every stored event);
    /// returns the head, or throws `tampered` (naming the first bad event)
    /// or `storage` (no store, or the store failed).
    #[napi]
    pub fn verify(&self, env: Env) -> napi::Result<Value> {
        self.with(&env, |engine| head_value(engine.verify()?))
    }

    /// `verify` run off the event loop.
    #[napi(ts_return_type = "Promise<{ seq: number; hash: string }>")]
    pub fn verify_async(&self) -> AsyncTask<VerifyTask> {
        AsyncTask::new(VerifyTask {
            engine: self.inner.clone(),
        })
    }

    /// Applies what other processes appended to the store since this
    /// engine's head (each checked against its stored hash); returns the
    /// new head.
    #[napi(ts_return_type = "{ seq: number; hash: string }")]
    pub fn refresh(&self, env: Env) -> napi::Result<Value> {
        self.with(&env, |engine| head_value(engine.catch_up()?))
    }

    /// Saves a snapshot in the store so a later open replays only what follows.
    #[napi]
    pub fn save_snapshot(&self, env: Env) -> napi::Result<()> {
        self.with(&env, |engine| engine.save_snapshot())
    }

    /// Restores an engine from `snapshot()`. Throws `storage` naming the
    /// format for a snapshot of an older format this build no longer
    /// restores (1 to 3: open the store instead, which replays its events),
    /// `malformed` for other text.
    #[napi(factory)]
    pub fn from_snapshot(env: Env, text: String) -> napi::Result<Engine> {
        let engine = guard(&env, || upline::Engine::from_snapshot_json(&text))?;
        Ok(Engine {
            inner: Arc::new(Mutex::new(engine)),
        })
    }

    /// Applies one event; returns its records.
    #[napi]
    pub fn apply(&self, env: Env, event: Unknown) -> napi::Result<Value> {
        let event = guard(&env, || decode_event(event))?;
        self.with(&env, |engine| Ok(engine.apply(&event)?.to_json_value()))
    }

    /// Applies many events in order; each slot holds the records or
    /// `{ error: { code, message, field } }`.
    #[napi(ts_return_type = "unknown[]")]
    pub fn apply_batch(
        &self,
        env: Env,
        events: Array,
        options: Option<Unknown>,
    ) -> napi::Result<Vec<Json>> {
        let records = guard(&env, || records_option(options))?;
        let slots = batch_slots(&env, &events)?;
        let results = run_batch(&self.inner, slots).map_err(|e| js_error(&env, &e))?;
        guard(&env, || Ok(batch_value(results, records)))
    }

    /// `applyBatch` run off the event loop.
    #[napi(ts_return_type = "Promise<unknown[]>")]
    pub fn apply_batch_async(
        &self,
        env: Env,
        events: Array,
        options: Option<Unknown>,
    ) -> napi::Result<AsyncTask<ApplyBatchTask>> {
        let records = guard(&env, || records_option(options))?;
        let slots = batch_slots(&env, &events)?;
        Ok(AsyncTask::new(ApplyBatchTask {
            records,
            engine: self.inner.clone(),
            slots: Some(slots),
        }))
    }

    /// Applies a JSON array of events given as text; returns a JSON array
    /// text with one slot per event: the records (or only `{ seq, hash }`
    /// with `{ records: false }`) or `{ error: { code, message, field } }`.
    /// Text that is not a JSON array throws `malformed`; over 100,000 events
    /// or 256 MiB of text throws `limit_exceeded`.
    #[napi(ts_args_type = "text: string, options?: { records?: boolean } | null")]
    pub fn apply_batch_json(
        &self,
        env: Env,
        text: Unknown,
        options: Option<Unknown>,
    ) -> napi::Result<String> {
        let (text, records) = guard(&env, || {
            Ok((text_arg(text, "text")?, records_option(options)?))
        })?;
        self.with(&env, |engine| engine.apply_batch_json(&text, records))
    }

    /// `applyBatchJson` run off the event loop (parsing, applying and
    /// serializing all happen on a libuv worker thread).
    #[napi(
        ts_args_type = "text: string, options?: { records?: boolean } | null",
        ts_return_type = "Promise<string>"
    )]
    pub fn apply_batch_json_async(
        &self,
        env: Env,
        text: Unknown,
        options: Option<Unknown>,
    ) -> napi::Result<AsyncTask<ApplyBatchJsonTask>> {
        let (text, records) = guard(&env, || {
            Ok((text_arg(text, "text")?, records_option(options)?))
        })?;
        Ok(AsyncTask::new(ApplyBatchJsonTask {
            records,
            engine: self.inner.clone(),
            text,
        }))
    }

    /// Balances of `member` in `currency` as of `asOf` (a Date or RFC 3339).
    #[napi]
    pub fn balances(
        &self,
        env: Env,
        member: String,
        currency: String,
        as_of: Unknown,
    ) -> napi::Result<Value> {
        let as_of = guard(&env, || time_arg(as_of, "as_of"))?;
        self.with(&env, |engine| {
            serialize(&engine.balances(&member, &currency, &as_of)?)
        })
    }

    /// Up to `levels` ancestors of `member`, nearest first.
    #[napi]
    pub fn upline(&self, env: Env, member: String, levels: u32) -> napi::Result<Vec<String>> {
        self.with(&env, |engine| {
            Ok(engine
                .upline(&member, levels as usize)?
                .iter()
                .map(|s| s.to_string())
                .collect())
        })
    }

    /// Direct referrals of `member`, in join order.
    #[napi]
    pub fn direct_referrals(&self, env: Env, member: String) -> napi::Result<Vec<String>> {
        self.with(&env, |engine| {
            Ok(engine
                .direct_referrals(&member)?
                .iter()
                .map(|s| s.to_string())
                .collect())
        })
    }

    /// Members below `member` at any depth.
    #[napi]
    pub fn downline_size(&self, env: Env, member: String) -> napi::Result<f64> {
        self.with(&env, |engine| Ok(engine.downline_size(&member)? as f64))
    }

    /// Members below `member` per level (index 0: direct referrals).
    #[napi]
    pub fn downline_levels(
        &self,
        env: Env,
        member: String,
        max_levels: u32,
    ) -> napi::Result<Vec<f64>> {
        self.with(&env, |engine| {
            Ok(engine
                .downline_levels(&member, max_levels as usize)?
                .into_iter()
                .map(|n| n as f64)
                .collect())
        })
    }

    /// Number of ancestors of `member`.
    #[napi]
    pub fn depth(&self, env: Env, member: String) -> napi::Result<u32> {
        self.with(&env, |engine| Ok(engine.depth(&member)? as u32))
    }

    /// The subtree below `member` (at most `maxDepth` levels, default 64) in Graphviz DOT.
    #[napi]
    pub fn export_dot(
        &self,
        env: Env,
        member: String,
        max_depth: Option<u32>,
    ) -> napi::Result<String> {
        self.with(&env, |engine| {
            engine.export_dot(&member, max_depth.unwrap_or(64) as usize)
        })
    }

    /// The subtree below `member` (at most `maxDepth` levels, default 64) as nested JSON.
    #[napi]
    pub fn export_json(
        &self,
        env: Env,
        member: String,
        max_depth: Option<u32>,
    ) -> napi::Result<Value> {
        self.with(&env, |engine| {
            engine.export_json(&member, max_depth.unwrap_or(64) as usize)
        })
    }

    /// `member`'s identity cluster: `member` first, then the members sharing
    /// a payment fingerprint, device, normalised e-mail or IP + user agent,
    /// in join order.
    #[napi]
    pub fn identity_cluster(&self, env: Env, member: String) -> napi::Result<Vec<String>> {
        self.with(&env, |engine| {
            Ok(engine
                .identity_cluster(&member)?
                .iter()
                .map(|s| s.to_string())
                .collect())
        })
    }

    /// Referral rings over the whole graph, each as its member ids.
    #[napi]
    pub fn screening_rings(&self, env: Env) -> napi::Result<Vec<Vec<String>>> {
        self.with(&env, |engine| {
            Ok(engine
                .screening_rings()
                .into_iter()
                .map(|ring| ring.iter().map(|s| s.to_string()).collect())
                .collect())
        })
    }

    /// The top `limit` (default 100) members by `metric` over `[from, to)`.
    #[napi]
    pub fn leaderboard(
        &self,
        env: Env,
        metric: String,
        from: Unknown,
        to: Unknown,
        limit: Option<u32>,
        currency: Option<String>,
    ) -> napi::Result<Value> {
        let (from, to) = guard(&env, || Ok((time_arg(from, "from")?, time_arg(to, "to")?)))?;
        self.with(&env, |engine| {
            serialize(&engine.leaderboard(
                &metric,
                &from,
                &to,
                limit.map_or(upline::rewards::DEFAULT_LEADERBOARD_LIMIT, |l| l as usize),
                currency.as_deref(),
            )?)
        })
    }

    /// A team challenge's progress per member and in total as of `asOf`.
    #[napi]
    pub fn challenge_status(&self, env: Env, id: String, as_of: Unknown) -> napi::Result<Value> {
        let as_of = guard(&env, || time_arg(as_of, "as_of"))?;
        self.with(&env, |engine| {
            serialize(&engine.challenge_status(&id, &as_of)?)
        })
    }

    /// The milestone awards `member` holds.
    #[napi]
    pub fn awards(&self, env: Env, member: String) -> napi::Result<Value> {
        self.with(&env, |engine| serialize(&engine.awards(&member)?))
    }

    /// Growth metrics of one member; earnings also over `[from, to)` when given.
    #[napi]
    pub fn member_metrics(
        &self,
        env: Env,
        member: String,
        from: Option<Unknown>,
        to: Option<Unknown>,
    ) -> napi::Result<Value> {
        let (from, to) = guard(&env, || Ok((opt_time(from, "from")?, opt_time(to, "to")?)))?;
        self.with(&env, |engine| {
            serialize(&engine.member_metrics(&member, from.as_deref(), to.as_deref())?)
        })
    }

    /// Members by status, depth histogram, max depth, mean branching factor.
    #[napi]
    pub fn network_metrics(&self, env: Env) -> napi::Result<Value> {
        self.with(&env, |engine| serialize(&engine.network_metrics()))
    }

    /// K per join cohort and overall, and the viral cycle time (defaults:
    /// 30-day window, 30-day cohorts).
    #[napi]
    pub fn viral_coefficient(
        &self,
        env: Env,
        window_days: Option<u32>,
        cohort_days: Option<u32>,
        from: Option<Unknown>,
        to: Option<Unknown>,
    ) -> napi::Result<Value> {
        let (from, to) = guard(&env, || Ok((opt_time(from, "from")?, opt_time(to, "to")?)))?;
        self.with(&env, |engine| {
            serialize(&engine.viral_coefficient(
                window_days.unwrap_or(upline::metrics::DEFAULT_WINDOW_DAYS),
                cohort_days.unwrap_or(upline::metrics::DEFAULT_WINDOW_DAYS),
                from.as_deref(),
                to.as_deref(),
            )?)
        })
    }

    /// A branching-process projection of network size over `cycles` cycles.
    #[napi]
    pub fn projection(
        &self,
        env: Env,
        cycles: u32,
        window_days: Option<u32>,
        seed: Option<u32>,
    ) -> napi::Result<Value> {
        self.with(&env, |engine| {
            serialize(&engine.projection(
                window_days.unwrap_or(upline::metrics::DEFAULT_WINDOW_DAYS),
                cycles,
                seed.map(u64::from),
            )?)
        })
    }

    /// `member`'s subtree (bounded; default 10,000 nodes) with earnings on the nodes.
    #[napi]
    pub fn export_subtree_json(
        &self,
        env: Env,
        member: String,
        max_depth: u32,
        max_nodes: Option<u32>,
    ) -> napi::Result<Value> {
        self.with(&env, |engine| {
            engine.export_subtree_json(
                &member,
                max_depth as usize,
                max_nodes.map_or(upline::metrics::DEFAULT_EXPORT_NODES, |n| n as usize),
            )
        })
    }

    /// The same subtree in Graphviz DOT, earnings in the node labels.
    #[napi]
    pub fn export_subtree_dot(
        &self,
        env: Env,
        member: String,
        max_depth: u32,
        max_nodes: Option<u32>,
    ) -> napi::Result<String> {
        self.with(&env, |engine| {
            engine.export_subtree_dot(
                &member,
                max_depth as usize,
                max_nodes.map_or(upline::metrics::DEFAULT_EXPORT_NODES, |n| n as usize),
            )
        })
    }

    /// Applies a `payouts_prepared` event and returns its records.
    #[napi]
    pub fn prepare_payouts(
        &self,
        env: Env,
        batch: String,
        as_of: Unknown,
        policy: Option<Unknown>,
    ) -> napi::Result<Value> {
        let event = guard(&env, || {
            let as_of = time_arg(as_of, "as_of")?;
            let policy = match policy {
                Some(p) => to_json(p, "policy", Shape::of(Root::PayoutPolicy))?,
                None => Value::Object(Map::new()),
            };
            let mut map = Map::new();
            map.insert("type".into(), Value::String("payouts_prepared".into()));
            map.insert("batch".into(), Value::String(batch));
            map.insert("as_of".into(), Value::String(as_of));
            map.insert("policy".into(), policy);
            upline::Event::from_value(Value::Object(map))
        })?;
        self.with(&env, |engine| Ok(engine.apply(&event)?.to_json_value()))
    }

    /// Per earner and currency: earned and paid in `year`, and whether paid
    /// reaches `thresholds[currency]` (decimal strings).
    #[napi]
    pub fn tax_summary(
        &self,
        env: Env,
        year: i32,
        thresholds: Option<Unknown>,
    ) -> napi::Result<Value> {
        let thresholds = guard(&env, || books::thresholds_arg(thresholds))?;
        self.with(&env, |engine| {
            serialize(&engine.tax_summary(year, &thresholds)?)
        })
    }

    /// The audit chain's head: `{ seq, hash }` (hash in hex).
    #[napi]
    pub fn audit_head(&self, env: Env) -> napi::Result<Value> {
        self.with(&env, |engine| head_value(engine.audit_head()))
    }

    /// The distribution recorded for `sale`, or `null`.
    #[napi]
    pub fn distribution_of(&self, env: Env, sale: String) -> napi::Result<Value> {
        self.with(&env, |engine| match engine.distribution_of(&sale) {
            Some(d) => serialize(&d),
            None => Ok(Value::Null),
        })
    }

    /// The whole state as JSON text, for `Engine.fromSnapshot`.
    #[napi]
    pub fn snapshot(&self, env: Env) -> napi::Result<String> {
        self.with(&env, |engine| Ok(engine.snapshot_json()))
    }
}

fn head_value(head: upline::Head) -> Result<Value, CoreError> {
    let mut map = Map::new();
    map.insert("seq".into(), Value::from(head.seq));
    map.insert("hash".into(), Value::String(head.hash.to_hex()));
    Ok(Value::Object(map))
}

/// The work of `verifyAsync`, run on a libuv worker thread.
pub struct VerifyTask {
    engine: Arc<Mutex<upline::Engine>>,
}

impl Task for VerifyTask {
    type Output = Result<Value, CoreError>;
    type JsValue = Json;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(shielded(|| head_value(lock(&self.engine)?.verify()?)))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Json> {
        output.map(Json).map_err(|e| js_error(&env, &e))
    }
}

/// The work of `applyBatchAsync`, run on a libuv worker thread.
pub struct ApplyBatchTask {
    records: bool,
    engine: Arc<Mutex<upline::Engine>>,
    slots: Option<Vec<Result<upline::Event, CoreError>>>,
}

impl Task for ApplyBatchTask {
    type Output = Result<Vec<Result<upline::Applied, CoreError>>, CoreError>;
    type JsValue = Vec<Json>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let slots = self.slots.take().unwrap_or_default();
        Ok(run_batch(&self.engine, slots))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Vec<Json>> {
        let results = output.map_err(|e| js_error(&env, &e))?;
        let records = self.records;
        guard(&env, || Ok(batch_value(results, records)))
    }
}

/// The work of `applyBatchJsonAsync`, run on a libuv worker thread.
pub struct ApplyBatchJsonTask {
    records: bool,
    engine: Arc<Mutex<upline::Engine>>,
    text: String,
}

impl Task for ApplyBatchJsonTask {
    type Output = Result<String, CoreError>;
    type JsValue = String;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let text = std::mem::take(&mut self.text);
        let records = self.records;
        Ok(shielded(|| {
            lock(&self.engine)?.apply_batch_json(&text, records)
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<String> {
        output.map_err(|e| js_error(&env, &e))
    }
}

/// A JSON value handed to JavaScript (the resolved value of async tasks).
pub struct Json(Value);

impl TypeName for Json {
    fn type_name() -> &'static str {
        "unknown"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ToNapiValue for Json {
    unsafe fn to_napi_value(
        env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        unsafe { Value::to_napi_value(env, val.0) }
    }
}

// ---- fraud screening ---------------------------------------------------------

/// Replays `history` (an array of events, or its JSON text) under the
/// `candidate` screening rules (a `screening_rules_set` object, `type`
/// optional) and reports what they would hold, block and flag per rule,
/// against the rules in force. Changes nothing.
#[napi]
pub fn backtest(env: Env, history: Unknown, candidate: Unknown) -> napi::Result<Value> {
    guard(&env, || {
        let history = match history.get_type().map_err(|e| malformed(e.reason))? {
            ValueType::String => {
                unsafe { history.cast::<String>() }.map_err(|e| malformed(e.reason))?
            }
            _ => {
                let events = to_json(history, "history", Shape::of(Root::EventList))?;
                if !events.is_array() {
                    return Err(malformed(
                        "history must be an array of events or its JSON text",
                    ));
                }
                events.to_string()
            }
        };
        let candidate =
            to_json(candidate, "candidate", Shape::of(Root::ScreeningRulesSet))?.to_string();
        let report = upline::backtest_json(&history, &candidate)?;
        serde_json::from_str(&report).map_err(|e| internal(format!("report: {e}")))
    })
}

/// The rules of a screening preset (`relaxed`, `moderate`, `strict`), or
/// `null` for an unknown name.
#[napi]
pub fn screening_preset(name: String) -> Value {
    upline::screen::preset(&name).unwrap_or(Value::Null)
}

// ---- Plan -------------------------------------------------------------------

/// A validated plan.
#[napi]
pub struct Plan {
    spec: upline::PlanSpec,
    id: String,
    version: u32,
    levels: u32,
}

#[napi]
impl Plan {
    /// Parses and validates a plan from JSON text or a plain object.
    #[napi(factory, js_name = "fromJSON")]
    pub fn from_json(env: Env, plan: Unknown) -> napi::Result<Plan> {
        guard(&env, || {
            let json = match plan.get_type().map_err(|e| malformed(e.reason))? {
                ValueType::String => {
                    let text: String =
                        unsafe { plan.cast::<String>() }.map_err(|e| malformed(e.reason))?;
                    if text.len() > upline::limits::MAX_JSON_BYTES {
                        return Err(CoreError::general(
                            ErrorKind::LimitExceeded,
                            format!(
                                "the plan is {} bytes of JSON; the limit is {}",
                                text.len(),
                                upline::limits::MAX_JSON_BYTES
                            ),
                        ));
                    }
                    serde_json::from_str::<Value>(&text)
                        .map_err(|e| malformed(format!("undecodable plan: {e}")))?
                }
                _ => to_json(plan, "", Shape::of(Root::PlanSpec))?,
            };
            let spec: upline::PlanSpec = serde_json::from_value(json)
                .map_err(|e| malformed(format!("undecodable plan: {e}")))?;
            let validated = spec.validate(&upline::Currencies::default())?;
            Ok(Plan {
                id: validated.id().to_string(),
                version: validated.version(),
                levels: validated.levels().len() as u32,
                spec,
            })
        })
    }

    /// The plan's id.
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.id.clone()
    }

    /// The plan's version.
    #[napi(getter)]
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Number of levels of the default table.
    #[napi(getter)]
    pub fn level_count(&self) -> u32 {
        self.levels
    }

    /// The plan in wire form (usable as `plan` in a `plan_activated` event).
    #[napi(js_name = "toJSON")]
    pub fn to_json(&self, env: Env) -> napi::Result<Value> {
        guard(&env, || serialize(&self.spec))
    }
}
