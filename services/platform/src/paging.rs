//! Paging for every List RPC: one page-size rule and one signed page-token format (from
//! `concordat-api`, which clients share), the server's token key, and pages of a loaded list.
//!
//! The key is made once by the platform's migrations and stored in `server_secrets`, so every
//! replica signs and checks with the same key; a forged or altered token, or one carried over to
//! another query, is INVALID_ARGUMENT naming `page_token`.

pub use concordat_api::paging::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageTokens, page_size};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbErr};

use crate::db::Database;
use crate::migrations::PAGE_TOKEN_KEY;

/// The page-token codec with the key the migrations stored.
pub async fn load_page_tokens(db: &Database) -> Result<PageTokens, DbErr> {
    let select = Query::select()
        .column(Alias::new("value"))
        .from(Alias::new("server_secrets"))
        .and_where(Expr::col(Alias::new("name")).eq(PAGE_TOKEN_KEY))
        .to_owned();
    let row =
        db.conn().query_one(&select).await?.ok_or_else(|| {
            DbErr::RecordNotFound("the page-token key (run the migrations)".into())
        })?;
    let value: Vec<u8> = row.try_get("", "value")?;
    let key: [u8; 32] = value
        .try_into()
        .map_err(|_| DbErr::Custom("the stored page-token key is not 32 bytes".into()))?;
    Ok(PageTokens::new(key))
}

/// One page of `items` starting at `offset`: the page, and the offset of the next page when
/// there is one.
pub fn page_of<T>(items: Vec<T>, offset: i64, size: u64) -> (Vec<T>, Option<i64>) {
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(size).collect();
    let end = start.saturating_add(page.len());
    let next = (end < total).then(|| i64::try_from(end).unwrap_or(i64::MAX));
    (page, next)
}

/// A page asked for by offset, for a list the database pages: where it starts, how long it is,
/// and the query its tokens are bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows to skip.
    pub offset: u64,
    /// Rows at most.
    pub size: u64,
    query: String,
}

impl PageRequest {
    /// Checks `page_size` and `page_token` (signed, bound to `query`).
    pub fn parse(
        tokens: &PageTokens,
        query: String,
        page_size_field: i32,
        page_token: &str,
    ) -> Result<Self, concordat_api::FieldViolation> {
        let size = page_size("page_size", page_size_field)?;
        let offset = tokens
            .decode("page_token", page_token, &query)?
            .unwrap_or(0);
        Ok(Self {
            offset: u64::try_from(offset).unwrap_or(0),
            size,
            query,
        })
    }

    /// The token of the page after this one, which returned `returned` of `total` rows (empty
    /// at the end).
    pub fn next_token(&self, tokens: &PageTokens, returned: usize, total: u64) -> String {
        let next = self.offset.saturating_add(returned as u64);
        if next < total {
            tokens.encode(&self.query, i64::try_from(next).unwrap_or(i64::MAX))
        } else {
            String::new()
        }
    }
}

/// One page of a list that is read whole (short lists: design authorities, votes, hazards, …):
/// checks `page_size` and `page_token` (bound to `query`), and returns the page and the token of
/// the next one (empty at the end).
pub fn page<T>(
    tokens: &PageTokens,
    query: &str,
    page_size_field: i32,
    page_token: &str,
    items: Vec<T>,
) -> Result<(Vec<T>, String), concordat_api::FieldViolation> {
    let size = page_size("page_size", page_size_field)?;
    let offset = tokens.decode("page_token", page_token, query)?.unwrap_or(0);
    let (page, next) = page_of(items, offset, size);
    Ok((
        page,
        next.map_or(String::new(), |n| tokens.encode(query, n)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_a_list_by_token_visits_every_item_once() {
        let tokens = PageTokens::new([7; 32]);
        let mut token = String::new();
        let mut seen = Vec::new();
        loop {
            let (page, next) = page(&tokens, "q", 2, &token, (0..5).collect::<Vec<i32>>()).unwrap();
            seen.extend(page);
            if next.is_empty() {
                break;
            }
            token = next;
        }
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        let wrong = page(&tokens, "other", 2, &tokens.encode("q", 2), vec![1]).unwrap_err();
        assert_eq!(wrong.field, "page_token");
        let negative = page(&tokens, "q", -1, "", vec![1]).unwrap_err();
        assert_eq!(negative.field, "page_size");
    }

    #[test]
    fn an_offset_page_resumes_where_the_last_one_ended() {
        let tokens = PageTokens::new([7; 32]);
        let first = PageRequest::parse(&tokens, "q".into(), 2, "").unwrap();
        assert_eq!((first.offset, first.size), (0, 2));
        let token = first.next_token(&tokens, 2, 5);
        let second = PageRequest::parse(&tokens, "q".into(), 2, &token).unwrap();
        assert_eq!(second.offset, 2);
        assert_eq!(second.next_token(&tokens, 2, 4), "");
        let err = PageRequest::parse(&tokens, "other".into(), 2, &token).unwrap_err();
        assert_eq!(err.field, "page_token");
    }

    #[test]
    fn pages_of_a_list_cover_it_once() {
        let (first, next) = page_of((0..5).collect(), 0, 2);
        assert_eq!((first, next), (vec![0, 1], Some(2)));
        let (last, next) = page_of((0..5).collect(), 4, 2);
        assert_eq!((last, next), (vec![4], None));
        let (beyond, next) = page_of((0..5).collect::<Vec<i32>>(), i64::MAX, 2);
        assert_eq!((beyond, next), (vec![], None));
    }
}
