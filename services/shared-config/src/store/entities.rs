//! sea-orm entities of the shared-configuration tables (private to the crate).

/// `sc_kinds`.
pub mod kind {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sc_kinds")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub domain: String,
        #[sea_orm(column_type = "Text")]
        pub schema: String,
        #[sea_orm(column_type = "Text")]
        pub description: String,
        pub creator: String,
        pub creator_issuer: String,
        pub creator_name: String,
        pub create_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `sc_items`.
pub mod item {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sc_items")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub layer: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub item_key: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub from_revision: i64,
        pub to_revision: Option<i64>,
        #[sea_orm(column_type = "Text")]
        pub value: String,
        #[sea_orm(column_type = "Text")]
        pub governance: String,
        #[sea_orm(column_type = "Text")]
        pub owner: String,
        #[sea_orm(column_type = "Text")]
        pub description: String,
        pub suppress: bool,
        pub change_request: String,
        /// The variation's terms as JSON (empty: none).
        #[sea_orm(column_type = "Text")]
        pub variation: String,
        pub expire_time: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `sc_revisions`.
pub mod revision {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sc_revisions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub layer: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub revision: i64,
        pub changeset: String,
        pub change_request: String,
        pub publisher: String,
        pub publisher_issuer: String,
        pub publisher_name: String,
        pub publisher_trust: String,
        pub publish_time: DateTimeUtc,
        pub content_hash: String,
        pub item_count: i64,
        pub restores_revision: i64,
        pub change_count: i64,
        /// The content's LtHash state (2,048 bytes).
        pub lthash: Option<Vec<u8>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `sc_changesets`.
pub mod changeset {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sc_changesets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub layer: String,
        pub base_revision: i64,
        pub change_request: String,
        #[sea_orm(column_type = "Text")]
        pub description: String,
        #[sea_orm(column_type = "Text")]
        pub changes: String,
        pub state: String,
        pub author: String,
        pub author_issuer: String,
        pub author_name: String,
        pub create_time: DateTimeUtc,
        pub update_time: DateTimeUtc,
        pub published_revision: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `sc_effective`.
pub mod effective {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sc_effective")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub trust: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub revision: i64,
        pub baseline_revision: i64,
        pub overlay_revision: i64,
        pub content_hash: String,
        pub layer: String,
        pub change_request: String,
        pub publisher: String,
        pub publisher_issuer: String,
        pub publisher_name: String,
        pub publish_time: DateTimeUtc,
        #[sea_orm(column_type = "Text")]
        pub changes: String,
        /// The effective content's LtHash state (2,048 bytes).
        pub lthash: Option<Vec<u8>>,
        /// Why the system published it, when no changeset did (a variation's lapse).
        #[sea_orm(column_type = "Text")]
        pub reason: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `sc_snapshots`.
pub mod snapshot {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sc_snapshots")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub trust: String,
        #[sea_orm(column_type = "Text")]
        pub display_name: String,
        pub taken_time: DateTimeUtc,
        pub content_hash: String,
        pub item_count: i64,
        pub nonconforming_count: i64,
        pub importer: String,
        pub importer_issuer: String,
        pub importer_name: String,
        pub import_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `sc_snapshot_items`.
pub mod snapshot_item {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sc_snapshot_items")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub snapshot: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub item_key: String,
        #[sea_orm(column_type = "Text")]
        pub value: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
