//! Calling a command's method and showing the answer as its [`View`] says.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use prost::Message as _;
use prost_reflect::{DynamicMessage, MethodDescriptor, ReflectMessage as _, Value};

use super::render::{self, Output, failed, print_message, print_record, print_rows};
use super::spec::{Col, View};
use super::{BuildError, Invocation, call};

/// Runs `invocation`: builds the request, calls, shows.
pub async fn run(invocation: &mut Invocation<'_>) -> ExitCode {
    let Some(method) = call::method(invocation.spec.method) else {
        return failed(format!("{} is not in the API", invocation.spec.method));
    };
    if matches!(invocation.spec.view, View::Import) {
        return import(invocation, &method).await;
    }
    let request = match invocation.request(&method).await {
        Ok(r) => r,
        Err(BuildError::Input(e)) => return failed(e),
        Err(BuildError::Refused(status)) => return invocation.refuse(&status),
    };
    let output = invocation.output;
    match invocation.spec.view {
        View::Watch(cols, resume) => watch(invocation, &method, request, cols, resume).await,
        View::Export => export(invocation, &method, request).await,
        View::List(items, cols) | View::Diff(items, cols) => {
            let response = match pages(invocation, &method, request, items).await {
                Ok(r) => r,
                Err(status) => return invocation.refuse(&status),
            };
            let rows = list_rows(&response, items, cols);
            let code = if matches!(invocation.spec.view, View::Diff(..)) && !rows.is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
            if let Some(printed) = as_message(&response, output, code) {
                return printed;
            }
            let header: Vec<&str> = cols.iter().map(|(h, _)| *h).collect();
            print_rows(output, &header, &rows);
            if output == Output::Table {
                print_footer(&response, super::spec::footer(invocation.spec.method));
            }
            code
        }
        view => {
            let response = match invocation.connection.unary(&method, request).await {
                Ok(r) => r,
                Err(status) => return invocation.refuse(&status),
            };
            let code = match view {
                View::Verify
                    if !matches!(
                        response.get_field_by_name("valid").as_deref(),
                        Some(Value::Bool(true))
                    ) =>
                {
                    ExitCode::from(1)
                }
                _ => ExitCode::SUCCESS,
            };
            if let Some(printed) = as_message(&response, output, code) {
                return printed;
            }
            match view {
                View::Row(cols) => {
                    let header: Vec<&str> = cols.iter().map(|(h, _)| *h).collect();
                    let row = cols
                        .iter()
                        .map(|(_, p)| render::cell(&response, p))
                        .collect();
                    print_rows(output, &header, &[row]);
                }
                View::Matrix => matrix(&response, output),
                View::Verify => {
                    let ics = invocation.vars.get("ics").and_then(|v| v.first()).cloned();
                    let ics = ics.or_else(|| invocation.ics.clone()).unwrap_or_default();
                    print_rows(
                        output,
                        &["ICS", "VALID", "ENTRIES", "HEAD", "PROBLEM"],
                        &[vec![
                            ics,
                            render::cell(&response, "valid"),
                            render::cell(&response, "entries_checked"),
                            render::cell(&response, "head_hash"),
                            render::cell(&response, "problem"),
                        ]],
                    );
                }
                View::Rollup => rollup(&response, output),
                _ => print_record(&response, output),
            }
            code
        }
    }
}

/// The response fields `footer` names, `label: value` under a table (those set).
fn print_footer(response: &DynamicMessage, footer: &[Col]) {
    let lines: Vec<String> = footer
        .iter()
        .map(|(label, path)| (label, render::cell(response, path)))
        .filter(|(_, value)| !value.is_empty())
        .map(|(label, value)| format!("{label}: {value}"))
        .collect();
    if !lines.is_empty() {
        let _ = writeln!(std::io::stdout().lock(), "\n{}", lines.join("\n"));
    }
}

/// For `-o json` and `-o yaml`: prints the response and gives `code` (or the printing's error).
fn as_message(response: &DynamicMessage, output: Output, code: ExitCode) -> Option<ExitCode> {
    if output != Output::Json && output != Output::Yaml {
        return None;
    }
    let printed = print_message(response, output);
    Some(if printed == ExitCode::SUCCESS {
        code
    } else {
        printed
    })
}

/// The list at dotted `path` of `message`.
fn list_mut<'m>(message: &'m mut DynamicMessage, path: &str) -> Option<&'m mut Vec<Value>> {
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    let field = message.descriptor().get_field_by_name(head)?;
    let value = message.get_field_mut(&field);
    match value {
        Value::List(items) if rest.is_empty() => Some(items),
        Value::Message(inner) if !rest.is_empty() => list_mut(inner, rest),
        _ => None,
    }
}

/// Every page: the first response with the later pages' items appended at `items`.
async fn pages(
    invocation: &mut Invocation<'_>,
    method: &MethodDescriptor,
    mut request: DynamicMessage,
    items: &str,
) -> Result<DynamicMessage, tonic::Status> {
    let paged = request
        .descriptor()
        .get_field_by_name("page_token")
        .is_some();
    let mut first = invocation.connection.unary(method, request.clone()).await?;
    let token_of = |m: &DynamicMessage| {
        m.get_field_by_name("next_page_token")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let mut token = token_of(&first);
    while paged && !token.is_empty() {
        request.set_field_by_name("page_token", Value::String(token.clone()));
        let mut page = invocation.connection.unary(method, request.clone()).await?;
        token = token_of(&page);
        let more = list_mut(&mut page, items)
            .map(std::mem::take)
            .unwrap_or_default();
        if let Some(all) = list_mut(&mut first, items) {
            all.extend(more);
        }
    }
    if paged {
        first.clear_field_by_name("next_page_token");
    }
    Ok(first)
}

fn list_rows(response: &DynamicMessage, items: &str, cols: &[Col]) -> Vec<Vec<String>> {
    let mut response = response.clone();
    list_mut(&mut response, items)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_message)
                .map(|m| cols.iter().map(|(_, p)| render::cell(m, p)).collect())
                .collect()
        })
        .unwrap_or_default()
}

/// The typed message of a dynamic one (the same bytes).
fn typed<M: prost::Message + Default>(message: &DynamicMessage) -> M {
    M::decode(message.encode_to_vec().as_slice()).unwrap_or_default()
}

fn matrix(response: &DynamicMessage, output: Output) {
    use concordat_proto::convergence::v1 as cv;
    let matrix: cv::GetConvergenceMatrixResponse = typed(response);
    let show = |cell: Option<&cv::Cell>| {
        cell.and_then(|c| c.scores.as_ref()).map_or_else(
            || "-".to_owned(),
            |s| format!("{:.0}% {}", s.convergence * 100.0, s.band),
        )
    };
    let rows: Vec<Vec<String>> = matrix
        .trusts
        .iter()
        .map(|trust| {
            let mut row = vec![trust.clone()];
            row.extend(matrix.domains.iter().map(|domain| {
                show(
                    matrix
                        .cells
                        .iter()
                        .find(|c| &c.trust == trust && &c.domain == domain),
                )
            }));
            row.push(show(matrix.trust_totals.iter().find(|c| &c.trust == trust)));
            row
        })
        .collect();
    let upper: Vec<String> = matrix.domains.iter().map(|d| d.to_uppercase()).collect();
    let mut header = vec!["TRUST"];
    header.extend(upper.iter().map(String::as_str));
    header.push("ALL DOMAINS");
    print_rows(output, &header, &rows);
}

fn rollup(response: &DynamicMessage, output: Output) {
    use concordat_proto::benefits::v1 as bn;
    let rollup: bn::GetBenefitRollupResponse = typed(response);
    let category = super::report::category;
    let mut rows = Vec::new();
    for benefit in &rollup.benefits {
        for figure in &benefit.figures {
            let total = figure.total.clone().unwrap_or_default();
            let evidence = figure.evidence.unwrap_or_default();
            rows.push(vec![
                benefit.title.clone(),
                if figure.trust.is_empty() {
                    "ICS".to_owned()
                } else {
                    figure.trust.clone()
                },
                format!("{} {}", decimal(&total.quantity), benefit.unit),
                if total.converted.is_empty() {
                    String::new()
                } else {
                    format!("{} {}", decimal(&total.converted), figure.converted_unit)
                },
                total.value.map(|v| v.display).unwrap_or_default(),
                format!("{}/{}", evidence.accepted, evidence.expected),
                category(benefit.category),
            ]);
        }
    }
    for total in &rollup.totals {
        rows.push(vec![
            "Total".to_owned(),
            "ICS".to_owned(),
            String::new(),
            String::new(),
            total.value.clone().map(|v| v.display).unwrap_or_default(),
            String::new(),
            category(total.category),
        ]);
    }
    print_rows(
        output,
        &[
            "BENEFIT",
            "TRUST",
            "QUANTITY",
            "CONVERTED",
            "VALUE",
            "ACCEPTED",
            "CATEGORY",
        ],
        &rows,
    );
}

/// An exact quantity for people: a fraction (`41601/17`) as a decimal to two places.
fn decimal(exact: &str) -> String {
    let Some((numerator, denominator)) = exact.split_once('/') else {
        return exact.to_owned();
    };
    match (numerator.parse::<f64>(), denominator.parse::<f64>()) {
        (Ok(n), Ok(d)) if d != 0.0 => format!("{:.2}", n / d),
        _ => exact.to_owned(),
    }
}

/// A spinner on stderr (hidden when stderr is not a terminal).
fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {pos} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A server stream, one row per message. The connection lost (UNAVAILABLE), the stream opens
/// again from the last message's resume value; while the stream replays events older than the
/// watch, a spinner counts them.
async fn watch(
    invocation: &mut Invocation<'_>,
    method: &MethodDescriptor,
    mut request: DynamicMessage,
    cols: &[Col],
    (request_field, response_path): (&str, &str),
) -> ExitCode {
    let output = invocation.output;
    let limit = invocation
        .matches
        .try_get_one::<u64>("count")
        .ok()
        .flatten()
        .copied();
    let started = chrono::Utc::now();
    let header: Vec<String> = cols.iter().map(|(h, _)| (*h).to_owned()).collect();
    let widths: Vec<usize> = cols.iter().map(|(h, _)| h.len().max(20)).collect();
    if output == Output::Table {
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            render::header_line(&header, &widths)
        );
    } else if output == Output::Csv {
        print_rows(
            output,
            &cols.iter().map(|(h, _)| *h).collect::<Vec<_>>(),
            &[],
        );
    }
    let catch_up = spinner("catching up: events replayed");
    let mut seen = 0u64;
    let mut failures = 0u32;
    let Some(resume_field) = request.descriptor().get_field_by_name(request_field) else {
        return failed(format!(
            "{} has no {request_field}",
            request.descriptor().full_name()
        ));
    };
    loop {
        let mut stream = match invocation
            .connection
            .server_streaming(method, request.clone())
            .await
        {
            Ok(s) => s,
            Err(status) if lost(&status) && failures < 30 => {
                failures += 1;
                tokio::time::sleep(Duration::from_millis(500 * u64::from(failures.min(10)))).await;
                continue;
            }
            Err(status) => {
                catch_up.finish_and_clear();
                return invocation.refuse(&status);
            }
        };
        loop {
            let next =
                match tokio::time::timeout(Duration::from_millis(750), stream.message()).await {
                    Err(_) => {
                        catch_up.finish_and_clear();
                        continue;
                    }
                    Ok(next) => next,
                };
            match next {
                Ok(Some(event)) => {
                    failures = 0;
                    seen += 1;
                    let time = render::cell(&event, "event_time");
                    if !catch_up.is_finished() {
                        if time.is_empty() || time < started.format("%Y-%m-%d %H:%M").to_string() {
                            catch_up.inc(1);
                        } else {
                            catch_up.finish_and_clear();
                        }
                    }
                    if let Some(value) = resume_value(&event, response_path) {
                        request.set_field(&resume_field, value);
                    }
                    let mut out = std::io::stdout().lock();
                    match output {
                        Output::Json | Output::Yaml => {
                            let _ = writeln!(
                                out,
                                "{}",
                                render::proto_json(&event, false).unwrap_or_default()
                            );
                        }
                        Output::Table | Output::Csv => {
                            let row: Vec<String> =
                                cols.iter().map(|(_, p)| render::cell(&event, p)).collect();
                            drop(out);
                            if output == Output::Csv {
                                print_rows_body(&row);
                            } else {
                                let _ = writeln!(
                                    std::io::stdout().lock(),
                                    "{}",
                                    render::line(&row, &widths)
                                );
                            }
                        }
                    }
                    if limit.is_some_and(|n| seen >= n) {
                        catch_up.finish_and_clear();
                        return ExitCode::SUCCESS;
                    }
                }
                Ok(None) => break,
                Err(status)
                    if matches!(
                        status.code(),
                        tonic::Code::Unavailable
                            | tonic::Code::Unknown
                            | tonic::Code::Internal
                            | tonic::Code::Cancelled
                    ) =>
                {
                    break;
                }
                Err(status) => {
                    catch_up.finish_and_clear();
                    return invocation.refuse(&status);
                }
            }
        }
        failures += 1;
        if failures > 30 {
            catch_up.finish_and_clear();
            return failed("the watch's connection was lost and did not come back");
        }
        let _ = writeln!(
            std::io::stderr().lock(),
            "connection lost; resuming from {request_field} {}",
            render::show(&resume_field, &request.get_field(&resume_field))
        );
        tokio::time::sleep(Duration::from_millis(500 * u64::from(failures.min(10)))).await;
    }
}

/// Whether a failed call says the connection was lost (rather than the server refusing): a
/// reconnect while the server is unreachable is UNAVAILABLE, or CANCELLED or UNKNOWN when the
/// connection drops during the HTTP/2 handshake.
fn lost(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Cancelled | tonic::Code::Unknown
    )
}

fn print_rows_body(row: &[String]) {
    let _ = writeln!(std::io::stdout().lock(), "{}", render::csv_line(row));
}

/// The value at dotted `path` of `message` (a scalar).
fn resume_value(message: &DynamicMessage, path: &str) -> Option<Value> {
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    let field = message.descriptor().get_field_by_name(head)?;
    let value = message.get_field(&field).into_owned();
    if rest.is_empty() {
        return Some(value);
    }
    value.as_message().and_then(|m| resume_value(m, rest))
}

/// ExportConfig, every page, joined into one bundle (the first page's header, every item, one
/// per line), written to `--out` or stdout, a spinner counting items.
async fn export(
    invocation: &mut Invocation<'_>,
    method: &MethodDescriptor,
    mut request: DynamicMessage,
) -> ExitCode {
    let bar = spinner("exporting: items");
    let mut header: Option<serde_json::Map<String, serde_json::Value>> = None;
    let mut items: Vec<serde_json::Value> = Vec::new();
    loop {
        let page = match invocation.connection.unary(method, request.clone()).await {
            Ok(p) => p,
            Err(status) => {
                bar.finish_and_clear();
                return invocation.refuse(&status);
            }
        };
        let bundle = render::cell(&page, "bundle_json");
        let mut parsed: serde_json::Map<String, serde_json::Value> =
            match serde_json::from_str(&bundle) {
                Ok(p) => p,
                Err(e) => {
                    bar.finish_and_clear();
                    return failed(format!("the server's bundle is not JSON: {e}"));
                }
            };
        if let Some(serde_json::Value::Array(page_items)) = parsed.remove("items") {
            bar.inc(page_items.len() as u64);
            items.extend(page_items);
        }
        header.get_or_insert(parsed);
        let token = render::cell(&page, "next_page_token");
        if token.is_empty() {
            break;
        }
        request.set_field_by_name("page_token", Value::String(token));
    }
    bar.finish_and_clear();
    let mut text = String::from("{");
    for (key, value) in header.unwrap_or_default() {
        text.push_str(&format!("{}: {value}, ", serde_json::Value::String(key)));
    }
    text.push_str("\"items\": [\n");
    let lines: Vec<String> = items.iter().map(|i| format!("  {i}")).collect();
    text.push_str(&lines.join(",\n"));
    text.push_str("\n]}\n");
    let out = invocation.vars.get("out").and_then(|v| v.first()).cloned();
    match out {
        Some(path) => match std::fs::write(&path, text) {
            Ok(()) => {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "{} items written to {path}",
                    items.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => failed(format!("cannot write {path}: {e}")),
        },
        None => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
    }
}

/// ImportSnapshotParts: the bundle file's items sent in parts of `--part-items`, the first part
/// with the snapshot's trust, label and time, a progress bar counting items sent.
async fn import(invocation: &mut Invocation<'_>, method: &MethodDescriptor) -> ExitCode {
    let Some(path) = invocation.vars.get("file").and_then(|v| v.first()).cloned() else {
        return failed("give the bundle FILE");
    };
    let part_items: usize = match invocation.vars.get("part_items").and_then(|v| v.first()) {
        None => 5000,
        Some(n) => match n.parse() {
            Ok(n) if n > 0 => n,
            _ => return failed(format!("--part-items: `{n}` is not a whole number above 0")),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return failed(format!("cannot read {path}: {e}")),
    };
    let items = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(mut bundle)) => match bundle.remove("items") {
            Some(serde_json::Value::Array(items)) => items,
            _ => return failed(format!("{path}: the bundle has no \"items\" list")),
        },
        Ok(_) => {
            return failed(format!(
                "{path}: a bundle is a JSON object {{\"items\": [...]}}"
            ));
        }
        Err(e) => return failed(format!("{path} is not JSON: {e}")),
    };
    let first = match invocation.request(method).await {
        Ok(r) => r,
        Err(BuildError::Input(e)) => return failed(e),
        Err(BuildError::Refused(status)) => return invocation.refuse(&status),
    };
    let request_id = render::cell(&first, "request_id");
    let total = items.len();
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} items sent {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut parts: Vec<DynamicMessage> = Vec::new();
    let chunks: Vec<&[serde_json::Value]> = if items.is_empty() {
        vec![&[]]
    } else {
        items.chunks(part_items).collect()
    };
    for (i, chunk) in chunks.into_iter().enumerate() {
        let mut part = if i == 0 {
            first.clone()
        } else {
            DynamicMessage::new(method.input())
        };
        let bundle = serde_json::json!({ "items": chunk }).to_string();
        part.set_field_by_name("bundle_json", Value::String(bundle));
        parts.push(part);
    }
    let sizes: Vec<u64> = items
        .chunks(part_items.max(1))
        .map(|c| c.len() as u64)
        .collect();
    let counter = bar.clone();
    let stream = futures::stream::iter(parts.into_iter().enumerate().map(move |(i, part)| {
        if i > 0 {
            counter.inc(sizes.get(i - 1).copied().unwrap_or(0));
        }
        part
    }));
    let began = Instant::now();
    let result = invocation
        .connection
        .client_streaming(method, stream, &request_id)
        .await;
    bar.finish_and_clear();
    match result {
        Ok(response) => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{total} items imported in {:.1} s",
                began.elapsed().as_secs_f64()
            );
            if invocation.output == Output::Json || invocation.output == Output::Yaml {
                print_message(&response, invocation.output)
            } else {
                print_record(&response, invocation.output);
                ExitCode::SUCCESS
            }
        }
        Err(status) => invocation.refuse(&status),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn exact_fractions_show_as_decimals() {
        assert_eq!(super::decimal("41601/17"), "2447.12");
        assert_eq!(super::decimal("2450"), "2450");
        assert_eq!(super::decimal("1/0"), "1/0");
    }
}
