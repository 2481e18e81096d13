//! An ICS's scoring settings (divergence weights and the band grid), and the ICS's event stream.

use concordat_platform::events::EventStream;
use concordat_platform::write::Reply;

use super::*;
use crate::domain::assessment::{Band, Grid, Weights};
use crate::store;

/// The most bands a grid may have.
pub const MAX_BANDS: usize = 20;

impl Convergence {
    /// The settings of the ICS named `icss/{ics}/convergenceSettings`.
    pub async fn get_settings(&self, ctx: &RequestContext, name: &str) -> Result<Settings> {
        let ics = concordat_api::names::ConvergenceSettingsName::parse("name", name)?.ics;
        self.require_ics(ctx, &ics, name).await?;
        Ok(store::settings(self.db().conn(), &ics).await?)
    }

    /// Sets an ICS's settings, if `etag` is their current one.
    pub async fn update_settings<R: Reply>(
        &self,
        ctx: &RequestContext,
        update: SettingsUpdate,
        request_id: &str,
        reply: impl FnOnce(&Settings) -> R,
    ) -> Result<R> {
        let SettingsUpdate {
            name,
            weights,
            bands,
            notice_days,
            etag,
        } = update;
        let ics = concordat_api::names::ConvergenceSettingsName::parse("settings.name", &name)?.ics;
        self.require_ics(ctx, &ics, &name).await?;
        let mut violations = Vec::new();
        if let Err(reason) = weights.check() {
            violations.push(("settings.weights".to_owned(), reason));
        }
        let notice_days = match notice_days {
            0 => crate::domain::records::DEFAULT_NOTICE_DAYS,
            d if (1..=365).contains(&d) => d,
            _ => {
                violations.push((
                    "settings.expiry_notice_days".to_owned(),
                    "must be from 1 to 365 (0: 30)".to_owned(),
                ));
                0
            }
        };
        if bands.len() > MAX_BANDS {
            violations.push((
                "settings.bands".to_owned(),
                format!("at most {MAX_BANDS} bands"),
            ));
        }
        let grid = match Grid::new(bands) {
            Ok(grid) => Some(grid),
            Err(reason) => {
                violations.push(("settings.bands".to_owned(), reason));
                None
            }
        };
        let Some(grid) = grid.filter(|_| violations.is_empty()) else {
            return Err(ConvergenceError::Invalid(violations));
        };
        self.writer
            .write(ctx, request_id, |w| async move {
                let c = w.txn();
                w.lock(&format!("convergence.settings:{ics}")).await?;
                let current = store::settings(c, &ics).await?;
                if !concordat_api::etag::matches(&etag, current.version) {
                    return Err(ConvergenceError::EtagMismatch(name));
                }
                let settings = Settings {
                    ics: ics.clone(),
                    weights,
                    grid,
                    notice_days,
                    version: current.version + 1,
                    update_time: Some(w.now()),
                };
                store::put_settings(c, &settings).await?;
                w.audit(
                    "convergence.settings",
                    &name,
                    format!(
                        "scoring settings version {}: weights locked {}, bounded {}, overridable {}; bands {}",
                        settings.version,
                        settings.weights.locked,
                        settings.weights.bounded,
                        settings.weights.overridable,
                        settings
                            .grid
                            .bands()
                            .iter()
                            .map(|b| format!("{} from {}", b.label, b.from))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                w.event(&ics, &name, SETTINGS_UPDATED, (self.encode.settings)(&settings));
                Ok(reply(&settings))
            })
            .await
    }

    /// Streams convergence events of an ICS from `cursor`.
    pub async fn watch(
        &self,
        ctx: &RequestContext,
        parent: &str,
        cursor: i64,
    ) -> Result<EventStream> {
        let ics = concordat_api::names::IcsName::parse("parent", parent)?.ics;
        self.require_ics(ctx, &ics, parent).await?;
        if cursor < 0 {
            return Err(invalid("cursor", "must not be negative"));
        }
        Ok(self.writer.outbox().watch(ics, cursor).await?)
    }
}

/// What `UpdateConvergenceSettings` asks.
pub struct SettingsUpdate {
    /// `icss/{ics}/convergenceSettings`.
    pub name: String,
    /// The new weights.
    pub weights: Weights,
    /// The new bands, highest first.
    pub bands: Vec<Band>,
    /// Days before a variation lapses that it is announced (0: the default).
    pub notice_days: i32,
    /// The current etag.
    pub etag: String,
}
