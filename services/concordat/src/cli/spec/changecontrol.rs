//! Design authorities, change requests and releases.

use super::*;

/// A hazard's fields as flags after `$first` (the change request, or the hazard itself).
macro_rules! hazard_args {
    ($first:expr) => {
        &[
            $first,
            flag("description", "hazard.description", "The hazard."),
            flag("cause", "hazard.cause", "Its cause."),
            flag("effect", "hazard.effect", "Its effect."),
            flag(
                "existing-controls",
                "hazard.existing_controls",
                "Controls already in place.",
            ),
            flag("initial-likelihood", "hazard.initial_likelihood", "1–5."),
            flag("initial-severity", "hazard.initial_severity", "1–5."),
            flag(
                "further-controls",
                "hazard.further_controls",
                "Controls the change adds.",
            ),
            flag("residual-likelihood", "hazard.residual_likelihood", "1–5."),
            flag("residual-severity", "hazard.residual_severity", "1–5."),
        ]
    };
}

/// The commands.
pub(super) const SPECS: &[Spec] = &[
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
            flag(
                "id",
                "design_authority_id",
                "Its id: lowercase letters, digits, hyphens.",
            )
            .req(),
            flag(
                "display-name",
                "design_authority.display_name",
                "Its display name.",
            ),
            flag(
                "domain",
                "design_authority.domains",
                "A clinical domain it governs; repeat.",
            ),
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
            flag(
                "da",
                "standard_template.design_authority",
                "The design authority.",
            )
            .tpl("icss/{ics}/designAuthorities/{}")
            .req(),
            flag(
                "display-name",
                "standard_template.display_name",
                "Its display name.",
            ),
            flag(
                "description",
                "standard_template.description",
                "What the change does.",
            ),
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
            flag(
                "filter",
                "filter",
                "Conditions joined by AND, e.g. `state = APPROVED AND trust = RGT`.",
            ),
            flag(
                "order-by",
                "order_by",
                "create_time, update_time, number or residual_risk, then optionally desc.",
            ),
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
            flag(
                "domain",
                "change_request.domain",
                "The clinical domain, e.g. medicines.",
            ),
            flag(
                "da",
                "change_request.design_authority",
                "The design authority.",
            )
            .tpl("icss/{ics}/designAuthorities/{}"),
            flag(
                "trust",
                "change_request.affected_trusts",
                "An affected trust; repeat or comma-separate.",
            ),
            flag("type", "change_request.change_type", "The change type."),
            flag("class", "change_request.change_class", "The change class."),
            flag(
                "cost-pence",
                "change_request.cost_estimate_pence",
                "Estimated cost in pence.",
            ),
            flag(
                "effort-days",
                "change_request.effort_days",
                "Estimated effort in days.",
            ),
            flag(
                "item",
                "change_request.configuration_items",
                "A configuration item it touches; repeat.",
            ),
            flag(
                "template",
                "change_request.standard_template",
                "The standard template (standard changes).",
            ),
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
            pos(
                "CR",
                "change_request.name",
                "The change request: its number or name.",
            )
            .tpl("icss/{ics}/changeRequests/{}"),
            flag(
                "mask",
                "update_mask",
                "The fields to change; repeat or comma-separate.",
            ),
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
        args: &[
            CR,
            flag(
                "deadline",
                "deadline",
                "Deadline (RFC 3339 or YYYY-MM-DD); default the charter's.",
            ),
            ETAG,
        ],
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
            flag(
                "effort-days",
                "impact_assessment.effort_days",
                "Local effort in days.",
            ),
            flag(
                "local-impact",
                "impact_assessment.local_configuration_impact",
                "Local configuration impact.",
            ),
            flag(
                "training-impact",
                "impact_assessment.training_impact",
                "Training impact.",
            ),
            flag(
                "risk-notes",
                "impact_assessment.clinical_risk_notes",
                "Clinical risk notes.",
            ),
            flag(
                "readiness-date",
                "impact_assessment.readiness_date",
                "When the trust is ready, YYYY-MM-DD.",
            ),
            flag(
                "recommendation",
                "impact_assessment.recommendation",
                "What the trust recommends.",
            ),
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
        args: hazard_args!(CR_PARENT),
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
        path: "cr hazard update",
        method: "UpdateHazard",
        about: "Revise a hazard while its change request can be edited: every field as it should now read (as `cr hazard add`, or -f a file of the hazard); the sign-off is cleared.",
        example: "concordat cr hazard update icss/QUE/changeRequests/…/hazards/… --description 'alert fatigue' --initial-likelihood 4 --initial-severity 4 --residual-likelihood 1 --residual-severity 4",
        args: hazard_args!(pos(
            "HAZARD",
            "hazard.name",
            "The hazard's name (as `cr hazard list` prints it).",
        )),
        body: "hazard",
        view: View::Record,
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
        args: &[
            CR,
            flag(
                "deadline",
                "deadline",
                "Deadline (RFC 3339 or YYYY-MM-DD); default the charter's.",
            ),
            ETAG,
        ],
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
        args: &[
            CR,
            flag("justification", "justification", "Why it cannot wait.").req(),
        ],
        body: "",
        view: View::Record,
    },
    Spec {
        path: "cr review",
        method: "CompleteRetrospectiveReview",
        about: "Complete an emergency change's retrospective review.",
        example: "concordat cr review CR-2026-0003 --summary 'reviewed at DA 2026-12'",
        args: &[
            CR,
            flag("summary", "summary", "The review's summary.").req(),
        ],
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
            flag(
                "deployed",
                "deployed",
                "true when deployed, false when it failed.",
            )
            .req(),
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
            &[
                ("ACTION", "kind"),
                ("NUMBER", "number"),
                ("DUE", "due_time"),
                ("TITLE", "title"),
                ("DESCRIPTION", "description"),
            ],
        ),
    },
    Spec {
        path: "cr watch",
        method: "WatchChangeRequests",
        about: "Stream change requests as they change (resumes after a lost connection).",
        example: "concordat cr watch --count 10",
        args: &[
            ICS,
            flag(
                "cursor",
                "cursor",
                "Resume after this event's cursor (0: every retained event).",
            ),
        ],
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
            flag(
                "start",
                "release.window_start_time",
                "Window start (RFC 3339 or YYYY-MM-DD).",
            ),
            flag(
                "end",
                "release.window_end_time",
                "Window end (RFC 3339 or YYYY-MM-DD).",
            ),
        ],
        body: "release",
        view: View::Record,
    },
    Spec {
        path: "release show",
        method: "GetRelease",
        about: "One release and its change requests.",
        example: "concordat release show 2027-q1",
        args: &[
            pos("RELEASE", "name", "The release: its id or name.").tpl("icss/{ics}/releases/{}")
        ],
        body: "",
        view: View::Record,
    },
];
