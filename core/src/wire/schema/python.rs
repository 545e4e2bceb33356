//! Writing the Python stubs' `TypedDict`s (`_types.pyi`) from the wire
//! schema: one class or alias per definition, keywords renamed, money as
//! `Decimal` and times as `datetime`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::*;

pub(super) const PY_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

pub(super) struct Py<'a> {
    pub(super) w: &'a WireSchema,
    pub(super) dirs: &'a BTreeMap<String, Direction>,
    pub(super) out: String,
}

impl<'a> Py<'a> {
    pub(super) fn new(w: &'a WireSchema, dirs: &'a BTreeMap<String, Direction>) -> Self {
        Py {
            w,
            dirs,
            out: String::new(),
        }
    }

    pub(super) fn ty(&self, s: &Value, dir: Direction) -> Result<String, String> {
        if s.as_bool() == Some(true) || s.as_object().is_some_and(|m| m.is_empty()) {
            return Ok("Any".into());
        }
        if let Some(name) = ref_name(s) {
            return Ok(name.to_string());
        }
        if let Some(c) = s.get("const") {
            return Ok(format!("Literal[{c}]"));
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            return Ok(format!(
                "Literal[{}]",
                e.iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(vs) = variants(s) {
            let mut parts = Vec::new();
            for v in vs {
                let t = if is_null(v) {
                    "None".to_string()
                } else {
                    self.ty(v, dir)?
                };
                if !parts.contains(&t) {
                    parts.push(t);
                }
            }
            return Ok(union(parts));
        }
        match format_of(s) {
            Some("decimal") => {
                return Ok(if dir == Direction::In {
                    "_Money"
                } else {
                    "Decimal"
                }
                .into())
            }
            Some("date-time") => {
                return Ok(if dir == Direction::In {
                    "_Time"
                } else {
                    "datetime"
                }
                .into())
            }
            _ => {}
        }
        let types = types_of(s);
        let mut parts = Vec::new();
        for t in types {
            parts.push(match t {
                "string" => "str".to_string(),
                "integer" => "int".to_string(),
                "number" => "float".to_string(),
                "boolean" => "bool".to_string(),
                "null" => "None".to_string(),
                "array" => {
                    if let Some(items) = s.get("prefixItems").and_then(Value::as_array) {
                        let items = items
                            .iter()
                            .map(|i| self.ty(i, dir))
                            .collect::<Result<Vec<_>, _>>()?;
                        if dir == Direction::In {
                            format!("Sequence[{}]", union(items))
                        } else {
                            format!("list[{}]", union(items))
                        }
                    } else {
                        let item = self.ty(s.get("items").unwrap_or(&Value::Bool(true)), dir)?;
                        if dir == Direction::In {
                            format!("Sequence[{item}]")
                        } else {
                            format!("list[{item}]")
                        }
                    }
                }
                "object" => {
                    if s.get("properties").is_some() {
                        return Err("an inline object: give it a Rust type".into());
                    }
                    let v = match s.get("additionalProperties").filter(|v| v.is_object()) {
                        Some(ap) => self.ty(ap, dir)?,
                        None => "Any".into(),
                    };
                    if dir == Direction::In {
                        format!("Mapping[str, {v}]")
                    } else {
                        format!("dict[str, {v}]")
                    }
                }
                other => return Err(format!("unknown JSON type {other}")),
            });
        }
        if parts.is_empty() {
            return Ok("Any".into());
        }
        Ok(union(parts))
    }

    pub(super) fn typed_dict(
        &mut self,
        name: &str,
        s: &Value,
        dir: Direction,
    ) -> Result<(), String> {
        let props = s
            .get("properties")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{name}: not an object"))?;
        let req = required(s);
        let mut fields = Vec::new();
        for (k, p) in props {
            let t = self.ty(&absent_not_null(p, dir, req.contains(k.as_str())), dir)?;
            let t = if req.contains(k.as_str()) {
                t
            } else {
                format!("NotRequired[{t}]")
            };
            fields.push((k, t, doc(p)));
        }
        let keyword = fields
            .iter()
            .any(|(k, _, _)| PY_KEYWORDS.contains(&k.as_str()));
        if keyword {
            // `from` cannot be a class attribute: the functional form.
            self.out
                .push_str(&format!("{name} = TypedDict(\n    \"{name}\",\n    {{\n"));
            for (k, t, d) in &fields {
                if let Some(d) = d {
                    for line in d.lines() {
                        self.out
                            .push_str(&format!("        # {line}\n").replace("#  \n", "#\n"));
                    }
                }
                self.out.push_str(&format!("        \"{k}\": {t},\n"));
            }
            self.out.push_str("    },\n)\n");
            if let Some(d) = doc(s) {
                self.out.push_str(&py_doc("", &d));
            }
            self.out.push('\n');
            return Ok(());
        }
        self.out.push_str(&format!("class {name}(TypedDict):\n"));
        if let Some(d) = doc(s) {
            self.out.push_str(&py_doc("    ", &d));
        }
        for (k, t, d) in &fields {
            self.out.push_str(&format!("    {k}: {t}\n"));
            if let Some(d) = d {
                self.out.push_str(&py_doc("    ", d));
            }
        }
        if fields.is_empty() {
            self.out.push_str("    pass\n");
        }
        self.out.push('\n');
        Ok(())
    }

    pub(super) fn render(mut self) -> Result<String, String> {
        self.out.push_str(&format!("\"\"\"The wire types of ``upline``: every event, record and query result as\na ``TypedDict``, with the Rust doc comments.\n\n{HEADER}\n\nIn results, money and rates are ``decimal.Decimal`` (the currency's\nscale kept) and times are aware UTC ``datetime``; in events and\narguments, money is ``Decimal | int | str`` and times ``datetime | str``\n(floats are refused). Import them for annotations only::\n\n    from typing import TYPE_CHECKING\n    if TYPE_CHECKING:\n        from upline._types import Balances\n\"\"\"\n\n"));
        self.out.push_str("from collections.abc import Mapping, Sequence\nfrom datetime import datetime\nfrom decimal import Decimal\nfrom typing import Any, Literal, TypedDict, Union\n\nfrom typing_extensions import NotRequired, TypeAlias\n\n");
        self.out.push_str("_Money: TypeAlias = Union[Decimal, int, str]\n_Time: TypeAlias = Union[datetime, str]\n\n");
        let defs = self.w.definitions.clone();
        for (name, s) in &defs {
            let dir = self.dirs.get(name).copied().unwrap_or(Direction::Out);
            if let Some(vs) = variants(s).filter(|vs| vs.iter().any(is_object_variant)) {
                let mut names = Vec::new();
                for v in vs {
                    if !is_object_variant(v) {
                        names.push(self.ty(v, dir)?);
                        continue;
                    }
                    let vname = variant_name(name, v, &defs);
                    self.typed_dict(&vname, v, dir)?;
                    names.push(vname);
                }
                self.out
                    .push_str(&format!("{name}: TypeAlias = {}\n", union(names)));
                if let Some(d) = doc(s) {
                    self.out.push_str(&py_doc("", &d));
                }
                self.out.push('\n');
                continue;
            }
            if s.get("properties").is_some() {
                self.typed_dict(name, s, dir)?;
            } else {
                let t = self.ty(s, dir)?;
                self.out.push_str(&format!("{name}: TypeAlias = {t}\n"));
                if let Some(d) = doc(s) {
                    self.out.push_str(&py_doc("", &d));
                }
                self.out.push('\n');
            }
        }
        self.out
            .push_str("# ---- roots: what each method takes or returns ----\n\n");
        for (root, dir, schema) in &self.w.roots {
            if ref_name(schema) == Some(root.name()) {
                continue;
            }
            let t = self.ty(schema, *dir)?;
            self.out.push_str(&format!(
                "{}: TypeAlias = {t}\n{}\n",
                root.name(),
                py_doc("", root_doc(*root))
            ));
        }
        Ok(self.out.trim_end().to_string() + "\n")
    }
}

pub(super) fn union(parts: Vec<String>) -> String {
    if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        format!("Union[{}]", parts.join(", "))
    }
}

pub(super) fn py_doc(indent: &str, text: &str) -> String {
    let text = text.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"");
    if !text.contains('\n') {
        return format!("{indent}\"\"\"{text}\"\"\"\n");
    }
    let mut out = format!("{indent}\"\"\"");
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push_str(indent);
        }
        out.push_str(line);
        out.push('\n');
    }
    out = out.replace(&format!("\n{indent}\n"), "\n\n");
    out.push_str(&format!("{indent}\"\"\"\n"));
    out
}
