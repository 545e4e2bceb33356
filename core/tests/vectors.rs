//! The shared golden vectors (`../shared/vectors/*.json`), run unchanged
//! through the JSON decoding path a host uses, and the project's own vectors
//! in the same format (`core/tests/vectors/*.json`: screening, rewards).

use std::path::PathBuf;

use serde_json::Value;
use upline::{Engine, Event};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors")
}

fn project_vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn json_files(dir: PathBuf) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// Every field `expected` lists must match `actual`; lists in order and in
/// full; scalars exactly.
fn matches(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let inner = a
                    .get(key)
                    .ok_or_else(|| format!("{path}.{key}: missing in {actual}"))?;
                matches(value, inner, &format!("{path}.{key}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!(
                    "{path}: expected {} items, got {}: {actual}",
                    e.len(),
                    a.len()
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                matches(ev, av, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!("{path}: expected {expected}, got {actual}")),
    }
}

fn apply(engine: &mut Engine, event: &Value) -> Result<Value, String> {
    let event = Event::from_value(event.clone()).map_err(|e| e.code().to_string())?;
    engine
        .apply(&event)
        .map(|applied| applied.to_json_value())
        .map_err(|e| e.code().to_string())
}

#[derive(Clone, Copy)]
enum Path {
    Apply,
    Batch,
    BatchJson,
    /// `apply_batch_json` without records (the lean path: a sale's records
    /// are hashed from the engine's state, never built), beside a twin
    /// engine on `apply`: every seq and hash must be the twin's.
    Lean,
}

fn run_case(case: &Value, path: Path) -> Result<(), String> {
    let mut engine = Engine::new();
    let mut twin = Engine::new();
    for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
        let at = format!("step {i}");
        if let Some(event) = step.get("apply") {
            let before = engine.snapshot_json();
            let result = match path {
                Path::Apply => apply(&mut engine, event),
                // The batch path: one call with one event.
                Path::Batch => match Event::from_value(event.clone()) {
                    Err(e) => Err(e.code().to_string()),
                    Ok(ev) => engine
                        .apply_batch(&[ev])
                        .unwrap()
                        .pop()
                        .unwrap()
                        .map(|a| a.to_json_value())
                        .map_err(|e| e.code().to_string()),
                },
                // The JSON-text batch path bindings use.
                Path::BatchJson => {
                    let text = engine
                        .apply_batch_json(&Value::Array(vec![event.clone()]).to_string(), true)
                        .unwrap();
                    let mut slots: Vec<Value> = serde_json::from_str(&text).unwrap();
                    let slot = slots.pop().unwrap();
                    match slot.get("error") {
                        Some(err) => Err(err["code"].as_str().unwrap().to_string()),
                        None => Ok(slot),
                    }
                }
                Path::Lean => {
                    let full = apply(&mut twin, event);
                    let text = engine
                        .apply_batch_json(&Value::Array(vec![event.clone()]).to_string(), false)
                        .unwrap();
                    let mut slots: Vec<Value> = serde_json::from_str(&text).unwrap();
                    let slot = slots.pop().unwrap();
                    match (slot.get("error"), full) {
                        (Some(err), Err(code)) if err["code"] == code.as_str() => Err(code),
                        (None, Ok(value))
                            if slot["seq"] == value["seq"] && slot["hash"] == value["hash"] =>
                        {
                            Ok(value)
                        }
                        (_, full) => {
                            return Err(format!("{at}: lean {slot} differs from {full:?}"));
                        }
                    }
                }
            };
            match (step.get("error"), result) {
                (Some(code), Err(actual)) => {
                    if code.as_str() != Some(actual.as_str()) {
                        return Err(format!("{at}: expected error {code}, got {actual}"));
                    }
                    let after = engine.snapshot_json();
                    let b: Value = serde_json::from_str(&before).unwrap();
                    let a: Value = serde_json::from_str(&after).unwrap();
                    if a != b {
                        return Err(format!("{at}: a refused event changed the engine"));
                    }
                }
                (Some(code), Ok(value)) => {
                    return Err(format!("{at}: expected error {code}, got {value}"))
                }
                (None, Err(actual)) => return Err(format!("{at}: unexpected error {actual}")),
                (None, Ok(value)) => matches(&step["expect"], &value, &at)?,
            }
        } else if let Some(query) = step.get("balances") {
            let s = |k: &str| query[k].as_str().unwrap();
            let balances = engine
                .balances(s("member"), s("currency"), s("as_of"))
                .map_err(|e| format!("{at}: {e}"))?;
            matches(
                &step["expect"],
                &serde_json::to_value(balances).unwrap(),
                &at,
            )?;
        } else {
            return Err(format!("{at}: unknown step {step}"));
        }
    }
    Ok(())
}

fn run_all(path: Path) {
    let mut files = json_files(vectors_dir());
    assert!(
        files.len() >= 5,
        "expected the five shared vector files, found {files:?}"
    );
    files.extend(json_files(project_vectors_dir()));
    let mut failures = Vec::new();
    let mut count = 0;
    for file in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for case in doc["cases"].as_array().unwrap() {
            count += 1;
            if let Err(why) = run_case(case, path) {
                failures.push(format!("{} / {}: {why}", file.display(), case["name"]));
            }
        }
    }
    assert!(count >= 30, "only {count} cases found");
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_shared_vector_passes_through_apply() {
    run_all(Path::Apply);
}

#[test]
fn every_shared_vector_passes_through_apply_batch() {
    run_all(Path::Batch);
}

#[test]
fn every_shared_vector_passes_through_apply_batch_json() {
    run_all(Path::BatchJson);
}

#[test]
fn every_shared_vector_passes_through_the_lean_path_with_the_same_hashes() {
    run_all(Path::Lean);
}
