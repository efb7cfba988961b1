//! Responses recorded from the simulator, for the bare server to answer with.
//!
//! The driver asks the simulator for every request target a variant's load will send, with the
//! same `Host` header the load generator sends, and keeps each response's status, headers and
//! body. The bare server then answers each target with exactly those bytes (hyper adds `date` and
//! `content-length` itself, as it does for the simulator).
//!
//! On disk a corpus is a text header per response followed by its body:
//!
//! ```text
//! insightsim-page-corpus 1
//! target /v1/instances/…/data/Customer?$top=100&$skip=500    (or `fallback`: any other target)
//! status 200
//! header content-type: application/json; odata.metadata=minimal; charset=utf-8
//! body 55139
//! <55139 bytes>
//! ```

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

const MAGIC: &str = "insightsim-page-corpus 1";

/// Headers hyper writes on its own for every response; the bare server must not repeat them.
const HYPER_OWNED: &[&str] = &["date", "content-length", "transfer-encoding", "connection"];

/// One response as the simulator sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// The answers of the bare server: by request target, and for any other target.
#[derive(Debug, Default)]
pub struct Corpus {
    pub by_target: HashMap<String, Recorded>,
    pub fallback: Option<Recorded>,
}

impl Corpus {
    pub fn insert(&mut self, target: String, response: Recorded) {
        self.by_target.insert(target, response);
    }

    /// The answer to `target`.
    pub fn answer(&self, target: &str) -> Option<&Recorded> {
        self.by_target.get(target).or(self.fallback.as_ref())
    }

    /// Mean body length of the distinct responses.
    pub fn mean_body_bytes(&self) -> usize {
        let bodies: Vec<usize> = self
            .by_target
            .values()
            .chain(&self.fallback)
            .map(|r| r.body.len())
            .collect();
        bodies.iter().sum::<usize>() / bodies.len().max(1)
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create the corpus file {}", path.display()))?;
        let mut out = BufWriter::new(file);
        writeln!(out, "{MAGIC}")?;
        let mut targets: Vec<&String> = self.by_target.keys().collect();
        targets.sort();
        let entries = targets
            .into_iter()
            .map(|t| (Some(t.as_str()), &self.by_target[t]))
            .chain(self.fallback.iter().map(|r| (None, r)));
        for (target, r) in entries {
            match target {
                Some(t) => writeln!(out, "target {t}")?,
                None => writeln!(out, "fallback")?,
            }
            writeln!(out, "status {}", r.status)?;
            for (name, value) in &r.headers {
                writeln!(out, "header {name}: {value}")?;
            }
            writeln!(out, "body {}", r.body.len())?;
            out.write_all(&r.body)?;
            writeln!(out)?;
        }
        out.flush()?;
        Ok(())
    }

    pub fn read(path: &Path) -> anyhow::Result<Corpus> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("cannot open the corpus file {}", path.display()))?;
        let mut input = BufReader::new(file);
        let mut line = String::new();
        let mut next_line = |input: &mut BufReader<std::fs::File>| -> anyhow::Result<String> {
            line.clear();
            input.read_line(&mut line)?;
            Ok(line.trim_end_matches('\n').to_owned())
        };
        if next_line(&mut input)? != MAGIC {
            bail!(
                "{} is not a page corpus (it must start with \"{MAGIC}\")",
                path.display()
            );
        }
        let mut corpus = Corpus::default();
        loop {
            let head = next_line(&mut input)?;
            if head.is_empty() {
                return Ok(corpus);
            }
            let target = match head.strip_prefix("target ") {
                Some(t) => Some(t.to_owned()),
                None if head == "fallback" => None,
                None => {
                    bail!("unexpected line {head:?} in the corpus; expected target or fallback")
                }
            };
            let status_line = next_line(&mut input)?;
            let status = status_line
                .strip_prefix("status ")
                .and_then(|s| s.parse().ok())
                .with_context(|| {
                    format!("expected \"status N\" in the corpus, got {status_line:?}")
                })?;
            let mut headers = Vec::new();
            let body_len: usize = loop {
                let l = next_line(&mut input)?;
                if let Some(h) = l.strip_prefix("header ") {
                    let (name, value) = h
                        .split_once(": ")
                        .with_context(|| format!("malformed header line {l:?} in the corpus"))?;
                    headers.push((name.to_owned(), value.to_owned()));
                } else if let Some(n) = l.strip_prefix("body ") {
                    break n
                        .parse()
                        .with_context(|| format!("malformed body length in {l:?}"))?;
                } else {
                    bail!(
                        "unexpected line {l:?} in the corpus; expected a header or the body length"
                    );
                }
            };
            let mut body = vec![0; body_len + 1];
            input
                .read_exact(&mut body)
                .context("the corpus ends inside a body")?;
            body.pop();
            let recorded = Recorded {
                status,
                headers,
                body: Bytes::from(body),
            };
            match target {
                Some(t) => corpus.insert(t, recorded),
                None => corpus.fallback = Some(recorded),
            }
        }
    }
}

/// One keep-alive HTTP/1.1 connection to a server, sending what the load generator sends: `Host`
/// as the address and a bearer token.
pub struct Client {
    sender: SendRequest<Empty<Bytes>>,
    host: String,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Client> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("http handshake failed")?;
        tokio::spawn(connection);
        Ok(Client {
            sender,
            host: addr.to_string(),
        })
    }

    pub async fn get(&mut self, target: &str, token: &str) -> anyhow::Result<Recorded> {
        let request = Request::get(target)
            .header("host", &self.host)
            .header("authorization", format!("Bearer {token}"))
            .body(Empty::<Bytes>::new())
            .with_context(|| format!("cannot build a request for {target}"))?;
        self.sender.ready().await.context("the connection closed")?;
        let response = self
            .sender
            .send_request(request)
            .await
            .with_context(|| format!("GET {target} failed"))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter(|(name, _)| !HYPER_OWNED.contains(&name.as_str()))
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .with_context(|| format!("reading the body of GET {target} failed"))?
            .to_bytes();
        Ok(Recorded {
            status,
            headers,
            body,
        })
    }
}
