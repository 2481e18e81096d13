//! Each section of the report gathered through the API: change control, convergence, benefits
//! and assurance.

use futures::{StreamExt as _, TryStreamExt as _};

use super::*;

/// Change requests' numbers by name, for figures that name them.
type Numbers = BTreeMap<String, String>;

fn number_of(numbers: &Numbers, name: &str) -> String {
    numbers
        .get(name)
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

/// How many of a section's independent calls are in flight at once.
const CALLS_IN_FLIGHT: usize = 8;

/// Every item of a paged list: `page(token)` answers one page's items and the next page's token
/// (empty after the last).
async fn every_page<T, Fut>(mut page: impl FnMut(String) -> Fut) -> Result<Vec<T>, tonic::Status>
where
    Fut: std::future::Future<Output = Result<(Vec<T>, String), tonic::Status>>,
{
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = page(token).await?;
        all.extend(items);
        if next.is_empty() {
            return Ok(all);
        }
        token = next;
    }
}

pub(super) async fn change_control(
    c: &mut Clients,
    parent: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(ChangeControl, Numbers), tonic::Status> {
    let all = every_page(|page_token| {
        let mut client = c.cc.clone();
        let request = cc::ListChangeRequestsRequest {
            parent: parent.to_owned(),
            page_size: 500,
            page_token,
            filter: String::new(),
            order_by: "number".to_owned(),
        };
        async move {
            let page = client.list_change_requests(request).await?.into_inner();
            Ok((page.change_requests, page.next_page_token))
        }
    })
    .await?;
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

pub(super) async fn convergence(
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
    // Each trust's assessments and approved variations (however many pages), several trusts
    // in flight at once, answered in the trusts' order.
    let per_trust: Vec<_> = futures::stream::iter(totals.iter().map(|total| {
        let trust_parent = format!("{parent}/trusts/{}", total.trust);
        let client = c.cv.clone();
        async move {
            let assessments = every_page(|page_token| {
                let mut client = client.clone();
                let request = cv::ListAssessmentsRequest {
                    parent: trust_parent.clone(),
                    domain: String::new(),
                    page_size: 1000,
                    page_token,
                };
                async move {
                    let page = client.list_assessments(request).await?.into_inner();
                    Ok((page.assessments, page.next_page_token))
                }
            })
            .await?;
            let varied = every_page(|page_token| {
                let mut client = client.clone();
                let request = cv::ListDivergencesRequest {
                    parent: trust_parent.clone(),
                    domain: String::new(),
                    class: cv::KeyClass::VariedApproved as i32,
                    page_size: 1000,
                    page_token,
                };
                async move {
                    let page = client.list_divergences(request).await?.into_inner();
                    Ok((page.divergences, page.next_page_token))
                }
            })
            .await?;
            Ok::<_, tonic::Status>((assessments, varied))
        }
    }))
    .buffered(CALLS_IN_FLIGHT)
    .try_collect()
    .await?;
    for (total, (assessments, varied)) in totals.iter().zip(per_trust) {
        let mut points: Vec<(DateTime<Utc>, f64)> = assessments
            .into_iter()
            .filter_map(|a| {
                let t = time(a.assess_time.as_ref()).filter(|t| *t < now)?;
                Some((t, a.scores.map_or(0.0, |s| s.convergence)))
            })
            .collect();
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
        for d in varied {
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
    let plans_list = every_page(|page_token| {
        let mut client = c.cv.clone();
        let request = cv::ListConvergencePlansRequest {
            parent: parent.to_owned(),
            page_size: 100,
            page_token,
        };
        async move {
            let page = client.list_convergence_plans(request).await?.into_inner();
            Ok((page.plans, page.next_page_token))
        }
    })
    .await?;
    let mut plans = Vec::new();
    for plan in plans_list {
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

pub(super) async fn benefits(
    c: &mut Clients,
    parent: &str,
    fy: &str,
    (first, last): (NaiveDate, NaiveDate),
    numbers: &Numbers,
) -> Result<(Benefits, bn::GetBenefitRollupResponse), tonic::Status> {
    let rollup =
        c.bn.get_benefit_rollup(bn::GetBenefitRollupRequest {
            parent: parent.to_owned(),
            period: fy.to_owned(),
            revalue_with: String::new(),
        })
        .await?
        .into_inner();
    let profiles = every_page(|page_token| {
        let mut client = c.bn.clone();
        let request = bn::ListBenefitsRequest {
            parent: parent.to_owned(),
            page_size: 500,
            page_token,
        };
        async move {
            let page = client.list_benefits(request).await?.into_inner();
            Ok((page.benefits, page.next_page_token))
        }
    })
    .await?;
    // Each benefit's chart, several calls in flight at once, answered in the rollup's order.
    let months = (
        format!("{}-{:02}", first.year(), first.month()),
        format!("{}-{:02}", last.year(), last.month()),
    );
    let answers: Vec<bn::GetBenefitChartResponse> =
        futures::stream::iter(rollup.benefits.iter().map(|b| {
            let mut client = c.bn.clone();
            let request = bn::GetBenefitChartRequest {
                benefit: b.benefit.clone(),
                trust: String::new(),
                first_month: months.0.clone(),
                last_month: months.1.clone(),
            };
            async move {
                client
                    .get_benefit_chart(request)
                    .await
                    .map(tonic::Response::into_inner)
            }
        }))
        .buffered(CALLS_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut figures = Vec::new();
    let mut evidence: BTreeMap<String, Evidence> = BTreeMap::new();
    let mut rate_cards = std::collections::BTreeSet::new();
    let mut against_target = Vec::new();
    let mut charts = Vec::new();
    for (b, chart) in rollup.benefits.iter().zip(answers) {
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
                let measure = profile.and_then(|p| p.measure.clone()).unwrap_or_default();
                let target = profile.and_then(|p| {
                    year_target(p.target.as_ref(), measure.aggregation, rollup.months.len())
                });
                let realised = exact_value(&total.quantity);
                let goal = target.as_ref().map(|t| t.2);
                let (target, basis, _) = target.unwrap_or_default();
                against_target.push(AgainstTarget {
                    benefit: b.title.clone(),
                    category: category(b.category),
                    realised: decimal(&total.quantity),
                    target,
                    basis,
                    unit: b.unit.clone(),
                    share: realised.zip(goal.filter(|g| *g != 0.0)).map(|(r, g)| r / g),
                    met: realised.zip(goal).map(|(r, g)| {
                        if measure.higher_is_better {
                            r >= g
                        } else {
                            r <= g
                        }
                    }),
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
            against_target,
            figures,
            by_change_request,
            charts,
            evidence: evidence.into_values().collect(),
            rate_cards: rate_cards.into_iter().collect(),
        },
        rollup,
    ))
}

pub(super) async fn assurance(
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
        let entries = every_page(|page_token| {
            let mut client = c.pf.clone();
            let request = pf::ListAuditEntriesRequest {
                parent: parent.to_owned(),
                page_size: 1000,
                page_token,
                action: action.to_owned(),
                start_time: Some(timestamp(start)),
                end_time: Some(timestamp(end)),
                ..Default::default()
            };
            async move {
                let page = client.list_audit_entries(request).await?.into_inner();
                Ok((page.entries, page.next_page_token))
            }
        })
        .await?;
        for e in entries {
            let reason = e
                .summary
                .split(':')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
            *by_reason.entry(reason).or_default() += 1;
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
