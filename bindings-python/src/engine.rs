//! `upline.Engine`: a core engine behind a mutex.

use std::sync::{Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBool, PyInt, PyList, PyString, PyTuple, PyType};
use serde_json::{json, Value};

use upline::wire::Root;
use upline::{Error, ErrorKind, Event};

use crate::convert::{self, ConvError};
use crate::guard;

mod books;
mod columns;

pub(crate) use columns::what_if;

/// The commission engine. See the stub (`upline/__init__.pyi`) for the
/// documented Python API.
#[pyclass(module = "upline", frozen)]
pub struct Engine {
    inner: Mutex<upline::Engine>,
}

fn poisoned() -> Error {
    Error::general(
        ErrorKind::Internal,
        "this engine stopped after an internal error (a panic) in an earlier call that \
         was changing it; rebuild it from a snapshot or its store",
    )
}

pub(crate) fn conv<T>(py: Python<'_>, r: Result<T, ConvError>) -> PyResult<T> {
    r.map_err(|e| e.into_py(py))
}

fn raise(py: Python<'_>, err: Error) -> PyErr {
    crate::errors::to_py(py, &err)
}

/// A string argument (ids, currency codes); anything else is `malformed`.
fn str_arg(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<String> {
    match obj.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(raise(
            obj.py(),
            Error::new(
                ErrorKind::Malformed,
                field,
                format!("{field} must be a str, not {}", type_name(obj)),
            ),
        )),
    }
}

/// A `str` argument borrowed from Python (no copy where the interpreter
/// keeps UTF-8), usable without the GIL; anything else is `malformed`.
fn text_arg(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<PyBackedStr> {
    if !obj.is_instance_of::<PyString>() {
        return Err(raise(
            obj.py(),
            Error::new(
                ErrorKind::Malformed,
                field,
                format!("{field} must be a str, not {}", type_name(obj)),
            ),
        ));
    }
    obj.extract::<PyBackedStr>().map_err(|e| {
        raise(
            obj.py(),
            Error::new(
                ErrorKind::Malformed,
                field,
                format!("{field} is not valid text: {e}"),
            ),
        )
    })
}

/// A non-negative integer argument (levels, depths).
fn count_arg(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<usize> {
    let bad = |why: &str| {
        raise(
            obj.py(),
            Error::new(ErrorKind::Malformed, field, format!("{field} {why}")),
        )
    };
    if obj.is_instance_of::<PyBool>() || !obj.is_instance_of::<PyInt>() {
        return Err(bad(&format!("must be an int, not {}", type_name(obj))));
    }
    match obj.extract::<i128>() {
        Ok(n) if n < 0 => Err(bad("must not be negative")),
        Ok(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        Err(_) => Ok(usize::MAX),
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A query result as JSON, for `convert::to_py`.
fn json_of<T: serde::Serialize>(value: T) -> upline::Result<Value> {
    serde_json::to_value(value).map_err(|e| Error::general(ErrorKind::Internal, e.to_string()))
}

/// An optional time argument (`None` → absent).
fn opt_time(obj: Option<&Bound<'_, PyAny>>, field: &str) -> PyResult<Option<String>> {
    match obj {
        Some(o) if !o.is_none() => Ok(Some(conv(o.py(), convert::time_arg(o, field))?)),
        _ => Ok(None),
    }
}

/// An optional `str` argument (`None` → absent).
fn opt_str(obj: Option<&Bound<'_, PyAny>>, field: &str) -> PyResult<Option<String>> {
    match obj {
        Some(o) if !o.is_none() => Ok(Some(str_arg(o, field)?)),
        _ => Ok(None),
    }
}

/// An optional count argument (`None` → `default`).
fn opt_count(obj: Option<&Bound<'_, PyAny>>, field: &str, default: usize) -> PyResult<usize> {
    match obj {
        Some(o) if !o.is_none() => count_arg(o, field),
        _ => Ok(default),
    }
}

/// An optional `u32` count argument (`None` → `default`).
fn opt_u32(obj: Option<&Bound<'_, PyAny>>, field: &str, default: u32) -> PyResult<u32> {
    match obj {
        Some(o) if !o.is_none() => u32_arg(o, field),
        _ => Ok(default),
    }
}

/// A count argument that must fit a `u32` (days, cycles).
fn u32_arg(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<u32> {
    let n = count_arg(obj, field)?;
    u32::try_from(n).map_err(|_| {
        raise(
            obj.py(),
            Error::new(
                ErrorKind::LimitExceeded,
                field,
                format!("{field} {n} is too large"),
            ),
        )
    })
}

fn ids_to_py<'py>(py: Python<'py>, ids: Vec<std::sync::Arc<str>>) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, ids.iter().map(|s| s.as_ref()))
}

impl Engine {
    fn wrap(engine: upline::Engine) -> Engine {
        Engine {
            inner: Mutex::new(engine),
        }
    }

    fn lock(&self) -> upline::Result<MutexGuard<'_, upline::Engine>> {
        self.inner.lock().map_err(|_| poisoned())
    }

    /// Runs `f` on the engine for a change: without the GIL, under the
    /// lock. A panic inside `f` poisons the lock on purpose: the engine may
    /// be half-changed, so every later call refuses with `internal`.
    fn write<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut upline::Engine) -> upline::Result<T> + Send,
    ) -> PyResult<T> {
        guard::call(py, || {
            let mut engine = self.lock()?;
            f(&mut engine)
        })
    }

    /// Runs `f` on the engine for a query: without the GIL, under the lock.
    /// A panic here changes nothing and does not poison the lock.
    fn read<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&upline::Engine) -> upline::Result<T> + Send,
    ) -> PyResult<T> {
        guard::call(py, || {
            let engine = self.lock()?;
            guard::run(|| f(&engine))
        })
    }

    /// [`read`](Self::read) for the binding's other modules.
    pub(crate) fn read_engine<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&upline::Engine) -> upline::Result<T> + Send,
    ) -> PyResult<T> {
        self.read(py, f)
    }

    fn apply_value<'py>(&self, py: Python<'py>, value: Value) -> PyResult<Bound<'py, PyAny>> {
        let result = self.write(py, move |engine| {
            let event = Event::from_value(value)?;
            engine.apply(&event).map(|applied| applied.to_json_value())
        })?;
        convert::to_py(py, &result, Root::Applied)
    }
}

#[pymethods]
impl Engine {
    /// A fresh engine in memory, or with `path` an engine persisted in that
    /// SQLite file (created if missing; reopened: its snapshot and events
    /// are replayed and each checked against its stored hash). With `plan`,
    /// that plan is activated from the start of time (an idempotent retry
    /// when the store already has it in force).
    ///
    /// With `url` and `programme`, the engine is a replica of that
    /// programme's log in PostgreSQL, shared with other processes;
    /// `group_commit` (`"auto"`, the default, `"always"` or `"never"`)
    /// says when it hands single events to the lock's holder under
    /// contention.
    #[new]
    #[pyo3(signature = (path=None, *, plan=None, url=None, programme=None, group_commit=None))]
    fn new(
        py: Python<'_>,
        path: Option<&Bound<'_, PyAny>>,
        plan: Option<&Bound<'_, PyAny>>,
        url: Option<String>,
        programme: Option<String>,
        group_commit: Option<String>,
    ) -> PyResult<Engine> {
        let group_commit = match group_commit {
            Some(_) if url.is_none() => {
                return Err(raise(
                    py,
                    Error::new(
                        ErrorKind::Malformed,
                        "group_commit",
                        "group_commit needs a url (group commit is PostgreSQL's)",
                    ),
                ))
            }
            Some(mode) => Some(
                upline_postgres::GroupCommit::parse(&mode, "group_commit")
                    .map_err(|e| raise(py, e))?,
            ),
            None => None,
        };
        let plan = match plan.filter(|p| !p.is_none()) {
            Some(plan) => Some(conv(py, convert::to_json(plan, "plan", Root::PlanSpec))?),
            None => None,
        };
        let engine = Engine::open_any(py, path, url, programme, false, group_commit)?;
        let engine = match plan {
            None => engine,
            Some(plan) => guard::call(py, move || {
                let mut engine = engine;
                let event = Event::from_value(json!({
                    "type": "plan_activated",
                    "plan": plan,
                    "effective_from": upline::Timestamp::MIN.to_string(),
                }))?;
                engine.apply(&event)?;
                Ok(engine)
            })?,
        };
        Ok(Engine::wrap(engine))
    }

    /// A read-only replica of a store (`path` or `url` + `programme`):
    /// `refresh()` brings it up to date; every change raises `ReadOnly`.
    /// It creates nothing: a missing file, or a programme the database
    /// holds nothing of (never opened by a writer), raises `Storage`.
    #[classmethod]
    #[pyo3(signature = (path=None, *, url=None, programme=None))]
    fn follower(
        cls: &Bound<'_, PyType>,
        path: Option<&Bound<'_, PyAny>>,
        url: Option<String>,
        programme: Option<String>,
    ) -> PyResult<Engine> {
        let engine = Engine::open_any(cls.py(), path, url, programme, true, None)?;
        Ok(Engine::wrap(engine))
    }

    /// Applies what other processes appended to the store since this
    /// engine's head (each checked against its stored hash); returns the
    /// new head `{"seq", "hash"}` (releases the GIL).
    fn refresh<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value = self.write(py, |e| {
            serde_json::to_value(e.catch_up()?)
                .map_err(|err| Error::general(ErrorKind::Internal, err.to_string()))
        })?;
        convert::to_py(py, &value, Root::Head)
    }

    /// Verifies the whole stored chain by replay (releases the GIL).
    fn verify<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value = self.read(py, |e| {
            serde_json::to_value(e.verify()?)
                .map_err(|err| Error::general(ErrorKind::Internal, err.to_string()))
        })?;
        convert::to_py(py, &value, Root::Head)
    }

    /// Saves a snapshot in the store, so a later open replays only what
    /// follows it.
    fn save_snapshot(&self, py: Python<'_>) -> PyResult<()> {
        self.write(py, |e| e.save_snapshot())
    }

    /// Restores an engine from `snapshot()` text.
    #[classmethod]
    fn from_snapshot(cls: &Bound<'_, PyType>, snapshot: String) -> PyResult<Engine> {
        let engine = guard::call(cls.py(), move || {
            upline::Engine::from_snapshot_json(&snapshot)
        })?;
        Ok(Engine::wrap(engine))
    }

    /// Rebuilds an engine by applying `events` in order; raises on the
    /// first refused one.
    #[classmethod]
    fn replay(cls: &Bound<'_, PyType>, events: &Bound<'_, PyAny>) -> PyResult<Engine> {
        let py = cls.py();
        let values = event_list(events)?;
        let engine = guard::call(py, move || {
            let mut decoded = Vec::with_capacity(values.len());
            for (i, v) in values.into_iter().enumerate() {
                decoded.push(Event::from_value(v).map_err(|e| {
                    Error::general(e.kind(), format!("events[{i}]: {}", e.message()))
                })?);
            }
            upline::Engine::replay(decoded.iter())
        })?;
        Ok(Engine::wrap(engine))
    }

    /// Applies one event (a dict in the core's wire form).
    fn apply<'py>(&self, event: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = event.py();
        let value = conv(py, convert::to_json(event, "", Root::Event))?;
        self.apply_value(py, value)
    }

    /// Applies many events in one call; each slot is a result dict or
    /// `{"error": {"code", "message", "field"}}`. With `records=False` an
    /// applied slot is only `{"seq", "hash"}` (plus `"replayed": True` for a
    /// retry), so no per-line object is built.
    #[pyo3(signature = (events, *, records = true))]
    fn apply_batch<'py>(
        &self,
        events: &Bound<'py, PyAny>,
        records: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = events.py();
        let items = sequence(events)?;
        let n = items.len();
        let mut slots: Vec<Option<Result<Value, Error>>> = Vec::with_capacity(n);
        let mut values: Vec<(usize, Value)> = Vec::with_capacity(n);
        for (i, item) in items.iter().enumerate() {
            match convert::to_json(item, "", Root::Event) {
                Ok(v) => {
                    values.push((i, v));
                    slots.push(None);
                }
                Err(ConvError::Upline(e)) => slots.push(Some(Err(e))),
                Err(ConvError::Py(e)) => return Err(e),
            }
        }
        let results = self.write(py, move |engine| {
            let mut events = Vec::with_capacity(values.len());
            let mut positions = Vec::with_capacity(values.len());
            let mut out = Vec::with_capacity(values.len());
            for (i, v) in values {
                match Event::from_value(v) {
                    Ok(event) => {
                        events.push(event);
                        positions.push(i);
                    }
                    Err(e) => out.push((i, Err(e))),
                }
            }
            let applied = engine.apply_batch(&events)?;
            for (i, r) in positions.into_iter().zip(applied) {
                out.push((
                    i,
                    r.map(|a| if records { a.to_json_value() } else { lean(&a) }),
                ));
            }
            Ok(out)
        })?;
        for (i, r) in results {
            slots[i] = Some(r);
        }
        let list = PyList::empty(py);
        for slot in slots {
            match slot {
                Some(Ok(v)) => list.append(convert::to_py(py, &v, Root::Applied)?)?,
                Some(Err(e)) => list.append(crate::errors::to_dict(py, &e)?)?,
                None => {
                    return Err(raise(
                        py,
                        Error::general(ErrorKind::Internal, "a batch slot got no result"),
                    ))
                }
            }
        }
        Ok(list)
    }

    /// Applies a JSON array of events given as text; returns a JSON array
    /// text with one slot per event (the core's `apply_batch_json`). The
    /// text is parsed, applied and serialized without the GIL.
    #[pyo3(signature = (text, *, records = true))]
    fn apply_batch_json(&self, text: &Bound<'_, PyAny>, records: bool) -> PyResult<String> {
        let py = text.py();
        let backed = text_arg(text, "text")?;
        let text: &str = &backed;
        self.write(py, move |engine| engine.apply_batch_json(text, records))
    }

    /// `member`'s balances in `currency` as of `as_of`.
    fn balances<'py>(
        &self,
        member: &Bound<'py, PyAny>,
        currency: &Bound<'py, PyAny>,
        as_of: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = member.py();
        let member = str_arg(member, "member")?;
        let currency = str_arg(currency, "currency")?;
        let as_of = conv(py, convert::time_arg(as_of, "as_of"))?;
        let value = self.read(py, move |engine| {
            let balances = engine.balances(&member, &currency, &as_of)?;
            serde_json::to_value(balances)
                .map_err(|e| Error::general(ErrorKind::Internal, e.to_string()))
        })?;
        convert::to_py(py, &value, Root::Balances)
    }

    /// Up to `levels` ancestors of `member`, nearest first.
    fn upline<'py>(
        &self,
        member: &Bound<'py, PyAny>,
        levels: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = member.py();
        let member = str_arg(member, "member")?;
        let levels = count_arg(levels, "levels")?;
        let ids = self.read(py, move |e| e.upline(&member, levels))?;
        ids_to_py(py, ids)
    }

    /// `member`'s direct referrals, in the order they joined.
    fn direct_referrals<'py>(&self, member: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let py = member.py();
        let member = str_arg(member, "member")?;
        let ids = self.read(py, move |e| e.direct_referrals(&member))?;
        ids_to_py(py, ids)
    }

    /// Members below `member` at any depth.
    fn downline_size(&self, member: &Bound<'_, PyAny>) -> PyResult<u64> {
        let py = member.py();
        let member = str_arg(member, "member")?;
        self.read(py, move |e| e.downline_size(&member))
    }

    /// Members below `member` per level (index 0 = direct referrals).
    fn downline_levels(
        &self,
        member: &Bound<'_, PyAny>,
        max_levels: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<u64>> {
        let py = member.py();
        let member = str_arg(member, "member")?;
        let max_levels = count_arg(max_levels, "max_levels")?;
        self.read(py, move |e| e.downline_levels(&member, max_levels))
    }

    /// Number of ancestors of `member`.
    fn depth(&self, member: &Bound<'_, PyAny>) -> PyResult<usize> {
        let py = member.py();
        let member = str_arg(member, "member")?;
        self.read(py, move |e| e.depth(&member))
    }

    /// The subtree below `member` in Graphviz DOT.
    fn export_dot(
        &self,
        member: &Bound<'_, PyAny>,
        max_depth: &Bound<'_, PyAny>,
    ) -> PyResult<String> {
        let py = member.py();
        let member = str_arg(member, "member")?;
        let max_depth = count_arg(max_depth, "max_depth")?;
        self.read(py, move |e| e.export_dot(&member, max_depth))
    }

    /// The subtree below `member` as nested dicts.
    fn export_json<'py>(
        &self,
        member: &Bound<'py, PyAny>,
        max_depth: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = member.py();
        let member = str_arg(member, "member")?;
        let max_depth = count_arg(max_depth, "max_depth")?;
        let value = self.read(py, move |e| e.export_json(&member, max_depth))?;
        convert::to_py(py, &value, Root::TreeNode)
    }

    /// The distribution recorded for `sale`, or None.
    fn distribution_of<'py>(&self, sale: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = sale.py();
        let sale = str_arg(sale, "sale")?;
        let value = self.read(py, move |e| {
            Ok(match e.distribution_of(&sale) {
                Some(d) => serde_json::to_value(d)
                    .map_err(|err| Error::general(ErrorKind::Internal, err.to_string()))?,
                None => Value::Null,
            })
        })?;
        convert::to_py(py, &value, Root::Distribution)
    }

    /// The state of a prepared payout (`{"state": "reserved" | "settled" |
    /// "failed", ...}`), or None.
    fn payout_state<'py>(&self, payout: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = payout.py();
        let payout = str_arg(payout, "payout")?;
        let value = self.read(py, move |e| {
            Ok(match e.payout_state(&payout) {
                Some(s) => serde_json::to_value(s)
                    .map_err(|err| Error::general(ErrorKind::Internal, err.to_string()))?,
                None => Value::Null,
            })
        })?;
        convert::to_py(py, &value, Root::PayoutState)
    }

    /// Applies a `payouts_prepared` event and returns its result.
    #[pyo3(signature = (batch, as_of, policy=None))]
    fn prepare_payouts<'py>(
        &self,
        batch: &Bound<'py, PyAny>,
        as_of: &Bound<'py, PyAny>,
        policy: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = batch.py();
        let batch = str_arg(batch, "batch")?;
        let as_of = conv(py, convert::time_arg(as_of, "as_of"))?;
        let policy = match policy {
            Some(p) if !p.is_none() => conv(py, convert::to_json(p, "policy", Root::PayoutPolicy))?,
            _ => json!({}),
        };
        self.apply_value(
            py,
            json!({"type": "payouts_prepared", "batch": batch, "as_of": as_of, "policy": policy}),
        )
    }

    /// Applies a `plan_activated` event for `plan` (a `Plan` or a dict).
    fn activate_plan<'py>(
        &self,
        plan: &Bound<'py, PyAny>,
        effective_from: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = plan.py();
        let plan = conv(py, convert::to_json(plan, "plan", Root::PlanSpec))?;
        let from = conv(py, convert::time_arg(effective_from, "effective_from"))?;
        self.apply_value(
            py,
            json!({"type": "plan_activated", "plan": plan, "effective_from": from}),
        )
    }

    /// Per earner and currency: earned and paid in calendar year `year`.
    #[pyo3(signature = (year, thresholds=None))]
    fn tax_summary<'py>(
        &self,
        year: &Bound<'py, PyAny>,
        thresholds: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = year.py();
        let (year, limits) = books::year_and_thresholds(year, thresholds)?;
        let value = self.read(py, move |e| {
            let lines = e.tax_summary(year, &limits)?;
            serde_json::to_value(lines)
                .map_err(|err| Error::general(ErrorKind::Internal, err.to_string()))
        })?;
        convert::to_py(py, &value, Root::TaxSummary)
    }

    /// `tax_summary` as CSV text: a header row, then one row per earner
    /// and currency.
    #[pyo3(signature = (year, thresholds=None))]
    fn tax_summary_csv(
        &self,
        year: &Bound<'_, PyAny>,
        thresholds: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        books::tax_summary_csv(self, year, thresholds)
    }

    /// One page of `member`'s statement (see the stub).
    #[pyo3(signature = (member, *, currency=None, from_=None, to=None, as_of=None, after=None, limit=None))]
    #[allow(clippy::too_many_arguments)]
    fn statement<'py>(
        &self,
        member: &Bound<'py, PyAny>,
        currency: Option<&Bound<'py, PyAny>>,
        from_: Option<&Bound<'py, PyAny>>,
        to: Option<&Bound<'py, PyAny>>,
        as_of: Option<&Bound<'py, PyAny>>,
        after: Option<&Bound<'py, PyAny>>,
        limit: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = books::StatementArgs {
            currency,
            from: from_,
            to,
            as_of,
            after,
            limit,
        };
        books::statement(self, member, args)
    }

    /// The audit chain's head: `{"seq": int, "hash": hex str}`.
    fn audit_head<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value = self.read(py, |e| {
            serde_json::to_value(e.audit_head())
                .map_err(|err| Error::general(ErrorKind::Internal, err.to_string()))
        })?;
        convert::to_py(py, &value, Root::Head)
    }

    /// Streams the stored events with their audit hashes and records to a
    /// path or file object (see `crate::export`); returns the head.
    #[pyo3(signature = (path_or_file, format = "jsonl", from_seq = None, to_seq = None))]
    fn export_ledger<'py>(
        &self,
        path_or_file: &Bound<'py, PyAny>,
        format: &str,
        from_seq: Option<&Bound<'py, PyAny>>,
        to_seq: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::export::export_ledger(self, path_or_file, format, from_seq, to_seq)
    }

    /// The whole state as JSON text (for `Engine.from_snapshot`).
    fn snapshot(&self, py: Python<'_>) -> PyResult<String> {
        self.read(py, |e| Ok(e.snapshot_json()))
    }

    /// The members in `member`'s identity cluster (sharing a payment
    /// fingerprint, device, normalised e-mail or IP + user agent): `member`
    /// first, then the others in join order.
    fn identity_cluster<'py>(&self, member: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let py = member.py();
        let member = str_arg(member, "member")?;
        let ids = self.read(py, move |e| e.identity_cluster(&member))?;
        ids_to_py(py, ids)
    }

    /// Referral rings over the whole graph: groups of members whose merged
    /// identity clusters sponsor themselves through others.
    fn screening_rings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rings = self.read(py, |e| Ok(e.screening_rings()))?;
        let out = PyList::empty(py);
        for ring in rings {
            out.append(ids_to_py(py, ring)?)?;
        }
        Ok(out)
    }

    /// The top `limit` members by `metric` over `[from, to)`:
    /// `{"metric", "from", "to", "currency", "entries": [{"rank", "member",
    /// "value", "reached_at"}]}`. Metrics: `qualified_referrals`,
    /// `net_earnings` and `sales_volume` (both need `currency`),
    /// `downline_growth`.
    #[pyo3(signature = (metric, from_, to, limit=None, currency=None))]
    fn leaderboard<'py>(
        &self,
        metric: &Bound<'py, PyAny>,
        from_: &Bound<'py, PyAny>,
        to: &Bound<'py, PyAny>,
        limit: Option<&Bound<'py, PyAny>>,
        currency: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = metric.py();
        let metric = str_arg(metric, "metric")?;
        let from = conv(py, convert::time_arg(from_, "from"))?;
        let to = conv(py, convert::time_arg(to, "to"))?;
        let limit = opt_count(limit, "limit", upline::rewards::DEFAULT_LEADERBOARD_LIMIT)?;
        let currency = opt_str(currency, "currency")?;
        let value = self.read(py, move |e| {
            json_of(e.leaderboard(&metric, &from, &to, limit, currency.as_deref())?)
        })?;
        convert::to_py(py, &value, Root::Leaderboard)
    }

    /// A team challenge's progress per member and in total as of `as_of`.
    fn challenge_status<'py>(
        &self,
        id: &Bound<'py, PyAny>,
        as_of: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = id.py();
        let id = str_arg(id, "id")?;
        let as_of = conv(py, convert::time_arg(as_of, "as_of"))?;
        let value = self.read(py, move |e| json_of(e.challenge_status(&id, &as_of)?))?;
        convert::to_py(py, &value, Root::ChallengeStatus)
    }

    /// The milestone awards `member` holds.
    fn awards<'py>(&self, member: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = member.py();
        let member = str_arg(member, "member")?;
        let value = self.read(py, move |e| json_of(e.awards(&member)?))?;
        convert::to_py(py, &value, Root::Awards)
    }

    /// Growth metrics of one member; earnings also over `[from_, to)` when
    /// given.
    #[pyo3(signature = (member, from_=None, to=None))]
    fn member_metrics<'py>(
        &self,
        member: &Bound<'py, PyAny>,
        from_: Option<&Bound<'py, PyAny>>,
        to: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = member.py();
        let member = str_arg(member, "member")?;
        let from = opt_time(from_, "from")?;
        let to = opt_time(to, "to")?;
        let value = self.read(py, move |e| {
            json_of(e.member_metrics(&member, from.as_deref(), to.as_deref())?)
        })?;
        convert::to_py(py, &value, Root::MemberMetrics)
    }

    /// Network metrics: members by status, depth histogram, max depth,
    /// mean branching factor.
    fn network_metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value = self.read(py, |e| json_of(e.network_metrics()))?;
        convert::to_py(py, &value, Root::NetworkMetrics)
    }

    /// The viral coefficient K per join cohort and overall, and the viral
    /// cycle time. K and days are floats (statistics, not money).
    #[pyo3(signature = (window_days=None, cohort_days=None, from_=None, to=None))]
    fn viral_coefficient<'py>(
        &self,
        py: Python<'py>,
        window_days: Option<&Bound<'py, PyAny>>,
        cohort_days: Option<&Bound<'py, PyAny>>,
        from_: Option<&Bound<'py, PyAny>>,
        to: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let window = opt_u32(
            window_days,
            "window_days",
            upline::metrics::DEFAULT_WINDOW_DAYS,
        )?;
        let cohort = opt_u32(
            cohort_days,
            "cohort_days",
            upline::metrics::DEFAULT_WINDOW_DAYS,
        )?;
        let from = opt_time(from_, "from")?;
        let to = opt_time(to, "to")?;
        let value = self.read(py, move |e| {
            json_of(e.viral_coefficient(window, cohort, from.as_deref(), to.as_deref())?)
        })?;
        convert::to_py(py, &value, Root::ViralReport)
    }

    /// A branching-process projection of network size over `cycles` from
    /// the measured K and cycle time (`seed` defaults to the member count).
    #[pyo3(signature = (cycles, window_days=None, seed=None))]
    fn projection<'py>(
        &self,
        cycles: &Bound<'py, PyAny>,
        window_days: Option<&Bound<'py, PyAny>>,
        seed: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = cycles.py();
        let cycles = u32_arg(cycles, "cycles")?;
        let window = opt_u32(
            window_days,
            "window_days",
            upline::metrics::DEFAULT_WINDOW_DAYS,
        )?;
        let seed = match seed {
            Some(s) if !s.is_none() => Some(count_arg(s, "seed")? as u64),
            _ => None,
        };
        let value = self.read(py, move |e| json_of(e.projection(window, cycles, seed)?))?;
        convert::to_py(py, &value, Root::Projection)
    }

    /// `member`'s subtree (breadth first, bounded) as nested dicts with
    /// lifetime earnings per currency on every node.
    #[pyo3(signature = (member, max_depth, max_nodes=None))]
    fn export_subtree_json<'py>(
        &self,
        member: &Bound<'py, PyAny>,
        max_depth: &Bound<'py, PyAny>,
        max_nodes: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = member.py();
        let member = str_arg(member, "member")?;
        let depth = count_arg(max_depth, "max_depth")?;
        let nodes = opt_count(
            max_nodes,
            "max_nodes",
            upline::metrics::DEFAULT_EXPORT_NODES,
        )?;
        let value = self.read(py, move |e| e.export_subtree_json(&member, depth, nodes))?;
        convert::to_py(py, &value, Root::SubtreeExport)
    }

    /// The same subtree as Graphviz DOT, earnings in the node labels.
    #[pyo3(signature = (member, max_depth, max_nodes=None))]
    fn export_subtree_dot(
        &self,
        member: &Bound<'_, PyAny>,
        max_depth: &Bound<'_, PyAny>,
        max_nodes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let py = member.py();
        let member = str_arg(member, "member")?;
        let depth = count_arg(max_depth, "max_depth")?;
        let nodes = opt_count(
            max_nodes,
            "max_nodes",
            upline::metrics::DEFAULT_EXPORT_NODES,
        )?;
        self.read(py, move |e| e.export_subtree_dot(&member, depth, nodes))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let head = self.read(py, |e| Ok(e.audit_head()))?;
        Ok(format!("<upline.Engine seq={}>", head.seq))
    }

    /// Test hook: panics inside a changing call, to prove a panic becomes
    /// `upline.Internal` and stops the engine. Not part of the API.
    fn _debug_panic(&self, py: Python<'_>) -> PyResult<()> {
        self.write(py, |_| -> upline::Result<()> {
            panic!("debug panic requested by a test")
        })
    }
}

/// A list or tuple of items.
fn sequence<'py>(events: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    if let Ok(list) = events.cast::<PyList>() {
        return check_len(events.py(), list.iter().collect());
    }
    if let Ok(tuple) = events.cast::<PyTuple>() {
        return check_len(events.py(), tuple.iter().collect());
    }
    Err(raise(
        events.py(),
        Error::new(
            ErrorKind::Malformed,
            "events",
            format!("events must be a list or tuple, not {}", type_name(events)),
        ),
    ))
}

fn check_len<'py>(
    py: Python<'py>,
    items: Vec<Bound<'py, PyAny>>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let limit = upline::limits::MAX_BATCH;
    if items.len() > limit {
        return Err(raise(
            py,
            Error::new(
                ErrorKind::LimitExceeded,
                "events",
                format!("a batch of {} events; the limit is {limit}", items.len()),
            ),
        ));
    }
    Ok(items)
}

/// A list of events, converted; the first bad one raises.
pub(crate) fn event_list(events: &Bound<'_, PyAny>) -> PyResult<Vec<Value>> {
    let py = events.py();
    let items = sequence(events)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(conv(
            py,
            convert::to_json(item, &format!("events[{i}]"), Root::Event),
        )?);
    }
    Ok(out)
}

/// The lean form of an applied event: its place in the audit chain only.
fn lean(applied: &upline::Applied) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("seq".into(), Value::from(applied.seq));
    map.insert("hash".into(), Value::String(applied.hash.to_hex()));
    if applied.replayed {
        map.insert("replayed".into(), Value::Bool(true));
    }
    Value::Object(map)
}

impl Engine {
    /// An engine in memory, on the SQLite file `path`, or on `programme`
    /// in the PostgreSQL database at `url`.
    fn open_any(
        py: Python<'_>,
        path: Option<&Bound<'_, PyAny>>,
        url: Option<String>,
        programme: Option<String>,
        follower: bool,
        group_commit: Option<upline_postgres::GroupCommit>,
    ) -> PyResult<upline::Engine> {
        let path = path.filter(|p| !p.is_none());
        let open = move |store: Box<dyn upline::Store>| {
            if follower {
                upline::Engine::open_follower(store)
            } else {
                upline::Engine::open(store)
            }
        };
        match (path, url, programme) {
            (Some(_), Some(_), _) => Err(raise(
                py,
                Error::new(
                    ErrorKind::Malformed,
                    "url",
                    "give path (SQLite) or url (PostgreSQL), not both",
                ),
            )),
            (None, None, Some(_)) => Err(raise(
                py,
                Error::new(ErrorKind::Malformed, "programme", "programme needs a url"),
            )),
            (None, Some(_), None) => Err(raise(
                py,
                Error::new(
                    ErrorKind::InvalidId,
                    "programme",
                    "a PostgreSQL store needs programme=\"…\" (one database holds many)",
                ),
            )),
            (None, Some(url), Some(programme)) => guard::call(py, move || {
                // A follower never writes: it registers no programme,
                // so a mistyped one is an error, not a new empty one.
                let mut store = match follower {
                    true => upline_postgres::PostgresStore::open_existing(&url, &programme)?,
                    false => upline_postgres::PostgresStore::open(&url, &programme)?,
                };
                if let Some(mode) = group_commit {
                    store.set_group_commit(mode);
                }
                open(Box::new(store))
            }),
            (Some(path), None, _) => {
                let path = Engine::fspath(path)?;
                guard::call(py, move || {
                    // A follower never writes: it reads the file read-only,
                    // so a mistyped path is an error, not a new empty store.
                    if follower {
                        open(Box::new(upline_sqlite::SqliteStore::open_read_only(&path)?))
                    } else {
                        open(Box::new(upline_sqlite::SqliteStore::open(&path)?))
                    }
                })
            }
            (None, None, None) if follower => Err(raise(
                py,
                Error::general(
                    ErrorKind::Storage,
                    "a follower needs a store: path (SQLite) or url and programme (PostgreSQL)",
                ),
            )),
            (None, None, None) => Ok(upline::Engine::new()),
        }
    }

    /// `os.fspath(path)` as a Rust string.
    fn fspath(path: &Bound<'_, PyAny>) -> PyResult<String> {
        let py = path.py();
        let fspath = py
            .import("os")?
            .getattr("fspath")?
            .call1((path,))
            .map_err(|_| {
                raise(
                    py,
                    Error::new(
                        ErrorKind::Malformed,
                        "path",
                        format!("path must be a str or os.PathLike, not {}", type_name(path)),
                    ),
                )
            })?;
        str_arg(&fspath, "path")
    }
}
