//! The bare server: hyper 1.x on tokio, answering from a recorded corpus.
//!
//! It runs as its own process (the benchmark binary started again with `--bare-server CORPUS`),
//! on a multi-threaded tokio runtime with the default number of workers (one per core), as
//! `insightsim serve` does. Per request it looks the request target (path and query, as sent) up
//! in a hash map and answers with the recorded status, headers and body; the body is one shared
//! buffer (`Full<Bytes>`), which is what a plain hyper service returning a prepared body does.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::corpus::{Corpus, Recorded};

/// A recorded response ready to be sent many times.
struct Prepared {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl Prepared {
    fn new(r: &Recorded) -> anyhow::Result<Prepared> {
        let headers = r
            .headers
            .iter()
            .map(|(name, value)| {
                Ok((
                    HeaderName::from_bytes(name.as_bytes())?,
                    HeaderValue::from_str(value)?,
                ))
            })
            .collect::<anyhow::Result<_>>()
            .context("a recorded header is not valid")?;
        Ok(Prepared {
            status: StatusCode::from_u16(r.status).context("a recorded status is not valid")?,
            headers,
            body: r.body.clone(),
        })
    }

    fn response(&self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body.clone()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        response
    }
}

struct Answers {
    by_target: HashMap<String, Prepared>,
    fallback: Option<Prepared>,
    not_found: Prepared,
}

impl Answers {
    fn answer(&self, target: &str) -> &Prepared {
        self.by_target
            .get(target)
            .or(self.fallback.as_ref())
            .unwrap_or(&self.not_found)
    }
}

/// Serves the corpus at `path` on a free loopback port until the process is killed. Prints
/// `listening on http://ADDR` once it accepts connections.
pub fn serve(path: &Path) -> anyhow::Result<()> {
    let corpus = Corpus::read(path)?;
    let answers = Answers {
        by_target: corpus
            .by_target
            .iter()
            .map(|(t, r)| Ok((t.clone(), Prepared::new(r)?)))
            .collect::<anyhow::Result<_>>()?,
        fallback: corpus.fallback.as_ref().map(Prepared::new).transpose()?,
        not_found: Prepared::new(&Recorded {
            status: 404,
            headers: Vec::new(),
            body: Bytes::from_static(b"not in the corpus"),
        })?,
    };
    drop(corpus);
    let answers = Arc::new(answers);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen on 127.0.0.1")?;
        println!("listening on http://{}", listener.local_addr()?);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let answers = answers.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let target = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
                    let response = answers.answer(target).response();
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
