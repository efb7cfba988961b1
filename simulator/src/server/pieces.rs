//! A response body sent piece by piece (hyper writes the pieces with vectored writes).

use std::collections::VecDeque;
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
    pieces: VecDeque<Bytes>,
    remaining: u64,
    _busy: Option<Busy>,
}

impl From<Body> for Pieces {
    fn from(body: Body) -> Pieces {
        let remaining = body.len() as u64;
        Pieces {
            pieces: body
                .into_pieces()
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect(),
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
        let next = self.pieces.pop_front();
        if let Some(piece) = &next {
            self.remaining -= piece.len() as u64;
        }
        Poll::Ready(next.map(|piece| Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.pieces.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
