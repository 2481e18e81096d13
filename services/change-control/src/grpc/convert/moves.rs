//! The lifecycle requests as [`Moving`] commands, and the change request back as each move's
//! response.

use concordat_proto::changecontrol::v1 as pb;
use tonic::Status;

use super::from_ts;
use crate::domain::change_request::ChangeRequest;
use crate::service::{Command, Moving};

/// A move with no etag in its request.
fn moving(name: String, command: Command, request_id: String) -> Moving {
    Moving {
        name,
        etag: String::new(),
        command,
        request_id,
    }
}

impl TryFrom<pb::SubmitChangeRequestRequest> for Moving {
    type Error = Status;
    fn try_from(r: pb::SubmitChangeRequestRequest) -> Result<Self, Status> {
        let pb::SubmitChangeRequestRequest {
            name,
            etag,
            request_id,
        } = r;
        let command = Command::Submit;
        Ok(Moving {
            name,
            etag,
            command,
            request_id,
        })
    }
}

impl TryFrom<pb::StartImpactAssessmentRequest> for Moving {
    type Error = Status;
    fn try_from(r: pb::StartImpactAssessmentRequest) -> Result<Self, Status> {
        let pb::StartImpactAssessmentRequest {
            name,
            deadline,
            etag,
            request_id,
        } = r;
        let command = Command::StartAssessment {
            deadline: from_ts("deadline", deadline)?,
        };
        Ok(Moving {
            name,
            etag,
            command,
            request_id,
        })
    }
}

impl TryFrom<pb::OpenVotingRequest> for Moving {
    type Error = Status;
    fn try_from(r: pb::OpenVotingRequest) -> Result<Self, Status> {
        let pb::OpenVotingRequest {
            name,
            deadline,
            etag,
            request_id,
        } = r;
        let command = Command::OpenVoting {
            deadline: from_ts("deadline", deadline)?,
        };
        Ok(Moving {
            name,
            etag,
            command,
            request_id,
        })
    }
}

impl TryFrom<pb::WithdrawChangeRequestRequest> for Moving {
    type Error = Status;
    fn try_from(r: pb::WithdrawChangeRequestRequest) -> Result<Self, Status> {
        let pb::WithdrawChangeRequestRequest {
            name,
            reason,
            request_id,
        } = r;
        Ok(moving(name, Command::Withdraw { reason }, request_id))
    }
}

impl TryFrom<pb::DeferChangeRequestRequest> for Moving {
    type Error = Status;
    fn try_from(r: pb::DeferChangeRequestRequest) -> Result<Self, Status> {
        let pb::DeferChangeRequestRequest {
            name,
            reason,
            request_id,
        } = r;
        Ok(moving(name, Command::Defer { reason }, request_id))
    }
}

impl TryFrom<pb::ReopenChangeRequestRequest> for Moving {
    type Error = Status;
    fn try_from(r: pb::ReopenChangeRequestRequest) -> Result<Self, Status> {
        let pb::ReopenChangeRequestRequest { name, request_id } = r;
        Ok(moving(name, Command::Reopen, request_id))
    }
}

impl TryFrom<pb::CloseVotingRequest> for Moving {
    type Error = Status;
    fn try_from(r: pb::CloseVotingRequest) -> Result<Self, Status> {
        let pb::CloseVotingRequest { name, request_id } = r;
        Ok(moving(name, Command::CloseVoting, request_id))
    }
}

impl TryFrom<pb::RecordBoardDecisionRequest> for Moving {
    type Error = Status;
    fn try_from(r: pb::RecordBoardDecisionRequest) -> Result<Self, Status> {
        let pb::RecordBoardDecisionRequest {
            name,
            approved,
            minutes_reference,
            request_id,
        } = r;
        let command = Command::BoardDecision {
            approved,
            minutes_reference,
        };
        Ok(moving(name, command, request_id))
    }
}

impl TryFrom<pb::ApproveEmergencyChangeRequest> for Moving {
    type Error = Status;
    fn try_from(r: pb::ApproveEmergencyChangeRequest) -> Result<Self, Status> {
        let pb::ApproveEmergencyChangeRequest {
            name,
            justification,
            request_id,
        } = r;
        let command = Command::ApproveEmergency { justification };
        Ok(moving(name, command, request_id))
    }
}

impl TryFrom<pb::CompleteRetrospectiveReviewRequest> for Moving {
    type Error = Status;
    fn try_from(r: pb::CompleteRetrospectiveReviewRequest) -> Result<Self, Status> {
        let pb::CompleteRetrospectiveReviewRequest {
            name,
            summary,
            request_id,
        } = r;
        let command = Command::CompleteReview { summary };
        Ok(moving(name, command, request_id))
    }
}

impl TryFrom<pb::CloseChangeRequestRequest> for Moving {
    type Error = Status;
    fn try_from(r: pb::CloseChangeRequestRequest) -> Result<Self, Status> {
        let pb::CloseChangeRequestRequest { name, request_id } = r;
        Ok(moving(name, Command::Close, request_id))
    }
}

/// Each response that carries the moved change request alone.
macro_rules! answers_with_the_change_request {
    ($($response:ident),+ $(,)?) => {
        $(impl From<&ChangeRequest> for pb::$response {
            fn from(cr: &ChangeRequest) -> Self {
                Self {
                    change_request: Some(cr.into()),
                }
            }
        })+
    };
}

answers_with_the_change_request!(
    SubmitChangeRequestResponse,
    StartImpactAssessmentResponse,
    OpenVotingResponse,
    WithdrawChangeRequestResponse,
    DeferChangeRequestResponse,
    ReopenChangeRequestResponse,
    CloseVotingResponse,
    RecordBoardDecisionResponse,
    ApproveEmergencyChangeResponse,
    CompleteRetrospectiveReviewResponse,
    CloseChangeRequestResponse,
);
