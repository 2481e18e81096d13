//! Votes and dispositions.

use super::*;

pub(super) fn choice_str(c: Choice) -> &'static str {
    match c {
        Choice::Approve => "APPROVE",
        Choice::Reject => "REJECT",
        Choice::Abstain => "ABSTAIN",
    }
}

pub(super) fn disposition_str(d: Disposition) -> &'static str {
    match d {
        Disposition::Persuasive => "PERSUASIVE",
        Disposition::NotPersuasive => "NOT_PERSUASIVE",
        Disposition::ConsideredForFuture => "CONSIDERED_FOR_FUTURE",
    }
}

/// Casts a vote: a second vote of the same trust is `AlreadyExists` (stale votes are replaced).
pub async fn insert_vote<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
    v: &Vote,
) -> Result<(), StoreError> {
    vote::Entity::delete_many()
        .filter(vote::Column::Ics.eq(ics))
        .filter(vote::Column::ChangeRequest.eq(cr))
        .filter(vote::Column::Trust.eq(&v.trust))
        .filter(vote::Column::Stale.eq(true))
        .exec(c)
        .await?;
    vote::Entity::insert(vote::ActiveModel {
        ics: Set(ics.into()),
        change_request: Set(cr.into()),
        trust: Set(v.trust.clone()),
        voter: Set(v.voter.subject.clone()),
        voter_issuer: Set(v.voter.issuer.clone()),
        voter_name: Set(v.voter.name.clone()),
        choice: Set(choice_str(v.choice).into()),
        reason: Set(v.reason.clone()),
        comment: Set(v.comment.clone()),
        stale: Set(v.stale),
        disposition: Set(v.disposition.map(|d| disposition_str(d).to_owned())),
        disposition_note: Set(v.disposition_note.clone()),
        cast_time: Set(v.cast_time),
    })
    .exec_without_returning(c)
    .await
    .map_err(|e| StoreError::unique(e, format!("the vote of {}", v.trust)))?;
    Ok(())
}

/// Records a disposition.
pub async fn dispose<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
    v: &Vote,
) -> Result<(), StoreError> {
    vote::Entity::update_many()
        .col_expr(
            vote::Column::Disposition,
            Expr::value(v.disposition.map(|d| disposition_str(d).to_owned())),
        )
        .col_expr(
            vote::Column::DispositionNote,
            Expr::value(v.disposition_note.clone()),
        )
        .filter(vote::Column::Ics.eq(ics))
        .filter(vote::Column::ChangeRequest.eq(cr))
        .filter(vote::Column::Trust.eq(&v.trust))
        .exec(c)
        .await?;
    Ok(())
}

/// Marks every vote on a change request stale.
pub async fn mark_votes_stale<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
) -> Result<u64, StoreError> {
    Ok(vote::Entity::update_many()
        .col_expr(vote::Column::Stale, Expr::value(true))
        .filter(vote::Column::Ics.eq(ics))
        .filter(vote::Column::ChangeRequest.eq(cr))
        .exec(c)
        .await?
        .rows_affected)
}

/// The votes on a change request, by trust.
pub async fn votes<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
) -> Result<Vec<Vote>, StoreError> {
    let mut by_cr = votes_where(c, ics, vote::Column::ChangeRequest.eq(cr)).await?;
    Ok(by_cr.remove(cr).unwrap_or_default())
}

/// The votes of every change request of an ICS in one of `states`, by change request id, in
/// one query whatever their number.
pub async fn votes_in_states<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    states: &[State],
) -> Result<BTreeMap<String, Vec<Vote>>, StoreError> {
    let ids = ids_in_states(ics, states);
    votes_where(c, ics, vote::Column::ChangeRequest.in_subquery(ids)).await
}

async fn votes_where<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    which: sea_orm::sea_query::SimpleExpr,
) -> Result<BTreeMap<String, Vec<Vote>>, StoreError> {
    let rows = vote::Entity::find()
        .filter(vote::Column::Ics.eq(ics))
        .filter(which)
        .order_by_asc(vote::Column::ChangeRequest)
        .order_by_asc(vote::Column::Trust)
        .all(c)
        .await?;
    let mut out: BTreeMap<String, Vec<Vote>> = BTreeMap::new();
    for m in rows {
        out.entry(m.change_request.clone())
            .or_default()
            .push(vote_of(m)?);
    }
    Ok(out)
}

fn vote_of(m: vote::Model) -> Result<Vote, StoreError> {
    {
        Ok(Vote {
            trust: m.trust,
            voter: Person {
                issuer: m.voter_issuer,
                subject: m.voter,
                name: m.voter_name,
            },
            choice: match m.choice.as_str() {
                "APPROVE" => Choice::Approve,
                "REJECT" => Choice::Reject,
                "ABSTAIN" => Choice::Abstain,
                other => return Err(StoreError::Corrupt("vote", other.into())),
            },
            reason: m.reason,
            comment: m.comment,
            stale: m.stale,
            disposition: match m.disposition.as_deref() {
                None => None,
                Some("PERSUASIVE") => Some(Disposition::Persuasive),
                Some("NOT_PERSUASIVE") => Some(Disposition::NotPersuasive),
                Some(_) => Some(Disposition::ConsideredForFuture),
            },
            disposition_note: m.disposition_note,
            cast_time: m.cast_time,
        })
    }
}
