//! The gate: a connection's bytes pass through it on their way to hyper, and it reads each
//! request head first.
//!
//! hyper answers a head that is too large or malformed on its own, with a bare status and no
//! body, and has no hook to change that. So the gate holds each head back until it is complete
//! and checks it (its size, `httparse`'s verdict, its framing) before hyper sees a byte of it.
//! A head that fails, or that does not arrive within `limits.server_header_read_timeout` of its
//! first byte, never reaches hyper: the gate hands hyper a one-line request of its own instead,
//! marked with [`REFUSED_HEADER`], and leaves the refusal in the connection's [`ConnState`]; the
//! service answers that request with the refusal (a body that says "insightsim server limit")
//! and closes the connection. The client's bytes after a refused head are never read. A connection idle for `limits.server_idle_timeout` between
//! requests reads as closed.
//!
//! To know where the next head starts, the gate follows each body's framing (its
//! `Content-Length`, or its chunks) without changing a byte of it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::limits::{
    HEADERS_MAX, ServerLimits, head_too_large, head_too_slow, malformed_head, too_many_headers,
};
use crate::api::ApiError;

/// The header that marks the gate's own request (the service looks for a pending refusal only
/// when it is present).
pub(super) static REFUSED_HEADER: http::HeaderName =
    http::HeaderName::from_static("x-insightsim-refused");

/// What the gate hands hyper instead of a refused head.
const REFUSED_REQUEST: &[u8] = b"GET /_insightsim/refused HTTP/1.1\r\nhost: insightsim\r\nx-insightsim-refused: 1\r\nconnection: close\r\n\r\n";

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 8192;

/// Longest chunk extension or trailer line the gate follows.
const CHUNK_LINE_MAX: usize = 4096;

/// What the gate and the service of one connection share.
#[derive(Debug, Default)]
pub(super) struct ConnState {
    /// The refusal the gate's own request stands for.
    refusal: Mutex<Option<ApiError>>,
    /// Requests being answered (while any is, the gate does not time the client).
    busy: AtomicUsize,
}

impl ConnState {
    pub(super) fn take_refusal(&self) -> Option<ApiError> {
        self.refusal.lock().take()
    }

    /// Marks the connection busy until the guard is dropped (with the response's body).
    pub(super) fn busy(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire) > 0
    }
}

/// A request being answered; see [`ConnState::busy`].
#[derive(Debug)]
pub(super) struct Busy(Arc<ConnState>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The limits the gate applies.
#[derive(Debug, Clone, Copy)]
pub(super) struct GateLimits {
    pub(super) head_bytes_max: usize,
    pub(super) header_read_timeout: Duration,
    pub(super) idle_timeout: Duration,
}

impl From<&ServerLimits> for GateLimits {
    fn from(l: &ServerLimits) -> GateLimits {
        GateLimits {
            head_bytes_max: l.header_bytes_max,
            header_read_timeout: l.header_read_timeout,
            idle_timeout: l.idle_timeout,
        }
    }
}

/// How the current body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked(Chunk),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for (or reading) a request head.
    Head,
    /// Handing hyper a checked head of this many more bytes, then its body.
    Release {
        left: usize,
        then: Framing,
    },
    Body(Framing),
    /// Handing hyper the gate's own request (this many bytes of it sent).
    Refused {
        sent: usize,
    },
    /// After the gate's own request: nothing more to read, ever. Not an end of stream, which
    /// would make hyper drop the connection before it answers (it does not support half-closed
    /// connections); the answer closes the connection instead.
    Stalled,
    /// End of stream for hyper.
    Closed,
}

/// Which timer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Between requests: the idle timeout.
    Idle,
    /// A head has started: the head timeout.
    Head,
}

/// A connection's reading side, seen through the gate (the writing side passes through).
pub(super) struct Gate<S> {
    io: S,
    state: Arc<ConnState>,
    limits: GateLimits,
    /// Bytes read from the socket and not yet handed to hyper: `inbuf[pos..end]`. Past `end`
    /// the buffer is room to read into, zeroed once when it grows (not for every read).
    inbuf: Vec<u8>,
    pos: usize,
    end: usize,
    /// In the head phase, how far `inbuf[pos..]` has been searched for the head's end.
    scanned: usize,
    phase: Phase,
    eof: bool,
    timer: Option<(Wait, Pin<Box<Sleep>>)>,
}

impl<S> Gate<S> {
    pub(super) fn new(io: S, state: Arc<ConnState>, limits: GateLimits) -> Gate<S> {
        Gate {
            io,
            state,
            limits,
            inbuf: Vec::new(),
            pos: 0,
            end: 0,
            scanned: 0,
            phase: Phase::Head,
            eof: false,
            timer: None,
        }
    }

    fn available(&self) -> &[u8] {
        &self.inbuf[self.pos..self.end]
    }

    fn hand(&mut self, buf: &mut ReadBuf<'_>, n: usize) {
        let n = n.min(buf.remaining()).min(self.end - self.pos);
        buf.put_slice(&self.inbuf[self.pos..self.pos + n]);
        self.pos += n;
    }

    /// Stops reading the client: hyper gets the gate's own request, then the end.
    fn refuse(&mut self, refusal: ApiError) {
        *self.state.refusal.lock() = Some(refusal);
        self.inbuf = Vec::new();
        self.pos = 0;
        self.end = 0;
        self.phase = Phase::Refused { sent: 0 };
        self.timer = None;
    }

    /// Looks for a complete head in the bytes read; checks it when found.
    fn check_head(&mut self) -> Option<Result<(usize, Framing), ApiError>> {
        let avail = self.available();
        let from = self.scanned.saturating_sub(3);
        let end = avail[from..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| from + i + 4);
        let Some(end) = end else {
            let len = avail.len();
            self.scanned = len;
            return (len > self.limits.head_bytes_max).then(|| Err(self.too_large()));
        };
        if end > self.limits.head_bytes_max {
            return Some(Err(self.too_large()));
        }
        Some(framing(&avail[..end]).map(|f| (end, f)))
    }

    fn too_large(&self) -> ApiError {
        head_too_large(self.limits.head_bytes_max)
    }
}

/// The framing of the body that follows `head` (a complete head, `\r\n\r\n` included), or why
/// the head is refused.
fn framing(head: &[u8]) -> Result<Framing, ApiError> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(malformed_head("the head is incomplete")),
        Err(httparse::Error::TooManyHeaders) => return Err(too_many_headers()),
        Err(e) => return Err(malformed_head(&e.to_string())),
    }
    // What hyper would refuse on its own (with a bare status) is refused here first.
    if req
        .path
        .is_some_and(|path| http::Uri::try_from(path).is_err())
    {
        return Err(malformed_head("the request target is not a valid URI"));
    }
    let (mut chunked, mut length) = (None, None);
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(h.value).unwrap_or("").trim();
            let n: u64 = text
                .parse()
                .ok()
                .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| malformed_head("Content-Length is not a whole number"))?;
            if length.is_some_and(|l| l != n) {
                return Err(malformed_head("two different Content-Length headers"));
            }
            length = Some(n);
        }
    }
    if chunked.is_some() && req.version == Some(0) {
        return Err(malformed_head(
            "Transfer-Encoding in an HTTP/1.0 request; send HTTP/1.1 or Content-Length",
        ));
    }
    match (chunked, length) {
        (Some(true), None) => Ok(Framing::Chunked(Chunk::Size {
            value: 0,
            digits: 0,
        })),
        (Some(true), Some(_)) => Err(malformed_head(
            "both Transfer-Encoding and Content-Length; send one",
        )),
        (Some(false), _) => Err(malformed_head(
            "a Transfer-Encoding other than chunked; send the body with Content-Length",
        )),
        (None, length) => Ok(Framing::Length(length.unwrap_or(0))),
    }
}

/// Where a chunked body's reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size {
        value: u64,
        digits: u8,
    },
    Extension {
        value: u64,
        len: usize,
    },
    SizeLf {
        value: u64,
    },
    Data(u64),
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final CRLF).
    Trailer,
    TrailerLine {
        len: usize,
    },
    TrailerLf,
    EndLf,
    Done,
}

impl Chunk {
    /// Follows `bytes`: how many belong to this body (all of them unless it ends inside), or
    /// why the chunks are malformed.
    fn follow(&mut self, bytes: &[u8]) -> Result<usize, &'static str> {
        let mut i = 0;
        while i < bytes.len() && *self != Chunk::Done {
            if let Chunk::Data(left) = *self {
                let n = (left as usize).min(bytes.len() - i);
                i += n;
                let left = left - n as u64;
                *self = if left == 0 {
                    Chunk::DataCr
                } else {
                    Chunk::Data(left)
                };
                continue;
            }
            let b = bytes[i];
            i += 1;
            *self = match (*self, b) {
                (Chunk::Size { value, digits }, b) if b.is_ascii_hexdigit() => {
                    if digits >= 15 {
                        return Err("a chunk size is too large");
                    }
                    let d = (b as char).to_digit(16).unwrap_or(0);
                    Chunk::Size {
                        value: value * 16 + u64::from(d),
                        digits: digits + 1,
                    }
                }
                (Chunk::Size { digits: 0, .. }, _) => {
                    return Err("a chunk size is not hexadecimal");
                }
                (Chunk::Size { value, .. }, b';' | b' ' | b'\t') => {
                    Chunk::Extension { value, len: 0 }
                }
                (Chunk::Size { value, .. } | Chunk::Extension { value, .. }, b'\r') => {
                    Chunk::SizeLf { value }
                }
                (Chunk::Size { .. }, _) => return Err("a chunk size is not hexadecimal"),
                (Chunk::Extension { len, .. }, _) if len >= CHUNK_LINE_MAX => {
                    return Err("a chunk extension is too long");
                }
                (Chunk::Extension { value, len }, _) => Chunk::Extension {
                    value,
                    len: len + 1,
                },
                (Chunk::SizeLf { value: 0 }, b'\n') => Chunk::Trailer,
                (Chunk::SizeLf { value }, b'\n') => Chunk::Data(value),
                (Chunk::DataCr, b'\r') => Chunk::DataLf,
                (Chunk::DataLf, b'\n') => Chunk::Size {
                    value: 0,
                    digits: 0,
                },
                (Chunk::Trailer, b'\r') => Chunk::EndLf,
                (Chunk::Trailer, _) => Chunk::TrailerLine { len: 1 },
                (Chunk::TrailerLine { .. }, b'\r') => Chunk::TrailerLf,
                (Chunk::TrailerLine { len }, _) if len >= CHUNK_LINE_MAX => {
                    return Err("a trailer line is too long");
                }
                (Chunk::TrailerLine { len }, _) => Chunk::TrailerLine { len: len + 1 },
                (Chunk::TrailerLf, b'\n') => Chunk::Trailer,
                (Chunk::EndLf, b'\n') => Chunk::Done,
                _ => return Err("a chunk is not followed by CRLF"),
            };
        }
        Ok(i)
    }
}

impl<S: AsyncRead + Unpin> Gate<S> {
    /// Reads more bytes from the socket into the gate's buffer.
    fn fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        } else if self.pos > READ_CHUNK {
            self.inbuf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        let end = self.end;
        if self.inbuf.len() < end + READ_CHUNK {
            self.inbuf.resize(end + READ_CHUNK, 0);
        }
        let mut read = ReadBuf::new(&mut self.inbuf[end..end + READ_CHUNK]);
        let polled = Pin::new(&mut self.io).poll_read(cx, &mut read);
        let n = read.filled().len();
        self.end += n;
        ready!(polled)?;
        if n == 0 {
            self.eof = true;
        }
        Poll::Ready(Ok(()))
    }

    /// No head is complete and the socket has nothing: run the idle or head timer. `Ready`
    /// when it ran out (the gate has moved on).
    fn wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.is_busy() {
            // The server is answering: the client is waiting for us, not idle.
            self.timer = None;
            return Poll::Pending;
        }
        let wait = if self.available().is_empty() {
            Wait::Idle
        } else {
            Wait::Head
        };
        if self.timer.as_ref().is_none_or(|(w, _)| *w != wait) {
            let after = match wait {
                Wait::Idle => self.limits.idle_timeout,
                Wait::Head => self.limits.header_read_timeout,
            };
            self.timer = Some((wait, Box::pin(tokio::time::sleep(after))));
        }
        let Some((_, timer)) = self.timer.as_mut() else {
            return Poll::Pending;
        };
        ready!(timer.as_mut().poll(cx));
        match wait {
            Wait::Idle => self.phase = Phase::Closed,
            Wait::Head => {
                self.refuse(head_too_slow(self.limits.header_read_timeout));
            }
        }
        Poll::Ready(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Gate<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let gate = self.get_mut();
        loop {
            match gate.phase {
                Phase::Closed => return Poll::Ready(Ok(())),
                Phase::Stalled => return Poll::Pending,
                Phase::Refused { sent } => {
                    let rest = &REFUSED_REQUEST[sent..];
                    let n = rest.len().min(buf.remaining());
                    buf.put_slice(&rest[..n]);
                    gate.phase = if sent + n == REFUSED_REQUEST.len() {
                        Phase::Stalled
                    } else {
                        Phase::Refused { sent: sent + n }
                    };
                    return Poll::Ready(Ok(()));
                }
                Phase::Release { left, then } => {
                    let before = gate.pos;
                    gate.hand(buf, left);
                    let left = left - (gate.pos - before);
                    gate.phase = match (left, then) {
                        (0, Framing::Length(0)) => Phase::Head,
                        (0, then) => Phase::Body(then),
                        (left, then) => Phase::Release { left, then },
                    };
                    return Poll::Ready(Ok(()));
                }
                Phase::Body(framing) => {
                    if gate.available().is_empty() {
                        if gate.eof {
                            return Poll::Ready(Ok(()));
                        }
                        ready!(gate.fill(cx))?;
                        continue;
                    }
                    let room = buf.remaining().min(gate.available().len());
                    let (n, next) = match framing {
                        Framing::Length(left) => {
                            let n = (left.min(room as u64)) as usize;
                            let left = left - n as u64;
                            let next = if left == 0 {
                                Phase::Head
                            } else {
                                Phase::Body(Framing::Length(left))
                            };
                            (n, next)
                        }
                        Framing::Chunked(mut chunk) => {
                            let avail = &gate.inbuf[gate.pos..gate.pos + room];
                            let n = chunk
                                .follow(avail)
                                .map_err(|why| io::Error::new(io::ErrorKind::InvalidData, why))?;
                            let next = if chunk == Chunk::Done {
                                Phase::Head
                            } else {
                                Phase::Body(Framing::Chunked(chunk))
                            };
                            (n, next)
                        }
                    };
                    gate.hand(buf, n);
                    gate.phase = next;
                    gate.scanned = 0;
                    return Poll::Ready(Ok(()));
                }
                Phase::Head => {
                    match gate.check_head() {
                        Some(Ok((left, then))) => {
                            gate.phase = Phase::Release { left, then };
                            gate.scanned = 0;
                            gate.timer = None;
                            continue;
                        }
                        Some(Err(refusal)) => {
                            gate.refuse(refusal);
                            continue;
                        }
                        None => {}
                    }
                    if gate.eof {
                        // The client closed (between requests, or in the middle of a head).
                        gate.phase = Phase::Closed;
                        continue;
                    }
                    match gate.fill(cx) {
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => {
                            ready!(gate.wait(cx));
                        }
                    }
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Gate<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(body: &[u8]) -> Result<(usize, bool), &'static str> {
        let mut c = Chunk::Size {
            value: 0,
            digits: 0,
        };
        let n = c.follow(body)?;
        Ok((n, c == Chunk::Done))
    }

    #[test]
    fn follows_chunks_to_the_end_of_the_body_and_no_further() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nGET / HTTP/1.1";
        let end = body.len() - b"GET / HTTP/1.1".len();
        assert_eq!(chunks(body), Ok((end, true)));
        // Byte by byte gives the same.
        let mut c = Chunk::Size {
            value: 0,
            digits: 0,
        };
        let mut taken = 0;
        for b in body.iter() {
            taken += c.follow(std::slice::from_ref(b)).unwrap();
        }
        assert_eq!((taken, c), (end, Chunk::Done));
    }

    #[test]
    fn refuses_malformed_chunks() {
        assert!(chunks(b"zz\r\n").is_err());
        assert!(chunks(b"5\r\nhelloXX").is_err());
        assert!(chunks(b"ffffffffffffffffff\r\n").is_err());
        assert_eq!(chunks(b"3\r\nab"), Ok((5, false)));
    }

    #[test]
    fn reads_the_framing_of_a_head() {
        let head = |extra: &str| format!("POST /v1 HTTP/1.1\r\nhost: x\r\n{extra}\r\n");
        assert_eq!(framing(head("").as_bytes()), Ok(Framing::Length(0)));
        assert_eq!(
            framing(head("content-length: 12\r\n").as_bytes()),
            Ok(Framing::Length(12))
        );
        assert!(matches!(
            framing(head("transfer-encoding: gzip, chunked\r\n").as_bytes()),
            Ok(Framing::Chunked(_))
        ));
        for bad in [
            "content-length: 1\r\ncontent-length: 2\r\n",
            "content-length: -1\r\n",
            "content-length: 3\r\ntransfer-encoding: chunked\r\n",
            "transfer-encoding: gzip\r\n",
            "bad header\r\n",
        ] {
            let e = framing(head(bad).as_bytes()).unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
        }
        for bad in [
            "GET http://[::1 HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(framing(bad.as_bytes()).unwrap_err().status, 400, "{bad}");
        }
        let many: String = (0..=HEADERS_MAX).map(|i| format!("h{i}: v\r\n")).collect();
        assert_eq!(framing(head(&many).as_bytes()).unwrap_err().status, 431);
    }
}
