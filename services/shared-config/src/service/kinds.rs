//! Config kinds: a JSON Schema and an owning domain per kind of item.

use super::*;

impl SharedConfig {
    /// Registers a kind.
    pub async fn create_kind<R: Reply>(
        &self,
        ctx: &RequestContext,
        (parent, id): (&str, &str),
        new: NewKind,
        caller: &Caller,
        request_id: &str,
        reply: impl FnOnce(&KindRecord) -> R,
    ) -> Result<R> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let NewKind {
            domain,
            schema,
            description,
        } = new;
        let mut violations = Vec::new();
        if !kind::valid_name(id) {
            violations.push((
                "config_kind_id".to_owned(),
                "must be 1–63 lowercase letters, digits or hyphens, starting with a letter"
                    .to_owned(),
            ));
        }
        if let Err(v) = ConfigKind::new(
            if kind::valid_name(id) { id } else { "x" },
            &domain,
            schema.clone(),
        ) {
            violations.extend(v.into_iter().filter(|(f, _)| f != "config_kind.name"));
        }
        // The domain must be one a design authority decides, or no change request could ever
        // publish items of the kind (asked of change control, as the caller).
        if !domain.is_empty() && violations.is_empty() {
            let decided = match self.change_requests.decided_domains(parent, caller).await {
                Ok(decided) => decided,
                Err(unknown @ UpstreamError::Unknown { .. }) => {
                    return Err(invalid("parent", unknown.to_string()));
                }
                Err(unavailable) => return Err(ConfigError::Upstream(unavailable)),
            };
            if !decided.contains(&domain) {
                violations.push((
                    "config_kind.domain".to_owned(),
                    if decided.is_empty() {
                        format!(
                            "no design authority of {parent} decides `{domain}` (none exists yet)"
                        )
                    } else {
                        format!(
                            "no design authority of {parent} decides `{domain}`; decided: {}",
                            decided.into_iter().collect::<Vec<_>>().join(", ")
                        )
                    },
                ));
            }
        }
        if !violations.is_empty() {
            return Err(ConfigError::Invalid(violations));
        }
        self.writer
            .write(ctx, request_id, |w| async move {
                let record = KindRecord {
                    ics: ics.clone(),
                    name: id.to_owned(),
                    domain,
                    schema,
                    description,
                    creator: ctx.principal.person(),
                    create_time: w.now(),
                };
                store::insert_kind(w.txn(), &record).await?;
                w.audit(
                    "configKind.create",
                    &format!("icss/{ics}/configKinds/{id}"),
                    format!("kind {id} registered for the {} domain", record.domain),
                );
                Ok(reply(&record))
            })
            .await
    }

    /// Reads a kind.
    pub async fn get_kind(&self, ctx: &RequestContext, name: &str) -> Result<KindRecord> {
        let (ics, id) = parse_name("name", name, "configKinds")?;
        self.require_ics(ctx, &ics, name).await?;
        store::kind(self.db().conn(), &ics, &id)
            .await?
            .ok_or_else(|| ConfigError::NotFound(name.to_owned()))
    }

    /// Lists the kinds of an ICS, a page at a time.
    pub async fn list_kinds(
        &self,
        ctx: &RequestContext,
        parent: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<KindRecord>, String)> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let kinds = store::kinds(self.db().conn(), &ics).await?;
        concordat_platform::paging::page(
            &self.tokens,
            &format!("{}|{parent}", ctx.method),
            page_size,
            page_token,
            kinds,
        )
        .map_err(|v| ConfigError::Invalid(vec![(v.field, v.description)]))
    }
}
