//! Writing the Node binding's TypeScript declarations (`generated.d.ts`)
//! from the wire schema: one `interface` or union per definition, doc
//! comments carried over, money and times as `string`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::*;

pub(super) struct Ts<'a> {
    pub(super) w: &'a WireSchema,
    pub(super) dirs: &'a BTreeMap<String, Direction>,
    pub(super) out: String,
}

impl<'a> Ts<'a> {
    pub(super) fn new(w: &'a WireSchema, dirs: &'a BTreeMap<String, Direction>) -> Self {
        Ts {
            w,
            dirs,
            out: String::new(),
        }
    }

    pub(super) fn jsdoc(&mut self, indent: &str, text: Option<String>) {
        if let Some(text) = text {
            let text = text.replace("*/", "*\\/");
            self.out.push_str(&format!("{indent}/**\n"));
            for line in text.lines() {
                self.out.push_str(&format!(
                    "{indent} *{}{line}\n",
                    if line.is_empty() { "" } else { " " }
                ));
            }
            self.out.push_str(&format!("{indent} */\n"));
        }
    }

    pub(super) fn ty(&self, s: &Value, dir: Direction, indent: &str) -> Result<String, String> {
        if s.as_bool() == Some(true) || s.as_object().is_some_and(|m| m.is_empty()) {
            return Ok("unknown".into());
        }
        if let Some(name) = ref_name(s) {
            // The Node converter reads an object with `toJSON` (a `Plan`)
            // through it: a plan may be given as either.
            if dir == Direction::In && name == "PlanSpec" {
                return Ok("PlanSpec | { toJSON(): PlanSpec }".into());
            }
            return Ok(name.to_string());
        }
        if let Some(c) = s.get("const") {
            return Ok(c.to_string());
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            return Ok(e
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(" | "));
        }
        if let Some(vs) = variants(s) {
            let parts = vs
                .iter()
                .map(|v| self.ty(v, dir, indent))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(parts.join(" | "));
        }
        match format_of(s) {
            Some("decimal") => return Ok("Decimal".into()),
            Some("date-time") => {
                return Ok(if dir == Direction::In {
                    "TimeInput"
                } else {
                    "IsoTime"
                }
                .into())
            }
            _ => {}
        }
        let types = types_of(s);
        if types.is_empty() && s.get("properties").is_some() {
            return self.object(s, dir, indent);
        }
        let mut parts = Vec::new();
        for t in types {
            parts.push(match t {
                "string" => "string".to_string(),
                "integer" | "number" => "number".to_string(),
                "boolean" => "boolean".to_string(),
                "null" => "null".to_string(),
                "array" => {
                    if let Some(items) = s.get("prefixItems").and_then(Value::as_array) {
                        let items = items
                            .iter()
                            .map(|i| self.ty(i, dir, indent))
                            .collect::<Result<Vec<_>, _>>()?;
                        format!("[{}]", items.join(", "))
                    } else {
                        let item =
                            self.ty(s.get("items").unwrap_or(&Value::Bool(true)), dir, indent)?;
                        if item.contains(' ') {
                            format!("Array<{item}>")
                        } else {
                            format!("{item}[]")
                        }
                    }
                }
                "object" => self.object(s, dir, indent)?,
                other => return Err(format!("unknown JSON type {other}")),
            });
        }
        if parts.is_empty() {
            return Ok("unknown".into());
        }
        Ok(parts.join(" | "))
    }

    pub(super) fn object(&self, s: &Value, dir: Direction, indent: &str) -> Result<String, String> {
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            let req = required(s);
            let inner = format!("{indent}  ");
            let mut out = String::from("{\n");
            for (k, p) in props {
                if let Some(d) = doc(p) {
                    out.push_str(&format!(
                        "{inner}/** {} */\n",
                        d.replace("*/", "*\\/")
                            .replace('\n', &format!("\n{inner} * "))
                    ));
                }
                let opt = if req.contains(k.as_str()) { "" } else { "?" };
                let p = &absent_not_null(p, dir, req.contains(k.as_str()));
                out.push_str(&format!("{inner}{k}{opt}: {}\n", self.ty(p, dir, &inner)?));
            }
            out.push_str(&format!("{indent}}}"));
            return Ok(out);
        }
        if let Some(ap) = s.get("additionalProperties").filter(|v| v.is_object()) {
            return Ok(format!("Record<string, {}>", self.ty(ap, dir, indent)?));
        }
        Ok("Record<string, unknown>".into())
    }

    pub(super) fn render(mut self) -> Result<String, String> {
        self.out.push_str(&format!("// {HEADER}\n//\n// Every event, record and query result of Upline, with the Rust doc\n// comments. Money and rates are decimal strings (`Decimal`), never JS\n// numbers; times are RFC 3339 strings out (`IsoTime`), a `Date` or an RFC\n// 3339 string with an offset in (`TimeInput`).\n\n"));
        self.out.push_str("/** A decimal string: `\"10.50\"`, `\"0.2\"`, `\"200\"`. Never a JS number. */\nexport type Decimal = string\n");
        self.out.push_str("/** An RFC 3339 UTC string (`\"2026-01-01T00:00:00Z\"`), milliseconds where needed. */\nexport type IsoTime = string\n");
        self.out.push_str("/** A `Date`, or an RFC 3339 string with an offset (`\"2026-01-01T00:00:00Z\"`). */\nexport type TimeInput = Date | string\n\n");
        let defs = self.w.definitions.clone();
        for (name, s) in &defs {
            let dir = self.dirs.get(name).copied().unwrap_or(Direction::Out);
            if let Some(vs) = variants(s).filter(|vs| vs.iter().any(is_object_variant)) {
                // A union of objects: one interface per variant.
                let mut names = Vec::new();
                for v in vs {
                    if !is_object_variant(v) {
                        names.push(self.ty(v, dir, "")?);
                        continue;
                    }
                    let vname = variant_name(name, v, &defs);
                    self.jsdoc("", doc(v));
                    let body = self.object(v, dir, "")?;
                    self.out
                        .push_str(&format!("export interface {vname} {body}\n"));
                    names.push(vname);
                }
                self.jsdoc("", doc(s));
                self.out.push_str(&format!(
                    "export type {name} =\n  | {}\n\n",
                    names.join("\n  | ")
                ));
                continue;
            }
            self.jsdoc("", doc(s));
            if s.get("properties").is_some() {
                let body = self.object(s, dir, "")?;
                self.out
                    .push_str(&format!("export interface {name} {body}\n\n"));
            } else {
                let t = self.ty(s, dir, "")?;
                self.out.push_str(&format!("export type {name} = {t}\n\n"));
            }
        }
        self.out
            .push_str("// ---- roots: what each method takes or returns ----\n\n");
        for (root, dir, schema) in &self.w.roots {
            if ref_name(schema) == Some(root.name()) {
                continue;
            }
            let t = self.ty(schema, *dir, "")?;
            self.out.push_str(&format!(
                "/** {} */\nexport type {} = {t}\n",
                root_doc(*root),
                root.name()
            ));
        }
        Ok(self.out)
    }
}
