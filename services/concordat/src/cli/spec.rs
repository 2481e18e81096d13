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

/// Every client command.
pub const SPECS: &[Spec] = &[
    Spec {
        path: "whoami",
        method: "WhoAmI",
        about: "Who the server takes the token's bearer for.",
        example: "concordat whoami",
        args: &[],
        body: "",
        view: View::Row(&[
            ("ISSUER", "principal.issuer"),
            ("SUBJECT", "principal.subject"),
            ("KIND", "principal.kind"),
            ("ICS", "principal.ics"),
            ("TRUST", "principal.trust"),
            ("ROLES", "principal.roles"),
        ]),
    },
    Spec {
        path: "server info",
        method: "GetServerInfo",
        about: "The server's version, targets and storage.",
        example: "concordat server info",
        args: &[],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "server federation",
        method: "GetFederation",
        about: "The ICSs, trusts and OIDC issuers the server trusts.",
        example: "concordat server federation -o yaml",
        args: &[],
        body: "",
        view: View::List("icss", &[("ICS", "code"), ("NAME", "display_name"), ("TRUSTS", "trusts.ods_code")]),
    },
    // Design authorities.
    Spec {
        path: "da list",
        method: "ListDesignAuthorities",
        about: "The design authorities of the ICS.",
        example: "concordat da list",
        args: &[ICS],
        body: "",
        view: View::List(
            "design_authorities",
            &[
                ("NAME", "name"),
                ("DISPLAY NAME", "display_name"),
                ("DOMAINS", "domains"),
                ("CHAIR", "chair"),
                ("CHARTER", "charter.version"),
            ],
        ),
    },
    Spec {
        path: "da show",
        method: "GetDesignAuthority",
        about: "One design authority: members, chair and charter.",
        example: "concordat da show medicines",
        args: &[DA],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "da create",
        method: "CreateDesignAuthority",
        about: "Create a design authority from a file (its members, chair and charter).",
        example: "concordat da create --id medicines -f medicines-da.yaml",
        args: &[
            ICS,
            flag("id", "design_authority_id", "Its id: lowercase letters, digits, hyphens.").req(),
            flag("display-name", "design_authority.display_name", "Its display name."),
            flag("domain", "design_authority.domains", "A clinical domain it governs; repeat."),
        ],
        body: "design_authority",
        view: View::Record,
    },
    Spec {
        path: "da charter",
        method: "UpdateCharter",
        about: "Replace a design authority's charter (from a file).",
        example: "concordat da charter medicines -f charter.yaml --etag 1",
        args: &[DA, ETAG],
        body: "charter",
        view: View::Record,
    },
    Spec {
        path: "da template",
        method: "CreateStandardTemplate",
        about: "Create a standard-change template of a design authority.",
        example: "concordat da template --da medicines --id formulary-update --display-name 'Formulary update' --description 'Add a medicine to the formulary'",
        args: &[
            ICS,
            flag("id", "standard_template_id", "Its id.").req(),
            flag("da", "standard_template.design_authority", "The design authority.")
                .tpl("icss/{ics}/designAuthorities/{}")
                .req(),
            flag("display-name", "standard_template.display_name", "Its display name."),
            flag("description", "standard_template.description", "What the change does."),
        ],
        body: "standard_template",
        view: View::Record,
    },
    // Change requests.
    Spec {
        path: "cr list",
        method: "ListChangeRequests",
        about: "List the change requests of the ICS, every page.",
        example: "concordat cr list --filter 'state = APPROVED AND trust = RGT' --order-by 'number desc'",
        args: &[
            ICS,
            flag("filter", "filter", "Conditions joined by AND, e.g. `state = APPROVED AND trust = RGT`."),
            flag("order-by", "order_by", "create_time, update_time, number or residual_risk, then optionally desc."),
        ],
        body: "",
        view: View::List("change_requests", CR_COLS),
    },
    Spec {
        path: "cr show",
        method: "GetChangeRequest",
        about: "One change request, every field.",
        example: "concordat cr show CR-2026-0001",
        args: &[CR],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr create",
        method: "CreateChangeRequest",
        about: "Raise a change request (DRAFT), from flags or a file.",
        example: "concordat cr create --title 'Allergy alerts' --description '…' --rationale '…' --domain medicines --da medicines --trust RGT,RGM,RGN,RT1 --type normal --class safety-critical --cost-pence 6000000 --effort-days 20",
        args: &[
            ICS,
            flag("title", "change_request.title", "Title."),
            flag("description", "change_request.description", "What changes."),
            flag("rationale", "change_request.rationale", "Why."),
            flag("domain", "change_request.domain", "The clinical domain, e.g. medicines."),
            flag("da", "change_request.design_authority", "The design authority.")
                .tpl("icss/{ics}/designAuthorities/{}"),
            flag("trust", "change_request.affected_trusts", "An affected trust; repeat or comma-separate."),
            flag("type", "change_request.change_type", "The change type."),
            flag("class", "change_request.change_class", "The change class."),
            flag("cost-pence", "change_request.cost_estimate_pence", "Estimated cost in pence."),
            flag("effort-days", "change_request.effort_days", "Estimated effort in days."),
            flag("item", "change_request.configuration_items", "A configuration item it touches; repeat."),
            flag("template", "change_request.standard_template", "The standard template (standard changes)."),
        ],
        body: "change_request",
        view: View::Record,
    },
    Spec {
        path: "cr update",
        method: "UpdateChangeRequest",
        about: "Change fields of a DRAFT change request (from a file; --mask names them).",
        example: "concordat cr update CR-2026-0002 -f patch.yaml --mask title,description",
        args: &[
            pos("CR", "change_request.name", "The change request: its number or name.")
                .tpl("icss/{ics}/changeRequests/{}"),
            flag("mask", "update_mask", "The fields to change; repeat or comma-separate."),
            flag("title", "change_request.title", "Title."),
            flag("etag", "change_request.etag", "The etag last read."),
        ],
        body: "change_request",
        view: View::Record,
    },
    Spec {
        path: "cr submit",
        method: "SubmitChangeRequest",
        about: "Submit a DRAFT change request to its design authority.",
        example: "concordat cr submit CR-2026-0001",
        args: &[CR, ETAG],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr start-assessment",
        method: "StartImpactAssessment",
        about: "Open impact assessment (the design authority's chair).",
        example: "concordat cr start-assessment CR-2026-0001",
        args: &[CR, flag("deadline", "deadline", "Deadline (RFC 3339 or YYYY-MM-DD); default the charter's."), ETAG],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr assess",
        method: "SubmitImpactAssessment",
        about: "Record a trust's impact assessment.",
        example: "concordat cr assess CR-2026-0001 --trust RGT --effort-days 3 --readiness-date 2027-01-15 --recommendation support",
        args: &[
            CR_PARENT,
            flag("trust", "impact_assessment.trust", "The trust assessing.").req(),
            flag("effort-days", "impact_assessment.effort_days", "Local effort in days."),
            flag("local-impact", "impact_assessment.local_configuration_impact", "Local configuration impact."),
            flag("training-impact", "impact_assessment.training_impact", "Training impact."),
            flag("risk-notes", "impact_assessment.clinical_risk_notes", "Clinical risk notes."),
            flag("readiness-date", "impact_assessment.readiness_date", "When the trust is ready, YYYY-MM-DD."),
            flag("recommendation", "impact_assessment.recommendation", "What the trust recommends."),
        ],
        body: "impact_assessment",
        view: View::Record,
    },
    Spec {
        path: "cr assessments",
        method: "ListImpactAssessments",
        about: "The impact assessments of a change request.",
        example: "concordat cr assessments CR-2026-0001",
        args: &[CR_PARENT],
        body: "",
        view: View::List(
            "impact_assessments",
            &[
                ("TRUST", "trust"),
                ("RECOMMENDATION", "recommendation"),
                ("EFFORT DAYS", "effort_days"),
                ("READY", "readiness_date"),
                ("ASSESSOR", "assessor"),
            ],
        ),
    },
    Spec {
        path: "cr hazard add",
        method: "CreateHazard",
        about: "Log a hazard against a change request (a clinical safety officer).",
        example: "concordat cr hazard add CR-2026-0001 --description 'alert fatigue' --initial-likelihood 4 --initial-severity 4 --residual-likelihood 2 --residual-severity 4",
        args: &[
            CR_PARENT,
            flag("description", "hazard.description", "The hazard."),
            flag("cause", "hazard.cause", "Its cause."),
            flag("effect", "hazard.effect", "Its effect."),
            flag("existing-controls", "hazard.existing_controls", "Controls already in place."),
            flag("initial-likelihood", "hazard.initial_likelihood", "1–5."),
            flag("initial-severity", "hazard.initial_severity", "1–5."),
            flag("further-controls", "hazard.further_controls", "Controls the change adds."),
            flag("residual-likelihood", "hazard.residual_likelihood", "1–5."),
            flag("residual-severity", "hazard.residual_severity", "1–5."),
        ],
        body: "hazard",
        view: View::Record,
    },
    Spec {
        path: "cr hazard list",
        method: "ListHazards",
        about: "The hazard log of a change request.",
        example: "concordat cr hazard list CR-2026-0001",
        args: &[CR_PARENT],
        body: "",
        view: View::List(
            "hazards",
            &[
                ("NAME", "name"),
                ("INITIAL", "initial_risk"),
                ("RESIDUAL", "residual_risk"),
                ("SIGNED OFF BY", "signed_off_by"),
                ("DESCRIPTION", "description"),
            ],
        ),
    },
    Spec {
        path: "cr hazard sign-off",
        method: "SignOffHazard",
        about: "Sign a hazard off (a clinical safety officer of an affected trust).",
        example: "concordat cr hazard sign-off icss/QUE/changeRequests/…/hazards/…",
        args: &[pos("HAZARD", "name", "The hazard's name.")],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr open-voting",
        method: "OpenVoting",
        about: "Open the design authority's vote (the chair).",
        example: "concordat cr open-voting CR-2026-0001",
        args: &[CR, flag("deadline", "deadline", "Deadline (RFC 3339 or YYYY-MM-DD); default the charter's."), ETAG],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr vote",
        method: "CastVote",
        about: "Cast your trust's vote.",
        example: "concordat cr vote CR-2026-0001 --choice approve",
        args: &[
            CR_PARENT,
            flag("choice", "choice", "How your trust votes.").req(),
            flag("reason", "reason", "Why (required to reject)."),
            flag("comment", "comment", "A comment."),
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr votes",
        method: "ListVotes",
        about: "The votes cast on a change request.",
        example: "concordat cr votes CR-2026-0001",
        args: &[CR_PARENT],
        body: "",
        view: View::List(
            "votes",
            &[
                ("TRUST", "trust"),
                ("CHOICE", "choice"),
                ("VOTER", "voter"),
                ("STALE", "stale"),
                ("DISPOSITION", "disposition"),
                ("REASON", "reason"),
            ],
        ),
    },
    Spec {
        path: "cr dispose",
        method: "DisposeObjection",
        about: "Dispose of an objection (the chair).",
        example: "concordat cr dispose icss/QUE/changeRequests/…/votes/RGM --disposition persuasive --note 'scope narrowed'",
        args: &[
            pos("VOTE", "name", "The objection's vote name."),
            flag("disposition", "disposition", "The chair's finding.").req(),
            flag("note", "note", "Why."),
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr close-voting",
        method: "CloseVoting",
        about: "Close the vote and apply the charter's rule (the chair).",
        example: "concordat cr close-voting CR-2026-0001",
        args: &[CR],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr decide",
        method: "RecordBoardDecision",
        about: "Record the programme board's decision (a board chair).",
        example: "concordat cr decide CR-2026-0001 --approved true --minutes 'QUE-PB-2026-11 item 4'",
        args: &[
            CR,
            flag("approved", "approved", "true to approve, false to reject.").req(),
            flag("minutes", "minutes_reference", "The minutes' reference."),
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr emergency-approve",
        method: "ApproveEmergencyChange",
        about: "Approve an emergency change now; review follows.",
        example: "concordat cr emergency-approve CR-2026-0003 --justification 'patient safety incident'",
        args: &[CR, flag("justification", "justification", "Why it cannot wait.").req()],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr review",
        method: "CompleteRetrospectiveReview",
        about: "Complete an emergency change's retrospective review.",
        example: "concordat cr review CR-2026-0003 --summary 'reviewed at DA 2026-12'",
        args: &[CR, flag("summary", "summary", "The review's summary.").req()],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr schedule",
        method: "ScheduleChangeRequest",
        about: "Schedule an approved change request into a release.",
        example: "concordat cr schedule CR-2026-0001 --release 2027-q1",
        args: &[
            CR,
            flag("release", "release", "The release: its id or name.")
                .tpl("icss/{ics}/releases/{}")
                .req(),
            flag("validate-only", "validate_only", "Check, change nothing."),
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr deployed",
        method: "ReportDeployment",
        about: "Report your trust's deployment of a scheduled change.",
        example: "concordat cr deployed CR-2026-0001 --deployed true --note 'live 2027-01-20'",
        args: &[
            CR,
            flag("deployed", "deployed", "true when deployed, false when it failed.").req(),
            flag("note", "note", "A note."),
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr close",
        method: "CloseChangeRequest",
        about: "Close an implemented change request.",
        example: "concordat cr close CR-2026-0001",
        args: &[CR],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr withdraw",
        method: "WithdrawChangeRequest",
        about: "Withdraw a change request (its requester).",
        example: "concordat cr withdraw CR-2026-0002 --reason 'superseded'",
        args: &[CR, flag("reason", "reason", "Why.")],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr defer",
        method: "DeferChangeRequest",
        about: "Defer a change request.",
        example: "concordat cr defer CR-2026-0002 --reason 'after winter'",
        args: &[CR, flag("reason", "reason", "Why.")],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr reopen",
        method: "ReopenChangeRequest",
        about: "Reopen a deferred change request.",
        example: "concordat cr reopen CR-2026-0002",
        args: &[CR],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr actions",
        method: "ListMyActions",
        about: "What waits for you: votes, assessments, sign-offs, decisions.",
        example: "concordat cr actions",
        args: &[ICS],
        body: "",
        view: View::List(
            "actions",
            &[("ACTION", "kind"), ("NUMBER", "number"), ("DUE", "due_time"), ("TITLE", "title"), ("DESCRIPTION", "description")],
        ),
    },
    Spec {
        path: "cr watch",
        method: "WatchChangeRequests",
        about: "Stream change requests as they change (resumes after a lost connection).",
        example: "concordat cr watch --count 10",
        args: &[ICS, flag("cursor", "cursor", "Resume after this event's cursor (0: every retained event).")],
        body: "",
        view: View::Watch(
            &[
                ("CURSOR", "cursor"),
                ("TIME", "event_time"),
                ("EVENT", "kind"),
                ("NUMBER", "change_request.number"),
                ("STATE", "change_request.state"),
                ("TITLE", "change_request.title"),
            ],
            ("cursor", "cursor"),
        ),
    },
    // Releases.
    Spec {
        path: "release create",
        method: "CreateRelease",
        about: "Create a release window (from flags or a file with freezes).",
        example: "concordat release create --id 2027-q1 --display-name '2027 Q1' --start 2027-01-10 --end 2027-01-31",
        args: &[
            ICS,
            flag("id", "release_id", "Its id.").req(),
            flag("display-name", "release.display_name", "Its display name."),
            flag("start", "release.window_start_time", "Window start (RFC 3339 or YYYY-MM-DD)."),
            flag("end", "release.window_end_time", "Window end (RFC 3339 or YYYY-MM-DD)."),
        ],
        body: "release",
        view: View::Record,
    },
    Spec {
        path: "release show",
        method: "GetRelease",
        about: "One release and its change requests.",
        example: "concordat release show 2027-q1",
        args: &[pos("RELEASE", "name", "The release: its id or name.").tpl("icss/{ics}/releases/{}")],
        body: "",
        view: View::Record,
    },
    // Shared configuration.
    Spec {
        path: "config kinds",
        method: "ListConfigKinds",
        about: "The configuration kinds of the ICS and their domains.",
        example: "concordat config kinds",
        args: &[ICS],
        body: "",
        view: View::List("config_kinds", &[("NAME", "name"), ("DOMAIN", "domain"), ("DESCRIPTION", "description")]),
    },
    Spec {
        path: "config kind show",
        method: "GetConfigKind",
        about: "One configuration kind with its JSON schema.",
        example: "concordat config kind show alert-rule -o yaml",
        args: &[pos("KIND", "name", "The kind: its id or name.").tpl("icss/{ics}/configKinds/{}")],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "config kind create",
        method: "CreateConfigKind",
        about: "Create a configuration kind (its schema from a file).",
        example: "concordat config kind create --id alert-rule --domain medicines -f alert-rule-kind.yaml",
        args: &[
            ICS,
            flag("id", "config_kind_id", "Its id.").req(),
            flag("domain", "config_kind.domain", "The clinical domain."),
            flag("description", "config_kind.description", "What it configures."),
        ],
        body: "config_kind",
        view: View::Record,
    },
    Spec {
        path: "config get",
        method: "GetEffectiveConfig",
        about: "A trust's effective configuration (baseline with its overlay), every page.",
        example: "concordat config get --trust RGM --kind alert-rule",
        args: &[
            ICS,
            TRUST.req(),
            flag("revision", "revision", "An effective revision (default the newest)."),
            flag("kind", "kind", "Only items of this kind."),
            flag("if-none-match", "if_none_match", "The etag last read: answers not_modified if it is still current."),
        ],
        body: "",
        view: View::List(
            "effective_config.items",
            &[
                ("KIND", "kind"),
                ("KEY", "key"),
                ("SOURCE", "source"),
                ("VALUE", "value"),
                ("CHANGE REQUEST", "change_request"),
                ("EXPIRES", "variation.expire_time"),
            ],
        ),
    },
    Spec {
        path: "config diff",
        method: "DiffEffectiveConfig",
        about: "What changed in a trust's effective configuration between two revisions; exits 1 when anything did.",
        example: "concordat config diff --trust RGM --from 3 --to 4",
        args: &[
            ICS,
            TRUST.req(),
            flag("from", "from_revision", "The older effective revision (0: empty)."),
            flag("to", "to_revision", "The newer (default the newest)."),
        ],
        body: "",
        view: View::Diff("changes", DIFF_COLS),
    },
    Spec {
        path: "config layer",
        method: "GetLayer",
        about: "A layer's head: revision, content hash, item count.",
        example: "concordat config layer baseline",
        args: &[
            pos("LAYER", "name", "`baseline` or a trust's ODS code, or the layer's name.").tpl("icss/{ics}/layers/{}"),
            flag("revision", "revision", "A revision (default the newest)."),
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "config items",
        method: "ListLayerItems",
        about: "The items of a layer, every page.",
        example: "concordat config items baseline --kind alert-rule",
        args: &[LAYER, flag("revision", "revision", "A revision (default the newest)."), flag("kind", "kind", "Only this kind.")],
        body: "",
        view: View::List(
            "items",
            &[("KIND", "kind"), ("KEY", "key"), ("GOVERNANCE", "governance.mode"), ("VALUE", "value"), ("REVISION", "revision")],
        ),
    },
    Spec {
        path: "config revisions",
        method: "ListRevisions",
        about: "A layer's published revisions, each with its change request.",
        example: "concordat config revisions baseline",
        args: &[LAYER],
        body: "",
        view: View::List(
            "revisions",
            &[
                ("REVISION", "revision"),
                ("PUBLISHED", "publish_time"),
                ("PUBLISHER", "publisher"),
                ("CHANGE REQUEST", "change_request"),
                ("CHANGES", "change_count"),
                ("RESTORES", "restores_revision?"),
            ],
        ),
    },
    Spec {
        path: "config diff-revisions",
        method: "DiffRevisions",
        about: "What changed in a layer between two revisions; exits 1 when anything did.",
        example: "concordat config diff-revisions baseline --from 1 --to 2",
        args: &[
            pos("LAYER", "layer", "`baseline` or a trust's ODS code, or the layer's name.").tpl("icss/{ics}/layers/{}"),
            flag("from", "from_revision", "The older revision."),
            flag("to", "to_revision", "The newer revision."),
        ],
        body: "",
        view: View::Diff("changes", DIFF_COLS),
    },
    Spec {
        path: "config changeset create",
        method: "CreateChangeset",
        about: "Open a changeset of a layer for an approved change request (its changes from a file).",
        example: "concordat config changeset create --layer baseline --change-request CR-2026-0001 -f changes.yaml",
        args: &[
            ICS,
            flag("layer", "changeset.layer", "The layer: `baseline` or a trust's ODS code.").tpl("icss/{ics}/layers/{}").req(),
            flag("change-request", "changeset.change_request", "The approved change request: its number or name.")
                .tpl("icss/{ics}/changeRequests/{}")
                .req(),
            flag("description", "changeset.description", "What it does."),
        ],
        body: "changeset",
        view: View::Record,
    },
    Spec {
        path: "config changeset list",
        method: "ListChangesets",
        about: "The changesets of the ICS.",
        example: "concordat config changeset list --state open",
        args: &[
            ICS,
            flag("layer", "layer", "Only this layer's.").tpl("icss/{ics}/layers/{}"),
            flag("state", "state", "Only in this state."),
        ],
        body: "",
        view: View::List(
            "changesets",
            &[
                ("NAME", "name"),
                ("STATE", "state"),
                ("LAYER", "layer"),
                ("CHANGES", "change_count"),
                ("CHANGE REQUEST", "change_request"),
                ("PUBLISHED", "published_revision?"),
            ],
        ),
    },
    Spec {
        path: "config changeset show",
        method: "GetChangeset",
        about: "One changeset with its effect on each trust.",
        example: "concordat config changeset show 0193…",
        args: &[CHANGESET],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "config changeset changes",
        method: "ListChangesetChanges",
        about: "The changes of a changeset, every page.",
        example: "concordat config changeset changes 0193…",
        args: &[CHANGESET],
        body: "",
        view: View::List(
            "changes",
            &[("OPERATION", "operation"), ("KIND", "item.kind"), ("KEY", "item.key"), ("VALUE", "item.value")],
        ),
    },
    Spec {
        path: "config changeset diff",
        method: "DiffChangeset",
        about: "What an open changeset would change in a trust's effective configuration; exits 1 when anything.",
        example: "concordat config changeset diff 0193… --trust RGM",
        args: &[CHANGESET, TRUST.req()],
        body: "",
        view: View::Diff("changes", DIFF_COLS),
    },
    Spec {
        path: "config changeset discard",
        method: "DiscardChangeset",
        about: "Discard an open changeset.",
        example: "concordat config changeset discard 0193…",
        args: &[CHANGESET],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "config publish",
        method: "PublishChangeset",
        about: "Publish an open changeset as the layer's next revision.",
        example: "concordat config publish 0193…",
        args: &[CHANGESET, flag("rebase", "rebase", "Publish over a newer head when nothing conflicts.")],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "config rollback",
        method: "RollbackLayer",
        about: "Restore a layer to an earlier revision, as a new revision under a change request.",
        example: "concordat config rollback baseline --to 1 --change-request CR-2026-0004",
        args: &[
            pos("LAYER", "layer", "`baseline` or a trust's ODS code, or the layer's name.").tpl("icss/{ics}/layers/{}"),
            flag("to", "revision", "The revision to restore.").req(),
            flag("change-request", "change_request", "The approved change request: its number or name.")
                .tpl("icss/{ics}/changeRequests/{}")
                .req(),
            flag("expected-head", "expected_head_revision", "Only if the head is still this revision."),
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "config watch",
        method: "WatchEffectiveConfig",
        about: "Stream a trust's effective revisions as they are published (resumes after a lost connection).",
        example: "concordat config watch --trust RGM --from 0 --count 3",
        args: &[ICS, TRUST.req(), flag("from", "from_revision", "Stream revisions after this one (0: from the first).")],
        body: "",
        view: View::Watch(
            &[
                ("REVISION", "effective_revision.revision"),
                ("PUBLISHED", "effective_revision.publish_time"),
                ("LAYER", "effective_revision.layer"),
                ("CHANGE REQUEST", "effective_revision.change_request"),
                ("CHANGES", "effective_revision.change_count"),
            ],
            ("from_revision", "effective_revision.revision"),
        ),
    },
    Spec {
        path: "config events",
        method: "WatchConfigEvents",
        about: "Stream every shared-configuration event of the ICS (resumes after a lost connection).",
        example: "concordat config events --count 5",
        args: &[ICS, flag("cursor", "cursor", "Resume after this cursor (0: every retained event).")],
        body: "",
        view: View::Watch(
            &[("CURSOR", "cursor"), ("TIME", "event_time"), ("EVENT", "kind"), ("TRUST", "effective_revision.trust|snapshot.trust")],
            ("cursor", "cursor"),
        ),
    },
    Spec {
        path: "config snapshot import",
        method: "ImportSnapshotParts",
        about: "Import a trust's build (a bundle as `config export` writes) as a snapshot, in parts, with progress.",
        example: "concordat config snapshot import rgm-build.json --trust RGM --label 'Production build 2026-11'",
        args: &[
            ICS,
            pos("FILE", "", "The bundle file, `{\"items\": [...]}`."),
            flag("trust", "snapshot.trust", "The trust whose build it is.").req(),
            flag("label", "snapshot.display_name", "A label."),
            flag("taken", "snapshot.taken_time", "When the build was read (RFC 3339 or YYYY-MM-DD)."),
            var("part-items", "Items per part (default 5000)."),
        ],
        body: "",
        view: View::Import,
    },
    Spec {
        path: "config snapshot export",
        method: "ExportConfig",
        about: "Export a snapshot, a layer or a trust's effective configuration as one bundle, every page.",
        example: "concordat config snapshot export icss/QUE/trusts/RGM/effectiveConfig --out rgm.json",
        args: &[
            pos("NAME", "name", "A snapshot's name or id, a layer's name, or `icss/{ics}/trusts/{trust}/effectiveConfig`.")
                .tpl("icss/{ics}/snapshots/{}"),
            flag("revision", "revision", "The layer or effective revision (default the newest)."),
            var("out", "Write to this file (default stdout)."),
        ],
        body: "",
        view: View::Export,
    },
    Spec {
        path: "config snapshot list",
        method: "ListSnapshots",
        about: "The imported snapshots.",
        example: "concordat config snapshot list --trust RGM",
        args: &[ICS, TRUST],
        body: "",
        view: View::List(
            "snapshots",
            &[
                ("NAME", "name"),
                ("TRUST", "trust"),
                ("LABEL", "display_name"),
                ("ITEMS", "item_count"),
                ("NONCONFORMING", "nonconforming_count"),
                ("IMPORTED", "import_time"),
            ],
        ),
    },
    // Convergence.
    Spec {
        path: "convergence matrix",
        method: "GetConvergenceMatrix",
        about: "The trust × domain matrix: each cell's convergence and band, each trust's total.",
        example: "concordat convergence matrix",
        args: &[ICS, flag("as-of", "as_of", "As it stood then (RFC 3339 or YYYY-MM-DD).")],
        body: "",
        view: View::Matrix,
    },
    Spec {
        path: "convergence trust",
        method: "ListAssessments",
        about: "A trust's assessments, newest first: its trajectory.",
        example: "concordat convergence trust RGM --domain medicines",
        args: &[
            pos("TRUST", "parent", "The trust (ODS code).").tpl("icss/{ics}/trusts/{}"),
            flag("domain", "domain", "Only this domain's scores."),
        ],
        body: "",
        view: View::List(
            "assessments",
            &[
                ("ASSESSED", "assess_time"),
                ("SCORES", "scores"),
                ("GOVERNED", "governed_count"),
                ("BASELINE REV", "baseline_revision"),
                ("TRIGGER", "trigger"),
                ("NAME", "name"),
            ],
        ),
    },
    Spec {
        path: "convergence assess",
        method: "AssessSnapshot",
        about: "Assess a trust's newest snapshot against the baseline now.",
        example: "concordat convergence assess RGM",
        args: &[
            pos("TRUST", "parent", "The trust (ODS code).").tpl("icss/{ics}/trusts/{}"),
            flag("as-of", "as_of", "Assess as of then."),
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "convergence divergences",
        method: "ListDivergences",
        about: "Where a trust's build differs from the baseline (its newest assessment, or one).",
        example: "concordat convergence divergences RGM --domain medicines",
        args: &[
            pos("TRUST", "parent", "The trust (ODS code) or an assessment's name.").tpl("icss/{ics}/trusts/{}"),
            flag("domain", "domain", "Only this domain."),
            flag("class", "class", "Only this class."),
        ],
        body: "",
        view: View::List(
            "divergences",
            &[
                ("CLASS", "class"),
                ("GOVERNANCE", "governance"),
                ("KIND", "kind"),
                ("KEY", "key"),
                ("BASELINE", "baseline_value"),
                ("BUILD", "snapshot_value"),
                ("APPROVED", "approved_value"),
                ("CHANGE REQUEST", "change_request"),
                ("EXPIRES", "expire_time"),
            ],
        ),
    },
    Spec {
        path: "convergence propose",
        method: "ProposeChangeRequest",
        about: "Raise a DRAFT change request that would close divergences of an assessment.",
        example: "concordat convergence propose RGN --key alert-rule/sepsis-news2 --intent align --da medicines --class significant --title 'Align the sepsis alert'",
        args: &[
            pos("ASSESSMENT", "assessment", "The assessment's name, or a trust's ODS code for its newest."),
            flag("key", "keys", "A divergent key (kind/key); repeat."),
            flag("intent", "intent", "What the change would do."),
            flag("da", "design_authority", "The design authority.").tpl("icss/{ics}/designAuthorities/{}"),
            flag("class", "change_class", "The change class."),
            flag("title", "title", "Title."),
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "convergence settings show",
        method: "GetConvergenceSettings",
        about: "The ICS's weights, bands and expiry notice.",
        example: "concordat convergence settings show",
        args: &[fixed("name", "icss/{ics}/convergenceSettings")],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "convergence settings update",
        method: "UpdateConvergenceSettings",
        about: "Replace the ICS's weights, bands and expiry notice (from a file).",
        example: "concordat convergence settings update -f settings.yaml --etag 1",
        args: &[fixed("settings.name", "icss/{ics}/convergenceSettings"), ETAG],
        body: "settings",
        view: View::Record,
    },
    Spec {
        path: "convergence plan create",
        method: "CreateConvergencePlan",
        about: "Create a convergence plan (milestones and dependencies from a file).",
        example: "concordat convergence plan create --id medicines-2027 -f plan.yaml",
        args: &[ICS, flag("id", "plan_id", "Its id.").req(), flag("display-name", "plan.display_name", "Its display name.")],
        body: "plan",
        view: View::Record,
    },
    Spec {
        path: "convergence plan list",
        method: "ListConvergencePlans",
        about: "The convergence plans of the ICS.",
        example: "concordat convergence plan list",
        args: &[ICS],
        body: "",
        view: View::List(
            "plans",
            &[("NAME", "name"), ("DISPLAY NAME", "display_name"), ("START", "start_time"), ("TARGET", "target_time")],
        ),
    },
    Spec {
        path: "convergence plan show",
        method: "GetConvergencePlan",
        about: "One convergence plan.",
        example: "concordat convergence plan show medicines-2027",
        args: &[PLAN],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "convergence plan update",
        method: "UpdateConvergencePlan",
        about: "Replace a convergence plan (from a file).",
        example: "concordat convergence plan update medicines-2027 -f plan.yaml --etag 2",
        args: &[
            pos("PLAN", "plan.name", "The convergence plan: its id or name.").tpl("icss/{ics}/convergencePlans/{}"),
            ETAG,
        ],
        body: "plan",
        view: View::Record,
    },
    Spec {
        path: "convergence plan schedule",
        method: "ScheduleConvergencePlan",
        about: "The plan's critical path: each milestone's early and late dates and slack.",
        example: "concordat convergence plan schedule medicines-2027",
        args: &[PLAN],
        body: "",
        view: View::List(
            "schedule.milestones",
            &[
                ("MILESTONE", "id"),
                ("TRUST", "trust"),
                ("DOMAIN", "domain"),
                ("EARLY FINISH", "early_finish"),
                ("LATE FINISH", "late_finish"),
                ("SLACK DAYS", "total_slack_days"),
                ("CRITICAL", "critical"),
                ("AT RISK", "at_risk"),
            ],
        ),
    },
    Spec {
        path: "convergence forecast",
        method: "ForecastConvergencePlan",
        about: "A plan's Monte Carlo forecast: P50, P85 and P95 finish and the chance of the target.",
        example: "concordat convergence forecast medicines-2027 --iterations 10000",
        args: &[PLAN, flag("iterations", "iterations", "Schedules sampled (default 10,000).")],
        body: "",
        view: View::Row(&[
            ("P50", "forecast.p50_time"),
            ("P85", "forecast.p85_time"),
            ("P95", "forecast.p95_time"),
            ("ON TIME", "forecast.on_time_probability"),
            ("ITERATIONS", "forecast.iterations"),
            ("SEED", "forecast.seed"),
        ]),
    },
    Spec {
        path: "convergence watch",
        method: "WatchConvergence",
        about: "Stream assessments and settings changes as they happen (resumes after a lost connection).",
        example: "concordat convergence watch --count 5",
        args: &[ICS, flag("cursor", "cursor", "Resume after this cursor (0: every retained event).")],
        body: "",
        view: View::Watch(
            &[
                ("CURSOR", "cursor"),
                ("TIME", "event_time"),
                ("EVENT", "kind"),
                ("TRUST", "assessment.trust"),
                ("SCORES", "assessment.scores"),
            ],
            ("cursor", "cursor"),
        ),
    },
    // Benefits.
    Spec {
        path: "benefits profiles list",
        method: "ListBenefits",
        about: "The benefit profiles of the ICS.",
        example: "concordat benefits profiles list",
        args: &[ICS],
        body: "",
        view: View::List(
            "benefits",
            &[
                ("NAME", "name"),
                ("CATEGORY", "category"),
                ("UNIT", "measure.unit"),
                ("BASELINE", "baseline.value"),
                ("TARGET", "target.value"),
                ("TITLE", "title"),
            ],
        ),
    },
    Spec {
        path: "benefits profiles show",
        method: "GetBenefit",
        about: "One benefit profile.",
        example: "concordat benefits profiles show adr-prevented",
        args: &[BENEFIT],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "benefits profiles create",
        method: "CreateBenefit",
        about: "Create a benefit profile (from a file: four tests, owners, measure, valuation).",
        example: "concordat benefits profiles create --id adr-prevented -f adr-prevented.yaml",
        args: &[ICS, flag("id", "benefit_id", "Its id.").req(), flag("title", "benefit.title", "Title.")],
        body: "benefit",
        view: View::Record,
    },
    Spec {
        path: "benefits profiles update",
        method: "UpdateBenefit",
        about: "Replace a benefit profile (from a file).",
        example: "concordat benefits profiles update adr-prevented -f adr-prevented.yaml --etag 1",
        args: &[pos("BENEFIT", "benefit.name", "The benefit: its id or name.").tpl("icss/{ics}/benefits/{}"), ETAG],
        body: "benefit",
        view: View::Record,
    },
    Spec {
        path: "benefits rate-cards list",
        method: "ListRateCards",
        about: "The rate cards of the ICS.",
        example: "concordat benefits rate-cards list",
        args: &[ICS],
        body: "",
        view: View::List("rate_cards", &[("NAME", "name"), ("VERSION", "version"), ("TITLE", "title")]),
    },
    Spec {
        path: "benefits rate-cards show",
        method: "GetRateCard",
        about: "One rate card (a version, default the newest).",
        example: "concordat benefits rate-cards show nhs-costs",
        args: &[
            pos("RATE_CARD", "name", "The rate card: its id or name.").tpl("icss/{ics}/rateCards/{}"),
            flag("card-version", "version", "A version (default the newest)."),
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "benefits rate-cards create",
        method: "CreateRateCard",
        about: "Create a rate card (factors and unit values from a file).",
        example: "concordat benefits rate-cards create --id nhs-costs -f rate-card.yaml",
        args: &[ICS, flag("id", "rate_card_id", "Its id.").req()],
        body: "rate_card",
        view: View::Record,
    },
    Spec {
        path: "benefits rate-cards update",
        method: "UpdateRateCard",
        about: "Publish a rate card's next version (from a file).",
        example: "concordat benefits rate-cards update nhs-costs -f rate-card.yaml --etag 1",
        args: &[pos("RATE_CARD", "rate_card.name", "The rate card: its id or name.").tpl("icss/{ics}/rateCards/{}"), ETAG],
        body: "rate_card",
        view: View::Record,
    },
    Spec {
        path: "benefits measurements list",
        method: "ListMeasurements",
        about: "A benefit's measurement cells, by trust, year and state.",
        example: "concordat benefits measurements list adr-prevented --trust RGT --year 2025/26",
        args: &[
            pos("BENEFIT", "parent", "The benefit: its id or name.").tpl("icss/{ics}/benefits/{}"),
            TRUST,
            flag("year", "year", "A financial year, e.g. 2025/26."),
            flag("state", "state", "Only in this state."),
        ],
        body: "",
        view: View::List("measurements", MEASUREMENT_COLS),
    },
    Spec {
        path: "benefits measurements show",
        method: "GetMeasurement",
        about: "One measurement cell.",
        example: "concordat benefits measurements show --benefit adr-prevented --trust RGT --month 2025-04",
        args: &[CELL_BENEFIT, CELL_TRUST, CELL_MONTH, fixed("name", CELL)],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "benefits measurements versions",
        method: "ListMeasurementVersions",
        about: "Every version of a cell and who did what.",
        example: "concordat benefits measurements versions --benefit adr-prevented --trust RGT --month 2025-04",
        args: &[CELL_BENEFIT, CELL_TRUST, CELL_MONTH, fixed("name", CELL)],
        body: "",
        view: View::List(
            "versions",
            &[("VERSION", "version"), ("ACTION", "action"), ("STATE", "state"), ("VALUE", "value"), ("ACTOR", "actor"), ("TIME", "time"), ("REASON", "reason")],
        ),
    },
    Spec {
        path: "benefits measurements save",
        method: "SaveMeasurement",
        about: "Save a month's value as a DRAFT.",
        example: "concordat benefits measurements save --benefit adr-prevented --trust RGT --month 2025-04 --value 70",
        args: &[
            CELL_BENEFIT,
            CELL_TRUST,
            CELL_MONTH,
            fixed("name", CELL),
            flag("value", "value", "The value, a decimal.").req(),
            flag("note", "evidence.note", "Evidence: a note."),
            flag("link", "evidence.link", "Evidence: a link."),
            ETAG,
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "benefits measurements submit",
        method: "SubmitMeasurement",
        about: "Submit a month's value (with its evidence).",
        example: "concordat benefits measurements submit --benefit adr-prevented --trust RGT --month 2025-04 --value 70 --note 'pharmacy audit'",
        args: &[
            CELL_BENEFIT,
            CELL_TRUST,
            CELL_MONTH,
            fixed("name", CELL),
            flag("value", "value", "The value, a decimal (default the saved draft's)."),
            flag("note", "evidence.note", "Evidence: a note."),
            flag("link", "evidence.link", "Evidence: a link."),
            ETAG,
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "benefits measurements validate",
        method: "ValidateMeasurements",
        about: "Validate submitted months of a trust (the trust's digital lead).",
        example: "concordat benefits measurements validate --benefit adr-prevented --trust RGT --month 2025-04,2025-05",
        args: &[CELL_BENEFIT, CELL_TRUST, CELL_MONTH.many(), fixed("names", CELL)],
        body: "",
        view: View::List("measurements", MEASUREMENT_COLS),
    },
    Spec {
        path: "benefits measurements accept",
        method: "AcceptMeasurements",
        about: "Accept validated months for the ICS (the ICS's benefits lead).",
        example: "concordat benefits measurements accept --benefit adr-prevented --trust RGT --month 2025-04,2025-05",
        args: &[CELL_BENEFIT, CELL_TRUST, CELL_MONTH.many(), fixed("names", CELL)],
        body: "",
        view: View::List("measurements", MEASUREMENT_COLS),
    },
    Spec {
        path: "benefits measurements return",
        method: "ReturnMeasurement",
        about: "Return a month to its trust, with the reason.",
        example: "concordat benefits measurements return --benefit adr-prevented --trust RGT --month 2025-06 --reason 'evidence missing'",
        args: &[CELL_BENEFIT, CELL_TRUST, CELL_MONTH, fixed("name", CELL), flag("reason", "reason", "Why.").req()],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "benefits measurements reopen",
        method: "ReopenMeasurement",
        about: "Reopen an accepted month for correction, with the reason.",
        example: "concordat benefits measurements reopen --benefit adr-prevented --trust RGT --month 2025-06 --reason 'late pharmacy report'",
        args: &[CELL_BENEFIT, CELL_TRUST, CELL_MONTH, fixed("name", CELL), flag("reason", "reason", "Why.").req()],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "benefits attribution show",
        method: "GetAttribution",
        about: "How a trust's year of a benefit is shared among change requests.",
        example: "concordat benefits attribution show --benefit adr-prevented --trust RGT --year 2025/26",
        args: &[
            CELL_BENEFIT,
            CELL_TRUST,
            var("year", "The financial year, e.g. 2025/26.").req(),
            fixed("name", "icss/{ics}/benefits/{benefit}/trusts/{trust}/attributions/{year}"),
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "benefits attribution set",
        method: "SetAttribution",
        about: "Share a trust's year of a benefit among change requests (the shares from a file).",
        example: "concordat benefits attribution set --benefit adr-prevented --trust RGT --year 2025/26 -f shares.yaml",
        args: &[
            CELL_BENEFIT,
            CELL_TRUST,
            var("year", "The financial year, e.g. 2025/26.").req(),
            fixed("attribution.name", "icss/{ics}/benefits/{benefit}/trusts/{trust}/attributions/{year}"),
            flag("rationale", "attribution.rationale", "Why these shares."),
            ETAG,
        ],
        body: "attribution",
        view: View::Record,
    },
    Spec {
        path: "benefits rollup",
        method: "GetBenefitRollup",
        about: "The ICS's benefits for a period, by benefit and trust, valued with the rate cards.",
        example: "concordat benefits rollup --period 2025/26",
        args: &[
            ICS,
            flag("benefit", "parent", "Only this benefit.").tpl("icss/{ics}/benefits/{}"),
            flag("period", "period", "A financial year 2025/26, a quarter `2025/26 Q1`, or a month 2025-04.").req(),
            flag("revalue-with", "revalue_with", "Value every year with this rate card version instead."),
        ],
        body: "",
        view: View::Rollup,
    },
    Spec {
        path: "benefits business-case",
        method: "GetBusinessCase",
        about: "The Green Book business case: each year's value and the present value at 3.5%.",
        example: "concordat benefits business-case --first-year 2025/26 --years 5 -o yaml",
        args: &[
            ICS,
            flag("benefit", "parent", "Only this benefit.").tpl("icss/{ics}/benefits/{}"),
            flag("first-year", "first_year", "The first financial year.").req(),
            flag("years", "years", "How many years."),
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "benefits chart",
        method: "GetBenefitChart",
        about: "A benefit's SPC chart: each month's value, mean, limits and signals.",
        example: "concordat benefits chart adr-prevented --trust RGT",
        args: &[
            pos("BENEFIT", "benefit", "The benefit: its id or name.").tpl("icss/{ics}/benefits/{}"),
            TRUST,
            flag("first-month", "first_month", "From this month."),
            flag("last-month", "last_month", "To this month."),
        ],
        body: "",
        view: View::List(
            "points",
            &[
                ("MONTH", "month"),
                ("VALUE", "value"),
                ("MEAN", "mean"),
                ("LOWER", "lower_limit"),
                ("UPPER", "upper_limit"),
                ("OUTSIDE", "outside_limits"),
                ("SHIFT", "shift"),
                ("TREND", "trend"),
            ],
        ),
    },
    Spec {
        path: "benefits settings show",
        method: "GetBenefitsSettings",
        about: "The ICS's benefits settings.",
        example: "concordat benefits settings show",
        args: &[fixed("name", "icss/{ics}/benefitsSettings")],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "benefits settings update",
        method: "UpdateBenefitsSettings",
        about: "Change the ICS's benefits settings.",
        example: "concordat benefits settings update --count-validated true --submission-days 15 --etag 1",
        args: &[
            fixed("settings.name", "icss/{ics}/benefitsSettings"),
            flag("count-validated", "settings.count_validated", "Count validated (not only accepted) months: true or false."),
            flag("submission-days", "settings.submission_days", "Days after a month's end a submission is on time."),
            ETAG,
        ],
        body: "settings",
        view: View::Record,
    },
    Spec {
        path: "benefits watch",
        method: "WatchBenefits",
        about: "Stream measurements, profiles and rate cards as they change (resumes after a lost connection).",
        example: "concordat benefits watch --count 5",
        args: &[ICS, flag("cursor", "cursor", "Resume after this cursor (0: every retained event).")],
        body: "",
        view: View::Watch(
            &[
                ("CURSOR", "cursor"),
                ("TIME", "event_time"),
                ("EVENT", "kind"),
                ("MEASUREMENT", "measurement.name"),
                ("STATE", "measurement.state"),
            ],
            ("cursor", "cursor"),
        ),
    },
    // The audit chain.
    Spec {
        path: "audit list",
        method: "ListAuditEntries",
        about: "The audit chain's entries, newest first, filtered.",
        example: "concordat audit list --resource CR-2026-0001 --action vote.cast",
        args: &[
            ICS,
            flag("resource", "resource", "Only entries of this resource (a change request by its number).")
                .tpl("icss/{ics}/changeRequests/{}"),
            flag("action", "action", "Only this action, e.g. vote.cast."),
            flag("actor", "actor_subject", "Only this actor's (subject)."),
            flag("actor-issuer", "actor_issuer", "Only this issuer's actors."),
            flag("actor-trust", "actor_trust", "Only this trust's actors."),
            flag("since", "start_time", "From this time (RFC 3339 or YYYY-MM-DD)."),
            flag("until", "end_time", "Before this time."),
        ],
        body: "",
        view: View::List(
            "entries",
            &[
                ("SEQ", "sequence"),
                ("TIME", "time"),
                ("ACTOR", "actor_subject"),
                ("TRUST", "actor_trust"),
                ("ACTION", "action"),
                ("RESOURCE", "resource"),
            ],
        ),
    },
    Spec {
        path: "audit verify",
        method: "VerifyAuditChain",
        about: "Verify the ICS's audit chain end to end; exits 1 when it is broken.",
        example: "concordat audit verify",
        args: &[ICS],
        body: "",
        view: View::Verify,
    },
];
