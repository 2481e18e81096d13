//! `concordat report board`: gathers an ICS's year through the API (the generated clients,
//! every page) into the board report's model, and renders it as PDF or HTML, showing progress.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use chrono::{DateTime, Datelike as _, NaiveDate, Utc};
use concordat_api::credentials::BearerToken;
use concordat_proto::benefits::v1 as bn;
use concordat_proto::changecontrol::v1 as cc;
use concordat_proto::convergence::v1 as cv;
use concordat_proto::platform::v1 as pf;
use concordat_report::model::{
    AgainstTarget, Assurance, Benefits, Cell, ChangeControl, Convergence, Deadline, Decision,
    Delivery, Evidence, Expiring, Figure, Plan, Point, Refusals, Report, Series, StateCount,
    Summary,
};
use indicatif::{ProgressBar, ProgressStyle};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use super::render::{failed, refused};

mod sections;
use sections::{assurance, benefits, change_control, convergence};

type Auth = InterceptedService<Channel, BearerToken>;

/// What `concordat report board` takes.
#[derive(clap::Args, Debug)]
pub struct BoardArgs {
    /// The financial year, e.g. 2025/26.
    #[arg(long, value_name = "YYYY/YY")]
    pub fy: String,
    /// The file to write: `.pdf` (tagged PDF) or `.html` (one self-contained page).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The date the report is as of (its document date; deadlines and expiries are judged at
    /// it). Default: today. The same data and the same date give the same file.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,
    /// The ICS (default the caller's, from the token).
    #[arg(long, env = "CONCORDAT_ICS", value_name = "CODE")]
    pub ics: Option<String>,
    /// The server's gRPC URL.
    #[arg(long, env = "CONCORDAT_URL", default_value = super::DEFAULT_SERVER, value_name = "URL")]
    pub server: String,
    /// A file holding the bearer token (otherwise CONCORDAT_TOKEN, then `concordat login`'s).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// PEM certificates to trust for an https:// server, besides the system's.
    #[arg(long, env = "CONCORDAT_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

/// A financial year `2025/26`: 1 April 2025 to 31 March 2026.
fn year_bounds(fy: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (start, end) = fy.split_once('/')?;
    let start: i32 = start.parse().ok()?;
    let end: i32 = end.parse().ok()?;
    if end != (start + 1) % 100 || start < 2000 {
        return None;
    }
    Some((
        NaiveDate::from_ymd_opt(start, 4, 1)?,
        NaiveDate::from_ymd_opt(start + 1, 3, 31)?,
    ))
}

fn at_midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0)
        .map_or_else(Utc::now, |t| t.and_utc())
}

fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    }
}

fn time(t: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
}

fn day(t: Option<&prost_types::Timestamp>) -> String {
    time(t)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The state's name for people: `DA_REVIEW` → `DA review`.
fn state_name(state: i32) -> String {
    let name = cc::State::try_from(state)
        .map(|s| s.as_str_name().trim_start_matches("STATE_").to_owned())
        .unwrap_or_default();
    match name.as_str() {
        "DA_REVIEW" => "DA review".to_owned(),
        other => {
            let lower = other.to_lowercase().replace('_', " ");
            let mut chars = lower.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
                .unwrap_or_default()
        }
    }
}

/// The value of an exact quantity (`41601/17`, `850`, `72.5`), if it is one.
fn exact_value(exact: &str) -> Option<f64> {
    match exact.split_once('/') {
        Some((n, d)) => match (n.parse::<f64>(), d.parse::<f64>()) {
            (Ok(n), Ok(d)) if d != 0.0 => Some(n / d),
            _ => None,
        },
        None => exact.parse().ok(),
    }
}

/// A benefit's target for a year of `months` months, from its profile's target, which is per
/// month (the level to reach by a month): a summed measure's year is the monthly target times
/// the months, a mean's or a last value's is the monthly target itself. Answers the year's
/// target for people, how it was reached, and its value.
fn year_target(
    target: Option<&bn::MeasureAt>,
    aggregation: i32,
    months: usize,
) -> Option<(String, String, f64)> {
    let target = target?;
    let monthly = exact_value(&target.value)?;
    let by = if target.month.is_empty() {
        String::new()
    } else {
        format!(" by {}", target.month)
    };
    Some(if aggregation == bn::Aggregation::Sum as i32 {
        let year = monthly * months as f64;
        (
            decimal(&year.to_string()),
            format!("{} a month × {months}", decimal(&target.value)),
            year,
        )
    } else {
        (decimal(&target.value), format!("a month{by}"), monthly)
    })
}

/// A decimal for people from an exact quantity (`41601/17` → `2,447.12`; `850` → `850`).
fn decimal(exact: &str) -> String {
    let Some(value) = exact_value(exact) else {
        return exact.to_owned();
    };
    let text = if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    };
    let (whole, fraction) = text
        .split_once('.')
        .map_or((text.as_str(), ""), |(w, f)| (w, f));
    let (sign, digits) = whole.strip_prefix('-').map_or(("", whole), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if fraction.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{fraction}")
    }
}

/// A benefit category for people: `non-cash-releasing`.
pub(super) fn category(c: i32) -> String {
    bn::Category::try_from(c)
        .map(|c| {
            c.as_str_name()
                .trim_start_matches("CATEGORY_")
                .to_lowercase()
                .replace('_', "-")
        })
        .unwrap_or_default()
}

/// XmR: the mean of the values, the limits at the mean ± 2.66 × the mean moving range, a point
/// outside them special.
fn xmr(labels: Vec<String>, values: &[f64]) -> Vec<Point> {
    if values.is_empty() {
        return Vec::new();
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let ranges: Vec<f64> = values.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    let spread = if ranges.is_empty() {
        0.0
    } else {
        2.66 * ranges.iter().sum::<f64>() / ranges.len() as f64
    };
    labels
        .into_iter()
        .zip(values)
        .map(|(label, &value)| Point {
            label,
            value,
            mean,
            lower: mean - spread,
            upper: mean + spread,
            special: spread > 0.0 && (value > mean + spread || value < mean - spread),
        })
        .collect()
}

#[derive(Clone)]
struct Clients {
    cc: cc::change_control_service_client::ChangeControlServiceClient<Auth>,
    cv: cv::convergence_service_client::ConvergenceServiceClient<Auth>,
    bn: bn::benefits_service_client::BenefitsServiceClient<Auth>,
    pf: pf::platform_service_client::PlatformServiceClient<Auth>,
}

/// `concordat report board`.
pub async fn board(args: BoardArgs) -> ExitCode {
    let Some((first, last)) = year_bounds(&args.fy) else {
        return failed(format!(
            "--fy {}: a financial year is written 2025/26",
            args.fy
        ));
    };
    let Some(format) = concordat_report::Format::of_path(&args.out) else {
        return failed(format!(
            "--out {}: the file must end in .pdf or .html",
            args.out.display()
        ));
    };
    let as_of = args.as_of.unwrap_or_else(|| Utc::now().date_naive());
    let token = match super::login::token(args.token_file.as_ref(), &args.server) {
        Ok(t) => t,
        Err(e) => return failed(e),
    };
    let channel = match super::call::channel(&args.server, args.ca_file.as_ref()).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let auth = |c: &Channel| InterceptedService::new(c.clone(), token.clone());
    let mut clients = Clients {
        cc: cc::change_control_service_client::ChangeControlServiceClient::new(auth(&channel)),
        cv: cv::convergence_service_client::ConvergenceServiceClient::new(auth(&channel)),
        bn: bn::benefits_service_client::BenefitsServiceClient::new(auth(&channel)),
        pf: pf::platform_service_client::PlatformServiceClient::new(auth(&channel)),
    };
    let bar = ProgressBar::new(6);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let began = Instant::now();
    let report = match gather(&mut clients, &args, first, last, as_of, &bar).await {
        Ok(r) => r,
        Err(status) => {
            bar.finish_and_clear();
            return refused(&status);
        }
    };
    let gathered = began.elapsed();
    bar.set_message(format!("rendering {}", args.out.display()));
    let rendered =
        tokio::task::spawn_blocking(move || concordat_report::render(&report, format)).await;
    bar.finish_and_clear();
    let bytes = match rendered {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return failed(format!("rendering the report: {e}")),
        Err(e) => return failed(format!("rendering the report: {e}")),
    };
    if let Err(e) = std::fs::write(&args.out, &bytes) {
        return failed(format!("cannot write {}: {e}", args.out.display()));
    }
    let elapsed = began.elapsed();
    eprintln!(
        "{} written ({} bytes) in {:.2} s: gathered in {:.2} s, rendered in {:.2} s",
        args.out.display(),
        bytes.len(),
        elapsed.as_secs_f64(),
        gathered.as_secs_f64(),
        (elapsed - gathered).as_secs_f64()
    );
    ExitCode::SUCCESS
}

async fn gather(
    c: &mut Clients,
    args: &BoardArgs,
    first: NaiveDate,
    last: NaiveDate,
    as_of: NaiveDate,
    bar: &ProgressBar,
) -> Result<Report, tonic::Status> {
    bar.set_message("who and where");
    let principal =
        c.pf.who_am_i(pf::WhoAmIRequest {})
            .await?
            .into_inner()
            .principal
            .unwrap_or_default();
    let ics = args.ics.clone().unwrap_or(principal.ics);
    let federation =
        c.pf.get_federation(pf::GetFederationRequest {})
            .await?
            .into_inner();
    let ics_name = federation
        .icss
        .iter()
        .find(|i| i.code == ics)
        .map_or_else(|| ics.clone(), |i| i.display_name.clone());
    let parent = format!("icss/{ics}");
    let start = at_midnight(first);
    let now = at_midnight(as_of + chrono::Days::new(1));
    bar.inc(1);

    // The audit chain is verified while the other sections are read.
    let mut auditing = c.clone();
    let audit = async {
        let verdict = assurance(&mut auditing, &parent, start, now).await;
        bar.inc(1);
        verdict
    };
    let sections = async {
        bar.set_message("change control");
        // Governance is read from the year's start to the report's date (the year to date, or
        // the year and what has happened since when the report is dated after it); benefits
        // are the year's own months.
        let (change_control, numbers) = change_control(c, &parent, start, now, now).await?;
        bar.inc(1);
        bar.set_message("convergence");
        let (convergence, now_before) = convergence(c, &parent, now, &numbers).await?;
        bar.inc(1);
        bar.set_message("benefits");
        let benefits = benefits(c, &parent, &args.fy, (first, last), &numbers).await?;
        bar.inc(1);
        Ok::<_, tonic::Status>((change_control, convergence, now_before, benefits))
    };
    let (sections, assurance) = tokio::join!(sections, audit);
    let (change_control, convergence, now_before, benefits) = sections?;
    let assurance = assurance?;

    let (approved, rejected): (Vec<&Decision>, Vec<&Decision>) = change_control
        .decisions
        .iter()
        .partition(|d| d.outcome == "approved");
    let rollup = &benefits.1;
    let total = |wanted: i32| {
        rollup
            .totals
            .iter()
            .find(|t| t.category == wanted)
            .and_then(|t| t.value.as_ref())
            .map_or_else(|| "£0.00".to_owned(), |m| m.display.clone())
    };
    let summary = Summary {
        approved: approved.iter().map(|d| d.number.clone()).collect(),
        rejected: rejected.iter().map(|d| d.number.clone()).collect(),
        convergence_now: now_before.0,
        convergence_before: now_before.1,
        trusts_assessed: convergence.totals.len(),
        cash_realised: total(bn::Category::CashReleasing as i32),
        non_cash_realised: total(bn::Category::NonCashReleasing as i32),
        chain_valid: assurance.valid,
        chain_entries: assurance.entries,
    };
    Ok(Report {
        ics,
        ics_name,
        year: args.fy.clone(),
        as_of: as_of.format("%Y-%m-%d").to_string(),
        summary,
        change_control,
        convergence,
        benefits: benefits.0,
        assurance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_and_quantities_read_as_people_write_them() {
        let (first, last) = year_bounds("2025/26").unwrap();
        assert_eq!(
            (first.to_string(), last.to_string()),
            ("2025-04-01".into(), "2026-03-31".into())
        );
        assert!(year_bounds("2025/27").is_none() && year_bounds("2025").is_none());
        assert_eq!(decimal("41650/17"), "2,450");
        assert_eq!(decimal("850"), "850");
        assert_eq!(decimal("1234567/2"), "617,283.50");
        assert_eq!(state_name(cc::State::DaReview as i32), "DA review");
        assert_eq!(
            state_name(cc::State::ImpactAssessment as i32),
            "Impact assessment"
        );
        let points = xmr(vec!["a".into(), "b".into(), "c".into()], &[1.0, 1.0, 4.0]);
        assert_eq!(points[0].mean, 2.0);
        assert!(!points[2].special, "one jump widens the limits: {points:?}");
    }

    #[test]
    fn a_monthly_target_adds_up_over_the_year_only_for_a_summed_measure() {
        let target = bn::MeasureAt {
            value: "151/2".into(),
            month: "2026-03".into(),
        };
        assert_eq!(
            year_target(Some(&target), bn::Aggregation::Sum as i32, 12),
            Some(("906".into(), "75.50 a month × 12".into(), 906.0))
        );
        assert_eq!(
            year_target(Some(&target), bn::Aggregation::Mean as i32, 12),
            Some(("75.50".into(), "a month by 2026-03".into(), 75.5))
        );
        assert_eq!(year_target(None, bn::Aggregation::Sum as i32, 12), None);
        let unreadable = bn::MeasureAt {
            value: "lots".into(),
            month: String::new(),
        };
        assert_eq!(year_target(Some(&unreadable), 1, 12), None);
    }
}
