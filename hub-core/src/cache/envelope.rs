//! The stored form of a cached response (docs/contract/cache-design.md section 3).
//!
//! Layout (all integers big-endian), chosen so a HIT never parses JSON:
//!
//! ```text
//! "HC" | version u8 | status u16 | stored_at u64 | gen_count u8 | generation u64 * gen_count
//!      | ct_len u16 | content type | etag_len u8 | etag | body_len u32 | body
//! ```
//!
//! Anything that does not decode exactly (wrong magic or version, truncated, trailing bytes,
//! non-UTF-8 text) is reported as `None`, which the runtime treats as a MISS and overwrites.

use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 2] = b"HC";

/// Current envelope format version. Bump it when the layout changes: older entries then
/// decode to `None` and are recomputed instead of misread.
///
/// Version 3 holds the generations of the tables the response read (version 2 held those of
/// cache names, version 1 a single, unused generation).
pub const FORMAT_VERSION: u8 = 3;

/// A cached response: everything needed to replay it byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// HTTP status code of the stored response.
    pub status: u16,
    /// `Content-Type` of the stored response; empty when it had none.
    pub content_type: String,
    /// Strong ETag including the quotes, e.g. `"0123…"` (32 hex chars of SHA-256 of `body`).
    pub etag: String,
    /// Unix time (seconds) when the entry was stored.
    pub stored_at: u64,
    /// Generations, read before the response was computed, of the tables it read (in the
    /// order of its [`CacheSpec::reads`](super::runtime::CacheSpec::reads)). A read serves
    /// the entry only while these are still the current generations.
    pub generations: Vec<u64>,
    /// The body bytes exactly as sent (`Bytes`: a decoded entry shares the stored bytes).
    pub body: Bytes,
}

/// Strong ETag for a body: `"` + first 32 hex chars of its SHA-256 + `"`.
///
/// ```
/// let tag = hub_core::cache::envelope::etag_for(b"{}");
/// assert_eq!(tag.len(), 34);
/// assert!(tag.starts_with('"') && tag.ends_with('"'));
/// ```
pub fn etag_for(body: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(body));
    format!("\"{}\"", &digest[..32])
}

/// Unix time in seconds (0 if the clock is before 1970).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Envelope {
    /// Builds an envelope stamped with the current time and the body's ETag.
    pub fn new(
        status: u16,
        content_type: impl Into<String>,
        generations: Vec<u64>,
        body: Vec<u8>,
    ) -> Self {
        Self {
            status,
            content_type: content_type.into(),
            etag: etag_for(&body),
            stored_at: unix_now(),
            generations,
            body: Bytes::from(body),
        }
    }

    /// Serializes the envelope. Returns `None` only if a field exceeds its length prefix
    /// (more than 255 generations, content type > 64 KiB, ETag > 255 bytes, body > 4 GiB),
    /// which callers treat as "do not cache".
    pub fn encode(&self) -> Option<Vec<u8>> {
        let ct = self.content_type.as_bytes();
        let etag = self.etag.as_bytes();
        let ct_len = u16::try_from(ct.len()).ok()?;
        let etag_len = u8::try_from(etag.len()).ok()?;
        let body_len = u32::try_from(self.body.len()).ok()?;
        let gen_count = u8::try_from(self.generations.len()).ok()?;
        let mut out = Vec::with_capacity(
            2 + 1
                + 2
                + 8
                + 1
                + 8 * self.generations.len()
                + 2
                + ct.len()
                + 1
                + etag.len()
                + 4
                + self.body.len(),
        );
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&self.status.to_be_bytes());
        out.extend_from_slice(&self.stored_at.to_be_bytes());
        out.push(gen_count);
        for generation in &self.generations {
            out.extend_from_slice(&generation.to_be_bytes());
        }
        out.extend_from_slice(&ct_len.to_be_bytes());
        out.extend_from_slice(ct);
        out.push(etag_len);
        out.extend_from_slice(etag);
        out.extend_from_slice(&body_len.to_be_bytes());
        out.extend_from_slice(&self.body);
        Some(out)
    }

    /// Parses bytes written by [`Envelope::encode`]; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        Self::decode_with(bytes, |body| Bytes::copy_from_slice(&bytes[body]))
    }

    /// [`Envelope::decode`] of bytes already shared: the body is a view of `bytes`, not a
    /// copy (the HIT path: a near-cache entry is replayed without copying its body).
    pub fn decode_shared(bytes: &Bytes) -> Option<Self> {
        Self::decode_with(bytes, |body| bytes.slice(body))
    }

    /// Parses `bytes`, taking the body from the range it occupies through `body`.
    fn decode_with(bytes: &[u8], body: impl FnOnce(Range<usize>) -> Bytes) -> Option<Self> {
        let mut r = Reader(bytes);
        if r.take(2)? != MAGIC || r.u8()? != FORMAT_VERSION {
            return None;
        }
        let status = r.u16()?;
        let stored_at = r.u64()?;
        let gen_count = r.u8()?;
        let generations = (0..gen_count)
            .map(|_| r.u64())
            .collect::<Option<Vec<u64>>>()?;
        let ct_len = usize::from(r.u16()?);
        let content_type = std::str::from_utf8(r.take(ct_len)?).ok()?.to_owned();
        let etag_len = usize::from(r.u8()?);
        let etag = std::str::from_utf8(r.take(etag_len)?).ok()?.to_owned();
        let body_len = usize::try_from(r.u32()?).ok()?;
        let start = bytes.len() - r.0.len();
        r.take(body_len)?;
        if !r.0.is_empty() || !(100..=999).contains(&status) {
            return None;
        }
        let body = body(start..start + body_len);
        Some(Self {
            status,
            content_type,
            etag,
            stored_at,
            generations,
            body,
        })
    }
}

/// Bounds-checked cursor; every read returns `None` instead of panicking on short input.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Envelope {
        Envelope::new(
            200,
            "application/json; charset=utf-8",
            vec![7, 0, u64::MAX],
            br#"{"items":[],"total":0}"#.to_vec(),
        )
    }

    #[test]
    fn round_trip() {
        let env = sample();
        let bytes = env.encode().expect("encodable");
        let back = Envelope::decode(&bytes).expect("decodes");
        assert_eq!(back, env);
        assert_eq!(back.generations, [7, 0, u64::MAX]);
        assert!(back.stored_at > 1_600_000_000);
    }

    #[test]
    fn round_trip_of_a_non_json_body_keeps_its_content_type() {
        let xml = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel/></rss>";
        let env = Envelope::new(
            200,
            "application/rss+xml; charset=utf-8",
            vec![1],
            xml.as_bytes().to_vec(),
        );
        let back = Envelope::decode(&env.encode().unwrap()).unwrap();
        assert_eq!(back.content_type, "application/rss+xml; charset=utf-8");
        assert_eq!(&back.body[..], xml.as_bytes());
        assert_eq!(back.etag, etag_for(xml.as_bytes()));
    }

    #[test]
    fn round_trip_empty_body_and_content_type() {
        let env = Envelope::new(204, "", Vec::new(), Vec::new());
        assert_eq!(Envelope::decode(&env.encode().unwrap()), Some(env));
    }

    #[test]
    fn etag_is_strong_and_content_addressed() {
        let a = etag_for(b"a");
        assert_eq!(a.len(), 34);
        assert!(!a.starts_with("W/"));
        assert_eq!(a, etag_for(b"a"));
        assert_ne!(a, etag_for(b"b"));
        assert_eq!(sample().etag, etag_for(&sample().body));
    }

    #[test]
    fn corrupt_bytes_are_none() {
        assert_eq!(Envelope::decode(b""), None);
        assert_eq!(Envelope::decode(b"not an envelope at all"), None);
        assert_eq!(Envelope::decode(br#"{"items":[]}"#), None);
        let mut bytes = sample().encode().unwrap();
        bytes[0] = b'X';
        assert_eq!(Envelope::decode(&bytes), None);
    }

    #[test]
    fn truncated_is_none_at_every_length() {
        let bytes = sample().encode().unwrap();
        for n in 0..bytes.len() {
            assert_eq!(Envelope::decode(&bytes[..n]), None, "prefix of {n} bytes");
        }
    }

    #[test]
    fn version_1_entries_are_none() {
        // A version-1 entry (one u64 generation, no count) as the previous release stored it.
        let mut v1 = b"HC\x01".to_vec();
        v1.extend_from_slice(&200u16.to_be_bytes());
        v1.extend_from_slice(&1_700_000_000u64.to_be_bytes());
        v1.extend_from_slice(&0u64.to_be_bytes());
        v1.extend_from_slice(&0u16.to_be_bytes());
        v1.push(0);
        v1.extend_from_slice(&2u32.to_be_bytes());
        v1.extend_from_slice(b"{}");
        assert_eq!(Envelope::decode(&v1), None);
        v1[2] = FORMAT_VERSION;
        assert_eq!(Envelope::decode(&v1), None);
    }

    #[test]
    fn too_many_generations_is_not_encodable() {
        let env = Envelope::new(200, "", vec![0; 256], Vec::new());
        assert_eq!(env.encode(), None);
        let env = Envelope::new(200, "", vec![1; 255], Vec::new());
        assert_eq!(Envelope::decode(&env.encode().unwrap()), Some(env));
    }

    #[test]
    fn trailing_bytes_are_none() {
        let mut bytes = sample().encode().unwrap();
        bytes.push(0);
        assert_eq!(Envelope::decode(&bytes), None);
    }

    #[test]
    fn wrong_version_is_none() {
        let mut bytes = sample().encode().unwrap();
        bytes[2] = FORMAT_VERSION + 1;
        assert_eq!(Envelope::decode(&bytes), None);
        bytes[2] = 0;
        assert_eq!(Envelope::decode(&bytes), None);
    }

    #[test]
    fn invalid_utf8_and_status_are_none() {
        let mut env = sample();
        env.status = 42;
        assert_eq!(Envelope::decode(&env.encode().unwrap()), None);
        let mut bytes = sample().encode().unwrap();
        // First byte of the content type (after three generations).
        bytes[2 + 1 + 2 + 8 + 1 + 3 * 8 + 2] = 0xff;
        assert_eq!(Envelope::decode(&bytes), None);
    }
}
