//! The gRPC adapter: `ConvergenceService` implemented over the use cases. Converts proto ↔
//! domain and nothing more; every rule lives in the domain and the use cases.

mod convert;
mod error;

pub use convert::{encode_assessment, encode_notice, encode_plan, encode_settings};

use std::sync::Arc;

use concordat_platform::authz::{Allowed, Permission, RequestContext};
use concordat_platform::error::ApiError;
use concordat_platform::events::{WatchStream, watch_response};
use concordat_platform::identity::Role;
use concordat_proto::convergence::v1 as pb;
use pb::convergence_service_server::ConvergenceService;
use prost::Message;
use tonic::{Request, Response, Status};

use convert::*;

use crate::domain::assessment::Band;
use crate::service::{
    Convergence, ConvergenceError, DivergenceQuery, PlanInput, Proposal, SettingsUpdate,
};

/// Who may call which convergence RPC. Every caller reads only its own ICS (checked in the use
/// cases); only an ICS admin sets the scoring settings.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        method: "GetConvergenceMatrix",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListAssessments",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "GetAssessment",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListDivergences",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "AssessSnapshot",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ProposeChangeRequest",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "GetConvergenceSettings",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "UpdateConvergenceSettings",
        allowed: Allowed::Roles(&[Role::IcsAdmin]),
    },
    Permission {
        method: "WatchConvergence",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "CreateConvergencePlan",
        allowed: Allowed::Roles(&[Role::IcsAdmin]),
    },
    Permission {
        method: "GetConvergencePlan",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListConvergencePlans",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "UpdateConvergencePlan",
        allowed: Allowed::Roles(PLAN_EDITORS),
    },
    Permission {
        method: "ScheduleConvergencePlan",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ForecastConvergencePlan",
        allowed: Allowed::Authenticated,
    },
];

/// Who may change a plan: an ICS admin any part, a trust's digital lead or engineer only their
/// own trust's milestones (checked in the use case).
const PLAN_EDITORS: &[Role] = &[Role::IcsAdmin, Role::TrustDigitalLead, Role::TrustEngineer];

/// The service implementation.
pub struct Api {
    cases: Arc<Convergence>,
}

impl Api {
    /// Over the use cases.
    pub fn new(cases: Arc<Convergence>) -> Self {
        Self { cases }
    }
}

/// What a handler answers.
type Reply<T> = Result<Response<T>, Status>;

fn status(err: ConvergenceError) -> Status {
    ApiError::from(err).into_status()
}

#[tonic::async_trait]
impl ConvergenceService for Api {
    async fn get_convergence_matrix(
        &self,
        req: Request<pb::GetConvergenceMatrixRequest>,
    ) -> Reply<pb::GetConvergenceMatrixResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetConvergenceMatrixRequest { parent, as_of } = req.into_inner();
        let (rows, settings, as_of) = self
            .cases
            .matrix(&ctx, &parent, time_of(as_of))
            .await
            .map_err(status)?;
        let mut cells = Vec::new();
        let mut domains = std::collections::BTreeSet::new();
        let mut trust_totals = Vec::new();
        for (trust, a) in &rows {
            match a {
                Some(a) => {
                    for domain in a.cells.keys() {
                        domains.insert(domain.clone());
                        cells.push(cell_pb(a, Some(domain), &settings));
                    }
                    trust_totals.push(cell_pb(a, None, &settings));
                }
                None => trust_totals.push(pb::Cell {
                    trust: trust.clone(),
                    ..Default::default()
                }),
            }
        }
        Ok(Response::new(pb::GetConvergenceMatrixResponse {
            cells,
            trusts: rows.into_iter().map(|(t, _)| t).collect(),
            domains: domains.into_iter().collect(),
            trust_totals,
            as_of: Some(ts(as_of)),
        }))
    }

    async fn list_assessments(
        &self,
        req: Request<pb::ListAssessmentsRequest>,
    ) -> Reply<pb::ListAssessmentsResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListAssessmentsRequest {
            parent,
            domain,
            page_size,
            page_token,
        } = req.into_inner();
        let (list, settings, next_page_token) = self
            .cases
            .list_assessments(&ctx, &parent, page_size, &page_token)
            .await
            .map_err(status)?;
        let domain = (!domain.is_empty()).then_some(domain.as_str());
        Ok(Response::new(pb::ListAssessmentsResponse {
            assessments: list
                .iter()
                .map(|a| assessment_pb(a, &settings, domain))
                .collect(),
            next_page_token,
        }))
    }

    async fn get_assessment(
        &self,
        req: Request<pb::GetAssessmentRequest>,
    ) -> Reply<pb::GetAssessmentResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetAssessmentRequest { name } = req.into_inner();
        let (a, settings) = self
            .cases
            .get_assessment(&ctx, &name)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::GetAssessmentResponse {
            assessment: Some(assessment_pb(&a, &settings, None)),
        }))
    }

    async fn list_divergences(
        &self,
        req: Request<pb::ListDivergencesRequest>,
    ) -> Reply<pb::ListDivergencesResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListDivergencesRequest {
            parent,
            domain,
            class,
            page_size,
            page_token,
        } = req.into_inner();
        let query = DivergenceQuery {
            parent: &parent,
            domain: &domain,
            class: class_of(class),
            page_size,
            page_token: &page_token,
        };
        let (assessment, list, next_page_token) = self
            .cases
            .list_divergences(&ctx, &query)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListDivergencesResponse {
            divergences: list.iter().map(|d| divergence_pb(&assessment, d)).collect(),
            next_page_token,
            assessment,
        }))
    }

    async fn propose_change_request(
        &self,
        req: Request<pb::ProposeChangeRequestRequest>,
    ) -> Reply<pb::ProposeChangeRequestResponse> {
        use crate::domain::proposal::Intent;
        let ctx = RequestContext::of(&req)?;
        let caller = caller(&req);
        let pb::ProposeChangeRequestRequest {
            assessment,
            keys,
            intent,
            design_authority,
            change_class,
            title,
            request_id,
        } = req.into_inner();
        let intent = match pb::ProposalIntent::try_from(intent) {
            Ok(pb::ProposalIntent::ApproveAsVariations) => Intent::ApproveAsVariations,
            Ok(pb::ProposalIntent::Align) => Intent::Align,
            _ => {
                return Err(status(ConvergenceError::Invalid(vec![(
                    "intent".into(),
                    "is required".into(),
                )])));
            }
        };
        let proposal = Proposal {
            assessment,
            keys,
            intent,
            design_authority,
            change_class,
            title,
        };
        let (change_request, number, description) = self
            .cases
            .propose(&ctx, &caller, proposal, &request_id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ProposeChangeRequestResponse {
            change_request,
            number,
            description,
        }))
    }

    async fn assess_snapshot(
        &self,
        req: Request<pb::AssessSnapshotRequest>,
    ) -> Reply<pb::AssessSnapshotResponse> {
        let ctx = RequestContext::of(&req)?;
        let caller = caller(&req);
        let pb::AssessSnapshotRequest { parent, as_of } = req.into_inner();
        let (a, settings) = self
            .cases
            .assess_as_of(&ctx, &caller, &parent, time_of(as_of))
            .await
            .map_err(status)?;
        Ok(Response::new(pb::AssessSnapshotResponse {
            assessment: Some(assessment_pb(&a, &settings, None)),
        }))
    }

    async fn get_convergence_settings(
        &self,
        req: Request<pb::GetConvergenceSettingsRequest>,
    ) -> Reply<pb::GetConvergenceSettingsResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetConvergenceSettingsRequest { name } = req.into_inner();
        let settings = self.cases.get_settings(&ctx, &name).await.map_err(status)?;
        Ok(Response::new(pb::GetConvergenceSettingsResponse {
            settings: Some(settings_pb(&settings)),
        }))
    }

    async fn update_convergence_settings(
        &self,
        req: Request<pb::UpdateConvergenceSettingsRequest>,
    ) -> Reply<pb::UpdateConvergenceSettingsResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::UpdateConvergenceSettingsRequest {
            settings,
            etag,
            request_id,
        } = req.into_inner();
        let pb::ConvergenceSettings {
            name,
            weights,
            bands,
            etag: _,
            update_time: _,
            expiry_notice_days,
        } = settings.unwrap_or_default();
        let pb::Weights {
            locked,
            bounded,
            overridable,
        } = weights.unwrap_or_default();
        let update = SettingsUpdate {
            name,
            weights: crate::domain::assessment::Weights {
                locked,
                bounded,
                overridable,
            },
            bands: bands
                .into_iter()
                .map(|pb::Band { from, label }| Band { from, label })
                .collect(),
            notice_days: expiry_notice_days,
            etag,
        };
        self.cases
            .update_settings(&ctx, update, &request_id, |s| {
                pb::UpdateConvergenceSettingsResponse {
                    settings: Some(settings_pb(s)),
                }
            })
            .await
            .map(Response::new)
            .map_err(status)
    }

    async fn create_convergence_plan(
        &self,
        req: Request<pb::CreateConvergencePlanRequest>,
    ) -> Reply<pb::CreateConvergencePlanResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::CreateConvergencePlanRequest {
            parent,
            plan_id,
            plan,
            request_id,
        } = req.into_inner();
        let (_, plan) = plan_of(plan.unwrap_or_default()).map_err(status)?;
        let input = PlanInput {
            name: String::new(),
            plan,
            etag: String::new(),
        };
        self.cases
            .create_plan(&ctx, (&parent, &plan_id), input, &request_id, |p| {
                pb::CreateConvergencePlanResponse {
                    plan: Some(plan_pb(p)),
                }
            })
            .await
            .map(Response::new)
            .map_err(status)
    }

    async fn get_convergence_plan(
        &self,
        req: Request<pb::GetConvergencePlanRequest>,
    ) -> Reply<pb::GetConvergencePlanResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetConvergencePlanRequest { name } = req.into_inner();
        let p = self.cases.get_plan(&ctx, &name).await.map_err(status)?;
        Ok(Response::new(pb::GetConvergencePlanResponse {
            plan: Some(plan_pb(&p)),
        }))
    }

    async fn list_convergence_plans(
        &self,
        req: Request<pb::ListConvergencePlansRequest>,
    ) -> Reply<pb::ListConvergencePlansResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListConvergencePlansRequest {
            parent,
            page_size,
            page_token,
        } = req.into_inner();
        let (plans, next_page_token) = self
            .cases
            .list_plans(&ctx, &parent, page_size, &page_token)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListConvergencePlansResponse {
            plans: plans.iter().map(plan_pb).collect(),
            next_page_token,
        }))
    }

    async fn update_convergence_plan(
        &self,
        req: Request<pb::UpdateConvergencePlanRequest>,
    ) -> Reply<pb::UpdateConvergencePlanResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::UpdateConvergencePlanRequest {
            plan,
            etag,
            request_id,
        } = req.into_inner();
        let (name, plan) = plan_of(plan.unwrap_or_default()).map_err(status)?;
        let input = PlanInput { name, plan, etag };
        self.cases
            .update_plan(&ctx, input, &request_id, |p| {
                pb::UpdateConvergencePlanResponse {
                    plan: Some(plan_pb(p)),
                }
            })
            .await
            .map(Response::new)
            .map_err(status)
    }

    async fn schedule_convergence_plan(
        &self,
        req: Request<pb::ScheduleConvergencePlanRequest>,
    ) -> Reply<pb::ScheduleConvergencePlanResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::ScheduleConvergencePlanRequest { name } = req.into_inner();
        let scheduled = self
            .cases
            .schedule_plan(&ctx, &name)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ScheduleConvergencePlanResponse {
            schedule: Some(schedule_pb(&scheduled)),
        }))
    }

    async fn forecast_convergence_plan(
        &self,
        req: Request<pb::ForecastConvergencePlanRequest>,
    ) -> Reply<pb::ForecastConvergencePlanResponse> {
        let ctx = RequestContext::of(&req)?;
        let pb::ForecastConvergencePlanRequest { name, iterations } = req.into_inner();
        let forecasted = self
            .cases
            .forecast_plan(&ctx, &name, iterations)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ForecastConvergencePlanResponse {
            forecast: Some(forecast_pb(&forecasted)),
        }))
    }

    type WatchConvergenceStream = WatchStream<pb::WatchConvergenceResponse>;

    async fn watch_convergence(
        &self,
        req: Request<pb::WatchConvergenceRequest>,
    ) -> Reply<Self::WatchConvergenceStream> {
        use pb::watch_convergence_response::Resource;
        let ctx = RequestContext::of(&req)?;
        let pb::WatchConvergenceRequest { parent, cursor } = req.into_inner();
        let events = self
            .cases
            .watch(&ctx, &parent, cursor)
            .await
            .map_err(status)?;
        Ok(watch_response(events, |event| {
            let resource = match event.kind.as_str() {
                crate::service::SETTINGS_UPDATED => {
                    pb::ConvergenceSettings::decode(event.payload.as_slice())
                        .map(Resource::Settings)
                }
                crate::service::PLAN_UPDATED | crate::service::MILESTONE_ACHIEVED => {
                    pb::ConvergencePlan::decode(event.payload.as_slice()).map(Resource::Plan)
                }
                crate::service::VARIATION_EXPIRING => {
                    pb::ExpiringVariation::decode(event.payload.as_slice())
                        .map(Resource::ExpiringVariation)
                }
                crate::service::MILESTONE_AT_RISK => {
                    pb::MilestoneAtRisk::decode(event.payload.as_slice())
                        .map(Resource::MilestoneAtRisk)
                }
                _ => pb::Assessment::decode(event.payload.as_slice()).map(Resource::Assessment),
            }
            .map_err(ApiError::internal)?;
            Ok(pb::WatchConvergenceResponse {
                cursor: event.seq,
                kind: event.kind,
                event_time: Some(ts(event.created_at)),
                resource: Some(resource),
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_table_covers_every_rpc_exactly() {
        concordat_platform::testkit::assert_permissions_cover(
            <pb::convergence_service_server::ConvergenceServiceServer<Api> as tonic::server::NamedService>::NAME,
            super::PERMISSIONS,
        );
    }
}
