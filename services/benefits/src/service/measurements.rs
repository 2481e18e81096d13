//! Measurement cells: saved and submitted by their trust, validated by its benefits analyst or
//! digital lead (not the submitter), accepted by the ICS, returned or reopened one cell at a time
//! with a reason. Every act writes a new version of the cell, an audit entry and an event.

use concordat_api::names::MeasurementName;
use concordat_platform::write::Reply;

use super::*;
use crate::domain::exact::Ratio;
use crate::domain::measurement::{Action, Refusal, transition};
use crate::domain::period::{FinancialYear, Month};
use crate::domain::records::{Act, Version};
use crate::store::{self, MeasurementQuery};

/// The most cells one ValidateMeasurements or AcceptMeasurements call decides.
pub const MAX_BATCH: usize = 120;

/// What SaveMeasurement and SubmitMeasurement write.
pub struct CellWrite {
    /// The cell's name.
    pub name: String,
    /// The value (`None`: keep the draft's, on submit).
    pub value: Option<Ratio>,
    /// The evidence's note and link (`None`: keep the draft's, on submit).
    pub evidence: Option<(String, String)>,
    /// The cell's etag (empty: any).
    pub etag: String,
}

/// What ListMeasurements asks.
pub struct MeasurementList {
    /// `icss/{ics}/benefits/{benefit}`.
    pub parent: String,
    /// One trust's only.
    pub trust: String,
    /// One financial year's only (`2025/26`).
    pub year: String,
    /// One state's only.
    pub state: Option<State>,
    /// Page size.
    pub page_size: i32,
    /// Page token.
    pub page_token: String,
}

fn event_kind(act: Act) -> &'static str {
    match act {
        Act::Saved => "measurement.saved",
        Act::Submitted => "measurement.submitted",
        Act::Validated => "measurement.validated",
        Act::Accepted => "measurement.accepted",
        Act::Returned => "measurement.returned",
        Act::Reopened => "measurement.reopened",
    }
}

/// A parsed cell name: the name, its ICS, benefit, trust and month.
struct Cell {
    name: String,
    ics: String,
    benefit: String,
    trust: String,
    month: Month,
}

impl Cell {
    fn key(&self) -> store::CellKey<'_> {
        (&self.ics, &self.benefit, &self.trust, self.month)
    }
}

impl Benefits {
    /// Parses a cell name sent in `field`: of the caller's ICS, a trust of it, a month, and a
    /// benefit that exists.
    async fn cell(&self, ctx: &RequestContext, field: &str, name: &str) -> Result<Cell> {
        let n = MeasurementName::parse(field, name)?;
        self.require_ics(ctx, &n.ics, name).await?;
        if !self.is_trust(&n.ics, &n.trust) {
            return Err(invalid(
                field,
                format!("{} is not a trust of ICS {}", n.trust, n.ics),
            ));
        }
        let month = Month::parse(&n.month)
            .ok_or_else(|| invalid(field, "its month must be written `2025-04`"))?;
        let benefit = concordat_api::names::BenefitName::new(&n.ics, &n.benefit).to_string();
        self.profile(&n.ics, &n.benefit, &benefit).await?;
        Ok(Cell {
            name: name.to_owned(),
            ics: n.ics,
            benefit: n.benefit,
            trust: n.trust,
            month,
        })
    }

    /// Locks `cells` for the rest of the write: first the yearly summaries they change (their
    /// benefit, trust and financial year), then the cells, each set in order, so writers of
    /// overlapping cells or years queue rather than deadlock, and a summary is rewritten by one
    /// writer at a time from the cells as they commit.
    async fn lock_cells(&self, w: &Write, cells: &[Cell]) -> Result<()> {
        let years: std::collections::BTreeSet<String> = cells
            .iter()
            .map(|c| {
                let fy = c.month.financial_year();
                format!("benefits.year:{}:{}:{}:{fy}", c.ics, c.benefit, c.trust)
            })
            .collect();
        let keys: std::collections::BTreeSet<String> = cells
            .iter()
            .map(|c| {
                format!(
                    "benefits.cell:{}:{}:{}:{}",
                    c.ics, c.benefit, c.trust, c.month
                )
            })
            .collect();
        for key in years.iter().chain(&keys) {
            w.lock(key).await?;
        }
        Ok(())
    }

    /// The refusal of `action` on `cell` in `state`, as the client sees it.
    fn refused(
        &self,
        w: &Write,
        cell: &str,
        state: State,
        action: &Action,
        r: Refusal,
    ) -> BenefitsError {
        let message = |m: &str| m.to_owned();
        match r {
            Refusal::InvalidTransition(state, allowed) => BenefitsError::InvalidTransition {
                resource: cell.to_owned(),
                action: action_name(action),
                state,
                allowed,
            },
            Refusal::ReasonRequired => invalid("reason", "must say why"),
            Refusal::TrustScope => self.refuse(
                w,
                cell,
                Reason::TrustScope,
                message("the measurement is another trust's: trusts act on their own cells only"),
            ),
            Refusal::NotValidator => self.refuse(
                w,
                cell,
                Reason::NotAValidator,
                format!(
                    "only the trust's benefits analyst or digital lead may {} a {} measurement",
                    action_name(action).to_lowercase(),
                    state
                ),
            ),
            Refusal::OwnSubmission => self.refuse(
                w,
                cell,
                Reason::OwnSubmission,
                message("you submitted this measurement: someone else of the trust validates it"),
            ),
            Refusal::NotAcceptor => self.refuse(
                w,
                cell,
                Reason::NotAnAcceptor,
                message("only the ICS (ics-admin, or a benefits analyst of no trust) accepts or returns a validated measurement"),
            ),
        }
    }

    /// Applies `action` to the cell inside `w`: the new state, a version, an audit entry and an
    /// event. `write` sets the value and evidence of a save or submission.
    async fn act(
        &self,
        w: &Write,
        ctx: &RequestContext,
        cell: &Cell,
        action: Action,
        write: Option<(&CellWrite, &Settings)>,
    ) -> Result<Measurement> {
        let c = w.txn();
        let now = w.now();
        let current = store::measurement(c, cell.key()).await?;
        let exists = current.is_some();
        let mut m = current.unwrap_or_else(|| Measurement {
            ics: cell.ics.clone(),
            benefit: cell.benefit.clone(),
            trust: cell.trust.clone(),
            month: cell.month,
            value: Ratio::ZERO,
            note: String::new(),
            link: String::new(),
            state: State::Draft,
            version: 0,
            submitter: None,
            first_submit_time: None,
            on_time: false,
            validator: None,
            acceptor: None,
            reason: String::new(),
            update_time: now,
        });
        if !exists && write.is_none() {
            return Err(BenefitsError::NotFound(cell.name.clone()));
        }
        if let Some((input, _)) = write
            && !concordat_api::etag::matches(&input.etag, m.version)
        {
            return Err(BenefitsError::EtagMismatch(cell.name.clone()));
        }
        let me = actor(&ctx.principal);
        let submitter = m
            .submitter
            .as_ref()
            .map(|p| format!("{}#{}", p.issuer, p.subject));
        let state = m.state;
        let next = transition(state, (&m.trust, submitter.as_deref()), &me, &action)
            .map_err(|r| self.refused(w, &cell.name, state, &action, r))?;
        let person = ctx.principal.person();
        let act = match &action {
            Action::Edit => Act::Saved,
            Action::Submit => Act::Submitted,
            Action::Validate => Act::Validated,
            Action::Accept => Act::Accepted,
            Action::Return(_) => Act::Returned,
            Action::Reopen(_) => Act::Reopened,
        };
        if let Some((input, settings)) = write {
            if let Some(v) = input.value {
                m.value = v;
            }
            if let Some((note, link)) = &input.evidence {
                m.note = note.clone();
                m.link = link.clone();
            }
            if act == Act::Submitted {
                m.submitter = Some(person.clone());
                if m.first_submit_time.is_none() {
                    m.first_submit_time = Some(now);
                    m.on_time = settings.on_time(m.month, now);
                }
            }
        }
        match &action {
            Action::Validate => m.validator = Some(person.clone()),
            Action::Accept => m.acceptor = Some(person.clone()),
            Action::Return(reason) | Action::Reopen(reason) => {
                m.reason = reason.clone();
                m.validator = None;
                m.acceptor = None;
            }
            Action::Edit | Action::Submit => {}
        }
        m.state = next;
        m.version += 1;
        m.update_time = now;
        let reason = match &action {
            Action::Return(r) | Action::Reopen(r) => r.clone(),
            _ => String::new(),
        };
        let v = Version {
            version: m.version,
            act,
            state: m.state,
            value: m.value,
            note: m.note.clone(),
            link: m.link.clone(),
            actor: person,
            reason: reason.clone(),
            time: now,
        };
        store::put_measurement(c, &m, &v).await?;
        let because = if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        };
        w.audit(
            &format!("benefits.measurement.{}", act.name()),
            &cell.name,
            format!(
                "value {} {} (version {}, {}){because}",
                m.value,
                act.name(),
                m.version,
                m.state
            ),
        );
        w.event(
            &cell.ics,
            &cell.name,
            event_kind(act),
            (self.encode.measurement)(&m),
        );
        Ok(m)
    }

    /// Saves (`submit` false) or submits a cell's value and evidence.
    pub async fn write_measurement<R: Reply>(
        &self,
        ctx: &RequestContext,
        input: CellWrite,
        submit: bool,
        request_id: &str,
        reply: impl FnOnce(&Measurement) -> R,
    ) -> Result<R> {
        let cell = self.cell(ctx, "name", &input.name).await?;
        if cell.month.next().first_day() > chrono::Utc::now().date_naive() {
            return Err(invalid(
                "name",
                format!(
                    "month {} has not ended: a month is measured once it is over",
                    cell.month
                ),
            ));
        }
        if !submit && input.value.is_none() {
            return Err(invalid(
                "value",
                "must be a number: `71`, `12.5` or `2450/850`",
            ));
        }
        let settings = store::settings(self.db().conn(), &cell.ics).await?;
        let action = if submit { Action::Submit } else { Action::Edit };
        self.writer
            .write(ctx, request_id, |w| async move {
                self.lock_cells(&w, std::slice::from_ref(&cell)).await?;
                let m = self
                    .act(&w, ctx, &cell, action, Some((&input, &settings)))
                    .await?;
                Ok(reply(&m))
            })
            .await
    }

    /// Validates (`accept` false) or accepts the cells `names`, all or none.
    pub async fn decide_measurements<R: Reply>(
        &self,
        ctx: &RequestContext,
        names: &[String],
        accept: bool,
        request_id: &str,
        reply: impl FnOnce(&[Measurement]) -> R,
    ) -> Result<R> {
        if names.is_empty() || names.len() > MAX_BATCH {
            return Err(invalid("names", "must name 1 to 120 measurements"));
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut cells = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let field = format!("names[{i}]");
            if !seen.insert(name) {
                return Err(invalid(&field, "is named twice"));
            }
            cells.push(self.cell(ctx, &field, name).await?);
        }
        self.writer
            .write(ctx, request_id, |w| async move {
                self.lock_cells(&w, &cells).await?;
                let mut out = Vec::with_capacity(cells.len());
                for cell in &cells {
                    let action = if accept {
                        Action::Accept
                    } else {
                        Action::Validate
                    };
                    out.push(self.act(&w, ctx, cell, action, None).await?);
                }
                Ok(reply(&out))
            })
            .await
    }

    /// Returns (`reopen` false) or reopens one cell, with `reason`.
    pub async fn send_back<R: Reply>(
        &self,
        ctx: &RequestContext,
        (name, reason): (&str, &str),
        reopen: bool,
        request_id: &str,
        reply: impl FnOnce(&Measurement) -> R,
    ) -> Result<R> {
        let cell = self.cell(ctx, "name", name).await?;
        let reason = reason.trim().to_owned();
        let action = if reopen {
            Action::Reopen(reason)
        } else {
            Action::Return(reason)
        };
        self.writer
            .write(ctx, request_id, |w| async move {
                self.lock_cells(&w, std::slice::from_ref(&cell)).await?;
                let m = self.act(&w, ctx, &cell, action, None).await?;
                Ok(reply(&m))
            })
            .await
    }

    /// Reads a cell.
    pub async fn get_measurement(&self, ctx: &RequestContext, name: &str) -> Result<Measurement> {
        let cell = self.cell(ctx, "name", name).await?;
        store::measurement(self.db().conn(), cell.key())
            .await?
            .ok_or_else(|| BenefitsError::NotFound(name.to_owned()))
    }

    /// Every version of a cell, oldest first.
    pub async fn measurement_versions(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<Vec<Version>> {
        let cell = self.cell(ctx, "name", name).await?;
        let versions = store::versions(self.db().conn(), cell.key()).await?;
        if versions.is_empty() {
            return Err(BenefitsError::NotFound(name.to_owned()));
        }
        Ok(versions)
    }

    /// Lists a benefit's cells by trust then month.
    pub async fn list_measurements(
        &self,
        ctx: &RequestContext,
        q: MeasurementList,
    ) -> Result<(Vec<Measurement>, String)> {
        let n = concordat_api::names::BenefitName::parse("parent", &q.parent)?;
        self.require_ics(ctx, &n.ics, &q.parent).await?;
        self.profile(&n.ics, &n.benefit, &q.parent).await?;
        let mut query = MeasurementQuery {
            state: q.state,
            ..Default::default()
        };
        if !q.trust.is_empty() {
            if !self.is_trust(&n.ics, &q.trust) {
                return Err(invalid("trust", format!("is not a trust of ICS {}", n.ics)));
            }
            query.trust = Some(q.trust.clone());
        }
        if !q.year.is_empty() {
            let fy = FinancialYear::parse(&q.year)
                .ok_or_else(|| invalid("year", "must be a financial year written `2025/26`"))?;
            let months = fy.months();
            query.months = months.first().copied().zip(months.last().copied());
        }
        let limit = Self::page_limit(q.page_size, 100, 1000)?;
        let token_query = format!(
            "measurements:{}:{}:{}:{}:{:?}",
            n.ics, n.benefit, q.trust, q.year, q.state
        );
        let after = self.decode_token(&q.page_token, &token_query)?;
        let after = after.and_then(|v| serde_json::from_value::<(String, String)>(v).ok());
        let mut rows = store::measurements(
            self.db().conn(),
            (&n.ics, &n.benefit),
            &query,
            after,
            limit + 1,
        )
        .await?;
        let next = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|m| {
                    self.next_token(
                        &token_query,
                        serde_json::json!([m.trust, m.month.to_string()]),
                    )
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok((rows, next))
    }
}

fn action_name(action: &Action) -> &'static str {
    match action {
        Action::Edit => "Save",
        Action::Submit => "Submit",
        Action::Validate => "Validate",
        Action::Accept => "Accept",
        Action::Return(_) => "Return",
        Action::Reopen(_) => "Reopen",
    }
}
