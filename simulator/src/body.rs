//! A response body made of pieces: bytes written for this response, and slices shared with the
//! row cache (sent without copying, with vectored writes).

use bytes::Bytes;

#[derive(Debug, Clone, Default)]
pub struct Body {
    pieces: Vec<Bytes>,
}

impl Body {
    pub fn pieces(&self) -> &[Bytes] {
        &self.pieces
    }

    pub fn into_pieces(self) -> Vec<Bytes> {
        self.pieces
    }

    /// The whole body as one buffer (copies when it has several pieces).
    pub fn to_bytes(&self) -> Bytes {
        match self.pieces.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut out = Vec::with_capacity(self.len());
                for p in many {
                    out.extend_from_slice(p);
                }
                Bytes::from(out)
            }
        }
    }

    pub fn len(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PartialEq for Body {
    fn eq(&self, other: &Body) -> bool {
        self.to_bytes() == other.to_bytes()
    }
}

impl Eq for Body {}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body { pieces: vec![b] }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body::from(Bytes::from(v))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::from(Bytes::from(s))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::from(Bytes::from_static(s.as_bytes()))
    }
}

/// Builds a [`Body`]: small writes go to a buffer, large shared slices become pieces of their own.
#[derive(Debug, Default)]
pub struct BodyWriter {
    pieces: Vec<Bytes>,
    buf: Vec<u8>,
}

/// Slices shorter than this are copied: a piece of its own costs more than copying them.
const SHARE_MIN_BYTES: usize = 2048;

impl BodyWriter {
    pub fn with_capacity(bytes: usize) -> BodyWriter {
        BodyWriter {
            pieces: Vec::new(),
            buf: Vec::with_capacity(bytes),
        }
    }

    /// The buffer to write small things into.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Appends a shared slice.
    pub fn share(&mut self, bytes: Bytes) {
        if bytes.len() < SHARE_MIN_BYTES {
            self.buf.extend_from_slice(&bytes);
            return;
        }
        if !self.buf.is_empty() {
            self.pieces.push(Bytes::from(std::mem::take(&mut self.buf)));
        }
        self.pieces.push(bytes);
    }

    pub fn finish(mut self) -> Body {
        if !self.buf.is_empty() || self.pieces.is_empty() {
            self.pieces.push(Bytes::from(self.buf));
        }
        Body {
            pieces: self.pieces,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_written_and_shared_bytes_in_order() {
        let mut w = BodyWriter::default();
        w.buf().extend_from_slice(b"[");
        w.share(Bytes::from(vec![b'a'; 3000]));
        w.buf().push(b',');
        w.share(Bytes::from_static(b"small"));
        w.buf().push(b']');
        let body = w.finish();
        assert_eq!(body.pieces().len(), 3);
        let all = body.to_bytes();
        assert_eq!(all.len(), 1 + 3000 + 1 + 5 + 1);
        assert!(all.starts_with(b"[a") && all.ends_with(b",small]"));
    }
}
