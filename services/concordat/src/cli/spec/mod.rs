//! The client commands, one entry per command: its words, the API method it calls, its flags
//! (each names the request field it fills), an example, and how its answer is shown. The flags'
//! types, enum values and repetition come from the API's descriptors, so a command cannot
//! disagree with the API it calls.

/// How an [`Arg`] reaches the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `--name VALUE`.
    Flag,
    /// A positional value.
    Positional,
    /// Not on the command line: the field is always the template's expansion.
    Fixed,
}

/// One flag, positional value or fixed field of a command.
#[derive(Clone, Copy, Debug)]
pub struct Arg {
    /// The flag's long name (kebab case) or the positional value's name (upper case).
    pub name: &'static str,
    /// The request field it fills, as a dotted path of proto field names; empty for a value
    /// that only feeds templates (as `{name}`).
    pub field: &'static str,
    /// The value's template: `{}` is the value, `{ics}` the ICS, `{other}` another argument's
    /// value. A value holding `/` is taken as a whole resource name and used as it is.
    pub template: &'static str,
    /// Help.
    pub help: &'static str,
    /// Flag, positional or fixed.
    pub kind: Kind,
    /// Must be given.
    pub required: bool,
    /// A template-only value that may be repeated (or comma-separated).
    pub many: bool,
}

impl Arg {
    const fn new(kind: Kind, name: &'static str, field: &'static str, help: &'static str) -> Self {
        Self {
            name,
            field,
            template: "",
            help,
            kind,
            required: false,
            many: false,
        }
    }
    /// Required.
    pub const fn req(self) -> Self {
        Self {
            required: true,
            ..self
        }
    }
    /// With a template.
    pub const fn tpl(self, template: &'static str) -> Self {
        Self { template, ..self }
    }
    /// Repeatable (template-only values).
    pub const fn many(self) -> Self {
        Self { many: true, ..self }
    }
    /// The template variable it sets: its name in snake case.
    pub fn var(&self) -> String {
        self.name.to_lowercase().replace('-', "_")
    }
}

/// `--name VALUE` filling `field`.
pub const fn flag(name: &'static str, field: &'static str, help: &'static str) -> Arg {
    Arg::new(Kind::Flag, name, field, help)
}

/// A required positional value filling `field`.
pub const fn pos(name: &'static str, field: &'static str, help: &'static str) -> Arg {
    Arg::new(Kind::Positional, name, field, help).req()
}

/// `field` set to `template` expanded.
pub const fn fixed(field: &'static str, template: &'static str) -> Arg {
    Arg::new(Kind::Fixed, "", field, "").tpl(template)
}

/// A flag only feeding templates, as `{name}`.
pub const fn var(name: &'static str, help: &'static str) -> Arg {
    Arg::new(Kind::Flag, name, "", help)
}

/// One column of a table: its header and the dotted path of the value in a row's message
/// (`a|b`: the first of them that is set; a trailing `?`: blank when zero).
pub type Col = (&'static str, &'static str);

/// Which stream field resumes a watch: the request field set from each event's path.
pub type Resume = (&'static str, &'static str);

/// How a command shows its answer (in table output; JSON and YAML print the response).
#[derive(Clone, Copy, Debug)]
pub enum View {
    /// Every field set, one `KEY  VALUE` line each.
    Record,
    /// The messages of a repeated field (dotted path), every page, as rows.
    List(&'static str, &'static [Col]),
    /// One row of the response.
    Row(&'static [Col]),
    /// As `List`; exits 1 when there is any row (a difference), as `diff` does.
    Diff(&'static str, &'static [Col]),
    /// A server stream, one row per message, resumed after a lost connection.
    Watch(&'static [Col], Resume),
    /// The trust × domain convergence matrix.
    Matrix,
    /// The audit chain's verification; exits 1 when the chain is broken.
    Verify,
    /// The benefits rollup: one row per benefit and trust.
    Rollup,
    /// ExportConfig: every page's bundle joined into one, written to `--out` or stdout.
    Export,
    /// ImportSnapshotParts: a bundle file sent in parts, with a progress bar.
    Import,
}

/// One client command.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Its words after `concordat`, e.g. `cr hazard add`.
    pub path: &'static str,
    /// The API method (unique across the services), e.g. `CreateHazard`.
    pub method: &'static str,
    /// One line on what it does.
    pub about: &'static str,
    /// An example, shown by `--help`.
    pub example: &'static str,
    /// Its flags and values.
    pub args: &'static [Arg],
    /// The request field that `-f FILE` (YAML or proto JSON) fills; flags given as well win.
    pub body: &'static str,
    /// How the answer is shown.
    pub view: View,
}

/// Response fields shown under a list's table (as `label: value`), where the list alone would
/// leave out what the answer is about.
pub fn footer(method: &str) -> &'static [Col] {
    match method {
        "GetEffectiveConfig" => &[
            ("revision", "effective_config.revision"),
            ("content hash", "effective_config.content_hash"),
            ("etag", "effective_config.etag"),
            ("not modified", "not_modified?"),
        ],
        "GetBenefitChart" => &[
            ("variation", "variation"),
            ("assurance", "assurance"),
            ("target", "target"),
        ],
        "ScheduleConvergencePlan" => &[
            ("critical path", "schedule.critical_path_summary"),
            ("finish", "schedule.finish_time"),
        ],
        "ListImpactAssessments" => &[("missing", "missing_trusts")],
        "ListDivergences" => &[("assessment", "assessment")],
        "DiffEffectiveConfig" | "DiffRevisions" => &[
            ("from revision", "from_revision"),
            ("to revision", "to_revision"),
        ],
        "DiffChangeset" => &[("head revision", "head_revision")],
        "ListLayerItems" => &[("revision", "revision")],
        _ => &[],
    }
}

const ICS: Arg = fixed("parent", "icss/{ics}");
const ETAG: Arg = flag(
    "etag",
    "etag",
    "The etag last read (e.g. 3): the change happens only at that version.",
);
const CR: Arg = pos(
    "CR",
    "name",
    "The change request: its number (CR-2026-0001) or name.",
)
.tpl("icss/{ics}/changeRequests/{}");
const CR_PARENT: Arg = pos(
    "CR",
    "parent",
    "The change request: its number (CR-2026-0001) or name.",
)
.tpl("icss/{ics}/changeRequests/{}");
const DA: Arg = pos("DA", "name", "The design authority: its id or name.")
    .tpl("icss/{ics}/designAuthorities/{}");
const CHANGESET: Arg =
    pos("CHANGESET", "name", "The changeset: its id or name.").tpl("icss/{ics}/changesets/{}");
const LAYER: Arg = pos(
    "LAYER",
    "parent",
    "The layer: `baseline` or a trust's ODS code, or its name.",
)
.tpl("icss/{ics}/layers/{}");
const PLAN: Arg = pos("PLAN", "name", "The convergence plan: its id or name.")
    .tpl("icss/{ics}/convergencePlans/{}");
const BENEFIT: Arg =
    pos("BENEFIT", "name", "The benefit: its id or name.").tpl("icss/{ics}/benefits/{}");
const CELL: &str = "icss/{ics}/benefits/{benefit}/trusts/{trust}/measurements/{month}";
const CELL_BENEFIT: Arg = var("benefit", "The benefit's id.").req();
const CELL_TRUST: Arg = var("trust", "The trust (ODS code).").req();
const CELL_MONTH: Arg = var("month", "The month, e.g. 2025-04.").req();
const TRUST: Arg = flag("trust", "trust", "The trust (ODS code).");

const CR_COLS: &[Col] = &[
    ("NUMBER", "number"),
    ("STATE", "state"),
    ("TRUST", "requesting_trust"),
    ("DOMAIN", "domain"),
    ("UPDATED", "update_time"),
    ("TITLE", "title"),
];
const DIFF_COLS: &[Col] = &[
    ("KIND", "kind"),
    ("KEY", "key"),
    ("BEFORE", "before"),
    ("AFTER", "after"),
];
const MEASUREMENT_COLS: &[Col] = &[
    ("NAME", "name"),
    ("STATE", "state"),
    ("VALUE", "value"),
    ("VERSION", "version"),
    ("ON TIME", "on_time"),
    ("REASON", "reason"),
];

mod benefits;
mod changecontrol;
mod convergence;
mod platform;
mod sharedconfig;

/// Every client command, a file per resource family.
pub fn all() -> impl Iterator<Item = &'static Spec> {
    [
        platform::SPECS,
        changecontrol::SPECS,
        sharedconfig::SPECS,
        convergence::SPECS,
        benefits::SPECS,
    ]
    .into_iter()
    .flatten()
}
