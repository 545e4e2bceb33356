//! `upline`: the operator's command for Upline books.
//!
//! It verifies a store, prints its head, exports it for an auditor, shows a
//! member's statement or balances, writes a tax summary, saves a snapshot
//! and replays a JSON-lines event log (or an export) into a new store (or
//! an empty PostgreSQL programme). It owns the command line, the output
//! formats and the exit codes; every rule stays in the `upline` crate. A
//! store is a SQLite path, or a PostgreSQL URL with `--programme NAME`
//! (see `source`); a URL is never printed, since it may hold a password.
//!
//! Exit codes: 0 ok; 1 the books do not verify (the message names the
//! event); 2 a usage or storage error, or a refused query (the message
//! starts with the error's stable code).

mod output;
mod source;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use upline::engine::export_store;
use upline::{
    Engine, Error, ErrorKind, Event, ExportFormat, Hash, StatementQuery, Store, StoredEvent,
    Timestamp,
};

use crate::output::Table;
use crate::source::Books;

/// Read and check Upline books.
#[derive(Debug, Parser)]
#[command(name = "upline", version, about, long_about = None)]
struct Cli {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The programme (tenant) whose log to read (or, for `replay`, fill),
    /// when STORE is a PostgreSQL URL
    /// (`postgresql://user:password@host:port/db`, or `key=value` pairs).
    #[arg(long, global = true)]
    programme: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Aligned columns for people.
    Table,
    /// JSON, as the bindings return it.
    Json,
    /// CSV with a header row; amounts as exact decimal strings.
    Csv,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay every stored event and check each audit hash.
    Verify {
        /// The SQLite store, or a PostgreSQL URL with --programme.
        store: PathBuf,
    },
    /// Print the head the store claims: the last sequence number and its
    /// audit hash (run `verify` to check it).
    Head {
        /// The SQLite store, or a PostgreSQL URL with --programme.
        store: PathBuf,
    },
    /// Stream the stored events with their audit hashes and records, for
    /// an auditor: JSON Lines, or CSV with `--format csv`.
    Export {
        /// The SQLite store, or a PostgreSQL URL with --programme.
        store: PathBuf,
        /// Write here instead of to stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// First event to export (default 1).
        #[arg(long)]
        from_seq: Option<u64>,
        /// Last event to export (default: the head).
        #[arg(long)]
        to_seq: Option<u64>,
    },
    /// One page of a member's statement, oldest first.
    Statement {
        /// The SQLite store, or a PostgreSQL URL with --programme.
        store: PathBuf,
        /// The member.
        member: String,
        /// Only this currency.
        #[arg(long)]
        currency: Option<String>,
        /// Only entries dated at or after this instant (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Only entries dated before this instant (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// States as of this instant (RFC 3339; default: after every entry).
        #[arg(long)]
        as_of: Option<String>,
        /// The cursor printed after the previous page.
        #[arg(long)]
        after: Option<String>,
        /// Entries on the page.
        #[arg(long, default_value_t = upline::limits::DEFAULT_STATEMENT_PAGE)]
        limit: usize,
    },
    /// A member's balances, per currency.
    Balances {
        /// The SQLite store, or a PostgreSQL URL with --programme.
        store: PathBuf,
        /// The member.
        member: String,
        /// Only this currency (default: every currency it has entries in).
        #[arg(long)]
        currency: Option<String>,
        /// As of this instant (RFC 3339; default: now).
        #[arg(long)]
        as_of: Option<String>,
    },
    /// The tax summary of a calendar year (UTC).
    Tax {
        /// The SQLite store, or a PostgreSQL URL with --programme.
        store: PathBuf,
        /// The year.
        year: i32,
        /// A reporting threshold, `CURRENCY=AMOUNT` (repeatable).
        #[arg(long = "threshold", value_name = "CURRENCY=AMOUNT")]
        thresholds: Vec<String>,
    },
    /// Save a snapshot in the store, so the next open replays less.
    Snapshot {
        /// The SQLite store, or a PostgreSQL URL with --programme.
        store: PathBuf,
    },
    /// Apply a JSON-lines event log (one event a line) to a new store, or
    /// to an empty PostgreSQL programme.
    Replay {
        /// The log.
        log: PathBuf,
        /// The new SQLite store (must not exist), or a PostgreSQL URL with
        /// --programme (a programme with no events; a refused line stores
        /// nothing).
        store: PathBuf,
    },
}

/// Why a command failed, and its exit code.
enum Failure {
    /// The books do not verify: exit 1.
    Verification(String),
    /// Usage, storage, or a refused query: exit 2.
    Error(String),
    /// The reader of stdout went away (`upline … | head`): it chose to stop
    /// reading, so exit 0 without a message, as other command-line tools.
    Closed,
}

/// Writes to stdout; a failed write is a [`Failure`], never a panic
/// (`println!` panics on a closed pipe or a full disk).
macro_rules! out {
    ($($arg:tt)*) => {
        write!(std::io::stdout().lock(), $($arg)*).map_err(output_failed)?
    };
}

/// Like [`out!`] with a newline.
macro_rules! outln {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(output_failed)?
    };
}

fn output_failed(err: std::io::Error) -> Failure {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        Failure::Closed
    } else {
        Failure::Error(format!("storage: cannot write the output: {err}"))
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        if err.kind() == ErrorKind::Tampered {
            Failure::Verification(err.to_string())
        } else {
            Failure::Error(err.to_string())
        }
    }
}

type Outcome = Result<(), Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Verification(message)) => {
            eprintln!("upline: verification failed: {message}");
            ExitCode::from(1)
        }
        Err(Failure::Error(message)) => {
            eprintln!("upline: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Closed) => ExitCode::SUCCESS,
    }
}

fn run(cli: Cli) -> Outcome {
    let format = cli.format;
    let programme = cli.programme;
    let books = |store: PathBuf| Books::from_arg(store, programme.clone());
    match cli.command {
        Command::Verify { store } => verify(&books(store)?, format),
        Command::Head { store } => head(&books(store)?, format),
        Command::Export {
            store,
            output,
            from_seq,
            to_seq,
        } => export(&books(store)?, output.as_deref(), from_seq, to_seq, format),
        Command::Statement {
            store,
            member,
            currency,
            from,
            to,
            as_of,
            after,
            limit,
        } => {
            let engine = open(&books(store)?)?;
            let query = StatementQuery {
                currency,
                from,
                to,
                as_of,
                after,
                limit,
            };
            statement(&engine, &member, &query, format)
        }
        Command::Balances {
            store,
            member,
            currency,
            as_of,
        } => balances(&open(&books(store)?)?, &member, currency, as_of, format),
        Command::Tax {
            store,
            year,
            thresholds,
        } => tax(&open(&books(store)?)?, year, &thresholds, format),
        Command::Snapshot { store } => {
            let mut engine = Engine::open(books(store)?.open_writable()?)?;
            engine.save_snapshot()?;
            let head = engine.audit_head();
            print_head(head.seq, &head.hash, format)?;
            Ok(())
        }
        Command::Replay { log, store } => match books(store)? {
            Books::Sqlite(store) => replay(&log, &store, format),
            Books::Postgres { url, programme } => replay_postgres(&log, &url, &programme, format),
        },
    }
}

/// A progress bar on stderr when stderr is a terminal, else nothing.
fn progress(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({per_sec}, {eta})")
    {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}

/// Opens the books in an engine (snapshot, then the events after it,
/// each checked against its stored hash).
fn open(books: &Books) -> Result<Engine, Failure> {
    Ok(Engine::open(books.open()?)?)
}

/// A store that advances a progress bar as events are read.
struct Counted {
    inner: Box<dyn Store>,
    bar: ProgressBar,
}

impl std::fmt::Debug for Counted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counted")
            .field("inner", &self.inner)
            .finish()
    }
}

impl Store for Counted {
    fn append(&mut self, _: &[StoredEvent]) -> upline::Result<()> {
        Err(Error::general(
            ErrorKind::Storage,
            "verification does not write to the store",
        ))
    }

    fn scan(
        &self,
        from: u64,
        visit: &mut dyn FnMut(StoredEvent) -> upline::Result<()>,
    ) -> upline::Result<()> {
        self.inner.scan(from, &mut |event| {
            self.bar.inc(1);
            visit(event)
        })
    }

    fn hash_at(&self, seq: u64) -> upline::Result<Option<Hash>> {
        self.inner.hash_at(seq)
    }

    fn audit_format(&self) -> upline::Result<u32> {
        self.inner.audit_format()
    }

    fn latest_snapshot(&self) -> upline::Result<Option<(u64, String)>> {
        self.inner.latest_snapshot()
    }

    fn save_snapshot(&mut self, _: u64, _: &str) -> upline::Result<()> {
        Err(Error::general(
            ErrorKind::Storage,
            "verification does not write to the store",
        ))
    }
}

/// The last stored event's sequence number and hash.
fn stored_head(store: &dyn Store) -> upline::Result<(u64, Hash)> {
    let mut last = (0, Hash::ZERO);
    // Sequence numbers run 1, 2, … without gaps: find the last by doubling,
    // then bisecting, each probe one indexed read.
    let mut low = 0u64;
    let mut high = 1u64;
    while store.hash_at(high)?.is_some() {
        low = high;
        high = high.saturating_mul(2);
    }
    while low + 1 < high {
        let mid = low + (high - low) / 2;
        if store.hash_at(mid)?.is_some() {
            low = mid;
        } else {
            high = mid;
        }
    }
    if let Some(hash) = store.hash_at(low)? {
        last = (low, hash);
    }
    Ok(last)
}

fn verify(books: &Books, format: Format) -> Outcome {
    let store = books.open()?;
    let (len, _) = stored_head(store.as_ref())?;
    let bar = progress(len, "verify");
    let counted = Counted {
        inner: store,
        bar: bar.clone(),
    };
    let verified = upline::engine::verify_store(&counted)?;
    bar.finish_and_clear();
    match verified {
        Ok(head) => {
            match format {
                Format::Table => outln!("ok: {} events verified, head {}", head.seq, head.hash),
                _ => print_head(head.seq, &head.hash, format)?,
            }
            Ok(())
        }
        Err(at) => Err(Failure::Verification(format!(
            "event {} does not match its stored audit hash (it, or an event before it, was changed)",
            at.seq
        ))),
    }
}

fn export(
    books: &Books,
    output: Option<&Path>,
    from_seq: Option<u64>,
    to_seq: Option<u64>,
    format: Format,
) -> Outcome {
    let format = match format {
        Format::Csv => ExportFormat::Csv,
        Format::Json | Format::Table => ExportFormat::JsonLines,
    };
    let store = books.open()?;
    let (len, _) = stored_head(store.as_ref())?;
    let bar = progress(len, "export");
    let counted = Counted {
        inner: store,
        bar: bar.clone(),
    };
    let head = match output {
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|e| {
                Failure::Error(format!("storage: cannot create {}: {e}", path.display()))
            })?;
            let mut writer = std::io::BufWriter::new(file);
            let head = export_store(&counted, &mut writer, format, from_seq, to_seq)?;
            writer.flush().map_err(|e| {
                Failure::Error(format!("storage: cannot write {}: {e}", path.display()))
            })?;
            head
        }
        None => {
            let stdout = std::io::stdout();
            let mut writer = std::io::BufWriter::new(stdout.lock());
            let head = export_store(&counted, &mut writer, format, from_seq, to_seq)?;
            writer
                .flush()
                .map_err(|e| Failure::Error(format!("storage: cannot write the export: {e}")))?;
            head
        }
    };
    bar.finish_and_clear();
    if output.is_some() {
        eprintln!("exported to head {} {}", head.seq, head.hash);
    }
    Ok(())
}

fn print_head(seq: u64, hash: &Hash, format: Format) -> Outcome {
    match format {
        Format::Table => outln!("{seq} {hash}"),
        Format::Json => outln!("{}", serde_json::json!({"seq": seq, "hash": hash.to_hex()})),
        Format::Csv => outln!("seq,hash\n{seq},{hash}"),
    }
    Ok(())
}

fn head(books: &Books, format: Format) -> Outcome {
    let store = books.open()?;
    let (seq, hash) = stored_head(store.as_ref())?;
    print_head(seq, &hash, format)?;
    Ok(())
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(value)
        .map_err(|e| Failure::Error(format!("internal: cannot write JSON: {e}")))
}

fn statement(engine: &Engine, member: &str, query: &StatementQuery, format: Format) -> Outcome {
    let page = engine.statement(member, query)?;
    match format {
        Format::Json => outln!("{}", to_json(&page)?),
        Format::Csv => {
            out!("{}", page.to_csv());
            if let Some(next) = &page.next {
                eprintln!("more: --after {next}");
            }
        }
        Format::Table => {
            let mut table = Table::new([
                "seq", "at", "kind", "amount", "cur", "state", "source", "level", "rate",
            ]);
            for line in &page.entries {
                table.row([
                    line.seq.to_string(),
                    line.at.to_string(),
                    upline::statement::kind_name(line.kind).to_string(),
                    line.amount.to_string(),
                    line.currency.code().to_string(),
                    line.state.as_str().to_string(),
                    format!("{} {}", line.source.kind.as_str(), line.source.id),
                    line.level.map(|l| l.to_string()).unwrap_or_default(),
                    line.rate.map(|r| r.to_string()).unwrap_or_default(),
                ]);
            }
            out!("{table}");
            if let Some(next) = &page.next {
                outln!("more: --after {next}");
            }
        }
    }
    Ok(())
}

fn now() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp::from_millis(millis)
        .unwrap_or(Timestamp::MAX)
        .to_string()
}

fn balances(
    engine: &Engine,
    member: &str,
    currency: Option<String>,
    as_of: Option<String>,
    format: Format,
) -> Outcome {
    let index = engine.graph().require(member, "member")?;
    let currencies: Vec<String> = match currency {
        Some(code) => vec![code],
        None => {
            let mut codes: Vec<String> = engine
                .ledger()
                .earner_entries(index)
                .map(|e| e.currency.code().to_string())
                .collect();
            codes.sort();
            codes.dedup();
            codes
        }
    };
    let as_of = as_of.unwrap_or_else(now);
    let mut rows = Vec::new();
    for code in &currencies {
        rows.push((code, engine.balances(member, code, &as_of)?));
    }
    let header = [
        "currency",
        "pending",
        "available",
        "held",
        "reserved",
        "paid",
    ];
    let cells = |(code, b): &(&String, upline::Balances)| {
        [
            code.to_string(),
            b.pending.to_string(),
            b.available.to_string(),
            b.held.to_string(),
            b.reserved.to_string(),
            b.paid.to_string(),
        ]
    };
    match format {
        Format::Json => {
            let map: BTreeMap<&String, &upline::Balances> =
                rows.iter().map(|(c, b)| (*c, b)).collect();
            outln!(
                "{}",
                to_json(&serde_json::json!({"member": member, "as_of": as_of, "balances": map}))?
            );
        }
        Format::Csv => {
            outln!("{}", header.join(","));
            for row in &rows {
                outln!("{}", cells(row).join(","));
            }
        }
        Format::Table => {
            let mut table = Table::new(header);
            for row in &rows {
                table.row(cells(row));
            }
            out!("{table}");
            outln!("as of {as_of}");
        }
    }
    Ok(())
}

fn tax(engine: &Engine, year: i32, thresholds: &[String], format: Format) -> Outcome {
    let mut limits = BTreeMap::new();
    for pair in thresholds {
        let Some((code, amount)) = pair.split_once('=') else {
            return Err(Failure::Error(format!(
                "invalid_amount: --threshold {pair:?} is not CURRENCY=AMOUNT"
            )));
        };
        limits.insert(code.to_string(), amount.to_string());
    }
    match format {
        Format::Csv => out!("{}", engine.tax_summary_csv(year, &limits)?),
        Format::Json => outln!("{}", to_json(&engine.tax_summary(year, &limits)?)?),
        Format::Table => {
            let mut table = Table::new(["earner", "currency", "earned", "paid", "threshold"]);
            for line in engine.tax_summary(year, &limits)? {
                table.row([
                    line.earner.to_string(),
                    line.currency.clone(),
                    line.earned.to_string(),
                    line.paid.to_string(),
                    if line.reaches_threshold {
                        "reached"
                    } else {
                        ""
                    }
                    .to_string(),
                ]);
            }
            out!("{table}");
        }
    }
    Ok(())
}

/// Events applied per durable commit while replaying.
const REPLAY_BATCH: usize = 10_000;

/// Replays `log` into a new store at `path`, written beside it first and
/// renamed into place only when every event applied: a refused event
/// leaves no store behind.
fn replay(log: &Path, path: &Path, format: Format) -> Outcome {
    let file = std::fs::File::open(log)
        .map_err(|e| Failure::Error(format!("storage: cannot read {}: {e}", log.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    Books::check_new(path)?;
    let partial = path.with_extension("partial");
    let result = replay_into(BufReader::new(file), size, &partial);
    match result {
        Ok((events, head_seq, head_hash)) => {
            std::fs::rename(&partial, path).map_err(|e| {
                Failure::Error(format!(
                    "storage: cannot move the new store into place: {e}"
                ))
            })?;
            match format {
                Format::Table => outln!(
                    "replayed {events} events into {}: head {head_seq} {head_hash}",
                    path.display()
                ),
                _ => print_head(head_seq, &head_hash, format)?,
            }
            Ok(())
        }
        Err(failure) => {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = partial.clone().into_os_string();
                name.push(suffix);
                std::fs::remove_file(name).ok();
            }
            Err(failure)
        }
    }
}

fn replay_into(
    reader: impl BufRead,
    size: u64,
    partial: &Path,
) -> Result<(u64, u64, Hash), Failure> {
    let store = Books::create(partial)?;
    replay_engine(Engine::open(Box::new(store))?, reader, size)
}

/// Opens `log`: the reader and its size.
fn open_log(log: &Path) -> Result<(BufReader<std::fs::File>, u64), Failure> {
    let file = std::fs::File::open(log)
        .map_err(|e| Failure::Error(format!("storage: cannot read {}: {e}", log.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((BufReader::new(file), size))
}

/// Replays `log` into `programme`, which must hold no events. The log is
/// first applied in memory, so a refused line stores nothing; then into
/// the programme, in batches of [`REPLAY_BATCH`]. A server that takes no
/// writes refuses the first batch (`storage`), nothing stored.
fn replay_postgres(log: &Path, url: &str, programme: &str, format: Format) -> Outcome {
    let (reader, size) = open_log(log)?;
    replay_engine(Engine::new(), reader, size)?;
    let engine = Engine::open(Box::new(upline_postgres::PostgresStore::open(
        url, programme,
    )?))?;
    let stored = engine.audit_head().seq;
    if stored > 0 {
        return Err(Failure::Error(format!(
            "storage: programme {programme:?} already holds {stored} events; replay fills an \
             empty programme (nothing was changed)"
        )));
    }
    let (reader, size) = open_log(log)?;
    let (events, head_seq, head_hash) = replay_engine(engine, reader, size)?;
    match format {
        Format::Table => outln!(
            "replayed {events} events into programme {programme}: head {head_seq} {head_hash}"
        ),
        _ => print_head(head_seq, &head_hash, format)?,
    }
    Ok(())
}

/// Applies every event of `reader` (a JSON-lines log of `size` bytes) to
/// `engine`, a refused line ending it: the count and the head.
fn replay_engine(
    mut engine: Engine,
    reader: impl BufRead,
    size: u64,
) -> Result<(u64, u64, Hash), Failure> {
    let bar = progress(size, "replay");
    let mut batch: Vec<Event> = Vec::with_capacity(REPLAY_BATCH);
    let mut lines: Vec<usize> = Vec::with_capacity(REPLAY_BATCH);
    let mut count = 0u64;
    let mut flush = |engine: &mut Engine, batch: &mut Vec<Event>, lines: &mut Vec<usize>| {
        let results = engine.apply_batch(batch)?;
        for (result, line) in results.into_iter().zip(lines.iter()) {
            if let Err(err) = result {
                return Err(Failure::Error(format!("line {line}: {err}")));
            }
        }
        count += batch.len() as u64;
        batch.clear();
        lines.clear();
        Ok(())
    };
    for (number, line) in reader.lines().enumerate() {
        let number = number + 1;
        let line = line.map_err(|e| Failure::Error(format!("storage: line {number}: {e}")))?;
        bar.inc(line.len() as u64 + 1);
        if line.trim().is_empty() {
            continue;
        }
        let Some(event) =
            decode_line(&line).map_err(|err| Failure::Error(format!("line {number}: {err}")))?
        else {
            continue;
        };
        batch.push(event);
        lines.push(number);
        if batch.len() == REPLAY_BATCH {
            flush(&mut engine, &mut batch, &mut lines)?;
        }
    }
    flush(&mut engine, &mut batch, &mut lines)?;
    bar.finish_and_clear();
    let head = engine.audit_head();
    drop(engine);
    std::io::stdout().flush().ok();
    Ok((count, head.seq, head.hash))
}

/// One log line: an event, or an object carrying one under `event` (an
/// `upline export` line); the header and trailer of an export (objects
/// with `format` or `head`) carry none.
fn decode_line(line: &str) -> upline::Result<Option<Event>> {
    let value: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| Error::general(ErrorKind::Malformed, format!("not JSON: {e}")))?;
    match value {
        serde_json::Value::Object(mut object) if !object.contains_key("type") => {
            match object.remove("event") {
                Some(event) => Event::from_value(event).map(Some),
                None if object.contains_key("format") || object.contains_key("head") => Ok(None),
                None => Err(Error::general(
                    ErrorKind::Malformed,
                    "an object with neither \"type\" nor \"event\"",
                )),
            }
        }
        value => Event::from_value(value).map(Some),
    }
}
