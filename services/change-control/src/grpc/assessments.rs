//! Handlers: impact assessments.

use concordat_platform::authz::RequestContext;
use concordat_proto::changecontrol::v1 as pb;
use tonic::{Request, Response};

use super::convert::{assessment_pb, impact_assessment, page};
use super::{Api, Reply};

pub(super) async fn submit_impact_assessment(
    api: &Api,
    req: Request<pb::SubmitImpactAssessmentRequest>,
) -> Reply<pb::SubmitImpactAssessmentResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::SubmitImpactAssessmentRequest {
        parent,
        impact_assessment: assessment,
        request_id,
    } = req.into_inner();
    let assessment = impact_assessment(assessment)?;
    let reply = api
        .cases
        .submit_assessment(&ctx, &parent, assessment, &request_id, |a| {
            pb::SubmitImpactAssessmentResponse {
                impact_assessment: Some(assessment_pb(&parent, a.clone())),
            }
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn list_impact_assessments(
    api: &Api,
    req: Request<pb::ListImpactAssessmentsRequest>,
) -> Reply<pb::ListImpactAssessmentsResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListImpactAssessmentsRequest {
        parent,
        page_size,
        page_token,
    } = req.into_inner();
    let (list, missing) = api.cases.list_assessments(&ctx, &parent).await?;
    let (list, next_page_token) = page(api, &ctx, &parent, page_size, &page_token, list)?;
    Ok(Response::new(pb::ListImpactAssessmentsResponse {
        impact_assessments: list
            .into_iter()
            .map(|a| assessment_pb(&parent, a))
            .collect(),
        missing_trusts: missing,
        next_page_token,
    }))
}
