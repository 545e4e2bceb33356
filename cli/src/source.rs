//! Where the books are: opening a store for a command.
//!
//! Today a store is a SQLite file. The PostgreSQL adapter (a URL plus a
//! programme) is being built separately; when it lands it becomes a second
//! [`Books`] variant and a second arm in [`Books::open`], and no command
//! changes. Until then there is no `--url` flag rather than one that
//! pretends.

use std::path::{Path, PathBuf};

use upline::{Error, ErrorKind, Result, Store};
use upline_sqlite::SqliteStore;

/// The books a command reads or writes.
#[derive(Debug, Clone)]
pub enum Books {
    /// An Upline SQLite store.
    Sqlite(PathBuf),
}

impl Books {
    /// Opens existing books; a path that does not exist is a `storage`
    /// error (SQLite would otherwise create an empty store there).
    pub fn open(&self) -> Result<Box<dyn Store>> {
        match self {
            Books::Sqlite(path) => {
                if !path.is_file() {
                    return Err(Error::general(
                        ErrorKind::Storage,
                        format!("no store at {}: no such file", path.display()),
                    ));
                }
                Ok(Box::new(SqliteStore::open(path)?))
            }
        }
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
