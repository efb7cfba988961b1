//! A response body sent piece by piece (hyper writes the pieces with vectored writes).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::gate::Busy;
use crate::body::Body;

/// A response body sent piece by piece. While it lives, its connection counts as busy (the
/// gate does not time the client while the server is answering it).
pub struct Pieces {
    /// The pieces left to send (an empty one is skipped).
    pieces: std::vec::IntoIter<Bytes>,
    remaining: u64,
    _busy: Option<Busy>,
}

impl From<Body> for Pieces {
    fn from(body: Body) -> Pieces {
        let remaining = body.len() as u64;
        Pieces {
            pieces: body.into_pieces().into_iter(),
            remaining,
            _busy: None,
        }
    }
}

impl Pieces {
    pub(super) fn busy_until_sent(mut self, busy: Busy) -> Pieces {
        self._busy = Some(busy);
        self
    }
}

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.pieces.find(|p| !p.is_empty());
        if let Some(piece) = &next {
            self.remaining -= piece.len() as u64;
        }
        Poll::Ready(next.map(|piece| Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
