//! The command-line client: commands that call a Concordat server through its gRPC API, as a
//! person or a script would, with the API's generated descriptors and the kit's primitives (no
//! database). Each command is one entry of [`spec::all`]; this module turns the entries into
//! `clap` commands and a parsed command line into a request.
//!
//! A token comes from `--token-file`, `CONCORDAT_TOKEN` or what `concordat login` kept. Output
//! is a table by default (its header bold on a terminal, unless `NO_COLOR` is set), the API
//! response's proto JSON (`-o json`), the same as YAML (`-o yaml`), or CSV (`-o csv`). Exit
//! status: 0 success, 1 a difference (`config diff …`) or a broken audit chain, 2 an error — a
//! refused call prints its code and message, the reason and each field violation on its own line.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use clap::{Arg as ClapArg, ArgAction, ArgMatches, Command};
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind as FieldKind, MessageDescriptor};
use serde_json::{Map, Value as Json};

pub mod call;
pub mod login;
pub mod render;
pub mod report;
mod run;
pub mod spec;

use call::Connection;
use render::{Output, failed};
use spec::{Arg, Kind, Spec};

/// The default server: the local one `concordat serve` starts.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

/// The first words of the client commands (`cr`, `config`, `whoami`, …).
pub fn groups() -> Vec<&'static str> {
    let mut groups: Vec<&str> = spec::all()
        .filter_map(|s| s.path.split(' ').next())
        .collect();
    groups.dedup();
    groups
}

fn titles(group: &str) -> &'static str {
    match group {
        "da" => "Design authorities: their members, chair and charter.",
        "cr" => "Change requests, from draft through assessment, hazards, the vote and the board.",
        "release" => "Release windows.",
        "config" => {
            "Shared configuration: kinds, layers, changesets, effective configuration, snapshots."
        }
        "convergence" => {
            "Convergence: the matrix, trusts' trajectories, divergences, plans and forecasts."
        }
        "benefits" => "Benefits: profiles, rate cards, measurements, attribution and the rollup.",
        "audit" => "The audit chain.",
        "server" => "The server: version, targets, federation.",
        "hazard" => "A change request's hazard log.",
        "kind" => "Configuration kinds.",
        "changeset" => "Changesets of a layer.",
        "snapshot" => "Snapshots of trusts' builds.",
        "settings" => "Settings.",
        "plan" => "Convergence plans.",
        "profiles" => "Benefit profiles.",
        "rate-cards" => "Rate cards.",
        "measurements" => "Measurement cells: a benefit × trust × month.",
        "attribution" => "Attribution of a benefit to change requests.",
        _ => "",
    }
}

/// A command word: a command, or a group of them.
enum Node {
    Leaf(&'static Spec),
    Group(Vec<(&'static str, Node)>),
}

fn insert(level: &mut Vec<(&'static str, Node)>, words: &[&'static str], spec: &'static Spec) {
    let [word, rest @ ..] = words else { return };
    if rest.is_empty() {
        level.push((word, Node::Leaf(spec)));
        return;
    }
    let index = match level
        .iter()
        .position(|(w, n)| w == word && matches!(n, Node::Group(_)))
    {
        Some(i) => i,
        None => {
            level.push((word, Node::Group(Vec::new())));
            level.len() - 1
        }
    };
    if let (_, Node::Group(children)) = &mut level[index] {
        insert(children, rest, spec);
    }
}

fn to_command(word: &'static str, node: &Node) -> Command {
    match node {
        Node::Leaf(spec) => leaf(word, spec),
        Node::Group(children) => Command::new(word)
            .about(titles(word).trim_end_matches('.'))
            .subcommand_required(true)
            .arg_required_else_help(true)
            .subcommands(children.iter().map(|(w, n)| to_command(w, n))),
    }
}

/// The `clap` commands of every client command, grouped by their first words.
pub fn commands() -> Vec<Command> {
    let mut roots = Vec::new();
    for spec in spec::all() {
        let words: Vec<&'static str> = spec.path.split(' ').collect();
        insert(&mut roots, &words, spec);
    }
    roots.iter().map(|(w, n)| to_command(w, n)).collect()
}

/// The field at dotted `path` (proto names) of `message`, with the JSON names leading to it.
fn field_at(message: &MessageDescriptor, path: &str) -> Option<(Vec<String>, FieldDescriptor)> {
    let mut names = Vec::new();
    let mut current = message.clone();
    let mut segments = path.split('.').peekable();
    while let Some(segment) = segments.next() {
        let field = current.get_field_by_name(segment)?;
        names.push(field.json_name().to_owned());
        if segments.peek().is_none() {
            return Some((names, field));
        }
        current = field.kind().as_message()?.clone();
    }
    None
}

/// The short names of an enum field's values: `CHANGE_CLASS_SAFETY_CRITICAL` → `safety-critical`.
fn enum_choices(field: &FieldDescriptor) -> Vec<String> {
    let FieldKind::Enum(e) = field.kind() else {
        return Vec::new();
    };
    let prefix = render::enum_prefix(&e);
    e.values()
        .filter(|v| !v.name().ends_with("_UNSPECIFIED"))
        .map(|v| {
            v.name()
                .strip_prefix(&prefix)
                .unwrap_or(v.name())
                .to_lowercase()
                .replace('_', "-")
        })
        .collect()
}

fn value_name(field: &FieldDescriptor) -> &'static str {
    match field.kind() {
        FieldKind::Int32 | FieldKind::Int64 | FieldKind::Uint32 | FieldKind::Uint64 => "N",
        FieldKind::Sint32 | FieldKind::Sint64 | FieldKind::Fixed32 | FieldKind::Fixed64 => "N",
        FieldKind::Sfixed32 | FieldKind::Sfixed64 => "N",
        FieldKind::Double | FieldKind::Float => "NUMBER",
        FieldKind::Message(m) if m.full_name() == "google.protobuf.Timestamp" => "TIME",
        FieldKind::Message(_) => "JSON",
        _ => "TEXT",
    }
}

fn clap_arg(spec: &Spec, arg: &Arg) -> Option<ClapArg> {
    if arg.kind == Kind::Fixed {
        return None;
    }
    let method = call::method(spec.method)?;
    let field = (!arg.field.is_empty())
        .then(|| field_at(&method.input(), arg.field).map(|(_, f)| f))
        .flatten();
    let mut c = ClapArg::new(arg.var())
        .help(arg.help)
        .required(arg.required);
    c = match arg.kind {
        Kind::Positional => c.value_name(arg.name),
        _ => c.long(arg.name),
    };
    let many = arg.many || field.as_ref().is_some_and(FieldDescriptor::is_list);
    if many {
        c = c.action(ArgAction::Append).value_delimiter(',');
    }
    if let Some(field) = &field {
        if arg.kind == Kind::Flag {
            c = match field.kind() {
                FieldKind::Enum(_) | FieldKind::Bool => c.value_name(arg.name.to_uppercase()),
                _ => c.value_name(value_name(field)),
            };
        }
        match field.kind() {
            FieldKind::Enum(_) => {
                c = c.value_parser(PossibleValuesParser::new(enum_choices(field)));
            }
            FieldKind::Bool => {
                c = c
                    .value_parser(PossibleValuesParser::new(["true", "false"]))
                    .num_args(0..=1)
                    .require_equals(false)
                    .default_missing_value("true");
            }
            _ => {}
        }
    }
    Some(c)
}

fn leaf(word: &'static str, spec: &Spec) -> Command {
    let mut command = Command::new(word)
        .about(spec.about.trim_end_matches('.'))
        .after_help(format!("Example:\n  {}", spec.example));
    for arg in spec.args {
        if let Some(c) = clap_arg(spec, arg) {
            command = command.arg(c);
        }
    }
    if !spec.body.is_empty() {
        command = command.arg(
            ClapArg::new("file")
                .short('f')
                .long("file")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help(format!(
                    "The request's `{}` from a YAML or proto JSON file (`-` for stdin); flags given as well win.",
                    spec.body
                )),
        );
    }
    if matches!(spec.view, spec::View::Watch(..)) {
        command = command.arg(
            ClapArg::new("count")
                .long("count")
                .value_name("N")
                .value_parser(clap::value_parser!(u64))
                .help("Stop after N events (default: run until interrupted)."),
        );
    }
    common_args(command)
}

/// The flags every client command takes.
pub fn common_args(command: Command) -> Command {
    command
        .arg(
            ClapArg::new("server")
                .long("server")
                .value_name("URL")
                .env("CONCORDAT_URL")
                .default_value(DEFAULT_SERVER)
                .help("The server's gRPC URL (https:// for TLS)."),
        )
        .arg(
            ClapArg::new("token_file")
                .long("token-file")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("A file holding the bearer token (otherwise CONCORDAT_TOKEN, then `concordat login`'s)."),
        )
        .arg(
            ClapArg::new("ca_file")
                .long("ca-file")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .env("CONCORDAT_CA_FILE")
                .help("PEM certificates to trust for an https:// server, besides the system's."),
        )
        .arg(
            ClapArg::new("output")
                .short('o')
                .long("output")
                .value_parser(clap::value_parser!(Output))
                .default_value("table")
                .help("table, json (the API response's proto JSON), yaml (the same as YAML) or csv."),
        )
        .arg(
            ClapArg::new("ics")
                .long("ics")
                .value_name("CODE")
                .env("CONCORDAT_ICS")
                .help("The ICS (default the caller's, from the token)."),
        )
        .arg(
            ClapArg::new("request_id")
                .long("request-id")
                .value_name("ID")
                .help("The idempotency key of a write (default a new UUID): run again with the same one, the server answers once."),
        )
}

/// What a command line asked for, before the call.
pub struct Invocation<'a> {
    /// The command.
    pub spec: &'a Spec,
    /// Its parsed command line.
    pub matches: &'a ArgMatches,
    /// The output format.
    pub output: Output,
    /// The connection.
    pub connection: Connection,
    /// The template variables given (each argument's values).
    pub vars: BTreeMap<String, Vec<String>>,
    ics: Option<String>,
}

/// Runs the client command `matches` names (the subcommand of `concordat` called `group`).
pub async fn run(group: &str, matches: &ArgMatches) -> ExitCode {
    let mut words = vec![group.to_owned()];
    let mut leaf = matches;
    while let Some((name, sub)) = leaf.subcommand() {
        words.push(name.to_owned());
        leaf = sub;
    }
    let path = words.join(" ");
    let Some(spec) = spec::all().find(|s| s.path == path) else {
        return failed(format!("no command `{path}`"));
    };
    let output = leaf
        .get_one::<Output>("output")
        .copied()
        .unwrap_or(Output::Table);
    let server = leaf
        .get_one::<String>("server")
        .cloned()
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    let token = match login::token(leaf.get_one::<PathBuf>("token_file"), &server) {
        Ok(t) => t,
        Err(e) => return failed(e),
    };
    let connection =
        match Connection::open(&server, token, leaf.get_one::<PathBuf>("ca_file")).await {
            Ok(c) => c,
            Err(e) => return failed(e),
        };
    let mut vars = BTreeMap::new();
    for arg in spec.args.iter().filter(|a| a.kind != Kind::Fixed) {
        let values: Vec<String> = leaf
            .get_many::<String>(&arg.var())
            .map(|v| v.cloned().collect())
            .unwrap_or_default();
        if !values.is_empty() {
            vars.insert(arg.var(), values);
        }
    }
    let mut invocation = Invocation {
        spec,
        matches: leaf,
        output,
        connection,
        vars,
        ics: leaf.get_one::<String>("ics").cloned(),
    };
    run::run(&mut invocation).await
}

/// Why a request could not be built: a message for the person, or a refused call.
pub enum BuildError {
    /// The command line or a file was wrong.
    Input(String),
    /// A call made to build it (the caller's ICS, a change request's number) was refused.
    Refused(tonic::Status),
}

impl From<String> for BuildError {
    fn from(e: String) -> Self {
        Self::Input(e)
    }
}

impl Invocation<'_> {
    /// The ICS: `--ics`, `CONCORDAT_ICS`, or the caller's from WhoAmI.
    async fn ics(&mut self) -> Result<String, BuildError> {
        if let Some(ics) = &self.ics {
            return Ok(ics.clone());
        }
        let method = call::method("WhoAmI").ok_or_else(|| "WhoAmI is not in the API".to_owned())?;
        let who = self
            .connection
            .unary(&method, DynamicMessage::new(method.input()))
            .await
            .map_err(BuildError::Refused)?;
        let ics = render::cell(&who, "principal.ics");
        if ics.is_empty() {
            return Err("the token names no ICS: give --ics CODE".to_owned().into());
        }
        self.ics = Some(ics.clone());
        Ok(ics)
    }

    /// `template` with `{ics}` and the arguments' values filled in; `{}` is `value`. A list
    /// argument gives one expansion per value.
    async fn expand(
        &mut self,
        template: &str,
        value: Option<&str>,
    ) -> Result<Vec<String>, BuildError> {
        let mut results = vec![template.to_owned()];
        if let Some(value) = value {
            results = vec![template.replace("{}", value)];
        }
        if template.contains("{ics}") {
            let ics = self.ics().await?;
            results = results.iter().map(|r| r.replace("{ics}", &ics)).collect();
        }
        for (var, values) in &self.vars {
            let key = format!("{{{var}}}");
            if !template.contains(&key) {
                continue;
            }
            results = results
                .iter()
                .flat_map(|r| {
                    let key = key.clone();
                    // A part of a name holds no `/`: a year 2025/26 is the segment `2025-26`.
                    values
                        .iter()
                        .map(move |v| r.replace(&key, &v.replace('/', "-")))
                })
                .collect();
        }
        if let Some(missing) = results.iter().find(|r| r.contains('{') && r.contains('}')) {
            return Err(format!("cannot fill in {missing}").into());
        }
        Ok(results)
    }

    /// A change request's name from its number (`CR-2026-0001`) through the list filter.
    async fn change_request_by_number(&mut self, number: &str) -> Result<String, BuildError> {
        let ics = self.ics().await?;
        let method = call::method("ListChangeRequests")
            .ok_or_else(|| "ListChangeRequests is not in the API".to_owned())?;
        let mut request = DynamicMessage::new(method.input());
        request.set_field_by_name(
            "parent",
            prost_reflect::Value::String(format!("icss/{ics}")),
        );
        request.set_field_by_name(
            "filter",
            prost_reflect::Value::String(format!("number = {number}")),
        );
        let response = self
            .connection
            .unary(&method, request)
            .await
            .map_err(BuildError::Refused)?;
        let name = render::cell(&response, "change_requests.name");
        if name.is_empty() {
            return Err(format!("no change request {number} in ICS {ics}").into());
        }
        Ok(name)
    }

    /// The newest assessment of `trust`.
    async fn newest_assessment(&mut self, trust: &str) -> Result<String, BuildError> {
        let ics = self.ics().await?;
        let method = call::method("ListAssessments")
            .ok_or_else(|| "ListAssessments is not in the API".to_owned())?;
        let mut request = DynamicMessage::new(method.input());
        let parent = format!("icss/{ics}/trusts/{trust}");
        request.set_field_by_name("parent", prost_reflect::Value::String(parent));
        request.set_field_by_name("page_size", prost_reflect::Value::I32(1));
        let response = self
            .connection
            .unary(&method, request)
            .await
            .map_err(BuildError::Refused)?;
        let name = render::cell(&response, "assessments.name");
        if name.is_empty() {
            return Err(format!("{trust} has no assessment in ICS {ics}").into());
        }
        Ok(name)
    }

    /// Prints a refused call, naming the flags behind each field it names; exit status 2.
    pub fn refuse(&self, status: &tonic::Status) -> ExitCode {
        render::refused_naming(status, |field| self.flags_for(field))
    }

    /// The flags that fill a request `field` a refusal names (`--year`, `NAME`, …).
    pub fn flags_for(&self, field: &str) -> Vec<String> {
        let mut flags = Vec::new();
        for arg in self.spec.args {
            let matches = arg.field == field
                || (!arg.field.is_empty() && field.starts_with(&format!("{}.", arg.field)));
            if !matches {
                continue;
            }
            match arg.kind {
                Kind::Flag => flags.push(format!("--{}", arg.name)),
                Kind::Positional => flags.push(arg.name.to_owned()),
                Kind::Fixed => {
                    for other in self.spec.args {
                        if other.kind != Kind::Fixed
                            && arg.template.contains(&format!("{{{}}}", other.var()))
                        {
                            flags.push(format!("--{}", other.name));
                        }
                    }
                }
            }
        }
        if flags.is_empty() && !self.spec.body.is_empty() && field.starts_with(self.spec.body) {
            flags.push("-f".to_owned());
        }
        flags
    }

    /// The request: `-f FILE` at the body field, then each argument's value at its field.
    pub async fn request(
        &mut self,
        method: &prost_reflect::MethodDescriptor,
    ) -> Result<DynamicMessage, BuildError> {
        let input = method.input();
        let mut json = Json::Object(Map::new());
        if let Some(path) = self.matches.try_get_one::<PathBuf>("file").ok().flatten() {
            let (names, field) = field_at(&input, self.spec.body)
                .ok_or_else(|| format!("{} has no field {}", input.full_name(), self.spec.body))?;
            let body = read_body(path, &field)?;
            set(&mut json, &names, body);
        }
        for arg in self.spec.args {
            if arg.field.is_empty() {
                continue;
            }
            let (names, field) = field_at(&input, arg.field)
                .ok_or_else(|| format!("{} has no field {}", input.full_name(), arg.field))?;
            let given: Vec<String> = match arg.kind {
                Kind::Fixed => self.expand(arg.template, None).await?,
                _ => match self.vars.get(&arg.var()).cloned() {
                    None => continue,
                    Some(values) => {
                        let mut filled = Vec::new();
                        for v in values {
                            filled.push(self.fill(arg, &v).await?);
                        }
                        filled
                    }
                },
            };
            let flag = if arg.kind == Kind::Fixed {
                arg.field
            } else {
                arg.name
            };
            let mut converted = Vec::new();
            for v in &given {
                converted.push(convert(&field, v).map_err(|e| format!("{flag}: {e}"))?);
            }
            let value = if field.is_list() {
                Json::Array(converted)
            } else {
                converted.into_iter().next().unwrap_or(Json::Null)
            };
            set(&mut json, &names, value);
        }
        if let Some(field) = input.get_field_by_name("request_id") {
            let id = self
                .matches
                .try_get_one::<String>("request_id")
                .ok()
                .flatten()
                .cloned()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            if let Json::Object(map) = &mut json {
                map.entry(field.json_name().to_owned())
                    .or_insert(Json::String(id));
            }
        }
        DynamicMessage::deserialize(input, json)
            .map_err(|e| BuildError::Input(format!("the request: {e}")))
    }

    /// One argument's value through its template; a change request's number becomes its name.
    async fn fill(&mut self, arg: &Arg, value: &str) -> Result<String, BuildError> {
        if arg.template.is_empty() || value.contains('/') {
            return Ok(value.to_owned());
        }
        if arg.template.contains("/changeRequests/") && is_cr_number(value) {
            return self.change_request_by_number(value).await;
        }
        if arg.field == "assessment" {
            return self.newest_assessment(value).await;
        }
        Ok(self.expand(arg.template, Some(value)).await?.join(","))
    }
}

fn is_cr_number(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    matches!(parts.as_slice(), ["CR", year, n]
        if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit())
            && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A body file (YAML or proto JSON) checked against the field's message and returned as proto
/// JSON, so flags can be laid over it by their JSON names.
fn read_body(path: &PathBuf, field: &FieldDescriptor) -> Result<Json, String> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("reading stdin: {e}"))?
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
    };
    let value: Json = serde_yaml_ng::from_str(&text)
        .map_err(|e| format!("{} is not YAML or JSON: {e}", path.display()))?;
    let Some(message) = field.kind().as_message().cloned() else {
        return Ok(value);
    };
    let parsed = DynamicMessage::deserialize(message, value)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let json = render::proto_json(&parsed, false)?;
    serde_json::from_str(&json).map_err(|e| e.to_string())
}

fn set(json: &mut Json, names: &[String], value: Json) {
    let [name, rest @ ..] = names else { return };
    let Json::Object(map) = json else { return };
    if rest.is_empty() {
        map.insert(name.clone(), value);
        return;
    }
    let child = map
        .entry(name.clone())
        .or_insert_with(|| Json::Object(Map::new()));
    if !child.is_object() {
        *child = Json::Object(Map::new());
    }
    set(child, rest, value);
}

/// A command-line value as the proto JSON of `field`'s type.
fn convert(field: &FieldDescriptor, value: &str) -> Result<Json, String> {
    Ok(match field.kind() {
        FieldKind::Enum(e) => {
            let name = format!(
                "{}{}",
                render::enum_prefix(&e),
                value.to_uppercase().replace('-', "_")
            );
            if e.get_value_by_name(&name).is_none() {
                return Err(format!(
                    "`{value}` is not one of {}",
                    enum_choices(field).join(", ")
                ));
            }
            Json::String(name)
        }
        FieldKind::Bool => Json::Bool(value == "true"),
        FieldKind::Double | FieldKind::Float => Json::from(
            value
                .parse::<f64>()
                .map_err(|_| format!("`{value}` is not a number"))?,
        ),
        FieldKind::Int32 | FieldKind::Int64 | FieldKind::Sint32 | FieldKind::Sint64 => Json::from(
            value
                .parse::<i64>()
                .map_err(|_| format!("`{value}` is not a whole number"))?,
        ),
        FieldKind::Uint32 | FieldKind::Uint64 | FieldKind::Fixed32 | FieldKind::Fixed64 => {
            Json::from(
                value
                    .parse::<u64>()
                    .map_err(|_| format!("`{value}` is not a whole number ≥ 0"))?,
            )
        }
        FieldKind::Message(m) if m.full_name() == "google.protobuf.Timestamp" => {
            if value.len() == 10 && chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok() {
                Json::String(format!("{value}T00:00:00Z"))
            } else if chrono::DateTime::parse_from_rfc3339(value).is_ok() {
                Json::String(value.to_owned())
            } else {
                return Err(format!(
                    "`{value}` is not a time: use 2027-01-15 or 2027-01-15T09:00:00Z"
                ));
            }
        }
        FieldKind::Message(m) if m.full_name() == "google.protobuf.Value" => {
            serde_json::from_str(value).unwrap_or_else(|_| Json::String(value.to_owned()))
        }
        FieldKind::Message(_) => serde_yaml_ng::from_str(value)
            .map_err(|e| format!("`{value}` is not YAML or JSON: {e}"))?,
        _ if field.name() == "etag" && !value.starts_with('"') => {
            Json::String(format!("\"{value}\""))
        }
        _ => Json::String(value.to_owned()),
    })
}

#[cfg(test)]
mod tests;
