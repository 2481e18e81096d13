//! `concordat`: the one binary. `serve` runs any set of targets (every service in one process on
//! SQLite by default, or one target per Kubernetes Deployment on PostgreSQL), `migrate` applies
//! every service's migrations, `dev token` mints a development token, `version` prints the version.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use concordat_platform::config::{Config, LogFormat};
use concordat_platform::identity::dev_issuer::{self, DevIssuer, TokenRequest};
use concordat_platform::migrations::MigrateFn;
use concordat_platform::server;
use serde::Serialize;

use concordat::REGISTRY;

mod check;
mod cli;
use check::{background_warnings, check_config};
use concordat_platform::registry::Registry;

/// The allocator. A read of a large configuration allocates and frees per row and per value on
/// the database's worker thread and the server's: glibc's allocator spent about a quarter of such
/// a read in malloc and free, and contended on its arena locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Concordat: shared EPR governance for the trusts of an Integrated Care System.
#[derive(Parser)]
#[command(name = "concordat", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the gRPC API (and gRPC-Web) until SIGTERM or SIGINT.
    ///
    /// Example: concordat serve --data-dir ./data
    Serve(ServeArgs),
    /// Apply the pending database migrations of the platform and the chosen targets, then exit.
    ///
    /// Example: concordat migrate --database-url postgres://concordat@db/concordat
    Migrate(MigrateArgs),
    /// Check the configuration `serve` or `migrate` would run with — file, environment, flags,
    /// the targets (and for `serve` their upstreams), the federation file — and print it resolved
    /// as JSON, without opening the database or a port. Exits 2, with the reason, where the
    /// command would refuse to start.
    CheckConfig {
        #[command(subcommand)]
        command: CheckCommand,
    },
    /// Keep a token for a server, for the client commands that follow: minted by the
    /// development issuer (`--dev`), pasted (`--token-stdin`), or from an OIDC issuer by the
    /// client-credentials grant (`--issuer`). The server checks it first (WhoAmI).
    ///
    /// Example: concordat login --dev --trust RGT --role trust-digital-lead --subject lead-rgt
    Login(LoginArgs),
    /// Forget the token kept for a server.
    ///
    /// Example: concordat logout
    Logout {
        /// The server's gRPC URL.
        #[arg(long, env = "CONCORDAT_URL", default_value = cli::DEFAULT_SERVER, value_name = "URL")]
        server: String,
    },
    /// Reports for the ICS's programme board.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Print a shell's completion script.
    ///
    /// Example: concordat completions bash > ~/.local/share/bash-completion/completions/concordat
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Development helpers.
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
    /// Print the version.
    ///
    /// Example: concordat version
    Version,
}

#[derive(Subcommand)]
enum CheckCommand {
    /// As `concordat serve` with these options would run.
    ///
    /// Example: concordat check-config serve --target change-control
    Serve(ServeArgs),
    /// As `concordat migrate` with these options would run.
    ///
    /// Example: concordat check-config migrate --target all
    Migrate(MigrateArgs),
}

#[derive(Args)]
struct LoginArgs {
    /// The server's gRPC URL.
    #[arg(long, env = "CONCORDAT_URL", default_value = cli::DEFAULT_SERVER, value_name = "URL")]
    server: String,
    /// PEM certificates to trust for an https:// server, besides the system's.
    #[arg(long, env = "CONCORDAT_CA_FILE", value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// A token from the development issuer of the server's data directory (the embedded
    /// default configuration); takes the `dev token` flags.
    #[arg(long, conflicts_with_all = ["token_stdin", "issuer"], requires = "roles")]
    dev: bool,
    /// Read a token from stdin (paste it, then Enter and Ctrl-D).
    #[arg(long, conflicts_with = "issuer")]
    token_stdin: bool,
    /// An OIDC issuer URL: get a token with the client-credentials grant.
    #[arg(long, value_name = "URL", requires_all = ["client_id", "client_secret_file"])]
    issuer: Option<String>,
    /// The client id (with --issuer).
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// A file holding the client secret (with --issuer).
    #[arg(long, value_name = "FILE")]
    client_secret_file: Option<PathBuf>,
    /// The resource (audience) to ask for (with --issuer).
    #[arg(long, value_name = "URL")]
    resource: Option<String>,
    #[command(flatten)]
    dev_token: DevTokenArgs,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// The board pack of a financial year as a tagged PDF or one self-contained HTML page:
    /// summary, change control, convergence, benefits and assurance, every figure with its
    /// source. The same data and the same --as-of give the same file.
    ///
    /// Example: concordat report board --fy 2025/26 --out board.pdf
    Board(cli::report::BoardArgs),
}

#[derive(Subcommand)]
enum DevCommand {
    /// Mint a token from the development issuer (the token alone is the last line of stdout).
    ///
    /// Example: concordat dev token --trust RGT --role da-member --subject voter-rgt
    Token(TokenArgs),
}

/// Flags every command that touches configuration shares.
#[derive(Args, Serialize, Default)]
struct CommonArgs {
    /// Configuration file (TOML).
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// Data directory (SQLite file, development issuer key).
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    /// Database URL: `sqlite://FILE?mode=rwc` or `postgres://USER:PASSWORD@HOST/DB`.
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    /// Federation file (ICSs, trusts, OIDC issuers). Without it the development issuer runs.
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    federation: Option<PathBuf>,
}

#[derive(Args, Serialize)]
struct MigrateArgs {
    #[command(flatten)]
    #[serde(flatten)]
    common: CommonArgs,
    /// `all`, or a comma-separated list of targets whose migrations to apply.
    #[arg(long, default_value = "all", value_name = "TARGETS")]
    #[serde(skip)]
    target: String,
}

#[derive(Args, Serialize)]
struct ServeArgs {
    #[command(flatten)]
    #[serde(flatten)]
    common: CommonArgs,
    /// What to serve: `all`, or a comma-separated list of targets.
    #[arg(long, default_value = "all", value_name = "TARGETS")]
    #[serde(skip)]
    target: String,
    /// gRPC listen address.
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<SocketAddr>,
    /// Metrics and health HTTP listen address.
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_listen: Option<SocketAddr>,
    /// Do not run migrations at start (run `concordat migrate` separately).
    #[arg(long)]
    #[serde(skip)]
    no_migrate: bool,
}

#[derive(Args)]
struct TokenArgs {
    #[command(flatten)]
    token: DevTokenArgs,
}

/// What a development token says.
#[derive(Args)]
struct DevTokenArgs {
    /// The trust (ODS code) the token acts for, e.g. RGT.
    #[arg(long)]
    trust: Option<String>,
    /// A Concordat role; repeat for several.
    #[arg(long = "role")]
    roles: Vec<String>,
    /// The ICS (code). Without --trust, the token is for ICS-level staff of this ICS.
    #[arg(long)]
    ics: Option<String>,
    /// The subject (default: a name made of the trust and first role).
    #[arg(long)]
    subject: Option<String>,
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// Data directory of the server whose development issuer signs.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Configuration file (to find the data directory and token lifetime).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// Logs to stderr as configured and, for `serve` (`traced`: the service name) with
/// `traces.otlp_endpoint` set, exports spans over OTLP and propagates W3C trace context. Returns
/// the tracer provider to flush at exit.
fn init_logging(
    config: &Config,
    traced: Option<&str>,
) -> Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>, String> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match config.log.format {
        LogFormat::Json => fmt.json().boxed(),
        LogFormat::Text => fmt.boxed(),
    };
    let provider = match traced {
        Some(service) if !config.traces.otlp_endpoint.is_empty() => {
            Some(tracer_provider(config, service)?)
        }
        _ => None,
    };
    let otel = provider.as_ref().map(|p| {
        use opentelemetry::trace::TracerProvider as _;
        tracing_opentelemetry::layer().with_tracer(p.tracer("concordat"))
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init();
    Ok(provider)
}

/// The OTLP/gRPC span exporter of `traces`, batched, sampled by `traces.sampling_ratio` (or as
/// the caller's trace was), spans named for `service`; W3C trace context becomes the propagator.
fn tracer_provider(
    config: &Config,
    service: &str,
) -> Result<opentelemetry_sdk::trace::SdkTracerProvider, String> {
    use opentelemetry_otlp::WithExportConfig as _;
    use opentelemetry_sdk::trace::Sampler;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(config.traces.otlp_endpoint.clone())
        .build()
        .map_err(|e| format!("traces.otlp_endpoint {}: {e}", config.traces.otlp_endpoint))?;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.traces.sampling_ratio,
        ))))
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build();
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(provider)
}

/// The whole command line: the server's commands and every client command.
fn command() -> clap::Command {
    use clap::CommandFactory as _;
    Cli::command().subcommands(cli::commands())
}

#[tokio::main]
async fn main() -> ExitCode {
    use clap::FromArgMatches as _;
    let matches = command().get_matches();
    if let Some((group, sub)) = matches.subcommand()
        && cli::groups().contains(&group)
    {
        return cli::run(group, sub).await;
    }
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match cli.command {
        Command::Version => {
            #[allow(clippy::print_stdout)]
            {
                println!("concordat {}", concordat_platform::VERSION);
            }
            ExitCode::SUCCESS
        }
        Command::Migrate(args) => {
            let config = match Config::load(args.common.config.as_deref(), &args) {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            if let Err(e) = init_logging(&config, None) {
                return fail(e);
            }
            let selected = match REGISTRY.select(&args.target) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            let all: Vec<MigrateFn> = Registry::migrations(&selected);
            match server::connect_and_migrate(&config, &all).await {
                Ok(_) => {
                    tracing::info!(database = %server::redact_url(&config.database_url()), "migrations applied");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Command::Serve(args) => serve(args).await,
        Command::Login(args) => login(args).await,
        Command::Report {
            command: ReportCommand::Board(args),
        } => cli::report::board(args).await,
        Command::Logout { server } => match cli::login::forget(&server) {
            Ok(true) => {
                eprintln!("the token for {server} is forgotten");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                eprintln!("no token was kept for {server}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command(), "concordat", &mut script);
            // A closed pipe (`| head`) ends the output quietly.
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), &script);
            ExitCode::SUCCESS
        }
        Command::CheckConfig {
            command: CheckCommand::Serve(args),
        } => check_config(
            (args.common.config.as_deref(), &args),
            &args.target,
            Some(args.no_migrate),
        ),
        Command::CheckConfig {
            command: CheckCommand::Migrate(args),
        } => check_config((args.common.config.as_deref(), &args), &args.target, None),
        Command::Dev {
            command: DevCommand::Token(args),
        } => token(args),
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    let mut config = match Config::load(args.common.config.as_deref(), &args) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if args.no_migrate {
        config.migrate_on_start = false;
    }
    let selected = match REGISTRY.select(&args.target) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let service = match config.traces.service_name.as_str() {
        "" if selected.len() == REGISTRY.select("all").map_or(0, |a| a.len()) => {
            "concordat".to_owned()
        }
        "" => format!(
            "concordat-{}",
            selected
                .iter()
                .map(|s| s.target)
                .collect::<Vec<_>>()
                .join("-")
        ),
        name => name.to_owned(),
    };
    let tracer = match init_logging(&config, Some(&service)) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    for name in &config.ignored_environment {
        tracing::warn!(variable = %name, "environment variable names no configuration field; ignored");
    }
    if let Err(e) = REGISTRY.check_upstreams(&selected, &config) {
        return fail(e);
    }
    for warning in background_warnings(&selected, &config) {
        tracing::error!("{warning}");
    }
    let names: Vec<String> = selected.iter().map(|t| t.target.to_owned()).collect();
    let migrations: Vec<MigrateFn> = Registry::migrations(&selected);

    let grpc = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on {}: {e}", config.listen)),
    };
    let metrics = match tokio::net::TcpListener::bind(config.metrics_listen).await {
        Ok(l) => l,
        Err(e) => {
            return fail(format!(
                "cannot listen on {} (metrics_listen): {e}",
                config.metrics_listen
            ));
        }
    };
    // One shutdown signal for both phases: waiting for the database, and serving.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        server::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let platform = match concordat_platform::startup::start_when_the_database_answers(
        config,
        &migrations,
        names.clone(),
        (&grpc, &metrics),
        stop_rx.clone(),
    )
    .await
    {
        Ok(Some(p)) => p,
        Ok(None) => {
            tracing::info!("stopped before the database answered");
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(e),
    };
    let mut builder = platform.server();
    if let Err(e) = REGISTRY.register(&platform, &mut builder, &selected) {
        return fail(e);
    }
    let addr = grpc.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let metrics_addr = metrics
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(
        listen = %addr,
        metrics = %metrics_addr,
        targets = %names.join(","),
        storage = platform.db.backend().as_str(),
        "concordat serving"
    );
    let mut stopping = stop_rx;
    let shutdown = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let served = builder.serve(grpc, Some(metrics), shutdown).await;
    if let Some(provider) = tracer {
        // Sends the spans still batched.
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("server failed: {e}")),
    }
}

/// A development token as `dev token` and `login --dev` mint it: (token, subject, issuer).
fn mint(args: DevTokenArgs) -> Result<(String, String, String), String> {
    #[derive(Serialize)]
    struct Overrides {
        #[serde(skip_serializing_if = "Option::is_none")]
        data_dir: Option<PathBuf>,
    }
    let config = Config::load(
        args.config.as_deref(),
        Overrides {
            data_dir: args.data_dir.clone(),
        },
    )
    .map_err(|e| e.to_string())?;
    if args.roles.is_empty() {
        return Err("give --role ROLE (repeat for several)".to_owned());
    }
    for role in &args.roles {
        role.parse::<concordat_platform::identity::Role>()
            .map_err(|e| e.to_string())?;
    }
    let org = match (&args.trust, &args.ics) {
        (Some(trust), _) => trust.clone(),
        (None, Some(ics)) => ics.clone(),
        (None, None) => {
            return Err("give --trust ODS (or --ics CODE for ICS-level staff)".to_owned());
        }
    };
    // The organisation must be a trust or an ICS of the federation the server uses.
    let federation = match &config.federation {
        Some(path) => match concordat_platform::identity::Federation::from_file(path) {
            Ok(f) => f,
            Err(e) => return Err(e.to_string()),
        },
        None => concordat_platform::identity::Federation::demo(),
    };
    if let Some(trust) = &args.trust {
        match federation.ics_of_trust(trust) {
            None => {
                return Err(format!(
                    "{trust} is not a trust of the federation (trusts: {})",
                    federation
                        .icss
                        .iter()
                        .flat_map(|i| i.trusts.iter().map(|t| t.ods.clone()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            Some(ics) if args.ics.as_ref().is_some_and(|i| i != &ics.code) => {
                return Err(format!(
                    "{trust} belongs to {}, not to the --ics given",
                    ics.code
                ));
            }
            Some(_) => {}
        }
    } else if let Some(ics) = &args.ics
        && !federation.icss.iter().any(|i| &i.code == ics)
    {
        return Err(format!("{ics} is not an ICS of the federation"));
    }
    // The key is the one a running server published in the data directory; without it the
    // token would be signed by a key no server trusts.
    let published = config.data_dir.join("dev-issuer").join("issuer.json");
    if !published.exists() {
        return Err(format!(
            "no server has published a development issuer key in {}: start `concordat serve` with the same data directory first",
            config.data_dir.display()
        ));
    }
    let default_issuer = dev_issuer::issuer_url(config.dev_issuer.listen);
    let issuer = match DevIssuer::load(&config.data_dir, None, &default_issuer) {
        Ok(i) => i,
        Err(e) => return Err(e.to_string()),
    };
    let subject = args
        .subject
        .unwrap_or_else(|| format!("{}-{}", org.to_lowercase(), args.roles[0]));
    let request = TokenRequest {
        subject,
        name: args.name,
        org,
        ics: args.ics,
        roles: args.roles,
        ttl: config.dev_issuer.token_ttl.max(Duration::from_secs(60)),
    };
    let token = issuer.mint(&request).map_err(|e| e.to_string())?;
    Ok((token, request.subject, issuer.issuer().to_owned()))
}

/// `concordat dev token`: the token alone on the last line of stdout.
fn token(args: TokenArgs) -> ExitCode {
    match mint(args.token) {
        Ok((token, subject, issuer)) => {
            eprintln!("development token for {subject} (issuer {issuer}):");
            #[allow(clippy::print_stdout)]
            {
                println!("{token}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `concordat login`: gets a token (development issuer, pasted, or client credentials), has the
/// server say whom it takes it for, and keeps it for that server.
async fn login(args: LoginArgs) -> ExitCode {
    let token = if args.dev {
        match mint(args.dev_token) {
            Ok((token, _, _)) => token,
            Err(e) => return fail(e),
        }
    } else if let Some(issuer) = &args.issuer {
        let secret = match args
            .client_secret_file
            .as_ref()
            .map(std::fs::read_to_string)
        {
            Some(Ok(s)) => s.trim().to_owned(),
            Some(Err(e)) => return fail(format!("cannot read --client-secret-file: {e}")),
            None => return fail("give --client-secret-file FILE"),
        };
        let client = match concordat_platform::identity::service_client::ClientCredentials::new(
            issuer,
            args.client_id.as_deref().unwrap_or_default(),
            &secret,
            args.resource.as_deref(),
            concordat_platform::clock::Clock::system(),
        ) {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        use concordat_platform::identity::service_client::TokenSource as _;
        match client.token().await {
            Ok(t) => t,
            Err(e) => return fail(e),
        }
    } else {
        use std::io::IsTerminal as _;
        if std::io::stdin().is_terminal() {
            eprintln!("Paste the token, then Enter and Ctrl-D:");
        }
        match std::io::read_to_string(std::io::stdin()) {
            Ok(t) if !t.trim().is_empty() => t,
            Ok(_) => return fail("no token on stdin (or use --dev or --issuer)"),
            Err(e) => return fail(format!("reading stdin: {e}")),
        }
    };
    match cli::login::keep(&args.server, &token, args.ca_file.as_ref()).await {
        Ok(kept) => {
            eprintln!(
                "logged in to {} as {} (issuer {}); the token is kept in {}",
                args.server,
                kept.subject,
                kept.issuer,
                cli::login::path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err((message, Some(status))) => {
            eprintln!("error: {message}");
            cli::render::refused(&status)
        }
        Err((message, None)) => fail(message),
    }
}

#[cfg(test)]
mod tests {
    /// The server's commands and the client commands together pass clap's own checks.
    #[test]
    fn the_command_line_is_consistent() {
        super::command().debug_assert();
    }
}
