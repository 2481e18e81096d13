//! The platform's own API, `concordat.platform.v1.PlatformService`: who is calling, the
//! federation, and each ICS's audit chain.

use std::sync::Arc;

use concordat_proto::platform::v1 as pb;
use pb::platform_service_server::{PlatformService, PlatformServiceServer};
use tonic::{Request, Response, Status};

use crate::audit::{self, Entry, Filter};
use crate::authz::{Allowed, Permission, RequestContext};
use crate::error::{ApiError, PLATFORM_DOMAIN};
use crate::identity::federation::TrustSource;
use crate::identity::{Principal, PrincipalKind, Role};
use crate::server::Platform;

/// Who may call which platform RPC.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        method: "GetServerInfo",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "WhoAmI",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "GetFederation",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListAuditEntries",
        allowed: Allowed::Roles(&[
            Role::IcsAdmin,
            Role::BoardMember,
            Role::BoardChair,
            Role::Viewer,
            Role::DaChair,
            Role::ClinicalSafetyOfficer,
            Role::TrustDigitalLead,
        ]),
    },
    Permission {
        method: "VerifyAuditChain",
        allowed: Allowed::Roles(&[Role::IcsAdmin, Role::BoardMember, Role::BoardChair]),
    },
];

/// The platform service, ready to add to a [`crate::server::ServerBuilder`].
pub fn service(platform: &Arc<Platform>) -> PlatformServiceServer<PlatformApi> {
    crate::configure_service!(
        PlatformServiceServer::new(PlatformApi {
            platform: platform.clone()
        }),
        platform.config
    )
}

/// The platform's entry in the service registry: target `platform`.
pub const SERVICE: crate::registry::Service = crate::registry::Service {
    target: "platform",
    grpc_services: &[<PlatformServiceServer<PlatformApi> as tonic::server::NamedService>::NAME],
    migrations: &[],
    upstreams: &[],
    register: |r| {
        r.builder.add_service(service(r.platform), PERMISSIONS);
        Ok(())
    },
};

/// Implementation of `PlatformService`.
pub struct PlatformApi {
    platform: Arc<Platform>,
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn from_timestamp(
    field: &str,
    t: Option<prost_types::Timestamp>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    t.map(|t| {
        chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)
            .ok_or_else(|| ApiError::invalid_field(PLATFORM_DOMAIN, field, "is out of range"))
    })
    .transpose()
}

fn principal_pb(p: &Principal) -> pb::Principal {
    pb::Principal {
        issuer: p.issuer.clone(),
        subject: p.subject.clone(),
        name: p.name.clone().unwrap_or_default(),
        kind: match p.kind {
            PrincipalKind::Person => pb::PrincipalKind::Person,
            PrincipalKind::Service => pb::PrincipalKind::Service,
        } as i32,
        ics: p.ics.clone(),
        trust: p.trust.clone().unwrap_or_default(),
        roles: p.roles.iter().map(|r| r.as_str().to_owned()).collect(),
    }
}

fn entry_pb(e: Entry) -> pb::AuditEntry {
    pb::AuditEntry {
        name: format!("icss/{}/auditEntries/{}", e.ics, e.sequence),
        sequence: e.sequence,
        time: Some(timestamp(e.time)),
        actor_issuer: e.actor.issuer,
        actor_subject: e.actor.subject,
        actor_trust: e.actor.trust,
        action: e.action,
        resource: e.resource,
        request_id: e.request_id,
        summary: e.summary,
        previous_hash: e.previous_hash,
        hash: e.hash,
    }
}

/// Parses `icss/{ics}`.
pub fn parse_ics_name(field: &str, name: &str) -> Result<String, ApiError> {
    match name.strip_prefix("icss/") {
        Some(code) if !code.is_empty() && !code.contains('/') => Ok(code.to_owned()),
        _ => Err(ApiError::invalid_field(
            PLATFORM_DOMAIN,
            field,
            "must be `icss/{ics}`, e.g. `icss/QUE`",
        )),
    }
}

fn page_size_of(page_size: i32) -> Result<u64, ApiError> {
    crate::paging::page_size("page_size", page_size)
        .map_err(|v| ApiError::violation(PLATFORM_DOMAIN, v))
}

fn empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

impl PlatformApi {
    async fn list_audit(
        &self,
        ctx: &RequestContext,
        req: pb::ListAuditEntriesRequest,
    ) -> Result<pb::ListAuditEntriesResponse, ApiError> {
        let pb::ListAuditEntriesRequest {
            parent,
            page_size,
            page_token,
            resource,
            actor_subject,
            actor_trust,
            action,
            start_time,
            end_time,
            actor_issuer,
        } = req;
        let ics = parse_ics_name("parent", &parent)?;
        let size = page_size_of(page_size)?;
        // A token resumes the query it was issued for, and only that query.
        let query = format!(
            "{parent}|{resource}|{actor_issuer}|{actor_subject}|{actor_trust}|{action}|{start_time:?}|{end_time:?}"
        );
        let tokens = &self.platform.page_tokens;
        let before_sequence = tokens
            .decode("page_token", &page_token, &query)
            .map_err(|v| ApiError::violation(PLATFORM_DOMAIN, v))?;
        let filter = Filter {
            resource: empty(resource),
            actor_issuer: empty(actor_issuer),
            actor_subject: empty(actor_subject),
            actor_trust: empty(actor_trust),
            action: empty(action),
            start: from_timestamp("start_time", start_time)?,
            end: from_timestamp("end_time", end_time)?,
            before_sequence,
        };
        let db = &self.platform.db;
        ctx.require_ics(db, &ics, &parent).await?;
        if !ctx.principal.sees_whole_ics() {
            // Trust-scoped roles read only what people of their own trust did.
            match &filter.actor_trust {
                Some(trust) => ctx.require_trust(db, trust, &parent).await?,
                None => {
                    return Err(ApiError::invalid_field(
                        PLATFORM_DOMAIN,
                        "actor_trust",
                        "your roles are scoped to your trust: set actor_trust to your trust's ODS code",
                    ));
                }
            }
        }
        let mut entries = audit::list(db.conn(), &ics, &filter, size + 1).await?;
        let next_page_token = if entries.len() as u64 > size {
            entries.truncate(usize::try_from(size).unwrap_or(usize::MAX));
            let last = entries.last().map(|e| e.sequence).unwrap_or_default();
            tokens.encode(&query, last)
        } else {
            String::new()
        };
        Ok(pb::ListAuditEntriesResponse {
            entries: entries.into_iter().map(entry_pb).collect(),
            next_page_token,
        })
    }
}

#[tonic::async_trait]
impl PlatformService for PlatformApi {
    async fn get_server_info(
        &self,
        _req: Request<pb::GetServerInfoRequest>,
    ) -> Result<Response<pb::GetServerInfoResponse>, Status> {
        Ok(Response::new(pb::GetServerInfoResponse {
            version: crate::VERSION.to_owned(),
            targets: self.platform.targets.clone(),
            storage_backend: self.platform.db.backend().as_str().to_owned(),
            start_time: Some(timestamp(self.platform.started)),
        }))
    }

    async fn who_am_i(
        &self,
        req: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        Ok(Response::new(pb::WhoAmIResponse {
            principal: Some(principal_pb(&ctx.principal)),
        }))
    }

    async fn get_federation(
        &self,
        req: Request<pb::GetFederationRequest>,
    ) -> Result<Response<pb::GetFederationResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let own = &ctx.principal.ics;
        let federation = &self.platform.federation;
        let icss = federation
            .icss
            .iter()
            .filter(|i| &i.code == own)
            .map(|i| pb::Ics {
                name: format!("icss/{}", i.code),
                code: i.code.clone(),
                display_name: i.name.clone(),
                trusts: i
                    .trusts
                    .iter()
                    .map(|t| pb::Trust {
                        ods_code: t.ods.clone(),
                        name: t.name.clone(),
                    })
                    .collect(),
            })
            .collect();
        let issuers = federation
            .issuers
            .iter()
            .filter(|i| i.icss.is_empty() || i.icss.contains(own))
            .map(|i| {
                let (binding, fixed, claim) = match &i.trust {
                    TrustSource::Fixed(t) => (pb::TrustBinding::Fixed, t.clone(), String::new()),
                    TrustSource::Claim(c) => (pb::TrustBinding::Claim, String::new(), c.clone()),
                    TrustSource::RoleProfiles(p) => (
                        pb::TrustBinding::RoleProfiles,
                        String::new(),
                        p.profiles_claim.clone(),
                    ),
                };
                pb::Issuer {
                    url: i.url.clone(),
                    audiences: i.audiences.clone(),
                    trust_binding: binding as i32,
                    fixed_trust: fixed,
                    trust_claim: claim,
                    roles_claim: i.roles_claim.clone(),
                    role_map: i
                        .role_map
                        .iter()
                        .map(|(k, v)| (k.clone(), pb::RoleList { roles: v.clone() }))
                        .collect(),
                    icss: i.icss.clone(),
                    service_clients: i
                        .service_clients
                        .iter()
                        .filter(|c| federation.is_trust_of(&c.trust, own))
                        .map(|c| pb::ServiceClient {
                            client_id: c.client_id.clone(),
                            trust: c.trust.clone(),
                            roles: c.roles.clone(),
                        })
                        .collect(),
                    development: i.development,
                }
            })
            .collect();
        Ok(Response::new(pb::GetFederationResponse { icss, issuers }))
    }

    async fn list_audit_entries(
        &self,
        req: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        Ok(Response::new(
            self.list_audit(&ctx, req.into_inner()).await?,
        ))
    }

    async fn verify_audit_chain(
        &self,
        req: Request<pb::VerifyAuditChainRequest>,
    ) -> Result<Response<pb::VerifyAuditChainResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::VerifyAuditChainRequest { parent } = req.into_inner();
        let ics = parse_ics_name("parent", &parent)?;
        let db = &self.platform.db;
        ctx.require_ics(db, &ics, &parent).await?;
        let result = audit::verify(db.conn(), &ics)
            .await
            .map_err(ApiError::from)?;
        let (first_broken_sequence, problem) = result.broken.unwrap_or_default();
        Ok(Response::new(pb::VerifyAuditChainResponse {
            valid: problem.is_empty(),
            entries_checked: result.checked,
            first_broken_sequence,
            problem,
            head_hash: result.head_hash,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every RPC of the service has a row in the authorization table, and every row names an
    /// RPC.
    #[test]
    fn the_authorization_table_covers_every_rpc_exactly() {
        crate::testkit::assert_permissions_cover(
            <PlatformServiceServer<PlatformApi> as tonic::server::NamedService>::NAME,
            super::PERMISSIONS,
        );
    }
}
