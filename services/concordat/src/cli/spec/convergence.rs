//! Convergence: the matrix, trajectories, divergences, settings, plans and forecasts.

use super::*;

/// The commands.
pub(super) const SPECS: &[Spec] = &[
    // Convergence.
    Spec {
        path: "convergence matrix",
        method: "GetConvergenceMatrix",
        about: "The trust × domain matrix: each cell's convergence and band, each trust's total.",
        example: "concordat convergence matrix",
        args: &[
            ICS,
            flag(
                "as-of",
                "as_of",
                "As it stood then (RFC 3339 or YYYY-MM-DD).",
            ),
        ],
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
            pos(
                "TRUST",
                "parent",
                "The trust (ODS code) or an assessment's name.",
            )
            .tpl("icss/{ics}/trusts/{}"),
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
            pos(
                "ASSESSMENT",
                "assessment",
                "The assessment's name, or a trust's ODS code for its newest.",
            ),
            flag("key", "keys", "A divergent key (kind/key); repeat."),
            flag("intent", "intent", "What the change would do."),
            flag("da", "design_authority", "The design authority.")
                .tpl("icss/{ics}/designAuthorities/{}"),
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
        args: &[
            fixed("settings.name", "icss/{ics}/convergenceSettings"),
            ETAG,
        ],
        body: "settings",
        view: View::Record,
    },
    Spec {
        path: "convergence plan create",
        method: "CreateConvergencePlan",
        about: "Create a convergence plan (milestones and dependencies from a file).",
        example: "concordat convergence plan create --id medicines-2027 -f plan.yaml",
        args: &[
            ICS,
            flag("id", "plan_id", "Its id.").req(),
            flag("display-name", "plan.display_name", "Its display name."),
        ],
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
            &[
                ("NAME", "name"),
                ("DISPLAY NAME", "display_name"),
                ("START", "start_time"),
                ("TARGET", "target_time"),
            ],
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
            pos("PLAN", "plan.name", "The convergence plan: its id or name.")
                .tpl("icss/{ics}/convergencePlans/{}"),
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
        args: &[
            PLAN,
            flag(
                "iterations",
                "iterations",
                "Schedules sampled (default 10,000).",
            ),
        ],
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
        args: &[
            ICS,
            flag(
                "cursor",
                "cursor",
                "Resume after this cursor (0: every retained event).",
            ),
        ],
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
];
