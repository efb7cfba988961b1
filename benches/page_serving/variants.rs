//! The variants: what each starts, records, loads and reports.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use crate::corpus::{Client, Corpus, Recorded};
use crate::measure::{Expect, Ratio, Side, SideRuns, interleaved, median, run_once, table};
use crate::process::{Server, SimArgs, loadavg};
use crate::wrk::Load;

/// Every variant, in the order they run by default.
pub const ALL: &[(&str, &str)] = &[
    (
        "fixed-10k",
        "one page ($top=100&$skip=500), 10,000 customers, limit off",
    ),
    (
        "random-10k",
        "random pages ($top=100, $skip a random multiple of 100), 10,000 customers: limit off, and limit on but not binding",
    ),
    (
        "fixed-1m",
        "one page ($top=100&$skip=500), 1,000,000 customers, limit off",
    ),
    (
        "random-1m",
        "random pages ($top=100, $skip a random multiple of 100), 1,000,000 customers, limit off",
    ),
    (
        "throttled-10k",
        "the 429 path: a binding limit (1 call a day per token) against a bare server answering the same 429",
    ),
    (
        "filter-1m",
        "$filter=EMail eq '…' (an indexed field) with 1,000 e-mails taken from the simulator, 1,000,000 customers, limit off",
    ),
    (
        "orderby-1m",
        "p99 of random pages at 1,000,000 customers, alone and while 5 more connections run $orderby=Telephone (not indexed)",
    ),
    (
        "startup-10m",
        "10,000,000 customers: time from spawning serve to its first answer, and resident memory",
    ),
];

/// The name of the `--compare` build's side.
const COMPARED: &str = "compared build";

/// A call limit that is on but does not bind: each of the load's tokens makes a few hundred calls
/// a second at most, far below a million per 60 s.
const NOT_BINDING: &str = "1000000/60s";

/// A call limit that binds from each token's second call on for a day: every measured call is a
/// 429 (the warm-up run spends each token's one admitted call) and `Retry-After` keeps 5 digits.
const BINDING: &str = "1/1d";

/// The refresh schedule is switched off: a scheduled refresh (the demo runs one 10 s after start,
/// then every 5 minutes) would land in some runs and not others. Nothing else is changed.
const TENANT: &str = "[refresh]\nschedule_enabled = false\n";

pub struct Bench {
    pub exe: PathBuf,
    /// Another insightsim build, run as one more side next to `exe` (`--compare`).
    pub compare: Option<PathBuf>,
    pub wrk: PathBuf,
    pub dir: PathBuf,
    pub script: PathBuf,
    pub threads: usize,
    pub connections: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub runs: usize,
    pub seed: u64,
    pub tokens_per_thread: usize,
    pub runtime: tokio::runtime::Runtime,
    /// Rows of the final summary table (Markdown).
    pub summary: Vec<String>,
    /// Results that are not a comparison with the bare server, one line each.
    pub notes: Vec<String>,
}

impl Bench {
    pub fn run(&mut self, variant: &str) -> anyhow::Result<()> {
        let about = ALL
            .iter()
            .find(|(name, _)| *name == variant)
            .map(|(_, about)| *about)
            .with_context(|| format!("unknown variant {variant}; see --list"))?;
        eprintln!("\n== {variant}: {about}");
        eprintln!("   load average before: {}", loadavg());
        let started = Instant::now();
        match variant {
            "fixed-10k" => self.pages(variant, 10_000, false, false)?,
            "random-10k" => self.pages(variant, 10_000, true, true)?,
            "fixed-1m" => self.pages(variant, 1_000_000, false, false)?,
            "random-1m" => self.pages(variant, 1_000_000, true, false)?,
            "throttled-10k" => self.throttled(variant)?,
            "filter-1m" => self.filter(variant)?,
            "orderby-1m" => self.orderby(variant)?,
            "startup-10m" => self.startup(10_000_000)?,
            _ => bail!("variant {variant} has no implementation"),
        }
        eprintln!(
            "   load average after: {} ({:.0} s)",
            loadavg(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    fn tenant(&self) -> anyhow::Result<PathBuf> {
        let path = self.dir.join("tenant.toml");
        std::fs::write(&path, TENANT)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    fn sim(&self, customers: u64, rate_limit: &str) -> anyhow::Result<Server> {
        self.sim_of(&self.exe, customers, rate_limit)
    }

    /// The `--compare` build with the same settings, when one is given.
    fn compared(&self, customers: u64, rate_limit: &str) -> anyhow::Result<Option<Server>> {
        self.compare
            .as_ref()
            .map(|exe| self.sim_of(exe, customers, rate_limit))
            .transpose()
    }

    fn sim_of(&self, exe: &Path, customers: u64, rate_limit: &str) -> anyhow::Result<Server> {
        let tenant = self.tenant()?;
        let server = Server::sim(&SimArgs {
            exe,
            customers,
            rate_limit,
            tenant: &tenant,
        })?;
        eprintln!(
            "   {} serve --customers {customers} --rate-limit {rate_limit}: listening after {} ms",
            exe.display(),
            server.listening_after.as_millis()
        );
        Ok(server)
    }

    fn load(&self, name: &str, targets: &[String]) -> anyhow::Result<Load> {
        let path = self.dir.join(format!("{name}.targets"));
        std::fs::write(&path, targets.join("\n") + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Load {
            wrk: self.wrk.clone(),
            script: self.script.clone(),
            targets: path,
            threads: self.threads,
            connections: self.connections,
            duration: self.duration,
            tokens_per_thread: self.tokens_per_thread,
            token_prefix: "bench".to_owned(),
            seed: self.seed,
        })
    }

    fn tokens(&self) -> u64 {
        (self.threads * self.tokens_per_thread) as u64
    }

    /// GETs every target from `server` once, in order, on one connection.
    fn record(&self, server: &Server, targets: &[String]) -> anyhow::Result<Corpus> {
        let started = Instant::now();
        let corpus = self.runtime.block_on(async {
            let mut client = Client::connect(server.addr).await?;
            let mut corpus = Corpus::default();
            for target in targets {
                let r = client.get(target, "bench-record").await?;
                if r.status != 200 {
                    bail!(
                        "GET {target} answered {}: {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                    );
                }
                corpus.insert(target.clone(), r);
            }
            Ok(corpus)
        })?;
        eprintln!(
            "   recorded {} responses (mean body {} bytes) in {:.1} s",
            corpus.by_target.len(),
            corpus.mean_body_bytes(),
            started.elapsed().as_secs_f64()
        );
        Ok(corpus)
    }

    /// Waits until `server` is idle and answers `target` within 100 ms (at most two minutes).
    fn wait_serving(&self, server: &Server, target: &str) -> anyhow::Result<Duration> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(120) {
            server.wait_idle()?;
            let answered = self.runtime.block_on(async {
                let probe = async {
                    let mut client = Client::connect(server.addr).await?;
                    client.get(target, "bench-probe").await
                };
                tokio::time::timeout(Duration::from_millis(100), probe).await
            });
            if matches!(answered, Ok(Ok(ref r)) if r.status == 200) {
                return Ok(started.elapsed());
            }
        }
        bail!(
            "the server did not answer a page within 100 ms for two minutes after the load stopped"
        )
    }

    fn get(&self, server: &Server, target: &str, token: &str) -> anyhow::Result<Recorded> {
        self.runtime.block_on(async {
            let mut client = Client::connect(server.addr).await?;
            client.get(target, token).await
        })
    }

    /// Starts the bare server on `corpus` and checks that it answers `target` with the recorded
    /// bytes, and that every simulator answers it with as many bytes (they differ only in the
    /// port inside `@odata.context`, which has as many digits).
    fn bare(
        &self,
        name: &str,
        corpus: &Corpus,
        target: &str,
        sims: &[&Server],
    ) -> anyhow::Result<Server> {
        let path = self.dir.join(format!("{name}.corpus"));
        corpus.write(&path)?;
        let bare = Server::bare(&path)?;
        let expected = corpus.answer(target).context("the corpus has no answer")?;
        let got = self.get(&bare, target, "bench-check")?;
        ensure!(
            got == *expected,
            "the bare server does not answer {target} with the recorded response"
        );
        for sim in sims {
            let answer = self.get(sim, target, "bench-check")?;
            ensure!(
                answer.status == expected.status && answer.body.len() == expected.body.len(),
                "the simulator answers {target} with {} and {} bytes, the bare server with {} and {} bytes",
                answer.status,
                answer.body.len(),
                expected.status,
                expected.body.len()
            );
        }
        Ok(bare)
    }

    fn pages(
        &mut self,
        name: &str,
        customers: u64,
        random: bool,
        limit_on_too: bool,
    ) -> anyhow::Result<()> {
        let off = self.sim(customers, "off")?;
        let on = limit_on_too
            .then(|| self.sim(customers, NOT_BINDING))
            .transpose()?;
        let id = instance_id(&off)?;
        if let Some(on) = &on {
            ensure!(
                instance_id(on)? == id,
                "the two simulators serve different instances"
            );
        }
        let targets: Vec<String> = if random {
            (0..customers.saturating_sub(99))
                .step_by(100)
                .map(|skip| page(id, skip))
                .collect()
        } else {
            vec![page(id, 500)]
        };
        let compared = self.compared(customers, "off")?;
        let corpus = self.record(&off, &targets)?;
        let sims: Vec<&Server> = std::iter::once(&off).chain(&on).chain(&compared).collect();
        let bare = self.bare(name, &corpus, &targets[0], &sims)?;
        let load = self.load(name, &targets)?;
        let mut sides = vec![
            Side {
                name: "bare hyper",
                server: &bare,
            },
            Side {
                name: "insightsim (off)",
                server: &off,
            },
        ];
        if let Some(on) = &on {
            sides.push(Side {
                name: "insightsim (on)",
                server: on,
            });
        }
        if let Some(compared) = &compared {
            sides.push(Side {
                name: COMPARED,
                server: compared,
            });
        }
        let expect = vec![Expect::Success; sides.len()];
        let results = interleaved(&sides, &load, self.warmup, self.runs, &expect)?;
        eprint!("{}", table(&results));
        let vs_bare = Ratio::of(&results[1], &results[0]);
        eprintln!("   insightsim (off) / bare hyper: {vs_bare}");
        self.row(
            name,
            &format!("{}, limit off", describe(customers, random)),
            &results[0],
            &results[1],
        );
        if on.is_some() {
            let on_vs_bare = Ratio::of(&results[2], &results[0]);
            let on_vs_off = Ratio::of(&results[2], &results[1]);
            eprintln!("   insightsim (on) / bare hyper: {on_vs_bare}");
            eprintln!("   insightsim (on) / insightsim (off): {on_vs_off}");
            self.row(
                name,
                &format!(
                    "{}, limit on but not binding ({NOT_BINDING})",
                    describe(customers, random)
                ),
                &results[0],
                &results[2],
            );
            self.row(
                name,
                "A = limit off, B = limit on but not binding (the simulator against itself)",
                &results[1],
                &results[2],
            );
        }
        self.report_compared(name, &results, 1);
        Ok(())
    }

    fn throttled(&mut self, name: &str) -> anyhow::Result<()> {
        let sim = self.sim(10_000, BINDING)?;
        let id = instance_id(&sim)?;
        let target = page(id, 500);
        let first = self.get(&sim, &target, "bench-record")?;
        ensure!(
            first.status == 200,
            "the first call answered {}",
            first.status
        );
        let throttled = self.get(&sim, &target, "bench-record")?;
        ensure!(
            throttled.status == 429,
            "the second call answered {}, not 429",
            throttled.status
        );
        eprintln!(
            "   the 429: headers {:?}, body {:?}",
            throttled.headers,
            String::from_utf8_lossy(&throttled.body)
        );
        let corpus = Corpus {
            fallback: Some(throttled),
            ..Corpus::default()
        };
        let compared = self.compared(10_000, BINDING)?;
        let bare = self.bare(name, &corpus, &target, &[])?;
        let load = self.load(name, std::slice::from_ref(&target))?;
        let mut sides = vec![
            Side {
                name: "bare hyper (429)",
                server: &bare,
            },
            Side {
                name: "insightsim (429)",
                server: &sim,
            },
        ];
        let mut expect = vec![
            Expect::Throttled { tokens: 0 },
            Expect::Throttled {
                tokens: self.tokens(),
            },
        ];
        if let Some(compared) = &compared {
            sides.push(Side {
                name: COMPARED,
                server: compared,
            });
            expect.push(expect[1]);
        }
        let results = interleaved(&sides, &load, self.warmup, self.runs, &expect)?;
        eprint!("{}", table(&results));
        eprintln!(
            "   insightsim / bare hyper: {}",
            Ratio::of(&results[1], &results[0])
        );
        self.row(
            name,
            &format!("the 429 path ({BINDING} per token), 10,000 customers"),
            &results[0],
            &results[1],
        );
        self.report_compared(name, &results, 1);
        Ok(())
    }

    fn filter(&mut self, name: &str) -> anyhow::Result<()> {
        let customers = 1_000_000;
        let sim = self.sim(customers, "off")?;
        let id = instance_id(&sim)?;
        let mut emails = Vec::new();
        for i in 0..10 {
            let target = format!(
                "/v1/instances/{id}/data/Customer?$select=EMail&$top=100&$skip={}",
                i * customers / 10
            );
            let r = self.get(&sim, &target, "bench-record")?;
            let page: serde_json::Value = serde_json::from_slice(&r.body)
                .with_context(|| format!("GET {target} did not answer JSON"))?;
            let values = page["value"]
                .as_array()
                .with_context(|| format!("GET {target} has no value array"))?;
            emails.extend(
                values
                    .iter()
                    .filter_map(|v| v["EMail"].as_str().map(str::to_owned)),
            );
        }
        ensure!(
            emails.len() == 1000,
            "expected 1,000 e-mails, got {}",
            emails.len()
        );
        let targets: Vec<String> = emails
            .iter()
            .map(|e| {
                format!(
                    "/v1/instances/{id}/data/Customer?$filter=EMail%20eq%20'{}'",
                    encode_literal(e)
                )
            })
            .collect();
        let corpus = self.record(&sim, &targets)?;
        let empty = corpus
            .by_target
            .values()
            .filter(|r| r.body.windows(11).any(|w| w == b"\"value\":[]"))
            .count();
        ensure!(
            empty == 0,
            "{empty} of the e-mail filters found no customer"
        );
        let compared = self.compared(customers, "off")?;
        let sims: Vec<&Server> = std::iter::once(&sim).chain(&compared).collect();
        let bare = self.bare(name, &corpus, &targets[0], &sims)?;
        let load = self.load(name, &targets)?;
        let mut sides = vec![
            Side {
                name: "bare hyper",
                server: &bare,
            },
            Side {
                name: "insightsim (off)",
                server: &sim,
            },
        ];
        if let Some(compared) = &compared {
            sides.push(Side {
                name: COMPARED,
                server: compared,
            });
        }
        let expect = vec![Expect::Success; sides.len()];
        let results = interleaved(&sides, &load, self.warmup, self.runs, &expect)?;
        eprint!("{}", table(&results));
        eprintln!(
            "   insightsim / bare hyper: {}",
            Ratio::of(&results[1], &results[0])
        );
        self.row(
            name,
            "$filter=EMail eq '…' (indexed), 1,000 e-mails, 1,000,000 customers, limit off",
            &results[0],
            &results[1],
        );
        self.report_compared(name, &results, 1);
        Ok(())
    }

    fn orderby(&mut self, name: &str) -> anyhow::Result<()> {
        let customers = 1_000_000;
        let sim = self.sim(customers, "off")?;
        let id = instance_id(&sim)?;
        let pages: Vec<String> = (0..customers - 99)
            .step_by(100)
            .map(|skip| page(id, skip))
            .collect();
        let slow_target = format!("/v1/instances/{id}/data/Customer?$orderby=Telephone&$top=100");
        let started = Instant::now();
        let one = self.get(&sim, &slow_target, "bench-record")?;
        ensure!(
            one.status == 200,
            "$orderby=Telephone answered {}",
            one.status
        );
        let one_ms = started.elapsed().as_secs_f64() * 1e3;
        eprintln!("   one $orderby=Telephone request alone: {one_ms:.0} ms");
        let load = self.load(name, &pages)?;
        let mut slow = self.load(&format!("{name}-slow"), &[slow_target])?;
        slow.threads = 1;
        slow.connections = 5;
        slow.tokens_per_thread = 5;
        slow.token_prefix = "slow".to_owned();
        slow.duration = self.duration + Duration::from_secs(2);
        Load {
            duration: self.warmup,
            ..load.clone()
        }
        .run(sim.addr)?;
        let (mut alone, mut with) = (Vec::new(), Vec::new());
        let mut slow_done = Vec::new();
        for round in 1..=self.runs {
            let a = run_once(&sim, &load)?;
            ensure!(
                a.summary.requests > 0,
                "round {round}: no page request finished without the $orderby load; the server did not recover from the previous round"
            );
            let running = slow.start(sim.addr)?;
            let w = run_once(&sim, &load)?;
            let s = running.finish()?;
            // The $orderby requests still running when wrk stops go on in the server.
            let settled = self.wait_serving(&sim, &pages[0])?;
            eprintln!(
                "    round {round}: pages alone {:.0} req/s p99 {:.2} ms | with $orderby {:.0} req/s p99 {:.2} ms ($orderby: {} done, p50 {:.0} ms; idle again {:.1} s later)",
                a.requests_per_s(),
                a.summary.latency_p99_us as f64 / 1e3,
                w.requests_per_s(),
                w.summary.latency_p99_us as f64 / 1e3,
                s.requests,
                s.latency_p50_us as f64 / 1e3,
                settled.as_secs_f64()
            );
            ensure!(
                a.summary.errors_status == 0
                    && w.summary.errors_status == 0
                    && s.errors_status == 0,
                "some requests failed"
            );
            alone.push(a);
            with.push(w);
            slow_done.push(s);
        }
        let results = [
            SideRuns {
                name: "pages alone",
                runs: alone,
            },
            SideRuns {
                name: "pages + $orderby",
                runs: with,
            },
        ];
        eprint!("{}", table(&results));
        let p999 = |s: &SideRuns| {
            median(
                s.runs
                    .iter()
                    .map(|r| r.summary.latency_p999_us as f64 / 1e3),
            )
        };
        // A run in which no page request finished has no latency to compare: wrk only times the
        // requests that finish, so a stall shows as a missing p99 and a collapsed rate.
        let per_round: Vec<f64> = results[0]
            .runs
            .iter()
            .zip(&results[1].runs)
            .map(|(a, w)| match w.summary.requests {
                0 => f64::INFINITY,
                _ => w.summary.latency_p99_us as f64 / a.summary.latency_p99_us.max(1) as f64,
            })
            .collect();
        eprintln!(
            "   p99 with $orderby / p99 alone, per round: {per_round:.1?} (inf: no page request finished)"
        );
        // wrk times only the requests that finish: a run in which none did has no p99.
        let p99_with = |s: &SideRuns| {
            let finished: Vec<f64> = s
                .runs
                .iter()
                .filter(|r| r.summary.requests > 0)
                .map(|r| r.summary.latency_p99_us as f64 / 1e3)
                .collect();
            match finished.len() {
                0 => "none finished".to_owned(),
                n => format!(
                    "{:.2} ms (median of the {n} runs in which pages finished)",
                    median(finished.into_iter())
                ),
            }
        };
        self.notes.push(format!(
            "orderby-1m: random pages at 1,000,000 customers ({} connections): alone {:.0} req/s, p99 {:.2} ms (p99.9 {:.2} ms); while 5 more connections run $orderby=Telephone: {:.0} req/s, p99 {}; p99 ratio per round {}; $orderby requests finished per run: {}; one $orderby alone took {one_ms:.0} ms",
            self.connections,
            results[0].median_requests_per_s(),
            results[0].median_p99_ms(),
            p999(&results[0]),
            results[1].median_requests_per_s(),
            p99_with(&results[1]),
            per_round
                .iter()
                .map(|r| if r.is_finite() { format!("{r:.1}×") } else { "∞ (no page finished)".to_owned() })
                .collect::<Vec<_>>()
                .join(", "),
            slow_done.iter().map(|s| s.requests.to_string()).collect::<Vec<_>>().join(", "),
        ));
        Ok(())
    }

    fn startup(&mut self, customers: u64) -> anyhow::Result<()> {
        let mut listening = Vec::new();
        let mut first_answer = Vec::new();
        let mut rss = Vec::new();
        let mut peak = Vec::new();
        for round in 1..=self.runs {
            let sim = self.sim(customers, "off")?;
            let id = instance_id(&sim)?.to_owned();
            let r = self.get(
                &sim,
                &format!("/v1/instances/{id}/data/Customer?$top=1"),
                "bench",
            )?;
            let answered = sim.spawned_at.elapsed();
            ensure!(r.status == 200, "the first call answered {}", r.status);
            let memory = sim.memory()?;
            eprintln!(
                "    round {round}: listening after {:.2} s, first answer after {:.2} s, resident {:.0} MB (peak {:.0} MB)",
                sim.listening_after.as_secs_f64(),
                answered.as_secs_f64(),
                mb(memory.rss_bytes),
                mb(memory.peak_rss_bytes)
            );
            listening.push(sim.listening_after.as_secs_f64());
            first_answer.push(answered.as_secs_f64());
            rss.push(mb(memory.rss_bytes));
            peak.push(mb(memory.peak_rss_bytes));
        }
        let m = |v: &[f64]| median(v.iter().copied());
        self.notes.push(format!(
            "startup-10m: {} customers: first answer **{:.2} s** after spawning serve (listening after {:.2} s); resident after it **{:.0} MB** (peak {:.0} MB); medians of {} starts",
            thousands(customers),
            m(&first_answer),
            m(&listening),
            m(&rss),
            m(&peak),
            self.runs
        ));
        Ok(())
    }

    /// The `--compare` build against this build (the side at `this`), when it ran as the last side.
    fn report_compared(&mut self, name: &str, results: &[SideRuns], this: usize) {
        let Some(other) = results.last().filter(|r| r.name == COMPARED) else {
            return;
        };
        let this = &results[this];
        eprintln!("   {COMPARED} / {}: {}", this.name, Ratio::of(other, this));
        let what = format!("A = this build ({}), B = the --compare build", this.name);
        self.row(name, &what, this, other);
    }

    /// A summary row: side `b` against side `a` (the bare server against the simulator, unless
    /// `what` says otherwise).
    fn row(&mut self, name: &str, what: &str, a: &SideRuns, b: &SideRuns) {
        let r = Ratio::of(b, a);
        let cpu = |s: &SideRuns| {
            format!(
                "{:.1} ({:.1}+{:.1})",
                s.median_server_cpu_us(),
                s.median_server_user_us(),
                s.median_server_system_us()
            )
        };
        self.summary.push(format!(
            "| {name} | {what} | {:.0} | {:.0} | **{:.2}×** ({:.2}–{:.2}) | {} / {} | {:.1} / {:.1} |",
            a.median_requests_per_s(),
            b.median_requests_per_s(),
            r.median,
            r.min,
            r.max,
            cpu(a),
            cpu(b),
            a.median_wrk_cpu_us(),
            b.median_wrk_cpu_us(),
        ));
    }
}

fn instance_id(server: &Server) -> anyhow::Result<&str> {
    server
        .instance_id
        .as_deref()
        .context("the simulator printed no instance id")
}

fn page(id: &str, skip: u64) -> String {
    format!("/v1/instances/{id}/data/Customer?$top=100&$skip={skip}")
}

fn describe(customers: u64, random: bool) -> String {
    format!(
        "{}, {} customers",
        if random { "random pages" } else { "one page" },
        thousands(customers)
    )
}

/// `1000000` as `1,000,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// An OData string literal's content, percent-encoded for a query string: quotes doubled, and
/// everything but letters, digits and `-._~@'` encoded.
fn encode_literal(text: &str) -> String {
    let mut out = String::new();
    for b in text.replace('\'', "''").bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@'".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
