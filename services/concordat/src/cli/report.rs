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

/// A decimal for people from an exact quantity (`41601/17` → `2,447.12`; `850` → `850`).
fn decimal(exact: &str) -> String {
    let value = match exact.split_once('/') {
        Some((n, d)) => match (n.parse::<f64>(), d.parse::<f64>()) {
            (Ok(n), Ok(d)) if d != 0.0 => n / d,
            _ => return exact.to_owned(),
        },
        None => match exact.parse::<f64>() {
            Ok(v) => v,
            Err(_) => return exact.to_owned(),
        },
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
    eprintln!(
        "{} written ({} bytes) in {:.1} s",
        args.out.display(),
        bytes.len(),
        began.elapsed().as_secs_f64()
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

    bar.set_message("change control");
    // Governance is read from the year's start to the report's date (the year to date, or the
    // year and what has happened since when the report is dated after it); benefits are the
    // year's own months.
    let (change_control, numbers) = change_control(c, &parent, start, now, now).await?;
    bar.inc(1);
    bar.set_message("convergence");
    let (convergence, now_before) = convergence(c, &parent, now, &numbers).await?;
    bar.inc(1);
    bar.set_message("benefits");
    let benefits = benefits(c, &parent, &args.fy, (first, last), &numbers).await?;
    bar.inc(1);
    bar.set_message("the audit chain");
    let assurance = assurance(c, &parent, start, now).await?;
    bar.inc(1);

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
        against_target: benefits.2,
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

/// Change requests' numbers by name, for figures that name them.
type Numbers = BTreeMap<String, String>;

fn number_of(numbers: &Numbers, name: &str) -> String {
    numbers
        .get(name)
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

async fn change_control(
    c: &mut Clients,
    parent: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(ChangeControl, Numbers), tonic::Status> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page =
            c.cc.list_change_requests(cc::ListChangeRequestsRequest {
                parent: parent.to_owned(),
                page_size: 500,
                page_token,
                filter: String::new(),
                order_by: "number".to_owned(),
            })
            .await?
            .into_inner();
        all.extend(page.change_requests);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut counts: BTreeMap<i32, usize> = BTreeMap::new();
    for cr in &all {
        *counts.entry(cr.state).or_default() += 1;
    }
    let pipeline = counts
        .into_iter()
        .map(|(state, count)| StateCount {
            state: state_name(state),
            count,
        })
        .collect();
    let in_year = |t: Option<DateTime<Utc>>| t.is_some_and(|t| t >= start && t < end);
    let mut decisions = Vec::new();
    for cr in &all {
        let decision = cr.decision.clone().unwrap_or_default();
        let board = cr.board_decision.clone();
        let decided = board
            .as_ref()
            .and_then(|b| time(b.decide_time.as_ref()))
            .or_else(|| time(decision.decide_time.as_ref()));
        if cr.decision.is_none() || !in_year(decided) {
            continue;
        }
        let approved = board.as_ref().map_or(decision.approved, |b| b.approved);
        decisions.push(Decision {
            number: cr.number.clone(),
            title: cr.title.clone(),
            outcome: if approved { "approved" } else { "rejected" }.to_owned(),
            rule: decision.rule.clone(),
            votes: format!(
                "{}/{}/{}",
                decision.approvals, decision.rejections, decision.abstentions
            ),
            charter_version: decision.charter_version,
            board: board.map_or_else(String::new, |b| {
                format!(
                    "{} ({})",
                    if b.approved { "approved" } else { "rejected" },
                    b.minutes_reference
                )
            }),
            date: decided
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
        });
    }
    decisions.sort_by(|a, b| (&a.date, &a.number).cmp(&(&b.date, &b.number)));
    let deadline =
        |cr: &cc::ChangeRequest, what: &str, t: Option<&prost_types::Timestamp>| Deadline {
            number: cr.number.clone(),
            title: cr.title.clone(),
            state: state_name(cr.state),
            what: what.to_owned(),
            date: day(t),
            overdue: time(t).is_some_and(|t| t < now),
        };
    let emergencies = all
        .iter()
        .filter(|cr| {
            cr.change_type == cc::ChangeType::Emergency as i32
                && cr.retrospective_review_deadline.is_some()
                && cr.retrospective_review_time.is_none()
        })
        .map(|cr| {
            deadline(
                cr,
                "retrospective review",
                cr.retrospective_review_deadline.as_ref(),
            )
        })
        .collect();
    let past_deadline = all
        .iter()
        .filter_map(|cr| {
            let (what, t) = match cc::State::try_from(cr.state) {
                Ok(cc::State::ImpactAssessment) => {
                    ("impact assessment", cr.assessment_deadline.as_ref())
                }
                Ok(cc::State::DaReview) => ("voting", cr.voting_deadline.as_ref()),
                _ => return None,
            };
            let d = deadline(cr, what, t);
            d.overdue.then_some(d)
        })
        .collect();
    let numbers = all
        .iter()
        .map(|cr| (cr.name.clone(), cr.number.clone()))
        .collect();
    Ok((
        ChangeControl {
            pipeline,
            decisions,
            emergencies,
            past_deadline,
        },
        numbers,
    ))
}

type NowAndBefore = (Option<f64>, Option<f64>);

async fn convergence(
    c: &mut Clients,
    parent: &str,
    now: DateTime<Utc>,
    numbers: &Numbers,
) -> Result<(Convergence, NowAndBefore), tonic::Status> {
    let matrix = |at: DateTime<Utc>| cv::GetConvergenceMatrixRequest {
        parent: parent.to_owned(),
        as_of: Some(timestamp(at)),
    };
    let current = c.cv.get_convergence_matrix(matrix(now)).await?.into_inner();
    let before =
        c.cv.get_convergence_matrix(matrix(now - chrono::Duration::days(90)))
            .await?
            .into_inner();
    let mean = |cells: &[cv::Cell]| {
        let values: Vec<f64> = cells
            .iter()
            .filter_map(|c| c.scores.as_ref().map(|s| s.convergence))
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let cell = |x: &cv::Cell| {
        let scores = x.scores.clone().unwrap_or_default();
        Cell {
            trust: x.trust.clone(),
            domain: x.domain.clone(),
            value: scores.convergence,
            band: scores.band,
            assessment: x.assessment.clone(),
        }
    };
    // A trust × domain without an assessment has no scores: it is not assessed, not 0%.
    let scored = |x: &&cv::Cell| x.scores.is_some();
    let cells: Vec<Cell> = current.cells.iter().filter(scored).map(cell).collect();
    let totals: Vec<Cell> = current
        .trust_totals
        .iter()
        .filter(scored)
        .map(cell)
        .collect();
    let mut trajectories = Vec::new();
    let mut expiring = Vec::new();
    for total in &totals {
        let trust_parent = format!("{parent}/trusts/{}", total.trust);
        let mut points: Vec<(DateTime<Utc>, f64)> = Vec::new();
        let mut page_token = String::new();
        loop {
            let page =
                c.cv.list_assessments(cv::ListAssessmentsRequest {
                    parent: trust_parent.clone(),
                    domain: String::new(),
                    page_size: 1000,
                    page_token,
                })
                .await?
                .into_inner();
            for a in page.assessments {
                if let Some(t) = time(a.assess_time.as_ref()).filter(|t| *t < now) {
                    points.push((t, a.scores.map_or(0.0, |s| s.convergence)));
                }
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        points.sort_by_key(|a| a.0);
        let labels = points
            .iter()
            .map(|(t, _)| t.format("%Y-%m-%d").to_string())
            .collect();
        let values: Vec<f64> = points.iter().map(|(_, v)| *v).collect();
        // Convergence lies in [0, 1]: limits beyond it say nothing.
        let series_points: Vec<Point> = xmr(labels, &values)
            .into_iter()
            .map(|p| Point {
                lower: p.lower.max(0.0),
                upper: p.upper.min(1.0),
                ..p
            })
            .collect();
        let variation = match series_points.iter().rev().find(|p| p.special) {
            Some(p) if p.value > p.mean => "improvement-high",
            Some(_) => "concern-low",
            None => "common-cause",
        };
        trajectories.push(Series {
            name: total.trust.clone(),
            unit: "convergence, 0–1".to_owned(),
            points: series_points,
            variation: variation.to_owned(),
            assurance: String::new(),
            target: Some(1.0),
            source: format!("{} assessments of {}", values.len(), total.trust),
        });
        let divergences =
            c.cv.list_divergences(cv::ListDivergencesRequest {
                parent: trust_parent,
                domain: String::new(),
                class: cv::KeyClass::VariedApproved as i32,
                page_size: 1000,
                page_token: String::new(),
            })
            .await?
            .into_inner();
        for d in divergences.divergences {
            let Some(t) = time(d.expire_time.as_ref()) else {
                continue;
            };
            if t >= now - chrono::Duration::days(1) && t < now + chrono::Duration::days(90) {
                expiring.push(Expiring {
                    trust: total.trust.clone(),
                    key: format!("{}/{}", d.kind, d.key),
                    change_request: number_of(numbers, &d.change_request),
                    date: t.format("%Y-%m-%d").to_string(),
                });
            }
        }
    }
    expiring.sort_by(|a, b| (&a.date, &a.trust, &a.key).cmp(&(&b.date, &b.trust, &b.key)));
    let plans_list =
        c.cv.list_convergence_plans(cv::ListConvergencePlansRequest {
            parent: parent.to_owned(),
            page_size: 100,
            page_token: String::new(),
        })
        .await?
        .into_inner();
    let mut plans = Vec::new();
    for plan in plans_list.plans {
        let schedule =
            c.cv.schedule_convergence_plan(cv::ScheduleConvergencePlanRequest {
                name: plan.name.clone(),
            })
            .await?
            .into_inner()
            .schedule
            .unwrap_or_default();
        let forecast =
            c.cv.forecast_convergence_plan(cv::ForecastConvergencePlanRequest {
                name: plan.name.clone(),
                iterations: 10_000,
            })
            .await?
            .into_inner()
            .forecast
            .unwrap_or_default();
        let target = time(plan.target_time.as_ref());
        let p85 = time(forecast.p85_time.as_ref());
        plans.push(Plan {
            title: plan.display_name.clone(),
            target: day(plan.target_time.as_ref()),
            critical_path: schedule.critical_path_summary,
            p50: day(forecast.p50_time.as_ref()),
            p85: day(forecast.p85_time.as_ref()),
            on_time: forecast.on_time_probability,
            holds: matches!((p85, target), (Some(p), Some(t)) if p <= t),
            source: format!("{} schedules, seed {}", forecast.iterations, forecast.seed),
        });
    }
    let trusts = if current.trusts.is_empty() {
        totals.iter().map(|t| t.trust.clone()).collect()
    } else {
        current.trusts.clone()
    };
    Ok((
        Convergence {
            trusts,
            domains: current.domains.clone(),
            cells,
            totals,
            trajectories,
            expiring,
            plans,
        },
        (mean(&current.trust_totals), mean(&before.trust_totals)),
    ))
}

async fn benefits(
    c: &mut Clients,
    parent: &str,
    fy: &str,
    (first, last): (NaiveDate, NaiveDate),
    numbers: &Numbers,
) -> Result<(Benefits, bn::GetBenefitRollupResponse, Vec<AgainstTarget>), tonic::Status> {
    let rollup =
        c.bn.get_benefit_rollup(bn::GetBenefitRollupRequest {
            parent: parent.to_owned(),
            period: fy.to_owned(),
            revalue_with: String::new(),
        })
        .await?
        .into_inner();
    let mut profiles = Vec::new();
    let mut page_token = String::new();
    loop {
        let page =
            c.bn.list_benefits(bn::ListBenefitsRequest {
                parent: parent.to_owned(),
                page_size: 500,
                page_token,
            })
            .await?
            .into_inner();
        profiles.extend(page.benefits);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut figures = Vec::new();
    let mut evidence: BTreeMap<String, Evidence> = BTreeMap::new();
    let mut rate_cards = std::collections::BTreeSet::new();
    let mut against_target = Vec::new();
    let mut charts = Vec::new();
    for b in &rollup.benefits {
        for f in &b.figures {
            let total = f.total.clone().unwrap_or_default();
            let counts = f.evidence.unwrap_or_default();
            let card = if f.rate_card.is_empty() {
                String::new()
            } else {
                format!(
                    "{} v{}",
                    f.rate_card.rsplit('/').next().unwrap_or(&f.rate_card),
                    f.rate_card_version
                )
            };
            if !card.is_empty() {
                rate_cards.insert(card.clone());
            }
            figures.push(Figure {
                benefit: b.title.clone(),
                trust: if f.trust.is_empty() {
                    "ICS".to_owned()
                } else {
                    f.trust.clone()
                },
                quantity: format!("{} {}", decimal(&total.quantity), b.unit),
                converted: if total.converted.is_empty() {
                    String::new()
                } else {
                    format!("{} {}", decimal(&total.converted), f.converted_unit)
                },
                value: total.value.clone().map(|v| v.display).unwrap_or_default(),
                category: category(b.category),
                accepted: format!("{}/{}", counts.accepted, counts.expected),
                rate_card: card,
            });
            if f.trust.is_empty() {
                let profile = profiles.iter().find(|p| p.name == b.benefit);
                let target = profile
                    .and_then(|p| p.target.as_ref())
                    .map(|t| t.value.clone())
                    .unwrap_or_default();
                let realised = decimal(&total.quantity)
                    .replace(',', "")
                    .parse::<f64>()
                    .ok();
                let goal = decimal(&target).replace(',', "").parse::<f64>().ok();
                against_target.push(AgainstTarget {
                    benefit: b.title.clone(),
                    category: category(b.category),
                    realised: decimal(&total.quantity),
                    target: decimal(&target),
                    unit: b.unit.clone(),
                    share: match (realised, goal) {
                        (Some(r), Some(g)) if g != 0.0 => Some(r / g),
                        _ => None,
                    },
                    value: total.value.clone().map(|v| v.display).unwrap_or_default(),
                });
            } else {
                let e = evidence.entry(f.trust.clone()).or_insert_with(|| Evidence {
                    trust: f.trust.clone(),
                    ..Default::default()
                });
                e.expected += counts.expected;
                e.submitted += counts.submitted;
                e.validated += counts.validated;
                e.accepted += counts.accepted;
            }
        }
        let chart =
            c.bn.get_benefit_chart(bn::GetBenefitChartRequest {
                benefit: b.benefit.clone(),
                trust: String::new(),
                first_month: format!("{}-{:02}", first.year(), first.month()),
                last_month: format!("{}-{:02}", last.year(), last.month()),
            })
            .await?
            .into_inner();
        let higher_is_better = profiles
            .iter()
            .find(|p| p.name == b.benefit)
            .and_then(|p| p.measure.as_ref())
            .is_none_or(|m| m.higher_is_better);
        let variation = match bn::VariationIcon::try_from(chart.variation) {
            Ok(bn::VariationIcon::Improvement) if higher_is_better => "improvement-high",
            Ok(bn::VariationIcon::Improvement) => "improvement-low",
            Ok(bn::VariationIcon::Concern) if higher_is_better => "concern-low",
            Ok(bn::VariationIcon::Concern) => "concern-high",
            Ok(bn::VariationIcon::NeutralHigh) => "neither-high",
            Ok(bn::VariationIcon::NeutralLow) => "neither-low",
            _ => "common-cause",
        };
        let assurance = match bn::AssuranceIcon::try_from(chart.assurance) {
            Ok(bn::AssuranceIcon::Pass) => "pass",
            Ok(bn::AssuranceIcon::Fail) => "fail",
            Ok(bn::AssuranceIcon::Inconsistent) => "hit-and-miss",
            _ => "",
        };
        charts.push(Series {
            name: b.title.clone(),
            unit: b.unit.clone(),
            points: chart
                .points
                .iter()
                .map(|p| Point {
                    label: p.month.clone(),
                    value: p.plotted,
                    mean: p.mean,
                    lower: p.lower_limit,
                    upper: p.upper_limit,
                    special: p.outside_limits || p.shift || p.trend || p.two_of_three,
                })
                .collect(),
            variation: variation.to_owned(),
            assurance: assurance.to_owned(),
            target: chart.target.parse().ok(),
            source: format!(
                "{} monthly totals of the trusts' counted measurements, {} to {}",
                chart.points.len(),
                chart
                    .points
                    .first()
                    .map(|p| p.month.as_str())
                    .unwrap_or("-"),
                chart.points.last().map(|p| p.month.as_str()).unwrap_or("-")
            ),
        });
    }
    let by_change_request = rollup
        .by_change_request
        .iter()
        .map(|d| {
            let value = |wanted: i32| {
                d.totals
                    .iter()
                    .find(|t| t.category == wanted)
                    .and_then(|t| t.value.as_ref())
                    .map(|m| m.display.clone())
                    .unwrap_or_default()
            };
            Delivery {
                change_request: if d.change_request.is_empty() {
                    "unattributed".to_owned()
                } else {
                    number_of(numbers, &d.change_request)
                },
                cash: value(bn::Category::CashReleasing as i32),
                non_cash: value(bn::Category::NonCashReleasing as i32),
            }
        })
        .collect();
    Ok((
        Benefits {
            figures,
            by_change_request,
            charts,
            evidence: evidence.into_values().collect(),
            rate_cards: rate_cards.into_iter().collect(),
        },
        rollup,
        against_target,
    ))
}

async fn assurance(
    c: &mut Clients,
    parent: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Assurance, tonic::Status> {
    let verdict =
        c.pf.verify_audit_chain(pf::VerifyAuditChainRequest {
            parent: parent.to_owned(),
        })
        .await?
        .into_inner();
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for action in ["governance.refused", "authorization.denied"] {
        let mut page_token = String::new();
        loop {
            let page =
                c.pf.list_audit_entries(pf::ListAuditEntriesRequest {
                    parent: parent.to_owned(),
                    page_size: 1000,
                    page_token,
                    action: action.to_owned(),
                    start_time: Some(timestamp(start)),
                    end_time: Some(timestamp(end)),
                    ..Default::default()
                })
                .await?
                .into_inner();
            for e in page.entries {
                let reason = e
                    .summary
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                *by_reason.entry(reason).or_default() += 1;
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
    }
    let mut refusals: Vec<Refusals> = by_reason
        .into_iter()
        .map(|(reason, count)| Refusals { reason, count })
        .collect();
    refusals.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    Ok(Assurance {
        valid: verdict.valid,
        entries: verdict.entries_checked,
        head: verdict.head_hash,
        problem: verdict.problem,
        refusals,
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
}
