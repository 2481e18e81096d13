//! The command-line client: commands that call a Concordat server through its gRPC API, as a
//! person or a script would, with the generated clients and the API primitives (no database).
//!
//! A token comes from `--token-file` or `CONCORDAT_TOKEN`. Output is a table by default (its
//! header in bold on a terminal, unless `NO_COLOR` is set), or the API response's proto JSON
//! (`-o json`) or the same as YAML (`-o yaml`), or CSV (`-o csv`). A refused call prints its code and message, the
//! reason and each field violation on its own line, and exits 2.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use concordat_api::credentials::BearerToken;
use concordat_api::status::ErrorReport;
use concordat_proto::changecontrol::v1 as cc;
use concordat_proto::changecontrol::v1::change_control_service_client::ChangeControlServiceClient;
use concordat_proto::convergence::v1 as cv;
use concordat_proto::convergence::v1::convergence_service_client::ConvergenceServiceClient;
use concordat_proto::platform::v1 as pf;
use concordat_proto::platform::v1::platform_service_client::PlatformServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// How a command prints what it got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A table for people.
    Table,
    /// The API response as proto JSON.
    Json,
    /// The same as YAML.
    Yaml,
    /// Comma-separated values, a header line first (lists).
    Csv,
}

/// What every client command takes.
#[derive(Args, Debug)]
pub struct ClientArgs {
    /// The server's gRPC URL.
    #[arg(long, default_value = "http://127.0.0.1:50051", value_name = "URL")]
    server: String,
    /// A file holding the bearer token (otherwise `CONCORDAT_TOKEN`).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Output: table, json (the API response's proto JSON), yaml (the same as YAML) or csv.
    #[arg(short, long, value_enum, default_value = "table")]
    output: Output,
}

/// Change requests.
#[derive(Subcommand, Debug)]
pub enum CrCommand {
    /// List the change requests of an ICS, every page.
    ///
    /// Example: concordat cr list --ics QUE --filter 'state = APPROVED'
    List {
        #[command(flatten)]
        client: ClientArgs,
        /// The ICS.
        #[arg(long, default_value = "QUE")]
        ics: String,
        /// A filter, e.g. `state = APPROVED AND trust = "RGT"`.
        #[arg(long, default_value = "")]
        filter: String,
        /// Order, e.g. `update_time desc`.
        #[arg(long, default_value = "")]
        order_by: String,
    },
}

/// Convergence.
#[derive(Subcommand, Debug)]
pub enum ConvergenceCommand {
    /// The trust × domain matrix now: each cell's convergence and band, each trust's total.
    ///
    /// Example: concordat convergence matrix --ics QUE
    Matrix {
        #[command(flatten)]
        client: ClientArgs,
        /// The ICS.
        #[arg(long, default_value = "QUE")]
        ics: String,
    },
}

/// The audit chain.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Verify an ICS's audit chain end to end; exits 1 when it is broken.
    ///
    /// Example: concordat audit verify --ics QUE
    Verify {
        #[command(flatten)]
        client: ClientArgs,
        /// The ICS.
        #[arg(long, default_value = "QUE")]
        ics: String,
    },
}

type Intercepted = InterceptedService<Channel, BearerToken>;

fn token(args: &ClientArgs) -> Result<BearerToken, String> {
    let text = match &args.token_file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read --token-file {}: {e}", path.display()))?,
        None => std::env::var("CONCORDAT_TOKEN")
            .map_err(|_| "no token: set CONCORDAT_TOKEN or give --token-file FILE".to_owned())?,
    };
    BearerToken::new(text.trim()).map_err(|e| format!("the token cannot be sent: {e}"))
}

async fn channel(args: &ClientArgs) -> Result<(Channel, BearerToken), String> {
    let token = token(args)?;
    let endpoint = Channel::from_shared(args.server.clone())
        .map_err(|e| format!("--server {}: {e}", args.server))?;
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", args.server))?;
    Ok((channel, token))
}

/// Prints a refused call: code and message, reason, each field violation, and exits 2.
fn refused(status: &tonic::Status) -> ExitCode {
    let report = ErrorReport::from_status(status);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "error: {:?}: {}", report.code, report.message);
    if let Some(reason) = &report.reason {
        let _ = writeln!(err, "reason: {reason}");
    }
    for v in &report.field_violations {
        let _ = writeln!(err, "  {}: {}", v.field, v.description);
    }
    for (kind, subject, description) in &report.precondition_violations {
        let _ = writeln!(err, "  {kind} {subject}: {description}");
    }
    ExitCode::from(2)
}

fn failed(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// `message` as proto JSON (field names in lowerCamelCase, enums by name, int64 as strings).
fn proto_json<M: prost::Message + prost::Name>(message: &M) -> Result<String, String> {
    let pool = prost_reflect::DescriptorPool::decode(concordat_proto::FILE_DESCRIPTOR_SET)
        .map_err(|e| e.to_string())?;
    let descriptor = pool
        .get_message_by_name(&M::full_name())
        .ok_or_else(|| format!("{} is not in the API", M::full_name()))?;
    let dynamic =
        prost_reflect::DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
            .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::pretty(&mut out);
    dynamic
        .serialize_with_options(
            &mut serializer,
            &prost_reflect::SerializeOptions::new().skip_default_fields(true),
        )
        .map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// Prints `message` as proto JSON, or (`yaml`) the same as YAML.
fn print_message<M: prost::Message + prost::Name>(message: &M, yaml: bool) -> ExitCode {
    let text = proto_json(message).and_then(|json| {
        if !yaml {
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

/// Prints `rows` under `header` as a table (columns padded; the header bold on a terminal unless
/// `NO_COLOR`) or as CSV.
fn print_rows(output: Output, header: &[&str], rows: &[Vec<String>]) {
    let mut out = std::io::stdout().lock();
    if output == Output::Csv {
        let csv = |cells: &[String]| {
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
        };
        let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        let _ = writeln!(out, "{}", csv(&head));
        for row in rows {
            let _ = writeln!(out, "{}", csv(row));
        }
        return;
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let head = line(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if colour {
        let _ = writeln!(out, "\x1b[1m{head}\x1b[0m");
    } else {
        let _ = writeln!(out, "{head}");
    }
    for row in rows {
        let _ = writeln!(out, "{}", line(row));
    }
}

/// `concordat whoami`: the caller as the server sees it.
pub async fn whoami(args: ClientArgs) -> ExitCode {
    let (channel, token) = match channel(&args).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let mut client: PlatformServiceClient<Intercepted> =
        PlatformServiceClient::with_interceptor(channel, token);
    let response = match client.who_am_i(pf::WhoAmIRequest {}).await {
        Ok(r) => r.into_inner(),
        Err(status) => return refused(&status),
    };
    if matches!(args.output, Output::Json | Output::Yaml) {
        return print_message(&response, args.output == Output::Yaml);
    }
    let p = response.principal.unwrap_or_default();
    let kind = pf::PrincipalKind::try_from(p.kind)
        .map(|k| {
            k.as_str_name()
                .trim_start_matches("PRINCIPAL_KIND_")
                .to_owned()
        })
        .unwrap_or_default();
    print_rows(
        args.output,
        &["ISSUER", "SUBJECT", "KIND", "ICS", "TRUST", "ROLES"],
        &[vec![
            p.issuer,
            p.subject,
            kind,
            p.ics,
            p.trust,
            p.roles.join(" "),
        ]],
    );
    ExitCode::SUCCESS
}

/// `concordat cr …`.
pub async fn cr(command: CrCommand) -> ExitCode {
    let CrCommand::List {
        client: args,
        ics,
        filter,
        order_by,
    } = command;
    let (channel, token) = match channel(&args).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let mut client: ChangeControlServiceClient<Intercepted> =
        ChangeControlServiceClient::with_interceptor(channel, token);
    let mut all = cc::ListChangeRequestsResponse::default();
    let mut page_token = String::new();
    loop {
        let page = match client
            .list_change_requests(cc::ListChangeRequestsRequest {
                parent: format!("icss/{ics}"),
                page_size: 100,
                page_token: page_token.clone(),
                filter: filter.clone(),
                order_by: order_by.clone(),
            })
            .await
        {
            Ok(r) => r.into_inner(),
            Err(status) => return refused(&status),
        };
        all.change_requests.extend(page.change_requests);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if matches!(args.output, Output::Json | Output::Yaml) {
        return print_message(&all, args.output == Output::Yaml);
    }
    let rows: Vec<Vec<String>> = all
        .change_requests
        .iter()
        .map(|c| {
            let state = cc::State::try_from(c.state)
                .map(|s| s.as_str_name().trim_start_matches("STATE_").to_owned())
                .unwrap_or_default();
            let updated = concordat_api::time::from_timestamp("update_time", c.update_time)
                .ok()
                .flatten()
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            vec![
                c.number.clone(),
                state,
                c.requesting_trust.clone(),
                c.domain.clone(),
                updated,
                c.title.clone(),
            ]
        })
        .collect();
    print_rows(
        args.output,
        &["NUMBER", "STATE", "TRUST", "DOMAIN", "UPDATED", "TITLE"],
        &rows,
    );
    ExitCode::SUCCESS
}

/// `concordat convergence …`.
pub async fn convergence(command: ConvergenceCommand) -> ExitCode {
    let ConvergenceCommand::Matrix { client: args, ics } = command;
    let (channel, token) = match channel(&args).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let mut client: ConvergenceServiceClient<Intercepted> =
        ConvergenceServiceClient::with_interceptor(channel, token);
    let matrix = match client
        .get_convergence_matrix(cv::GetConvergenceMatrixRequest {
            parent: format!("icss/{ics}"),
            as_of: None,
        })
        .await
    {
        Ok(r) => r.into_inner(),
        Err(status) => return refused(&status),
    };
    if matches!(args.output, Output::Json | Output::Yaml) {
        return print_message(&matrix, args.output == Output::Yaml);
    }
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
    print_rows(args.output, &header, &rows);
    ExitCode::SUCCESS
}

/// `concordat audit …`.
pub async fn audit(command: AuditCommand) -> ExitCode {
    let AuditCommand::Verify { client: args, ics } = command;
    let (channel, token) = match channel(&args).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let mut client: PlatformServiceClient<Intercepted> =
        PlatformServiceClient::with_interceptor(channel, token);
    let verdict = match client
        .verify_audit_chain(pf::VerifyAuditChainRequest {
            parent: format!("icss/{ics}"),
        })
        .await
    {
        Ok(r) => r.into_inner(),
        Err(status) => return refused(&status),
    };
    let valid = verdict.valid;
    let code = if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    if matches!(args.output, Output::Json | Output::Yaml) {
        let printed = print_message(&verdict, args.output == Output::Yaml);
        return if printed == ExitCode::SUCCESS {
            code
        } else {
            printed
        };
    }
    print_rows(
        args.output,
        &["ICS", "VALID", "ENTRIES", "HEAD", "PROBLEM"],
        &[vec![
            ics,
            if valid { "yes" } else { "no" }.to_owned(),
            verdict.entries_checked.to_string(),
            verdict.head_hash,
            verdict.problem,
        ]],
    );
    code
}
