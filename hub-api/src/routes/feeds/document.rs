//! RSS 2.0 and Atom documents, written with quick-xml: every text and attribute value is
//! escaped by the writer, never pasted into markup, so mesh text cannot inject elements.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesText, Event};

/// The Atom namespace (also used by RSS for its `atom:link rel="self"`).
const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

/// What every feed says about itself.
#[derive(Debug, Clone)]
pub(crate) struct FeedMeta {
    /// `NETWORK_NAME — <what>`.
    pub title: String,
    /// The web dashboard page the feed mirrors (absolute).
    pub link: String,
    /// One line about the feed.
    pub description: String,
    /// Absolute URL of the feed itself on the web tier (`/feeds/...`), for `rel="self"`.
    pub self_url: String,
}

/// One entry, shared by both formats.
#[derive(Debug, Clone)]
pub(crate) struct FeedItem {
    /// Entry title.
    pub title: String,
    /// RSS `description`, Atom `summary`.
    pub description: String,
    /// RSS `guid` (never a permalink), Atom `id`.
    pub guid: String,
    /// The web dashboard page of the entry (absolute).
    pub link: String,
    /// RSS `pubDate`, Atom `published` and `updated` (UTC).
    pub published: NaiveDateTime,
}

/// XML 1.0 forbids most C0 control characters anywhere in a document; a writer escapes
/// markup but cannot represent these, so they are dropped.
fn clean(text: &str) -> String {
    text.chars()
        .filter(|&c| !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'))
        .collect()
}

/// Text content, escaped as an XML text node needs (`&`, `<`, `>`).
fn text(value: &str) -> BytesText<'static> {
    BytesText::from_escaped(partial_escape(clean(value)).into_owned())
}

fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

/// RFC 3339 with `+00:00`, microseconds only when there are any (as Python's `isoformat`).
pub(crate) fn iso(at: NaiveDateTime) -> String {
    utc(at).to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// RFC 822 date of RSS, e.g. `Sun, 30 Aug 2026 12:00:00 +0000`.
fn rfc822(at: NaiveDateTime) -> String {
    utc(at).to_rfc2822()
}

/// The newest entry's date, or now for an empty feed.
fn newest(items: &[FeedItem]) -> NaiveDateTime {
    items
        .iter()
        .map(|i| i.published)
        .max()
        .unwrap_or_else(|| Utc::now().naive_utc())
}

/// Writes one `<name>text</name>` element.
fn element(w: &mut Writer<Vec<u8>>, name: &str, value: &str) -> std::io::Result<()> {
    w.create_element(name).write_text_content(text(value))?;
    Ok(())
}

/// The document as UTF-8 text with its declaration.
fn finish(w: Writer<Vec<u8>>) -> String {
    // Everything written was a `&str` or escaped from one.
    String::from_utf8(w.into_inner()).unwrap_or_default()
}

fn declaration(w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.write_event(Event::Text(BytesText::from_escaped("\n")))
}

/// An RSS 2.0 document.
pub(crate) fn rss(meta: &FeedMeta, items: &[FeedItem]) -> std::io::Result<String> {
    let mut w = Writer::new(Vec::new());
    declaration(&mut w)?;
    w.create_element("rss")
        .with_attributes([("version", "2.0"), ("xmlns:atom", ATOM_NS)])
        .write_inner_content(|w| {
            w.create_element("channel").write_inner_content(|w| {
                element(w, "title", &meta.title)?;
                element(w, "link", &meta.link)?;
                element(w, "description", &meta.description)?;
                element(w, "lastBuildDate", &rfc822(newest(items)))?;
                element(w, "generator", "MeshCore Hub")?;
                w.create_element("atom:link")
                    .with_attributes([
                        ("href", meta.self_url.as_str()),
                        ("rel", "self"),
                        ("type", "application/rss+xml"),
                    ])
                    .write_empty()?;
                for item in items {
                    w.create_element("item").write_inner_content(|w| {
                        element(w, "title", &item.title)?;
                        element(w, "link", &item.link)?;
                        element(w, "description", &item.description)?;
                        w.create_element("guid")
                            .with_attribute(("isPermaLink", "false"))
                            .write_text_content(text(&item.guid))?;
                        element(w, "pubDate", &rfc822(item.published))
                    })?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
    Ok(finish(w))
}

/// An Atom document.
pub(crate) fn atom(meta: &FeedMeta, items: &[FeedItem]) -> std::io::Result<String> {
    let mut w = Writer::new(Vec::new());
    declaration(&mut w)?;
    w.create_element("feed")
        .with_attribute(("xmlns", ATOM_NS))
        .write_inner_content(|w| {
            element(w, "title", &meta.title)?;
            w.create_element("link")
                .with_attributes([("rel", "alternate"), ("href", meta.link.as_str())])
                .write_empty()?;
            w.create_element("link")
                .with_attributes([
                    ("href", meta.self_url.as_str()),
                    ("rel", "self"),
                    ("type", "application/atom+xml"),
                ])
                .write_empty()?;
            // The feed's page is the most stable identifier it has.
            element(w, "id", &meta.link)?;
            element(w, "updated", &iso(newest(items)))?;
            element(w, "generator", "MeshCore Hub")?;
            for item in items {
                w.create_element("entry").write_inner_content(|w| {
                    element(w, "title", &item.title)?;
                    w.create_element("link")
                        .with_attributes([("rel", "alternate"), ("href", item.link.as_str())])
                        .write_empty()?;
                    element(w, "id", &item.guid)?;
                    element(w, "updated", &iso(item.published))?;
                    element(w, "published", &iso(item.published))?;
                    element(w, "summary", &item.description)
                })?;
            }
            Ok(())
        })?;
    Ok(finish(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn dates_as_python_writes_them() {
        assert_eq!(iso(at("2026-08-30 12:00:00")), "2026-08-30T12:00:00+00:00");
        assert_eq!(
            iso(at("2026-08-30 12:00:00.250")),
            "2026-08-30T12:00:00.250+00:00"
        );
        assert_eq!(
            rfc822(at("2026-08-30 12:00:00")),
            "Sun, 30 Aug 2026 12:00:00 +0000"
        );
    }

    #[test]
    fn control_characters_are_dropped_and_markup_escaped() {
        let meta = FeedMeta {
            title: "a\u{1}b & <c>".into(),
            link: "https://x/?a=1&b=2".into(),
            description: String::new(),
            self_url: "https://x/feeds/m.xml".into(),
        };
        let doc = rss(&meta, &[]).unwrap();
        assert!(doc.contains("<title>ab &amp; &lt;c&gt;</title>"), "{doc}");
        assert!(doc.contains("https://x/?a=1&amp;b=2"), "{doc}");
        assert!(doc.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss"));
    }
}
