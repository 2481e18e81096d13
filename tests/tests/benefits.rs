//! Benefits through gRPC with development-issuer tokens, on SQLite and PostgreSQL: the benefits
//! part of the golden scenario (RGT's twelve monthly counts for 2025/26 submitted, validated by
//! the trust, accepted by the ICS, attributed to the allergy-alert change request, and the ICS
//! rollup of 850 reactions, 2,450 bed days and £980,000 non-cash-releasing), a reopened cell
//! changing the rollup only once accepted again, who may do what, the ICS's settings, and bad
//! input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use concordat_e2e::world::*;
use concordat_e2e::{BenefitsClient, fields, reason};
use concordat_platform::both_backends;
use concordat_platform::testkit::TestBackend;
use concordat_proto::benefits::v1 as bn;
use futures::StreamExt;
use tonic::Code;

/// RGT's counts of adverse drug reactions prevented, April 2025 to March 2026: 850 in all.
const COUNTS: [i64; 12] = [70, 71, 72, 70, 69, 71, 72, 70, 71, 70, 72, 72];
const MONTHS: [&str; 12] = [
    "2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09", "2025-10", "2025-11",
    "2025-12", "2026-01", "2026-02", "2026-03",
];
const BENEFIT: &str = "icss/QUE/benefits/allergy-alerts";

fn cell(trust: &str, month: &str) -> String {
    format!("{BENEFIT}/trusts/{trust}/measurements/{month}")
}

fn client(w: &World, org: &str, role: &str, subject: &str) -> BenefitsClient {
    w.s.benefits(&w.token(org, role, subject))
}

/// The ICS's benefits analyst: writes rate cards and profiles, accepts measurements.
fn ics(w: &World) -> BenefitsClient {
    client(w, "QUE", "benefits-analyst", "ics-analyst")
}

async fn rate_card(c: &mut BenefitsClient) -> bn::RateCard {
    let mut request = concordat_e2e::golden_rate_card("QUE benefits rate card", "2025-04-01");
    if let Some(card) = request.rate_card.as_mut() {
        card.description = "Cambridge University Hospitals' allergy-alert study".into();
    }
    c.create_rate_card(request)
        .await
        .unwrap()
        .into_inner()
        .rate_card
        .unwrap()
}

fn profile(w: &World, enabling: Vec<String>) -> bn::Benefit {
    bn::Benefit {
        title: "Fewer adverse drug reactions from allergy alerts".into(),
        description: "Interruptive allergy alerts at prescribing".into(),
        four_tests: Some(bn::FourTests {
            precisely: "Significant adverse drug reactions prevented by an allergy alert".into(),
            observable_outcome: "Prescriptions changed after an interruptive alert".into(),
            why_this_change: "The alerts exist only since the change request".into(),
            how_measured: "Monthly pharmacy audit of alert overrides and changes".into(),
        }),
        owners: vec![bn::BenefitOwner {
            trust: "RGT".into(),
            owner: Some(w.s.person("lead-RGT")),
        }],
        senior_responsible_owner: Some(w.s.person("sro")),
        category: bn::Category::NonCashReleasing as i32,
        dimension: bn::Dimension::Direct as i32,
        measure: Some(bn::Measure {
            unit: "adverse drug reaction prevented".into(),
            higher_is_better: true,
            aggregation: bn::Aggregation::Sum as i32,
        }),
        frequency: bn::Frequency::Monthly as i32,
        enabling_change_requests: enabling,
        valuation: Some(bn::Valuation {
            rate_card: "icss/QUE/rateCards/standard".into(),
            rate_card_version: 1,
            units: vec!["bed day".into()],
        }),
        ..Default::default()
    }
}

async fn create_benefit(w: &World, enabling: Vec<String>) -> bn::Benefit {
    ics(w)
        .create_benefit(bn::CreateBenefitRequest {
            parent: "icss/QUE".into(),
            benefit_id: "allergy-alerts".into(),
            benefit: Some(profile(w, enabling)),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .benefit
        .unwrap()
}

async fn submit(
    c: &mut BenefitsClient,
    name: &str,
    value: &str,
) -> Result<bn::Measurement, tonic::Status> {
    c.submit_measurement(bn::SubmitMeasurementRequest {
        name: name.into(),
        value: value.into(),
        evidence: Some(bn::Evidence {
            note: "Pharmacy audit of allergy alert outcomes".into(),
            link: "https://intranet.example/audit".into(),
        }),
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner().measurement.unwrap())
}

async fn rollup(c: &mut BenefitsClient, period: &str) -> bn::GetBenefitRollupResponse {
    c.get_benefit_rollup(bn::GetBenefitRollupRequest {
        parent: "icss/QUE".into(),
        period: period.into(),
        revalue_with: String::new(),
    })
    .await
    .unwrap()
    .into_inner()
}

/// The ICS's figure of the first benefit.
fn ics_figure(r: &bn::GetBenefitRollupResponse) -> &bn::Figure {
    r.benefits[0]
        .figures
        .iter()
        .find(|f| f.trust.is_empty())
        .unwrap()
}

fn display(m: &Option<bn::Money>) -> &str {
    &m.as_ref().unwrap().display
}

async fn the_benefits_part_of_the_golden_scenario(backend: TestBackend) {
    let Some(w) = World::new(backend).await else {
        return;
    };
    let cr = w.change_request(&["RGT"], true).await;
    let mut ics = ics(&w);
    let card = rate_card(&mut ics).await;
    assert_eq!((card.version, card.etag.as_str()), (1, "\"1\""));
    let benefit = create_benefit(&w, vec![cr.clone()]).await;
    assert_eq!(benefit.name, BENEFIT);
    let mut events = ics
        .watch_benefits(bn::WatchBenefitsRequest {
            parent: "icss/QUE".into(),
            cursor: 0,
        })
        .await
        .unwrap()
        .into_inner();

    // RGT's analyst submits twelve months; they may not validate their own.
    let mut analyst = client(&w, "RGT", "benefits-analyst", "analyst-RGT");
    for (month, n) in MONTHS.iter().zip(COUNTS) {
        let m = submit(&mut analyst, &cell("RGT", month), &n.to_string())
            .await
            .unwrap();
        assert_eq!(m.state, bn::MeasurementState::Submitted as i32);
    }
    let names: Vec<String> = MONTHS.iter().map(|m| cell("RGT", m)).collect();
    let own = analyst
        .validate_measurements(bn::ValidateMeasurementsRequest {
            names: names.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (own.code(), reason(&own).as_str()),
        (Code::PermissionDenied, "OWN_SUBMISSION")
    );
    let other_trust = client(&w, "RGM", "trust-digital-lead", "lead-RGM")
        .validate_measurements(bn::ValidateMeasurementsRequest {
            names: names.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&other_trust), "TRUST_SCOPE");
    // Submitted cells are not yet accepted: the ICS cannot skip the trust's validation.
    let early = ics
        .accept_measurements(bn::AcceptMeasurementsRequest {
            names: names[..1].to_vec(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (early.code(), reason(&early).as_str()),
        (Code::FailedPrecondition, "INVALID_TRANSITION")
    );

    let mut lead = client(&w, "RGT", "trust-digital-lead", "lead-RGT");
    let validated = lead
        .validate_measurements(bn::ValidateMeasurementsRequest {
            names: names.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .measurements;
    assert!(
        validated
            .iter()
            .all(|m| m.state == bn::MeasurementState::TrustValidated as i32)
    );
    // A validated cell is locked: its trust cannot write it again.
    let locked = submit(&mut analyst, &names[0], "1").await.unwrap_err();
    assert_eq!(reason(&locked), "INVALID_TRANSITION");
    // A trust cannot accept for the ICS.
    let not_ics = lead
        .accept_measurements(bn::AcceptMeasurementsRequest {
            names: names.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&not_ics), "NOT_AN_ACCEPTOR");
    // Validated cells do not count until accepted (the ICS's default).
    let before = rollup(&mut ics, "2025/26").await;
    assert_eq!(ics_figure(&before).total.as_ref().unwrap().quantity, "0");
    assert_eq!(ics_figure(&before).evidence.unwrap().validated, 12);

    ics.accept_measurements(bn::AcceptMeasurementsRequest {
        names: names.clone(),
        request_id: String::new(),
    })
    .await
    .unwrap();
    let attribution = format!("{BENEFIT}/trusts/RGT/attributions/2025-26");
    let set = lead
        .set_attribution(bn::SetAttributionRequest {
            attribution: Some(bn::Attribution {
                name: attribution.clone(),
                shares: vec![bn::Share {
                    change_request: cr.clone(),
                    percent: "100".into(),
                }],
                rationale: "The alerts were switched on by this change request alone".into(),
                ..Default::default()
            }),
            etag: String::new(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .attribution
        .unwrap();
    assert_eq!(set.unattributed_percent, "0");

    // The golden rollup.
    let r = rollup(&mut ics, "2025/26").await;
    assert_eq!(r.months.len(), 12);
    let f = ics_figure(&r);
    let total = f.total.as_ref().unwrap();
    assert_eq!(
        (total.quantity.as_str(), total.converted.as_str()),
        ("850", "2450")
    );
    assert_eq!(display(&total.value), "£980,000.00");
    assert_eq!(total.value.as_ref().unwrap().exact_pence, "98000000");
    assert_eq!(
        (f.rate_card.as_str(), f.rate_card_version),
        ("icss/QUE/rateCards/standard", 1)
    );
    assert_eq!(f.converted_unit, "bed day");
    let e = f.evidence.unwrap();
    assert_eq!(
        (e.expected, e.submitted, e.validated, e.accepted),
        (48, 12, 12, 12)
    );
    let rgt = r.benefits[0]
        .figures
        .iter()
        .find(|f| f.trust == "RGT")
        .unwrap();
    let e = rgt.evidence.unwrap();
    assert_eq!((e.expected, e.submitted, e.accepted), (12, 12, 12));
    assert_eq!(rgt.by_change_request.len(), 1);
    assert_eq!(rgt.by_change_request[0].change_request, cr);
    assert_eq!(
        display(&rgt.by_change_request[0].amount.as_ref().unwrap().value),
        "£980,000.00"
    );
    assert_eq!(r.totals.len(), 1);
    assert_eq!(r.totals[0].category, bn::Category::NonCashReleasing as i32);
    assert_eq!(display(&r.totals[0].value), "£980,000.00");
    assert_eq!(r.totals[0].rate_cards, ["icss/QUE/rateCards/standard@1"]);
    assert_eq!(r.by_change_request.len(), 1);
    assert_eq!(
        display(&r.by_change_request[0].totals[0].value),
        "£980,000.00"
    );
    assert_eq!(display(&r.unattributed[0].value), "£0.00");
    // A quarter: April to June, 213 reactions.
    let q1 = rollup(&mut ics, "2025/26 Q1").await;
    assert_eq!(ics_figure(&q1).total.as_ref().unwrap().quantity, "213");

    // June is reopened by the ICS, corrected and resubmitted: the rollup changes only once it is
    // accepted again.
    let june = cell("RGT", "2025-06");
    let reopened = ics
        .reopen_measurement(bn::ReopenMeasurementRequest {
            name: june.clone(),
            reason: "The June audit double-counted one ward".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .measurement
        .unwrap();
    assert_eq!(reopened.state, bn::MeasurementState::Draft as i32);
    let quantity =
        |r: &bn::GetBenefitRollupResponse| ics_figure(r).total.as_ref().unwrap().quantity.clone();
    assert_eq!(quantity(&rollup(&mut ics, "2025/26").await), "778");
    submit(&mut analyst, &june, "71").await.unwrap();
    // The trust's validator returns it once, with a reason, and it comes back.
    let returned = lead
        .return_measurement(bn::ReturnMeasurementRequest {
            name: june.clone(),
            reason: "Attach the ward list".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .measurement
        .unwrap();
    assert_eq!(
        (returned.state, returned.reason.as_str()),
        (
            bn::MeasurementState::Returned as i32,
            "Attach the ward list"
        )
    );
    submit(&mut analyst, &june, "71").await.unwrap();
    lead.validate_measurements(bn::ValidateMeasurementsRequest {
        names: vec![june.clone()],
        request_id: String::new(),
    })
    .await
    .unwrap();
    assert_eq!(quantity(&rollup(&mut ics, "2025/26").await), "778");
    ics.accept_measurements(bn::AcceptMeasurementsRequest {
        names: vec![june.clone()],
        request_id: String::new(),
    })
    .await
    .unwrap();
    assert_eq!(quantity(&rollup(&mut ics, "2025/26").await), "849");

    // Every version of June is kept, with who and why.
    let versions = ics
        .list_measurement_versions(bn::ListMeasurementVersionsRequest { name: june.clone() })
        .await
        .unwrap()
        .into_inner()
        .versions;
    let acts: Vec<i32> = versions.iter().map(|v| v.action).collect();
    use bn::MeasurementAction as A;
    assert_eq!(
        acts,
        [
            A::Submitted,
            A::Validated,
            A::Accepted,
            A::Reopened,
            A::Submitted,
            A::Returned,
            A::Submitted,
            A::Validated,
            A::Accepted
        ]
        .map(|a| a as i32)
    );
    assert_eq!(versions[3].reason, "The June audit double-counted one ward");
    assert_eq!(versions[0].value, "72");
    assert_eq!(versions[8].value, "71");

    // The chart of RGT's series: twelve points, limits around the mean, no signal.
    let chart = ics
        .get_benefit_chart(bn::GetBenefitChartRequest {
            benefit: BENEFIT.into(),
            trust: "RGT".into(),
            first_month: "2025-04".into(),
            last_month: "2026-03".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(chart.points.len(), 12);
    assert!((chart.points[0].mean - 849.0 / 12.0).abs() < 1e-9);
    assert_eq!(chart.variation, bn::VariationIcon::CommonCause as i32);

    // The business case over two years: 2026/27 has nothing yet, so its present value is the
    // first year's.
    let case = ics
        .get_business_case(bn::GetBusinessCaseRequest {
            parent: "icss/QUE".into(),
            first_year: "2025/26".into(),
            years: 2,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(case.years.len(), 2);
    let non_cash = |t: &[bn::CategoryTotal]| {
        t.iter()
            .find(|t| t.category == bn::Category::NonCashReleasing as i32)
            .map(|t| t.value.as_ref().unwrap().display.clone())
    };
    assert_eq!(
        non_cash(&case.present_value).as_deref(),
        Some("£978,847.06")
    );

    // The watch saw every decision: 12 + 1 acceptances among them.
    let mut accepted = 0;
    while accepted < 13 {
        let event = tokio::time::timeout(std::time::Duration::from_secs(20), events.next())
            .await
            .expect("events within 20 s")
            .unwrap()
            .unwrap();
        if event.kind == "measurement.accepted" {
            accepted += 1;
            assert!(matches!(
                event.resource,
                Some(bn::watch_benefits_response::Resource::Measurement(_))
            ));
        }
    }

    // The yearly summary the rollup reads, kept cell by cell through every save and decision,
    // is what rebuilding it from the cells at once gives.
    assert_eq!(
        summaries(&w).await,
        vec![("RGT".to_owned(), "2025-26".to_owned(), 12)]
    );
    let kept = summary_cells(&w).await;
    let db = w.s.platform.db.conn();
    use sea_orm::ConnectionTrait as _;
    db.execute_unprepared("DELETE FROM bn_cell_years")
        .await
        .unwrap();
    db.execute_unprepared(&concordat_benefits::store::cell_years_sql(
        db.get_database_backend(),
        "true",
    ))
    .await
    .unwrap();
    assert_eq!(summary_cells(&w).await, kept);
    assert!(kept.contains("2025-06;71;ICS_ACCEPTED;0"), "{kept:?}");
}

/// The yearly summaries: trust, year and how many cells each holds.
async fn summaries(w: &World) -> Vec<(String, String, usize)> {
    use sea_orm::ConnectionTrait as _;
    let db = w.s.platform.db.conn();
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT trust, year, cells FROM bn_cell_years ORDER BY trust, year",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let cells: String = r.try_get("", "cells").unwrap();
            (
                r.try_get("", "trust").unwrap(),
                r.try_get("", "year").unwrap(),
                cells.split(',').count(),
            )
        })
        .collect()
}

/// Every summarised cell, in order, one string.
async fn summary_cells(w: &World) -> String {
    use sea_orm::ConnectionTrait as _;
    let db = w.s.platform.db.conn();
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT cells FROM bn_cell_years",
        ))
        .await
        .unwrap();
    let mut cells: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            let c: String = r.try_get("", "cells").unwrap();
            c.split(',').map(str::to_owned).collect::<Vec<_>>()
        })
        .collect();
    cells.sort();
    cells.join(",")
}

async fn profiles_cards_and_attribution_refuse_bad_input(backend: TestBackend) {
    let Some(w) = World::new(backend).await else {
        return;
    };
    let cr = w.change_request(&["RGT"], true).await;
    let mut ics = ics(&w);
    rate_card(&mut ics).await;

    // A change request change control does not know, and a non-cash benefit with no valuation.
    let mut p = profile(&w, vec!["icss/QUE/changeRequests/999999".into()]);
    let unknown = ics
        .create_benefit(bn::CreateBenefitRequest {
            parent: "icss/QUE".into(),
            benefit_id: "allergy-alerts".into(),
            benefit: Some(p.clone()),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument, "{unknown:?}");
    assert_eq!(fields(&unknown), ["benefit.enabling_change_requests[0]"]);
    p.enabling_change_requests = vec![cr.clone()];
    p.valuation = None;
    for (p, field) in [
        (p.clone(), "benefit.valuation"),
        (
            bn::Benefit {
                four_tests: Some(bn::FourTests {
                    why_this_change: String::new(),
                    ..p.four_tests.clone().unwrap()
                }),
                ..profile(&w, vec![cr.clone()])
            },
            "benefit.four_tests.why_this_change",
        ),
    ] {
        let incomplete = ics
            .create_benefit(bn::CreateBenefitRequest {
                parent: "icss/QUE".into(),
                benefit_id: "allergy-alerts".into(),
                benefit: Some(p),
                request_id: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(incomplete.code(), Code::InvalidArgument);
        assert_eq!(fields(&incomplete), [field]);
    }
    // A chain the card cannot value.
    let mut p = profile(&w, vec![cr.clone()]);
    p.valuation.as_mut().unwrap().units = vec!["theatre minute".into()];
    let chain = ics
        .create_benefit(bn::CreateBenefitRequest {
            parent: "icss/QUE".into(),
            benefit_id: "allergy-alerts".into(),
            benefit: Some(p),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&chain), ["benefit.valuation.units"]);
    // A trust's engineer may not write profiles.
    let engineer = client(&w, "RGT", "trust-engineer", "engineer-RGT")
        .create_benefit(bn::CreateBenefitRequest {
            parent: "icss/QUE".into(),
            benefit_id: "allergy-alerts".into(),
            benefit: Some(profile(&w, vec![cr.clone()])),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(engineer.code(), Code::PermissionDenied);

    // A factor that is not an exact number.
    let factor = ics
        .create_rate_card(bn::CreateRateCardRequest {
            parent: "icss/QUE".into(),
            rate_card_id: "rounded".into(),
            rate_card: Some(bn::RateCard {
                title: "Rounded".into(),
                factors: vec![bn::ConversionFactor {
                    from_unit: "adverse drug reaction prevented".into(),
                    to_unit: "bed day".into(),
                    factor: "2.8.8".into(),
                    effective_from: "2025-04-01".into(),
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&factor), ["rate_card.factors[0].factor"]);

    // Measurements: an unreadable value, a month that is none, another trust's cell.
    create_benefit(&w, vec![cr.clone()]).await;
    let mut analyst = client(&w, "RGT", "benefits-analyst", "analyst-RGT");
    let value = submit(&mut analyst, &cell("RGT", "2025-04"), "seventy")
        .await
        .unwrap_err();
    assert_eq!(fields(&value), ["value"]);
    let month = submit(&mut analyst, &cell("RGT", "2025-13"), "70")
        .await
        .unwrap_err();
    assert_eq!(fields(&month), ["name"]);
    let next_year = chrono::Utc::now()
        .format("%Y")
        .to_string()
        .parse::<i32>()
        .unwrap()
        + 1;
    let future = submit(&mut analyst, &cell("RGT", &format!("{next_year}-01")), "70")
        .await
        .unwrap_err();
    assert_eq!(fields(&future), ["name"]);
    assert!(future.message().contains("has not ended"), "{future:?}");
    let scope = submit(&mut analyst, &cell("RGM", "2025-04"), "70")
        .await
        .unwrap_err();
    assert_eq!(
        (scope.code(), reason(&scope).as_str()),
        (Code::PermissionDenied, "TRUST_SCOPE")
    );
    let nothing_written = ics
        .get_measurement(bn::GetMeasurementRequest {
            name: cell("RGM", "2025-04"),
        })
        .await
        .unwrap_err();
    assert_eq!(nothing_written.code(), Code::NotFound);

    // Attribution: more than 100% in all is refused; a change request that does not enable the
    // benefit is refused.
    let attribution = format!("{BENEFIT}/trusts/RGT/attributions/2025-26");
    let set = |shares: Vec<(&str, &str)>| bn::SetAttributionRequest {
        attribution: Some(bn::Attribution {
            name: attribution.clone(),
            shares: shares
                .into_iter()
                .map(|(cr, p)| bn::Share {
                    change_request: cr.into(),
                    percent: p.into(),
                })
                .collect(),
            ..Default::default()
        }),
        etag: String::new(),
        request_id: String::new(),
    };
    let mut lead = client(&w, "RGT", "trust-digital-lead", "lead-RGT");
    let over = lead
        .set_attribution(set(vec![(&cr, "150")]))
        .await
        .unwrap_err();
    assert_eq!(fields(&over), ["attribution.shares[0].percent"]);
    let twice = lead
        .set_attribution(set(vec![(&cr, "60"), (&cr, "50")]))
        .await
        .unwrap_err();
    assert_eq!(fields(&twice), ["attribution.shares"]);
    let stranger = lead
        .set_attribution(set(vec![("icss/QUE/changeRequests/7", "10")]))
        .await
        .unwrap_err();
    assert_eq!(fields(&stranger), ["attribution.shares[0].change_request"]);
    let third = lead
        .set_attribution(set(vec![(&cr, "100/3")]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(third.attribution.unwrap().unattributed_percent, "200/3");
    let other_trust = client(&w, "RGM", "trust-digital-lead", "lead-RGM")
        .set_attribution(set(vec![(&cr, "100")]))
        .await
        .unwrap_err();
    assert_eq!(other_trust.code(), Code::PermissionDenied);

    // Rollups: a period that is none.
    let period = ics
        .get_benefit_rollup(bn::GetBenefitRollupRequest {
            parent: "icss/QUE".into(),
            period: "2025".into(),
            revalue_with: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&period), ["period"]);
}

/// The month before this one, written `2026-11`: ended, and less than 32 days ago.
fn last_month() -> String {
    use chrono::Datelike;
    let today = chrono::Utc::now().date_naive();
    if today.month() == 1 {
        format!("{:04}-12", today.year() - 1)
    } else {
        format!("{:04}-{:02}", today.year(), today.month() - 1)
    }
}

async fn settings(
    c: &mut BenefitsClient,
    count_validated: bool,
    submission_days: i32,
    etag: &str,
) -> Result<bn::BenefitsSettings, tonic::Status> {
    c.update_benefits_settings(bn::UpdateBenefitsSettingsRequest {
        settings: Some(bn::BenefitsSettings {
            name: "icss/QUE/benefitsSettings".into(),
            count_validated,
            submission_days,
            ..Default::default()
        }),
        etag: etag.into(),
        request_id: String::new(),
    })
    .await
    .map(|r| r.into_inner().settings.unwrap())
}

/// Who may act on cells beyond the golden path, and the ICS's settings: automation submits for
/// its own trust only, the board reads but does not submit, an engineer does not validate, nor
/// does the ICS for a trust (`TRUST_SCOPE`); `countValidated` makes validated cells count and `submissionDays`
/// decides what is on time.
async fn scope_roles_and_settings(backend: TestBackend) {
    let Some(w) = World::new(backend).await else {
        return;
    };
    let cr = w.change_request(&["RGT"], true).await;
    let mut ics = ics(&w);
    rate_card(&mut ics).await;
    create_benefit(&w, vec![cr]).await;

    // The settings: defaults, written only by an ICS admin, with the current etag.
    let mut admin = client(&w, "QUE", "ics-admin", "ics-admin");
    let defaults = admin
        .get_benefits_settings(bn::GetBenefitsSettingsRequest {
            name: "icss/QUE/benefitsSettings".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    assert_eq!(
        (defaults.count_validated, defaults.submission_days),
        (false, 15)
    );
    let analyst = settings(&mut ics, true, 40, &defaults.etag)
        .await
        .unwrap_err();
    assert_eq!(analyst.code(), Code::PermissionDenied);
    let stale = settings(&mut admin, true, 40, "\"999\"").await.unwrap_err();
    assert_eq!(
        (stale.code(), reason(&stale).as_str()),
        (Code::Aborted, "ETAG_MISMATCH")
    );
    let days = settings(&mut admin, true, 400, &defaults.etag)
        .await
        .unwrap_err();
    assert_eq!(fields(&days), ["settings.submission_days"]);
    let counted = settings(&mut admin, true, 40, &defaults.etag)
        .await
        .unwrap();
    assert_eq!(
        (counted.count_validated, counted.submission_days),
        (true, 40)
    );
    assert_ne!(counted.etag, defaults.etag);

    // Automation submits its own trust's cells, on time within 40 days of the month's end.
    let month = last_month();
    let mut feed = client(&w, "RGT", "automation", "pharmacy-feed-RGT");
    let recent = submit(&mut feed, &cell("RGT", &month), "70").await.unwrap();
    assert!(recent.on_time);
    let late = submit(&mut feed, &cell("RGT", "2025-04"), "69")
        .await
        .unwrap();
    assert!(!late.on_time);
    let other = submit(&mut feed, &cell("RGM", &month), "70")
        .await
        .unwrap_err();
    assert_eq!(
        (other.code(), reason(&other).as_str()),
        (Code::PermissionDenied, "TRUST_SCOPE")
    );
    let mut board = client(&w, "QUE", "board-chair", "board-chair");
    let board_submits = submit(&mut board, &cell("RGT", &month), "70")
        .await
        .unwrap_err();
    assert_eq!(board_submits.code(), Code::PermissionDenied);

    // Validation is the trust's: not its engineer's, not the ICS's.
    let names = vec![cell("RGT", &month), cell("RGT", "2025-04")];
    let validate = |names: Vec<String>| bn::ValidateMeasurementsRequest {
        names,
        request_id: String::new(),
    };
    let engineer = client(&w, "RGT", "trust-engineer", "engineer-RGT")
        .validate_measurements(validate(names.clone()))
        .await
        .unwrap_err();
    assert_eq!(engineer.code(), Code::PermissionDenied);
    let for_trust = ics
        .validate_measurements(validate(names.clone()))
        .await
        .unwrap_err();
    // The ICS is not the trust: it accepts, it does not validate.
    assert_eq!(
        (for_trust.code(), reason(&for_trust).as_str()),
        (Code::PermissionDenied, "TRUST_SCOPE")
    );
    client(&w, "RGT", "trust-digital-lead", "lead-RGT")
        .validate_measurements(validate(names))
        .await
        .unwrap();

    // With countValidated the board's rollups count the validated cells.
    let recent = rollup(&mut board, &month).await;
    let f = ics_figure(&recent);
    assert_eq!(f.total.as_ref().unwrap().quantity, "70");
    let e = f.evidence.unwrap();
    assert_eq!(
        (e.submitted, e.on_time, e.validated, e.accepted),
        (1, 1, 1, 0)
    );
    let year = rollup(&mut board, "2025/26").await;
    let f = ics_figure(&year);
    assert_eq!(f.total.as_ref().unwrap().quantity, "69");
    assert_eq!(f.evidence.unwrap().on_time, 0);
    // Set back, only accepted cells count again.
    settings(&mut admin, false, 0, &counted.etag).await.unwrap();
    let after = rollup(&mut board, &month).await;
    assert_eq!(ics_figure(&after).total.as_ref().unwrap().quantity, "0");
}

both_backends!(golden_benefits, the_benefits_part_of_the_golden_scenario);
both_backends!(bad_input, profiles_cards_and_attribution_refuse_bad_input);
both_backends!(scope_and_settings, scope_roles_and_settings);
