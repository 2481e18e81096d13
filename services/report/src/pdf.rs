//! PDF rendering with typst: a [`World`] holding the report's source and files in memory, the
//! fonts embedded in the binary, and a fixed date, so the same model gives the same bytes.

use std::collections::HashMap;
use std::sync::LazyLock;

use typst::diag::{FileError, FileResult, SourceDiagnostic, Warned};
use typst::foundations::{Bytes, Datetime, Duration, Smart};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt as _, World};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

/// The fonts embedded in the binary (typst's own), loaded once.
struct Fonts {
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

static FONTS: LazyLock<Fonts> = LazyLock::new(|| {
    let mut book = FontBook::new();
    let mut fonts = Vec::new();
    for (font, info) in typst_kit::fonts::embedded() {
        book.push(info);
        fonts.push(font);
    }
    Fonts {
        book: LazyHash::new(book),
        fonts,
    }
});

fn file_id(path: &str) -> Result<FileId, String> {
    let vpath = VirtualPath::new(path).map_err(|e| format!("{path}: {e:?}"))?;
    Ok(RootedPath::new(VirtualRoot::Project, vpath).intern())
}

/// The document's world: its main source, in-memory files (charts, data) and a fixed date.
pub struct ReportWorld {
    library: LazyHash<Library>,
    main: Source,
    files: HashMap<FileId, Bytes>,
    today: Datetime,
}

impl ReportWorld {
    /// A world of `main` (typst markup) and `files` (path → bytes), whose `today()` is `today`.
    pub fn new(main: &str, files: Vec<(String, Vec<u8>)>, today: Datetime) -> Result<Self, String> {
        let mut map = HashMap::new();
        for (path, bytes) in files {
            map.insert(file_id(&path)?, Bytes::new(bytes));
        }
        Ok(Self {
            library: LazyHash::new(Library::builder().build()),
            main: Source::new(file_id("/main.typ")?, main.to_owned()),
            files: map,
            today,
        })
    }
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }
    fn book(&self) -> &LazyHash<FontBook> {
        &FONTS.book
    }
    fn main(&self) -> FileId {
        self.main.id()
    }
    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(not_found(id))
        }
    }
    fn file(&self, id: FileId) -> FileResult<Bytes> {
        self.files.get(&id).cloned().ok_or_else(|| not_found(id))
    }
    fn font(&self, index: usize) -> Option<Font> {
        FONTS.fonts.get(index).cloned()
    }
    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        Some(self.today)
    }
}

fn not_found(id: FileId) -> FileError {
    FileError::NotFound(id.vpath().get_without_slash().into())
}

/// The diagnostics, each with its line in the report's source when it has one.
fn messages(world: &ReportWorld, diagnostics: &[SourceDiagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| {
            let line = d
                .span
                .id()
                .filter(|id| *id == world.main.id())
                .and_then(|_| typst::WorldExt::range(world, d.span))
                .and_then(|range| world.main.lines().byte_to_line(range.start));
            match line {
                Some(line) => format!("line {}: {}", line + 1, d.message),
                None => d.message.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A `YYYY-MM-DD` date as typst's.
pub fn date(text: &str) -> Result<Datetime, String> {
    let parts: Vec<&str> = text.split('-').collect();
    let parsed = match parts.as_slice() {
        [y, m, d] => match (y.parse(), m.parse(), d.parse()) {
            (Ok(y), Ok(m), Ok(d)) => Datetime::from_ymd(y, m, d),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| format!("`{text}` is not a date YYYY-MM-DD"))
}

/// The world's document as a tagged PDF/UA-1 file, identified by `ident` and dated `date`.
pub fn render(world: &ReportWorld, ident: &str, date: Datetime) -> Result<Vec<u8>, String> {
    let Warned { output, warnings } = typst::compile::<PagedDocument>(world);
    let document = output.map_err(|e| messages(world, &e))?;
    if !warnings.is_empty() {
        return Err(format!(
            "the report's markup: {}",
            messages(world, &warnings)
        ));
    }
    let standards = PdfStandards::new(&[PdfStandard::Ua_1]).map_err(|e| format!("{e:?}"))?;
    let options = PdfOptions {
        ident: Smart::Custom(ident.to_owned()),
        creator: Smart::Custom(Some("Concordat".to_owned())),
        timestamp: Some(Timestamp::new_utc(date)),
        page_ranges: None,
        standards,
        tagged: true,
        pretty: false,
    };
    let pdf = typst_pdf::pdf(&document, &options).map_err(|e| messages(world, &e));
    typst::comemo::evict(0);
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_renders_the_same_bytes_twice() {
        let main = r#"#set document(title: "Test")
#set text(lang: "en")
#title()
= Heading
Hello #datetime.today().display().
#image("/chart.svg", alt: "A square")
#table(columns: 2, table.header([A], [B]), [1], [2])
"#;
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50"><rect width="50" height="50" fill="blue"/><text x="60" y="30" font-family="Libertinus Serif">Hi</text></svg>"#;
        let date = Datetime::from_ymd(2026, 4, 1).unwrap();
        let world =
            || ReportWorld::new(main, vec![("/chart.svg".into(), svg.to_vec())], date).unwrap();
        let first = render(&world(), "test", date).unwrap();
        let second = render(&world(), "test", date).unwrap();
        assert!(first.starts_with(b"%PDF-"));
        assert_eq!(first, second);
    }
}
