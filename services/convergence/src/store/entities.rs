//! sea-orm entities of the convergence tables (private to the crate).

/// `cv_assessments`.
pub mod assessment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cv_assessments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub trust: String,
        pub snapshot: String,
        pub baseline_revision: i64,
        pub overlay_revision: i64,
        pub assess_time: DateTimeUtc,
        pub record_time: DateTimeUtc,
        pub trigger: String,
        pub trigger_seq: i64,
        pub key_count: i64,
        #[sea_orm(column_type = "Text")]
        pub tally: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cv_divergences`.
pub mod divergence {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cv_divergences")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub assessment: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub item_key: String,
        pub domain: String,
        pub class: String,
        pub governance: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub baseline_value: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub approved_value: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub snapshot_value: Option<String>,
        pub change_request: String,
        pub expire_time: Option<DateTimeUtc>,
        pub variation_removes: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cv_follow`.
pub mod follow {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cv_follow")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        pub cursor: i64,
        pub update_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cv_trusts`.
pub mod trust {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cv_trusts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub trust: String,
        pub baseline_revision: i64,
        pub overlay_revision: i64,
        pub effective_time: Option<DateTimeUtc>,
        pub snapshot: String,
        pub snapshot_time: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cv_settings`.
pub mod settings {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cv_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(column_type = "Text")]
        pub weights: String,
        #[sea_orm(column_type = "Text")]
        pub bands: String,
        pub notice_days: i32,
        pub version: i64,
        pub update_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cv_plans`.
pub mod plan {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cv_plans")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub display_name: String,
        pub start_time: DateTimeUtc,
        pub target_time: Option<DateTimeUtc>,
        pub seed: i64,
        pub duration_source: String,
        #[sea_orm(column_type = "Text")]
        pub dependencies: String,
        pub version: i64,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cv_milestones`.
pub mod milestone {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "cv_milestones")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub plan: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub position: i32,
        pub trust: String,
        pub domain: String,
        pub target_convergence: f64,
        pub keys_in_scope: i64,
        pub due_time: Option<DateTimeUtc>,
        pub owner: String,
        pub optimistic_days: f64,
        pub most_likely_days: f64,
        pub pessimistic_days: f64,
        pub achieved_by: String,
        pub achieve_time: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `cv_notices`.
pub mod notice {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cv_notices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub at: DateTimeUtc,
        pub notice_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
