//! sea-orm entities of the benefits tables (private to the crate).

/// `bn_benefits`.
pub mod benefit {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bn_benefits")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub version: i64,
        #[sea_orm(column_type = "Text")]
        pub profile: String,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `bn_rate_cards`.
pub mod rate_card {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bn_rate_cards")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        pub title: String,
        #[sea_orm(column_type = "Text")]
        pub description: String,
        #[sea_orm(column_type = "Text")]
        pub entries: String,
        #[sea_orm(column_type = "Text")]
        pub author: String,
        pub update_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `bn_measurements`.
pub mod measurement {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bn_measurements")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub benefit: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub month: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub trust: String,
        pub value: String,
        #[sea_orm(column_type = "Text")]
        pub note: String,
        pub link: String,
        pub state: String,
        pub version: i64,
        #[sea_orm(column_type = "Text", nullable)]
        pub submitter: Option<String>,
        pub first_submit_time: Option<DateTimeUtc>,
        pub on_time: bool,
        #[sea_orm(column_type = "Text", nullable)]
        pub validator: Option<String>,
        #[sea_orm(column_type = "Text", nullable)]
        pub acceptor: Option<String>,
        #[sea_orm(column_type = "Text")]
        pub reason: String,
        pub update_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `bn_measurement_versions`.
pub mod version {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bn_measurement_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub benefit: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub month: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub trust: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        pub act: String,
        pub state: String,
        pub value: String,
        #[sea_orm(column_type = "Text")]
        pub note: String,
        pub link: String,
        #[sea_orm(column_type = "Text")]
        pub actor: String,
        #[sea_orm(column_type = "Text")]
        pub reason: String,
        pub time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `bn_attributions`.
pub mod attribution {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bn_attributions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub benefit: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub trust: String,
        pub version: i64,
        #[sea_orm(column_type = "Text")]
        pub shares: String,
        #[sea_orm(column_type = "Text")]
        pub rationale: String,
        pub update_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `bn_settings`.
pub mod settings {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bn_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        pub version: i64,
        pub count_validated: bool,
        pub submission_days: i32,
        pub update_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
