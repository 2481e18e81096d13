//! sea-orm entities of the change-control tables (private to the crate).

/// `cc_design_authorities`.
pub mod design_authority {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cc_design_authorities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub display_name: String,
        pub domains: String,
        pub members: String,
        pub chair: String,
        pub chair_issuer: String,
        pub chair_name: String,
        pub charter: String,
        pub charter_version: i32,
        pub version: i64,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cc_charters`: every version of every charter.
pub mod charter {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cc_charters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub design_authority: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i32,
        pub charter: String,
        pub effective_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cc_change_requests`.
pub mod change_request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cc_change_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub number: String,
        pub title: String,
        pub description: String,
        pub rationale: String,
        pub requesting_trust: String,
        pub requester: String,
        pub requester_issuer: String,
        pub requester_name: String,
        pub domain: String,
        pub design_authority: String,
        pub affected_trusts: String,
        pub change_type: String,
        pub change_class: String,
        pub standard_template: String,
        pub cost_estimate_pence: i64,
        pub effort_days: i32,
        pub target_release: String,
        pub configuration_links: String,
        pub configuration_items: String,
        pub benefit_links: String,
        pub state: String,
        pub charter_version: i32,
        pub assessment_deadline: Option<DateTimeUtc>,
        pub voting_deadline: Option<DateTimeUtc>,
        pub residual_risk: i32,
        pub decision: Option<String>,
        pub board_decision: Option<String>,
        pub missing_assessment_trusts: String,
        pub deployments: String,
        pub retrospective_review_deadline: Option<DateTimeUtc>,
        pub retrospective_review_time: Option<DateTimeUtc>,
        pub version: i64,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cc_counters`: the last CR number per ICS and year.
pub mod counter {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cc_counters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        pub last: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cc_impact_assessments`.
pub mod assessment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cc_impact_assessments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub change_request: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub trust: String,
        pub effort_days: i32,
        pub local_configuration_impact: String,
        pub training_impact: String,
        pub clinical_risk_notes: String,
        pub readiness_date: String,
        pub recommendation: String,
        pub assessor: String,
        pub assessor_issuer: String,
        pub assessor_name: String,
        pub update_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cc_hazards`.
pub mod hazard {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cc_hazards")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub change_request: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub description: String,
        pub cause: String,
        pub effect: String,
        pub existing_controls: String,
        pub initial_likelihood: i32,
        pub initial_severity: i32,
        pub initial_risk: i32,
        pub further_controls: String,
        pub residual_likelihood: i32,
        pub residual_severity: i32,
        pub residual_risk: i32,
        pub signed_off_by: String,
        pub signed_off_by_issuer: String,
        pub signed_off_by_name: String,
        pub signed_off_trust: String,
        pub sign_off_time: Option<DateTimeUtc>,
        pub create_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cc_votes`: one per (change request, trust).
pub mod vote {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cc_votes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub change_request: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub trust: String,
        pub voter: String,
        pub voter_issuer: String,
        pub voter_name: String,
        pub choice: String,
        pub reason: String,
        pub comment: String,
        pub stale: bool,
        pub disposition: Option<String>,
        pub disposition_note: String,
        pub cast_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cc_releases`.
pub mod release {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cc_releases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub display_name: String,
        pub window_start: DateTimeUtc,
        pub window_end: DateTimeUtc,
        pub freezes: String,
        pub create_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cc_standard_templates`.
pub mod template {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cc_standard_templates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub display_name: String,
        pub description: String,
        pub design_authority: String,
        pub creator: String,
        pub creator_issuer: String,
        pub creator_name: String,
        pub create_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
