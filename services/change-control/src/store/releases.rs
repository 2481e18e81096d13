//! Releases and the change requests in them.

use super::*;

#[derive(Serialize, Deserialize)]
struct FreezeDto {
    trust: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    reason: String,
}

/// Member trusts → voters, as stored (for tests of the JSON form).
pub fn members_json(members: &BTreeMap<String, BTreeSet<String>>) -> Result<String, StoreError> {
    json("members", members)
}

/// Inserts a release.
pub async fn insert_release<C: ConnectionTrait>(c: &C, r: &Release) -> Result<(), StoreError> {
    let freezes: Vec<FreezeDto> = r
        .freezes
        .iter()
        .map(|f| FreezeDto {
            trust: f.trust.clone(),
            start: f.start,
            end: f.end,
            reason: f.reason.clone(),
        })
        .collect();
    release::Entity::insert(release::ActiveModel {
        ics: Set(r.ics.clone()),
        id: Set(r.id.clone()),
        display_name: Set(r.display_name.clone()),
        window_start: Set(r.window_start),
        window_end: Set(r.window_end),
        freezes: Set(json("freezes", &freezes)?),
        create_time: Set(r.create_time),
    })
    .exec_without_returning(c)
    .await
    .map_err(|e| StoreError::unique(e, r.name()))?;
    Ok(())
}

/// A release.
pub async fn release<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    id: &str,
) -> Result<Option<Release>, StoreError> {
    release::Entity::find_by_id((ics.to_owned(), id.to_owned()))
        .one(c)
        .await?
        .map(release_of)
        .transpose()
}

/// The releases of an ICS, the latest window first.
pub async fn releases<C: ConnectionTrait>(c: &C, ics: &str) -> Result<Vec<Release>, StoreError> {
    release::Entity::find()
        .filter(release::Column::Ics.eq(ics))
        .order_by_desc(release::Column::WindowStart)
        .order_by_asc(release::Column::Id)
        .all(c)
        .await?
        .into_iter()
        .map(release_of)
        .collect()
}

fn release_of(m: release::Model) -> Result<Release, StoreError> {
    let freezes: Vec<FreezeDto> = parse("freezes", &m.freezes)?;
    Ok(Release {
        ics: m.ics,
        id: m.id,
        display_name: m.display_name,
        window_start: m.window_start,
        window_end: m.window_end,
        freezes: freezes
            .into_iter()
            .map(|f| Freeze {
                trust: f.trust,
                start: f.start,
                end: f.end,
                reason: f.reason,
            })
            .collect(),
        create_time: m.create_time,
    })
}

/// The change requests targeting any release of an ICS, by release.
pub async fn releases_members<C: ConnectionTrait>(
    c: &C,
    ics: &str,
) -> Result<BTreeMap<String, Vec<ChangeRequest>>, StoreError> {
    let mut by_release: BTreeMap<String, Vec<ChangeRequest>> = BTreeMap::new();
    for m in change_request::Entity::find()
        .filter(change_request::Column::Ics.eq(ics))
        .filter(change_request::Column::TargetRelease.ne(""))
        .order_by_asc(change_request::Column::Number)
        .all(c)
        .await?
    {
        let cr = cr_of(m)?;
        by_release
            .entry(cr.target_release.clone())
            .or_default()
            .push(cr);
    }
    Ok(by_release)
}

/// The change requests targeting a release.
pub async fn release_members<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    release: &str,
) -> Result<Vec<ChangeRequest>, StoreError> {
    change_request::Entity::find()
        .filter(change_request::Column::Ics.eq(ics))
        .filter(change_request::Column::TargetRelease.eq(release))
        .order_by_asc(change_request::Column::Number)
        .all(c)
        .await?
        .into_iter()
        .map(cr_of)
        .collect()
}
