//! The gRPC adapter: `ChangeControlService` over the use cases, one module per resource family.
//! Converts proto ↔ domain ([`convert`]) and maps errors ([`error`]); every rule lives in the
//! domain and the use cases. This file holds the authorization table and the routing of each RPC
//! to its handler.

mod actions;
mod assessments;
mod change_requests;
mod convert;
mod design_authorities;
mod error;
mod hazards;
mod lifecycle;
mod releases;
mod votes;

use std::sync::Arc;

use concordat_platform::authz::{Allowed, Permission};
use concordat_platform::identity::Role;
use concordat_platform::paging::PageTokens;
use concordat_proto::changecontrol::v1 as pb;
use pb::change_control_service_server::ChangeControlService;
use tonic::{Request, Response, Status};

pub use convert::{change_request_pb, encode_change_request};
pub use error::name_reason;

use crate::service::ChangeControl;

const REQUESTERS: &[Role] = &[
    Role::TrustDigitalLead,
    Role::TrustEngineer,
    Role::DaMember,
    Role::DaChair,
    Role::ClinicalSafetyOfficer,
];
const ASSESSORS: &[Role] = &[
    Role::TrustDigitalLead,
    Role::TrustEngineer,
    Role::ClinicalSafetyOfficer,
];
const HAZARD_LOGGERS: &[Role] = &[
    Role::ClinicalSafetyOfficer,
    Role::TrustDigitalLead,
    Role::TrustEngineer,
    Role::DaChair,
];

/// Who may call which change-control RPC. Trust scope, chairs and voting members are checked in
/// the use cases.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        method: "CreateDesignAuthority",
        allowed: Allowed::Roles(&[Role::IcsAdmin]),
    },
    Permission {
        method: "GetDesignAuthority",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListDesignAuthorities",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "CreateChangeRequest",
        allowed: Allowed::Roles(REQUESTERS),
    },
    Permission {
        method: "GetChangeRequest",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListChangeRequests",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "UpdateChangeRequest",
        allowed: Allowed::Roles(REQUESTERS),
    },
    Permission {
        method: "SubmitChangeRequest",
        allowed: Allowed::Roles(REQUESTERS),
    },
    Permission {
        method: "StartImpactAssessment",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "OpenVoting",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "CloseVoting",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "RecordBoardDecision",
        allowed: Allowed::Roles(&[Role::BoardChair, Role::BoardMember]),
    },
    Permission {
        method: "WithdrawChangeRequest",
        allowed: Allowed::Roles(REQUESTERS),
    },
    Permission {
        method: "DeferChangeRequest",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "ReopenChangeRequest",
        allowed: Allowed::Roles(REQUESTERS),
    },
    Permission {
        method: "SubmitImpactAssessment",
        allowed: Allowed::Roles(ASSESSORS),
    },
    Permission {
        method: "ListImpactAssessments",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "CreateHazard",
        allowed: Allowed::Roles(HAZARD_LOGGERS),
    },
    Permission {
        method: "ListHazards",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "UpdateHazard",
        allowed: Allowed::Roles(HAZARD_LOGGERS),
    },
    Permission {
        method: "SignOffHazard",
        allowed: Allowed::Roles(&[Role::ClinicalSafetyOfficer]),
    },
    Permission {
        method: "CastVote",
        allowed: Allowed::Roles(&[Role::DaMember]),
    },
    Permission {
        method: "ListVotes",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "DisposeObjection",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "WatchChangeRequests",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "UpdateDesignAuthority",
        allowed: Allowed::Roles(&[Role::IcsAdmin]),
    },
    Permission {
        method: "UpdateCharter",
        allowed: Allowed::Roles(&[Role::IcsAdmin, Role::DaChair]),
    },
    Permission {
        method: "CreateStandardTemplate",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "ListStandardTemplates",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ApproveEmergencyChange",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "CompleteRetrospectiveReview",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "ScheduleChangeRequest",
        allowed: Allowed::Roles(&[Role::TrustDigitalLead, Role::DaChair, Role::IcsAdmin]),
    },
    Permission {
        method: "ReportDeployment",
        allowed: Allowed::Roles(&[
            Role::TrustEngineer,
            Role::TrustDigitalLead,
            Role::Automation,
        ]),
    },
    Permission {
        method: "CloseChangeRequest",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "CreateRelease",
        allowed: Allowed::Roles(&[Role::IcsAdmin]),
    },
    Permission {
        method: "GetRelease",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListReleases",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListMyActions",
        allowed: Allowed::Authenticated,
    },
];

/// The gRPC service.
pub struct Api {
    cases: Arc<ChangeControl>,
    tokens: PageTokens,
}

impl Api {
    /// The adapter over `cases`, paging with `tokens`.
    pub fn new(cases: Arc<ChangeControl>, tokens: PageTokens) -> Self {
        Self { cases, tokens }
    }
}

/// What a handler answers.
type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ChangeControlService for Api {
    async fn create_design_authority(
        &self,
        req: Request<pb::CreateDesignAuthorityRequest>,
    ) -> Reply<pb::CreateDesignAuthorityResponse> {
        design_authorities::create_design_authority(self, req).await
    }

    async fn get_design_authority(
        &self,
        req: Request<pb::GetDesignAuthorityRequest>,
    ) -> Reply<pb::GetDesignAuthorityResponse> {
        design_authorities::get_design_authority(self, req).await
    }

    async fn list_design_authorities(
        &self,
        req: Request<pb::ListDesignAuthoritiesRequest>,
    ) -> Reply<pb::ListDesignAuthoritiesResponse> {
        design_authorities::list_design_authorities(self, req).await
    }

    async fn create_change_request(
        &self,
        req: Request<pb::CreateChangeRequestRequest>,
    ) -> Reply<pb::CreateChangeRequestResponse> {
        change_requests::create_change_request(self, req).await
    }

    async fn get_change_request(
        &self,
        req: Request<pb::GetChangeRequestRequest>,
    ) -> Reply<pb::GetChangeRequestResponse> {
        change_requests::get_change_request(self, req).await
    }

    async fn list_change_requests(
        &self,
        req: Request<pb::ListChangeRequestsRequest>,
    ) -> Reply<pb::ListChangeRequestsResponse> {
        change_requests::list_change_requests(self, req).await
    }

    async fn update_change_request(
        &self,
        req: Request<pb::UpdateChangeRequestRequest>,
    ) -> Reply<pb::UpdateChangeRequestResponse> {
        change_requests::update_change_request(self, req).await
    }

    async fn submit_change_request(
        &self,
        req: Request<pb::SubmitChangeRequestRequest>,
    ) -> Reply<pb::SubmitChangeRequestResponse> {
        lifecycle::moved(self, req).await
    }

    async fn start_impact_assessment(
        &self,
        req: Request<pb::StartImpactAssessmentRequest>,
    ) -> Reply<pb::StartImpactAssessmentResponse> {
        lifecycle::moved(self, req).await
    }

    async fn open_voting(
        &self,
        req: Request<pb::OpenVotingRequest>,
    ) -> Reply<pb::OpenVotingResponse> {
        lifecycle::moved(self, req).await
    }

    async fn close_voting(
        &self,
        req: Request<pb::CloseVotingRequest>,
    ) -> Reply<pb::CloseVotingResponse> {
        lifecycle::moved(self, req).await
    }

    async fn record_board_decision(
        &self,
        req: Request<pb::RecordBoardDecisionRequest>,
    ) -> Reply<pb::RecordBoardDecisionResponse> {
        lifecycle::moved(self, req).await
    }

    async fn withdraw_change_request(
        &self,
        req: Request<pb::WithdrawChangeRequestRequest>,
    ) -> Reply<pb::WithdrawChangeRequestResponse> {
        lifecycle::moved(self, req).await
    }

    async fn defer_change_request(
        &self,
        req: Request<pb::DeferChangeRequestRequest>,
    ) -> Reply<pb::DeferChangeRequestResponse> {
        lifecycle::moved(self, req).await
    }

    async fn reopen_change_request(
        &self,
        req: Request<pb::ReopenChangeRequestRequest>,
    ) -> Reply<pb::ReopenChangeRequestResponse> {
        lifecycle::moved(self, req).await
    }

    async fn submit_impact_assessment(
        &self,
        req: Request<pb::SubmitImpactAssessmentRequest>,
    ) -> Reply<pb::SubmitImpactAssessmentResponse> {
        assessments::submit_impact_assessment(self, req).await
    }

    async fn list_impact_assessments(
        &self,
        req: Request<pb::ListImpactAssessmentsRequest>,
    ) -> Reply<pb::ListImpactAssessmentsResponse> {
        assessments::list_impact_assessments(self, req).await
    }

    async fn create_hazard(
        &self,
        req: Request<pb::CreateHazardRequest>,
    ) -> Reply<pb::CreateHazardResponse> {
        hazards::create_hazard(self, req).await
    }

    async fn list_hazards(
        &self,
        req: Request<pb::ListHazardsRequest>,
    ) -> Reply<pb::ListHazardsResponse> {
        hazards::list_hazards(self, req).await
    }

    async fn update_hazard(
        &self,
        req: Request<pb::UpdateHazardRequest>,
    ) -> Reply<pb::UpdateHazardResponse> {
        hazards::update_hazard(self, req).await
    }

    async fn sign_off_hazard(
        &self,
        req: Request<pb::SignOffHazardRequest>,
    ) -> Reply<pb::SignOffHazardResponse> {
        hazards::sign_off_hazard(self, req).await
    }

    async fn cast_vote(&self, req: Request<pb::CastVoteRequest>) -> Reply<pb::CastVoteResponse> {
        votes::cast_vote(self, req).await
    }

    async fn list_votes(&self, req: Request<pb::ListVotesRequest>) -> Reply<pb::ListVotesResponse> {
        votes::list_votes(self, req).await
    }

    async fn dispose_objection(
        &self,
        req: Request<pb::DisposeObjectionRequest>,
    ) -> Reply<pb::DisposeObjectionResponse> {
        votes::dispose_objection(self, req).await
    }

    async fn update_charter(
        &self,
        req: Request<pb::UpdateCharterRequest>,
    ) -> Reply<pb::UpdateCharterResponse> {
        design_authorities::update_charter(self, req).await
    }

    async fn update_design_authority(
        &self,
        req: Request<pb::UpdateDesignAuthorityRequest>,
    ) -> Reply<pb::UpdateDesignAuthorityResponse> {
        design_authorities::update_design_authority(self, req).await
    }

    async fn create_standard_template(
        &self,
        req: Request<pb::CreateStandardTemplateRequest>,
    ) -> Reply<pb::CreateStandardTemplateResponse> {
        design_authorities::create_standard_template(self, req).await
    }

    async fn list_standard_templates(
        &self,
        req: Request<pb::ListStandardTemplatesRequest>,
    ) -> Reply<pb::ListStandardTemplatesResponse> {
        design_authorities::list_standard_templates(self, req).await
    }

    async fn approve_emergency_change(
        &self,
        req: Request<pb::ApproveEmergencyChangeRequest>,
    ) -> Reply<pb::ApproveEmergencyChangeResponse> {
        lifecycle::moved(self, req).await
    }

    async fn complete_retrospective_review(
        &self,
        req: Request<pb::CompleteRetrospectiveReviewRequest>,
    ) -> Reply<pb::CompleteRetrospectiveReviewResponse> {
        lifecycle::moved(self, req).await
    }

    async fn schedule_change_request(
        &self,
        req: Request<pb::ScheduleChangeRequestRequest>,
    ) -> Reply<pb::ScheduleChangeRequestResponse> {
        releases::schedule_change_request(self, req).await
    }

    async fn report_deployment(
        &self,
        req: Request<pb::ReportDeploymentRequest>,
    ) -> Reply<pb::ReportDeploymentResponse> {
        releases::report_deployment(self, req).await
    }

    async fn close_change_request(
        &self,
        req: Request<pb::CloseChangeRequestRequest>,
    ) -> Reply<pb::CloseChangeRequestResponse> {
        lifecycle::moved(self, req).await
    }

    async fn create_release(
        &self,
        req: Request<pb::CreateReleaseRequest>,
    ) -> Reply<pb::CreateReleaseResponse> {
        releases::create_release(self, req).await
    }

    async fn get_release(
        &self,
        req: Request<pb::GetReleaseRequest>,
    ) -> Reply<pb::GetReleaseResponse> {
        releases::get_release(self, req).await
    }

    async fn list_releases(
        &self,
        req: Request<pb::ListReleasesRequest>,
    ) -> Reply<pb::ListReleasesResponse> {
        releases::list_releases(self, req).await
    }

    async fn list_my_actions(
        &self,
        req: Request<pb::ListMyActionsRequest>,
    ) -> Reply<pb::ListMyActionsResponse> {
        actions::list_my_actions(self, req).await
    }

    type WatchChangeRequestsStream = actions::WatchStream;

    async fn watch_change_requests(
        &self,
        req: Request<pb::WatchChangeRequestsRequest>,
    ) -> Reply<actions::WatchStream> {
        actions::watch_change_requests(self, req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every RPC of the service has a row in the authorization table, and every row names an
    /// RPC.
    #[test]
    fn the_authorization_table_covers_every_rpc_exactly() {
        concordat_platform::testkit::assert_permissions_cover(
            <pb::change_control_service_server::ChangeControlServiceServer<Api> as tonic::server::NamedService>::NAME,
            super::PERMISSIONS,
        );
    }
}
