//! The shape of `core/src` that issue 15 asked for, checked so it cannot
//! drift back: every file opens with a `//!` paragraph saying what it owns,
//! no file is over 1,000 lines, and no module outside `engine/` imports
//! from the engine (records live with their domain, so the old import
//! circle between `engine`, `event` and `rewards` cannot come back).

use std::path::{Path, PathBuf};

/// The most lines a file in `core/src` may have.
const MAX_LINES: usize = 1_000;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("core/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn core_sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    sources(&root, &mut paths);
    paths.sort();
    assert!(paths.len() > 40, "found only {} files", paths.len());
    paths
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(&root)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).expect("a source file is UTF-8");
            (name, text)
        })
        .collect()
}

#[test]
fn every_file_opens_with_what_it_owns() {
    let missing: Vec<String> = core_sources()
        .into_iter()
        .filter(|(_, text)| !text.starts_with("//!"))
        .map(|(name, _)| name)
        .collect();
    assert!(missing.is_empty(), "no `//!` paragraph first: {missing:?}");
}

#[test]
fn no_file_is_over_a_thousand_lines() {
    let long: Vec<(String, usize)> = core_sources()
        .into_iter()
        .map(|(name, text)| (name, text.lines().count()))
        .filter(|&(_, lines)| lines > MAX_LINES)
        .collect();
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}

#[test]
fn only_the_engine_imports_from_the_engine() {
    let offenders: Vec<String> = core_sources()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("engine/") && name != "engine.rs" && name != "lib.rs")
        .filter(|(_, text)| imports_the_engine(text))
        .map(|(name, _)| name)
        .collect();
    assert!(
        offenders.is_empty(),
        "modules outside engine/ that import from it: {offenders:?}"
    );
}

/// Whether `text` names the engine module through `crate::`: a path
/// (`crate::engine::X`), or a `use crate::…;` statement, however nested
/// or renamed (`use crate::{engine::X, …}`, `use crate::engine as e`),
/// with `engine` as one of its path segments.
fn imports_the_engine(text: &str) -> bool {
    let word_char = |c: char| c.is_alphanumeric() || c == '_';
    let path = text.match_indices("crate::engine").any(|(at, found)| {
        !text[at + found.len()..]
            .chars()
            .next()
            .is_some_and(word_char)
    });
    if path {
        return true;
    }
    let segment = |word: &str| word == "engine";
    text.match_indices("use crate::").any(|(at, _)| {
        let statement = &text[at..text[at..].find(';').map_or(text.len(), |end| at + end)];
        statement.split(|c: char| !word_char(c)).any(segment)
    })
}

#[test]
fn the_import_check_sees_nested_and_renamed_imports() {
    assert!(imports_the_engine("use crate::engine::Engine;"));
    assert!(imports_the_engine(
        "use crate::{\n    audit,\n    engine::Engine,\n};"
    ));
    assert!(imports_the_engine("use crate::engine as e;"));
    assert!(!imports_the_engine(
        "use crate::{audit, ledger::Entry};\n// the engine"
    ));
    assert!(!imports_the_engine("use crate::engines_elsewhere;"));
}
