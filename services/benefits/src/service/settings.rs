//! An ICS's benefits settings (whether validated cells count, when a month is due), and the
//! ICS's event stream.

use concordat_api::names::{BenefitsSettingsName, IcsName};
use concordat_platform::events::EventStream;
use concordat_platform::write::Reply;

use super::*;
use crate::domain::records::DEFAULT_SUBMISSION_DAYS;
use crate::store;

/// The kind of the event each change of an ICS's settings is announced by.
pub const SETTINGS_UPDATED: &str = "settings.updated";

impl Benefits {
    /// The settings named `icss/{ics}/benefitsSettings`.
    pub async fn get_settings(&self, ctx: &RequestContext, name: &str) -> Result<Settings> {
        let ics = BenefitsSettingsName::parse("name", name)?.ics;
        self.require_ics(ctx, &ics, name).await?;
        Ok(store::settings(self.db().conn(), &ics).await?)
    }

    /// Sets an ICS's settings, if `etag` is their current one.
    pub async fn update_settings<R: Reply>(
        &self,
        ctx: &RequestContext,
        (name, etag): (&str, &str),
        (count_validated, submission_days): (bool, i32),
        request_id: &str,
        reply: impl FnOnce(&Settings) -> R,
    ) -> Result<R> {
        let ics = BenefitsSettingsName::parse("settings.name", name)?.ics;
        self.require_ics(ctx, &ics, name).await?;
        let submission_days = match submission_days {
            0 => DEFAULT_SUBMISSION_DAYS,
            d if (1..=366).contains(&d) => d,
            _ => {
                return Err(invalid(
                    "settings.submission_days",
                    "must be from 1 to 366 (0: 15)",
                ));
            }
        };
        let name = name.to_owned();
        let etag = etag.to_owned();
        self.writer
            .write(ctx, request_id, |w| async move {
                let c = w.txn();
                w.lock(&format!("benefits.settings:{ics}")).await?;
                let current = store::settings(c, &ics).await?;
                if !concordat_api::etag::matches(&etag, current.version) {
                    return Err(BenefitsError::EtagMismatch(name));
                }
                let settings = Settings {
                    ics: ics.clone(),
                    count_validated,
                    submission_days,
                    version: current.version + 1,
                    update_time: Some(w.now()),
                };
                store::put_settings(c, &settings).await?;
                w.audit(
                    "benefits.settings",
                    &name,
                    format!(
                        "benefits settings version {}: {} count; measurements due {} days after their month",
                        settings.version,
                        if count_validated {
                            "accepted and trust-validated measurements"
                        } else {
                            "only accepted measurements"
                        },
                        submission_days
                    ),
                );
                w.event(&ics, &name, SETTINGS_UPDATED, (self.encode.settings)(&settings));
                Ok(reply(&settings))
            })
            .await
    }

    /// Streams benefits events of an ICS from `cursor`.
    pub async fn watch(
        &self,
        ctx: &RequestContext,
        parent: &str,
        cursor: i64,
    ) -> Result<EventStream> {
        let ics = IcsName::parse("parent", parent)?.ics;
        self.require_ics(ctx, &ics, parent).await?;
        if cursor < 0 {
            return Err(invalid("cursor", "must not be negative"));
        }
        Ok(self.writer.outbox().watch(ics, cursor).await?)
    }
}
