//! Where the books are: opening a store for a command.
//!
//! A store is a SQLite file, or a programme's log in PostgreSQL: a
//! `postgresql://` (or `postgres://`) URL, or a libpq `key=value`
//! connection string, in place of the path, with `--programme NAME`. The
//! URL may hold a password, so it is never printed: messages name the
//! host and the reason only (the adapter's errors do the
//! same), and [`Books`]'s `Debug` leaves it out.

use std::fmt;
use std::path::{Path, PathBuf};

use upline::{Error, ErrorKind, Result, Store};
use upline_postgres::PostgresStore;
use upline_sqlite::SqliteStore;

/// The books a command reads or writes.
#[derive(Clone)]
pub enum Books {
    /// An Upline SQLite store.
    Sqlite(PathBuf),
    /// One programme's log in PostgreSQL.
    Postgres {
        /// The connection URL (secret: never printed).
        url: String,
        /// The programme (tenant) id.
        programme: String,
    },
}

impl fmt::Debug for Books {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Books::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Books::Postgres { programme, .. } => f
                .debug_struct("Postgres")
                .field("programme", programme)
                .finish_non_exhaustive(),
        }
    }
}

/// Keys of a libpq `key=value` connection string that no SQLite path
/// starts a word with.
const CONNECTION_KEYS: [&str; 6] = [
    "host=",
    "hostaddr=",
    "port=",
    "dbname=",
    "user=",
    "password=",
];

/// Whether a store argument is a PostgreSQL URL, or a libpq `key=value`
/// connection string (`host=db user=ops password=… dbname=books`), rather
/// than a path. Either may hold a password, so neither is ever printed.
pub fn is_url(store: &Path) -> bool {
    store.to_str().is_some_and(|s| {
        s.starts_with("postgresql://")
            || s.starts_with("postgres://")
            || s.split_whitespace()
                .any(|word| CONNECTION_KEYS.iter().any(|key| word.starts_with(key)))
    })
}

impl Books {
    /// The books a command names: a SQLite path, or a PostgreSQL URL with
    /// `programme`. A URL without a programme, or a programme with a path,
    /// is a usage error (`malformed`); neither message repeats the URL.
    pub fn from_arg(store: PathBuf, programme: Option<String>) -> Result<Books> {
        match (is_url(&store), programme) {
            (true, Some(programme)) => Ok(Books::Postgres {
                url: store.to_string_lossy().into_owned(),
                programme,
            }),
            (true, None) => Err(Error::general(
                ErrorKind::Malformed,
                "a PostgreSQL URL needs --programme NAME (one database holds many programmes)",
            )),
            (false, Some(_)) => Err(Error::general(
                ErrorKind::Malformed,
                "--programme goes with a PostgreSQL URL, not a SQLite path",
            )),
            (false, None) => Ok(Books::Sqlite(store)),
        }
    }

    /// Opens existing books for reading: a SQLite file is opened
    /// read-only, so no read command writes to it (not even to migrate an
    /// older schema). A path that does not exist is a `storage` error; so
    /// is a PostgreSQL programme the database holds nothing of (a
    /// mistyped name is not read as an empty programme), and nothing is
    /// created or registered, so reads work on a standby or a read-only
    /// database.
    pub fn open(&self) -> Result<Box<dyn Store>> {
        match self {
            Books::Sqlite(path) => {
                Books::check_exists(path)?;
                Ok(Box::new(SqliteStore::open_read_only(path)?))
            }
            Books::Postgres { .. } => self.open_writable(),
        }
    }

    /// Opens existing books for writing (`upline snapshot`); a path that
    /// does not exist, or a programme the database holds nothing of, is a
    /// `storage` error (SQLite would otherwise create an empty store
    /// there, PostgreSQL register an empty programme).
    pub fn open_writable(&self) -> Result<Box<dyn Store>> {
        match self {
            Books::Postgres { url, programme } => {
                Ok(Box::new(PostgresStore::open_existing(url, programme)?))
            }
            Books::Sqlite(path) => {
                Books::check_exists(path)?;
                Ok(Box::new(SqliteStore::open(path)?))
            }
        }
    }

    fn check_exists(path: &Path) -> Result<()> {
        if !path.is_file() {
            return Err(Error::general(
                ErrorKind::Storage,
                format!("no store at {}: no such file", path.display()),
            ));
        }
        Ok(())
    }

    /// Creates new, empty books; refuses a path that exists.
    pub fn create(path: &Path) -> Result<SqliteStore> {
        Books::check_new(path)?;
        SqliteStore::open(path)
    }

    /// `storage` if something exists at `path`.
    pub fn check_new(path: &Path) -> Result<()> {
        if path.exists() {
            return Err(Error::general(
                ErrorKind::Storage,
                format!(
                    "{} already exists; replay writes a new store",
                    path.display()
                ),
            ));
        }
        Ok(())
    }
}
