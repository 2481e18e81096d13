//! The caller, the server and the audit chain.

use super::*;

/// The commands.
pub(super) const SPECS: &[Spec] = &[
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
        view: View::List(
            "icss",
            &[
                ("ICS", "code"),
                ("NAME", "display_name"),
                ("TRUSTS", "trusts.ods_code"),
            ],
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
            flag(
                "resource",
                "resource",
                "Only entries of this resource (a change request by its number).",
            )
            .tpl("icss/{ics}/changeRequests/{}"),
            flag("action", "action", "Only this action, e.g. vote.cast."),
            flag("actor", "actor_subject", "Only this actor's (subject)."),
            flag("actor-issuer", "actor_issuer", "Only this issuer's actors."),
            flag("actor-trust", "actor_trust", "Only this trust's actors."),
            flag(
                "since",
                "start_time",
                "From this time (RFC 3339 or YYYY-MM-DD).",
            ),
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
