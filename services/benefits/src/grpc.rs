//! The gRPC adapter: `BenefitsService` implemented over the use cases. Converts proto ↔ domain
//! and nothing more; every rule lives in the domain and the use cases.

mod convert;
mod error;
mod reports;

pub use convert::{
    encode_attribution, encode_benefit, encode_card, encode_measurement, encode_settings,
    measurement_pb,
};
pub use error::name_reason;

use std::sync::Arc;

use concordat_platform::authz::{Allowed, Permission, RequestContext};
use concordat_platform::error::ApiError;
use concordat_platform::events::watch_response;
use concordat_platform::identity::Role;
use concordat_platform::upstream::Caller;
use concordat_proto::benefits::v1 as pb;
use pb::benefits_service_server::BenefitsService;
use prost::Message;
use tonic::{Request, Response, Status};

use convert::*;
use reports::{chart_pb, rollup_pb};

use crate::domain::period::{FinancialYear, Month};
use crate::service::{Benefits, BenefitsError, CellWrite, Encoders, MeasurementList, Period};

/// How the use cases encode events and name refusals.
pub const ENCODERS: Encoders = Encoders {
    measurement: encode_measurement,
    benefit: encode_benefit,
    card: encode_card,
    attribution: encode_attribution,
    settings: encode_settings,
    reason: name_reason,
};

/// Who writes profiles and rate cards.
const PROFILE_WRITERS: &[Role] = &[Role::IcsAdmin, Role::BenefitsAnalyst];
/// Who writes measurement cells (their own trust's: checked by the rules).
const CELL_WRITERS: &[Role] = &[
    Role::BenefitsAnalyst,
    Role::TrustDigitalLead,
    Role::TrustEngineer,
    Role::Automation,
];
/// Who validates, returns, reopens and attributes (a trust's benefits analyst or digital lead;
/// the ICS through ics-admins and benefits analysts of no trust: checked by the rules).
const DECIDERS: &[Role] = &[
    Role::IcsAdmin,
    Role::BenefitsAnalyst,
    Role::TrustDigitalLead,
];

const fn p(method: &'static str, allowed: Allowed) -> Permission {
    Permission { method, allowed }
}

/// Who may call which benefits RPC. Every caller reads only its own ICS; who may act on a
/// measurement cell (own trust, validator not submitter, ICS accepts) is the domain's rule.
pub const PERMISSIONS: &[Permission] = &[
    p("CreateBenefit", Allowed::Roles(PROFILE_WRITERS)),
    p("GetBenefit", Allowed::Authenticated),
    p("ListBenefits", Allowed::Authenticated),
    p("UpdateBenefit", Allowed::Roles(PROFILE_WRITERS)),
    p("CreateRateCard", Allowed::Roles(PROFILE_WRITERS)),
    p("GetRateCard", Allowed::Authenticated),
    p("ListRateCards", Allowed::Authenticated),
    p("UpdateRateCard", Allowed::Roles(PROFILE_WRITERS)),
    p("SaveMeasurement", Allowed::Roles(CELL_WRITERS)),
    p("SubmitMeasurement", Allowed::Roles(CELL_WRITERS)),
    p("ValidateMeasurements", Allowed::Roles(DECIDERS)),
    p("AcceptMeasurements", Allowed::Roles(DECIDERS)),
    p("ReturnMeasurement", Allowed::Roles(DECIDERS)),
    p("ReopenMeasurement", Allowed::Roles(DECIDERS)),
    p("GetMeasurement", Allowed::Authenticated),
    p("ListMeasurements", Allowed::Authenticated),
    p("ListMeasurementVersions", Allowed::Authenticated),
    p("SetAttribution", Allowed::Roles(DECIDERS)),
    p("GetAttribution", Allowed::Authenticated),
    p("GetBenefitRollup", Allowed::Authenticated),
    p("GetBusinessCase", Allowed::Authenticated),
    p("GetBenefitChart", Allowed::Authenticated),
    p("GetBenefitsSettings", Allowed::Authenticated),
    p("UpdateBenefitsSettings", Allowed::Roles(&[Role::IcsAdmin])),
    p("WatchBenefits", Allowed::Authenticated),
];

/// The service implementation.
pub struct Api {
    cases: Arc<Benefits>,
}

impl Api {
    /// Over the use cases.
    pub fn new(cases: Arc<Benefits>) -> Self {
        Self { cases }
    }
}

/// What a handler answers.
type Reply<T> = Result<Response<T>, Status>;

fn status(err: BenefitsError) -> Status {
    ApiError::from(err).into_status()
}

fn ok<T>(v: T) -> Reply<T> {
    Ok(Response::new(v))
}

fn period_of(text: &str) -> Result<Period, Status> {
    Period::parse(text).ok_or_else(|| {
        status(BenefitsError::Invalid(vec![(
            "period".into(),
            "must be a financial year `2025/26`, a quarter `2025/26 Q1` or a month `2025-04`"
                .into(),
        )]))
    })
}

fn month_of(field: &str, text: &str) -> Result<Month, Status> {
    Month::parse(text).ok_or_else(|| {
        status(BenefitsError::Invalid(vec![(
            field.into(),
            "must be a month written `2025-04`".into(),
        )]))
    })
}

#[tonic::async_trait]
impl BenefitsService for Api {
    async fn create_benefit(
        &self,
        req: Request<pb::CreateBenefitRequest>,
    ) -> Reply<pb::CreateBenefitResponse> {
        let ctx = RequestContext::of(&req)?;
        let caller = Caller::of(&req);
        let pb::CreateBenefitRequest {
            parent,
            benefit_id,
            benefit,
            request_id,
        } = req.into_inner();
        let input = profile_input(benefit.unwrap_or_default()).map_err(status)?;
        ok(self
            .cases
            .create_benefit(
                &ctx,
                (&parent, &benefit_id, &caller),
                input,
                &request_id,
                |b| pb::CreateBenefitResponse {
                    benefit: Some(benefit_pb(b)),
                },
            )
            .await
            .map_err(status)?)
    }

    async fn get_benefit(
        &self,
        req: Request<pb::GetBenefitRequest>,
    ) -> Reply<pb::GetBenefitResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetBenefitRequest { name } = req.into_inner();
        let b = self.cases.get_benefit(&ctx, &name).await.map_err(status)?;
        ok(pb::GetBenefitResponse {
            benefit: Some(benefit_pb(&b)),
        })
    }

    async fn list_benefits(
        &self,
        req: Request<pb::ListBenefitsRequest>,
    ) -> Reply<pb::ListBenefitsResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListBenefitsRequest {
            parent,
            page_size,
            page_token,
        } = req.into_inner();
        let (rows, next_page_token) = self
            .cases
            .list_benefits(&ctx, &parent, (page_size, &page_token))
            .await
            .map_err(status)?;
        ok(pb::ListBenefitsResponse {
            benefits: rows.iter().map(benefit_pb).collect(),
            next_page_token,
        })
    }

    async fn update_benefit(
        &self,
        req: Request<pb::UpdateBenefitRequest>,
    ) -> Reply<pb::UpdateBenefitResponse> {
        let ctx = RequestContext::of(&req)?;
        let caller = Caller::of(&req);
        let pb::UpdateBenefitRequest {
            benefit,
            etag,
            request_id,
        } = req.into_inner();
        let benefit = benefit.unwrap_or_default();
        let name = benefit.name.clone();
        let input = profile_input(benefit).map_err(status)?;
        ok(self
            .cases
            .update_benefit(&ctx, (&name, &etag, &caller), input, &request_id, |b| {
                pb::UpdateBenefitResponse {
                    benefit: Some(benefit_pb(b)),
                }
            })
            .await
            .map_err(status)?)
    }

    async fn create_rate_card(
        &self,
        req: Request<pb::CreateRateCardRequest>,
    ) -> Reply<pb::CreateRateCardResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::CreateRateCardRequest {
            parent,
            rate_card_id,
            rate_card,
            request_id,
        } = req.into_inner();
        let input = card_input(rate_card.unwrap_or_default()).map_err(status)?;
        ok(self
            .cases
            .create_card(&ctx, (&parent, &rate_card_id), input, &request_id, |r| {
                pb::CreateRateCardResponse {
                    rate_card: Some(card_pb(r)),
                }
            })
            .await
            .map_err(status)?)
    }

    async fn get_rate_card(
        &self,
        req: Request<pb::GetRateCardRequest>,
    ) -> Reply<pb::GetRateCardResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetRateCardRequest { name, version } = req.into_inner();
        let r = self
            .cases
            .get_card(&ctx, &name, version)
            .await
            .map_err(status)?;
        ok(pb::GetRateCardResponse {
            rate_card: Some(card_pb(&r)),
        })
    }

    async fn list_rate_cards(
        &self,
        req: Request<pb::ListRateCardsRequest>,
    ) -> Reply<pb::ListRateCardsResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListRateCardsRequest {
            parent,
            page_size,
            page_token,
        } = req.into_inner();
        let (rows, next_page_token) = self
            .cases
            .list_cards(&ctx, &parent, (page_size, &page_token))
            .await
            .map_err(status)?;
        ok(pb::ListRateCardsResponse {
            rate_cards: rows.iter().map(card_pb).collect(),
            next_page_token,
        })
    }

    async fn update_rate_card(
        &self,
        req: Request<pb::UpdateRateCardRequest>,
    ) -> Reply<pb::UpdateRateCardResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::UpdateRateCardRequest {
            rate_card,
            etag,
            request_id,
        } = req.into_inner();
        let rate_card = rate_card.unwrap_or_default();
        let name = rate_card.name.clone();
        let input = card_input(rate_card).map_err(status)?;
        ok(self
            .cases
            .update_card(&ctx, (&name, &etag), input, &request_id, |r| {
                pb::UpdateRateCardResponse {
                    rate_card: Some(card_pb(r)),
                }
            })
            .await
            .map_err(status)?)
    }

    async fn save_measurement(
        &self,
        req: Request<pb::SaveMeasurementRequest>,
    ) -> Reply<pb::SaveMeasurementResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::SaveMeasurementRequest {
            name,
            value,
            evidence,
            etag,
            request_id,
        } = req.into_inner();
        let input = cell_write((name, value, evidence, etag)).map_err(status)?;
        ok(self
            .cases
            .write_measurement(&ctx, input, false, &request_id, |m| {
                pb::SaveMeasurementResponse {
                    measurement: Some(measurement_pb(m)),
                }
            })
            .await
            .map_err(status)?)
    }

    async fn submit_measurement(
        &self,
        req: Request<pb::SubmitMeasurementRequest>,
    ) -> Reply<pb::SubmitMeasurementResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::SubmitMeasurementRequest {
            name,
            value,
            evidence,
            etag,
            request_id,
        } = req.into_inner();
        let input = cell_write((name, value, evidence, etag)).map_err(status)?;
        ok(self
            .cases
            .write_measurement(&ctx, input, true, &request_id, |m| {
                pb::SubmitMeasurementResponse {
                    measurement: Some(measurement_pb(m)),
                }
            })
            .await
            .map_err(status)?)
    }

    async fn validate_measurements(
        &self,
        req: Request<pb::ValidateMeasurementsRequest>,
    ) -> Reply<pb::ValidateMeasurementsResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::ValidateMeasurementsRequest { names, request_id } = req.into_inner();
        ok(self
            .cases
            .decide_measurements(&ctx, &names, false, &request_id, |ms| {
                pb::ValidateMeasurementsResponse {
                    measurements: ms.iter().map(measurement_pb).collect(),
                }
            })
            .await
            .map_err(status)?)
    }

    async fn accept_measurements(
        &self,
        req: Request<pb::AcceptMeasurementsRequest>,
    ) -> Reply<pb::AcceptMeasurementsResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::AcceptMeasurementsRequest { names, request_id } = req.into_inner();
        ok(self
            .cases
            .decide_measurements(&ctx, &names, true, &request_id, |ms| {
                pb::AcceptMeasurementsResponse {
                    measurements: ms.iter().map(measurement_pb).collect(),
                }
            })
            .await
            .map_err(status)?)
    }

    async fn return_measurement(
        &self,
        req: Request<pb::ReturnMeasurementRequest>,
    ) -> Reply<pb::ReturnMeasurementResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::ReturnMeasurementRequest {
            name,
            reason,
            request_id,
        } = req.into_inner();
        ok(self
            .cases
            .send_back(&ctx, (&name, &reason), false, &request_id, |m| {
                pb::ReturnMeasurementResponse {
                    measurement: Some(measurement_pb(m)),
                }
            })
            .await
            .map_err(status)?)
    }

    async fn reopen_measurement(
        &self,
        req: Request<pb::ReopenMeasurementRequest>,
    ) -> Reply<pb::ReopenMeasurementResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::ReopenMeasurementRequest {
            name,
            reason,
            request_id,
        } = req.into_inner();
        ok(self
            .cases
            .send_back(&ctx, (&name, &reason), true, &request_id, |m| {
                pb::ReopenMeasurementResponse {
                    measurement: Some(measurement_pb(m)),
                }
            })
            .await
            .map_err(status)?)
    }

    async fn get_measurement(
        &self,
        req: Request<pb::GetMeasurementRequest>,
    ) -> Reply<pb::GetMeasurementResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetMeasurementRequest { name } = req.into_inner();
        let m = self
            .cases
            .get_measurement(&ctx, &name)
            .await
            .map_err(status)?;
        ok(pb::GetMeasurementResponse {
            measurement: Some(measurement_pb(&m)),
        })
    }

    async fn list_measurements(
        &self,
        req: Request<pb::ListMeasurementsRequest>,
    ) -> Reply<pb::ListMeasurementsResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListMeasurementsRequest {
            parent,
            trust,
            year,
            state,
            page_size,
            page_token,
        } = req.into_inner();
        let (rows, next_page_token) = self
            .cases
            .list_measurements(
                &ctx,
                MeasurementList {
                    parent,
                    trust,
                    year,
                    state: state_of(state),
                    page_size,
                    page_token,
                },
            )
            .await
            .map_err(status)?;
        ok(pb::ListMeasurementsResponse {
            measurements: rows.iter().map(measurement_pb).collect(),
            next_page_token,
        })
    }

    async fn list_measurement_versions(
        &self,
        req: Request<pb::ListMeasurementVersionsRequest>,
    ) -> Reply<pb::ListMeasurementVersionsResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListMeasurementVersionsRequest { name } = req.into_inner();
        let versions = self
            .cases
            .measurement_versions(&ctx, &name)
            .await
            .map_err(status)?;
        ok(pb::ListMeasurementVersionsResponse {
            versions: versions.iter().map(version_pb).collect(),
        })
    }

    async fn set_attribution(
        &self,
        req: Request<pb::SetAttributionRequest>,
    ) -> Reply<pb::SetAttributionResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::SetAttributionRequest {
            attribution,
            etag,
            request_id,
        } = req.into_inner();
        let pb::Attribution {
            name,
            shares,
            unattributed_percent: _,
            rationale,
            etag: _,
            update_time: _,
        } = attribution.unwrap_or_default();
        let mut f = Fields::default();
        let shares: Vec<_> = shares
            .into_iter()
            .enumerate()
            .map(
                |(
                    i,
                    pb::Share {
                        change_request,
                        percent,
                    },
                )| {
                    let p = f.ratio(&format!("attribution.shares[{i}].percent"), &percent);
                    (change_request, p)
                },
            )
            .collect();
        let shares = f.done(shares).map_err(status)?;
        ok(self
            .cases
            .set_attribution(
                &ctx,
                (&name, &etag),
                (shares, rationale),
                &request_id,
                |a| pb::SetAttributionResponse {
                    attribution: Some(attribution_pb(a)),
                },
            )
            .await
            .map_err(status)?)
    }

    async fn get_attribution(
        &self,
        req: Request<pb::GetAttributionRequest>,
    ) -> Reply<pb::GetAttributionResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetAttributionRequest { name } = req.into_inner();
        let a = self
            .cases
            .get_attribution(&ctx, &name)
            .await
            .map_err(status)?;
        ok(pb::GetAttributionResponse {
            attribution: Some(attribution_pb(&a)),
        })
    }

    async fn get_benefit_rollup(
        &self,
        req: Request<pb::GetBenefitRollupRequest>,
    ) -> Reply<pb::GetBenefitRollupResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetBenefitRollupRequest {
            parent,
            period,
            revalue_with,
        } = req.into_inner();
        let which = period_of(&period)?;
        let r = self
            .cases
            .rollup(&ctx, &parent, which, &revalue_with)
            .await
            .map_err(status)?;
        ok(rollup_pb(period, &r))
    }

    async fn get_business_case(
        &self,
        req: Request<pb::GetBusinessCaseRequest>,
    ) -> Reply<pb::GetBusinessCaseResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetBusinessCaseRequest {
            parent,
            first_year,
            years,
        } = req.into_inner();
        let first = FinancialYear::parse(&first_year).ok_or_else(|| {
            status(BenefitsError::Invalid(vec![(
                "first_year".into(),
                "must be a financial year written `2025/26`".into(),
            )]))
        })?;
        let b = self
            .cases
            .business_case(&ctx, &parent, first, years)
            .await
            .map_err(status)?;
        ok(pb::GetBusinessCaseResponse {
            years: b
                .years
                .iter()
                .map(|(fy, t)| pb::BusinessCaseYear {
                    year: fy.to_string(),
                    totals: totals_pb(t),
                })
                .collect(),
            undiscounted: totals_pb(&b.undiscounted),
            present_value: totals_pb(&b.present_value),
            discount_rate_percent: "3.5".into(),
        })
    }

    async fn get_benefit_chart(
        &self,
        req: Request<pb::GetBenefitChartRequest>,
    ) -> Reply<pb::GetBenefitChartResponse> {
        let ctx = RequestContext::of(&req)?;
        let caller = Caller::of(&req);
        let pb::GetBenefitChartRequest {
            benefit,
            trust,
            first_month,
            last_month,
        } = req.into_inner();
        let first = month_of("first_month", &first_month)?;
        let last = month_of("last_month", &last_month)?;
        let c = self
            .cases
            .chart(&ctx, (&benefit, &trust), (first, last), &caller)
            .await
            .map_err(status)?;
        ok(chart_pb(&c))
    }

    async fn get_benefits_settings(
        &self,
        req: Request<pb::GetBenefitsSettingsRequest>,
    ) -> Reply<pb::GetBenefitsSettingsResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetBenefitsSettingsRequest { name } = req.into_inner();
        let s = self.cases.get_settings(&ctx, &name).await.map_err(status)?;
        ok(pb::GetBenefitsSettingsResponse {
            settings: Some(settings_pb(&s)),
        })
    }

    async fn update_benefits_settings(
        &self,
        req: Request<pb::UpdateBenefitsSettingsRequest>,
    ) -> Reply<pb::UpdateBenefitsSettingsResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::UpdateBenefitsSettingsRequest {
            settings,
            etag,
            request_id,
        } = req.into_inner();
        let pb::BenefitsSettings {
            name,
            count_validated,
            submission_days,
            etag: _,
            update_time: _,
        } = settings.unwrap_or_default();
        ok(self
            .cases
            .update_settings(
                &ctx,
                (&name, &etag),
                (count_validated, submission_days),
                &request_id,
                |s| pb::UpdateBenefitsSettingsResponse {
                    settings: Some(settings_pb(s)),
                },
            )
            .await
            .map_err(status)?)
    }

    type WatchBenefitsStream = concordat_platform::events::WatchStream<pb::WatchBenefitsResponse>;

    async fn watch_benefits(
        &self,
        req: Request<pb::WatchBenefitsRequest>,
    ) -> Reply<Self::WatchBenefitsStream> {
        use pb::watch_benefits_response::Resource;
        let ctx = RequestContext::of(&req)?;
        let pb::WatchBenefitsRequest { parent, cursor } = req.into_inner();
        let events = self
            .cases
            .watch(&ctx, &parent, cursor)
            .await
            .map_err(status)?;
        Ok(watch_response(events, |event| {
            let bytes = event.payload.as_slice();
            let resource = match event.kind.split('.').next().unwrap_or_default() {
                "benefit" => pb::Benefit::decode(bytes).map(Resource::Benefit),
                "rate_card" => pb::RateCard::decode(bytes).map(Resource::RateCard),
                "attribution" => pb::Attribution::decode(bytes).map(Resource::Attribution),
                "settings" => pb::BenefitsSettings::decode(bytes).map(Resource::Settings),
                _ => pb::Measurement::decode(bytes).map(Resource::Measurement),
            }
            .map_err(ApiError::internal)?;
            Ok(pb::WatchBenefitsResponse {
                cursor: event.seq,
                kind: event.kind,
                event_time: Some(concordat_api::time::timestamp(event.created_at)),
                resource: Some(resource),
            })
        }))
    }
}

/// A cell write from a request's fields.
fn cell_write(
    (name, value, evidence, etag): (String, String, Option<pb::Evidence>, String),
) -> Result<CellWrite, BenefitsError> {
    let mut f = Fields::default();
    let value = (!value.is_empty()).then(|| f.ratio("value", &value));
    let evidence = evidence.map(|pb::Evidence { note, link }| (note, link));
    f.done(CellWrite {
        name,
        value,
        evidence,
        etag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_table_covers_every_rpc_exactly() {
        concordat_platform::testkit::assert_permissions_cover(
            <pb::benefits_service_server::BenefitsServiceServer<Api> as tonic::server::NamedService>::NAME,
            super::PERMISSIONS,
        );
    }
}
