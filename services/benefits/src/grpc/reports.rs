//! The rollup and the chart as the API sends them.

use concordat_api::names::BenefitName;
use concordat_proto::benefits::v1 as pb;

use super::convert::{amount_pb, category_pb, totals_pb};
use crate::domain::spc::{Assurance, Variation};
use crate::service::{Chart, Rollup};

/// The rollup of `period` (as the client wrote it).
pub(super) fn rollup_pb(period: String, r: &Rollup) -> pb::GetBenefitRollupResponse {
    pb::GetBenefitRollupResponse {
        period,
        months: r.months.iter().map(ToString::to_string).collect(),
        count_validated: r.count_validated,
        benefits: r
            .rows
            .iter()
            .map(|row| pb::BenefitRollup {
                benefit: BenefitName::new(&row.profile.ics, &row.profile.id).to_string(),
                title: row.profile.title.clone(),
                category: category_pb(row.profile.category),
                dis_benefit: row.profile.dis_benefit,
                unit: row.profile.unit.clone(),
                figures: row
                    .figures
                    .iter()
                    .map(|f| {
                        let e = f.figure.evidence;
                        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                        pb::Figure {
                            trust: f.trust.clone().unwrap_or_default(),
                            total: Some(amount_pb(&f.total())),
                            converted_unit: row.converted_unit.clone(),
                            rate_card: row.card.as_ref().map(|c| c.0.clone()).unwrap_or_default(),
                            rate_card_version: row.card.as_ref().map_or(0, |c| c.1),
                            evidence: Some(pb::EvidenceCounts {
                                expected: count(e.expected),
                                submitted: count(e.submitted),
                                on_time: count(e.on_time),
                                validated: count(e.validated),
                                accepted: count(e.accepted),
                            }),
                            by_change_request: f
                                .by_change_request
                                .iter()
                                .map(|(cr, a)| pb::ChangeRequestAmount {
                                    change_request: cr.clone(),
                                    amount: Some(amount_pb(a)),
                                })
                                .collect(),
                            unattributed: Some(amount_pb(&f.unattributed)),
                        }
                    })
                    .collect(),
            })
            .collect(),
        totals: totals_pb(&r.totals),
        by_change_request: r
            .by_change_request
            .iter()
            .map(|(cr, t)| pb::ChangeRequestDelivery {
                change_request: cr.clone(),
                totals: totals_pb(t),
            })
            .collect(),
        unattributed: totals_pb(&r.unattributed),
    }
}

/// A chart with its points, rebases and icons.
pub(super) fn chart_pb(c: &Chart) -> pb::GetBenefitChartResponse {
    pb::GetBenefitChartResponse {
        points: c
            .points
            .iter()
            .map(|p| pb::ChartPoint {
                month: p.month.to_string(),
                value: p.value.to_string(),
                plotted: p.point.value,
                mean: p.point.limits.mean,
                lower_limit: p.point.limits.lower,
                upper_limit: p.point.limits.upper,
                outside_limits: p.point.outside,
                shift: p.point.shift,
                trend: p.point.trend,
                two_of_three: p.point.two_of_three,
            })
            .collect(),
        rebases: c
            .rebases
            .iter()
            .map(|r| pb::Rebase {
                month: r.month.to_string(),
                revision: r.publish.revision.clone(),
                change_request: r.publish.change_request.clone(),
                publish_time: Some(concordat_api::time::timestamp(r.publish.publish_time)),
            })
            .collect(),
        variation: match c.variation {
            Variation::CommonCause => pb::VariationIcon::CommonCause,
            Variation::Improvement => pb::VariationIcon::Improvement,
            Variation::Concern => pb::VariationIcon::Concern,
            Variation::NeutralHigh => pb::VariationIcon::NeutralHigh,
            Variation::NeutralLow => pb::VariationIcon::NeutralLow,
        } as i32,
        assurance: match c.assurance {
            None => pb::AssuranceIcon::Unspecified,
            Some(Assurance::Pass) => pb::AssuranceIcon::Pass,
            Some(Assurance::Fail) => pb::AssuranceIcon::Fail,
            Some(Assurance::Inconsistent) => pb::AssuranceIcon::Inconsistent,
        } as i32,
        target: c.target.map(|t| t.to_string()).unwrap_or_default(),
    }
}
