//! Showing answers: tables (the header bold on a terminal unless `NO_COLOR`), CSV, the API
//! response's proto JSON or the same as YAML, and refusals with their `google.rpc` details.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use clap::ValueEnum;
use concordat_api::status::ErrorReport;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, ReflectMessage as _, Value};

/// How a command prints what it got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A table for people.
    Table,
    /// The API response as proto JSON.
    Json,
    /// The same as YAML.
    Yaml,
    /// Comma-separated values, a header line first.
    Csv,
}

/// Prints a refused call: code and message, reason, each field violation; exit status 2.
pub fn refused(status: &tonic::Status) -> ExitCode {
    refused_naming(status, |_| Vec::new())
}

/// As [`refused`], each field violation followed by the flags that fill the field.
pub fn refused_naming(status: &tonic::Status, flags: impl Fn(&str) -> Vec<String>) -> ExitCode {
    let report = ErrorReport::from_status(status);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "error: {:?}: {}", report.code, report.message);
    if let Some(reason) = &report.reason {
        let _ = writeln!(err, "reason: {reason}");
    }
    for v in &report.field_violations {
        let given = flags(&v.field);
        if given.is_empty() {
            let _ = writeln!(err, "  {}: {}", v.field, v.description);
        } else {
            let _ = writeln!(
                err,
                "  {}: {} ({})",
                v.field,
                v.description,
                given.join(", ")
            );
        }
    }
    for (kind, subject, description) in &report.precondition_violations {
        let _ = writeln!(err, "  {kind} {subject}: {description}");
    }
    ExitCode::from(2)
}

/// Prints `message` on stderr; exit status 2.
pub fn failed(message: impl std::fmt::Display) -> ExitCode {
    let _ = writeln!(std::io::stderr().lock(), "error: {message}");
    ExitCode::from(2)
}

/// `message` as proto JSON (lowerCamelCase names, enums by name, int64 as strings, a double
/// with no fraction as an integer, as protobuf's own JSON printers write it), pretty or on one
/// line.
pub fn proto_json(message: &DynamicMessage, pretty: bool) -> Result<String, String> {
    let options = prost_reflect::SerializeOptions::new().skip_default_fields(true);
    let mut value = message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|e| e.to_string())?;
    integral(&mut value);
    if pretty {
        serde_json::to_string_pretty(&value)
    } else {
        serde_json::to_string(&value)
    }
    .map_err(|e| e.to_string())
}

/// Writes every whole-number double of `value` as an integer (`6.0` → `6`).
fn integral(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64()
                && n.is_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *n = serde_json::Number::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral),
        serde_json::Value::Object(map) => map.values_mut().for_each(integral),
        _ => {}
    }
}

/// Prints `message` as proto JSON or (`yaml`) as YAML.
pub fn print_message(message: &DynamicMessage, output: Output) -> ExitCode {
    let text = proto_json(message, true).and_then(|json| {
        if output != Output::Yaml {
            return Ok(json);
        }
        let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
        serde_yaml_ng::to_string(&value).map_err(|e| e.to_string())
    });
    match text {
        Ok(text) => {
            let _ = writeln!(std::io::stdout().lock(), "{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => failed(e),
    }
}

/// Whether output goes to a terminal that takes colour.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// One CSV line: cells with a comma, quote or newline quoted.
pub fn csv_line(cells: &[String]) -> String {
    cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Prints `rows` under `header` as a table (columns padded; the header bold on a colour
/// terminal) or as CSV.
pub fn print_rows(output: Output, header: &[&str], rows: &[Vec<String>]) {
    let mut out = std::io::stdout().lock();
    let head: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    if output == Output::Csv {
        let _ = writeln!(out, "{}", csv_line(&head));
        for row in rows {
            let _ = writeln!(out, "{}", csv_line(row));
        }
        return;
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let _ = writeln!(out, "{}", header_line(&head, &widths));
    for row in rows {
        let _ = writeln!(out, "{}", line(row, &widths));
    }
}

/// One table line, each cell padded to its column's width.
pub fn line(cells: &[String], widths: &[usize]) -> String {
    cells
        .iter()
        .zip(widths)
        .map(|(c, w)| format!("{c:<w$}"))
        .collect::<Vec<_>>()
        .join("  ")
        .trim_end()
        .to_owned()
}

/// The header line, bold on a colour terminal.
pub fn header_line(head: &[String], widths: &[usize]) -> String {
    let text = line(head, widths);
    if colour() {
        format!("\x1b[1m{text}\x1b[0m")
    } else {
        text
    }
}

/// An enum value's name without its type's prefix: `STATE_APPROVED` → `APPROVED`.
pub fn enum_name(field: &FieldDescriptor, number: i32) -> String {
    let Kind::Enum(e) = field.kind() else {
        return number.to_string();
    };
    let prefix = enum_prefix(&e);
    e.get_value(number).map_or_else(
        || number.to_string(),
        |v| {
            v.name()
                .strip_prefix(&prefix)
                .unwrap_or(v.name())
                .to_owned()
        },
    )
}

/// The prefix every value of `e` shares: its `…_UNSPECIFIED` value's name without `UNSPECIFIED`.
pub fn enum_prefix(e: &prost_reflect::EnumDescriptor) -> String {
    e.values()
        .find(|v| v.name().ends_with("_UNSPECIFIED"))
        .map(|v| v.name().trim_end_matches("UNSPECIFIED").to_owned())
        .unwrap_or_default()
}

/// Messages shown as one value rather than field by field.
fn leaf(message: &DynamicMessage) -> Option<String> {
    let name = message.descriptor().full_name().to_owned();
    let get = |field: &str| message.get_field_by_name(field);
    match name.as_str() {
        "google.protobuf.Timestamp" => {
            let seconds = get("seconds")?.as_i64()?;
            let nanos = get("nanos")?.as_i32()?;
            let time = chrono::DateTime::from_timestamp(seconds, u32::try_from(nanos).ok()?)?;
            Some(time.format("%Y-%m-%d %H:%M").to_string())
        }
        "concordat.platform.v1.Person" => Some(get("subject")?.as_str()?.to_owned()),
        "concordat.benefits.v1.Money" => Some(get("display")?.as_str()?.to_owned()),
        "concordat.convergence.v1.Scores" => Some(format!(
            "{:.0}% {}",
            get("convergence")?.as_f64()? * 100.0,
            get("band")?.as_str()?
        )),
        "google.protobuf.Value" | "google.protobuf.Struct" | "google.protobuf.ListValue" => {
            proto_json(message, false).ok()
        }
        _ => None,
    }
}

/// One value as a table cell.
pub fn show(field: &FieldDescriptor, value: &Value) -> String {
    match value {
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Value::I32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::F32(n) => trim_float(f64::from(*n)),
        Value::F64(n) => trim_float(*n),
        Value::String(s) => s.clone(),
        Value::Bytes(b) => format!("{} bytes", b.len()),
        // Unset (the `…_UNSPECIFIED` value) shows as nothing.
        Value::EnumNumber(0) => String::new(),
        Value::EnumNumber(n) => enum_name(field, *n),
        Value::Message(m) => leaf(m).unwrap_or_else(|| proto_json(m, false).unwrap_or_default()),
        Value::List(items) => items
            .iter()
            .map(|v| show(field, v))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Map(_) => String::new(),
    }
}

fn trim_float(n: f64) -> String {
    let text = format!("{n:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The cell at `path` of `message`: dotted proto field names (through repeated fields, every
/// element's cell joined by commas); `a|b` the first of them that is not empty; a trailing `?`
/// blank when the value is zero.
pub fn cell(message: &DynamicMessage, path: &str) -> String {
    for alternative in path.split('|') {
        let (path, blank_zero) = match alternative.strip_suffix('?') {
            Some(p) => (p, true),
            None => (alternative, false),
        };
        let text = cell_at(message, path);
        if !text.is_empty() && !(blank_zero && (text == "0" || text == "no")) {
            return text;
        }
    }
    String::new()
}

fn cell_at(message: &DynamicMessage, path: &str) -> String {
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    let Some(field) = message.descriptor().get_field_by_name(head) else {
        return String::new();
    };
    let value = message.get_field(&field);
    if rest.is_empty() {
        if !field.is_list() && !message.has_field(&field) && field.kind().as_message().is_some() {
            return String::new();
        }
        return show(&field, &value);
    }
    match value.as_ref() {
        Value::Message(m) => cell_at(m, rest),
        Value::List(items) => items
            .iter()
            .filter_map(|v| v.as_message().map(|m| cell_at(m, rest)))
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

/// Every set field of `message` as (dotted JSON path, value) rows, nested messages opened.
pub fn flatten(message: &DynamicMessage, prefix: &str, rows: &mut Vec<Vec<String>>) {
    for (field, value) in message.fields() {
        let key = if prefix.is_empty() {
            field.json_name().to_owned()
        } else {
            format!("{prefix}.{}", field.json_name())
        };
        flatten_value(&field, value, &key, rows);
    }
}

fn flatten_value(field: &FieldDescriptor, value: &Value, key: &str, rows: &mut Vec<Vec<String>>) {
    match value {
        Value::Message(m) if leaf(m).is_none() => flatten(m, key, rows),
        Value::List(items)
            if items
                .iter()
                .any(|v| v.as_message().is_some_and(|m| leaf(m).is_none())) =>
        {
            for (i, item) in items.iter().enumerate() {
                flatten_value(field, item, &format!("{key}[{i}]"), rows);
            }
        }
        other => rows.push(vec![key.to_owned(), show(field, other)]),
    }
}

/// Prints `message` field by field. A response holding one message (`changeRequest`, …) is
/// shown from inside it.
pub fn print_record(message: &DynamicMessage, output: Output) {
    let fields: Vec<_> = message.fields().collect();
    let mut rows = Vec::new();
    match fields.as_slice() {
        [(field, Value::Message(inner))] if !field.is_list() && leaf(inner).is_none() => {
            flatten(inner, "", &mut rows)
        }
        _ => flatten(message, "", &mut rows),
    }
    print_rows(output, &["FIELD", "VALUE"], &rows);
}
