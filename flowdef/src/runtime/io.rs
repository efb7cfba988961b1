//! Actions that leave the run: connector operations (through the operation map), the HTTP
//! action, their retry policies (honouring `Retry-After` on `429`), `limit.timeout` and
//! pagination.

use serde_json::{Map, Value, json};

use super::run::{Ctx, Outcome, RunShared, eval};
use crate::expr::value::to_text;
use crate::host::Reply;
use crate::model::{Action, ConnectorCall, RetryPolicy, format_duration};
use crate::operations::{Operation, Sink, match_path};

/// Pages a paginated action follows at most (100,000 items at the API's 100 per page).
const PAGES_MAX: usize = 1_000;

/// Where a call goes.
#[derive(Debug, Clone)]
enum Target {
    Api {
        connection: String,
        method: String,
        path: String,
        body: Option<Value>,
    },
    Sink(Sink, Value),
}

/// Percent-encodes a query value or path segment: unreserved characters, parentheses, `$` and
/// `,` stay (`$top`, `$select=A,B` read as written in journals); `&`, `=`, `'`, spaces do not.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~' | b'(' | b')' | b'$' | b',')
        {
            out.push(b as char);
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

/// A query option's text: booleans as JSON writes them (`$count=true`), the rest as text.
fn query_text(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        other => to_text(other),
    }
}

/// Power Automate's flattened parameter names (`emailMessage/To`, `item/CustomerId`) as nested
/// objects.
fn unflatten(params: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in params.as_object().into_iter().flatten() {
        let parts: Vec<&str> = k.split('/').collect();
        let mut node = &mut out;
        for (i, p) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                node.insert((*p).to_owned(), v.clone());
            } else {
                let entry = node
                    .entry((*p).to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                let Value::Object(next) = entry else { break };
                node = next;
            }
        }
    }
    out
}

/// Fills `{name}` placeholders of an operation's API path from the parameters.
fn fill(template: &str, params: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        let v = params
            .get(name)
            .filter(|v| !v.is_null())
            .ok_or_else(|| format!("the operation needs the parameter \"{name}\""))?;
        out += &encode(&to_text(v));
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The API request of an operation for these parameters.
fn api_target(
    op: &Operation,
    api: &str,
    connection: &str,
    params: &Map<String, Value>,
) -> Result<(Target, Option<(String, String)>), String> {
    let (method, path) = api.split_once(' ').unwrap_or(("GET", api));
    let mut path = fill(path, params)?;
    let mut query: Vec<String> = Vec::new();
    let mut key = None;
    if op.key_filter {
        let table = params.get("table").map(to_text).unwrap_or_default();
        let id = params
            .get("id")
            .map(to_text)
            .ok_or("Get item needs the parameter \"id\"")?;
        let key_name = if table.eq_ignore_ascii_case("UnifiedActivity") {
            "ActivityId"
        } else {
            "CustomerId"
        };
        let filter = format!("{key_name} eq '{}'", id.replace('\'', "''"));
        query.push(format!("$filter={}", encode(&filter)));
        key = Some((key_name.to_owned(), id));
    }
    for q in &op.query {
        if let Some(v) = params.get(q).filter(|v| !v.is_null()) {
            let text = query_text(v);
            if !text.is_empty() {
                query.push(format!("{q}={}", encode(&text)));
            }
        }
    }
    if !query.is_empty() {
        path.push(if path.contains('?') { '&' } else { '?' });
        path += &query.join("&");
    }
    let body = op.body.as_ref().and_then(|b| params.get(b)).cloned();
    Ok((
        Target::Api {
            connection: connection.to_owned(),
            method: method.to_ascii_uppercase(),
            path,
            body,
        },
        key,
    ))
}

pub(crate) async fn connector(
    run: &RunShared,
    a: &Action,
    call: &ConnectorCall,
    ctx: &Ctx,
    start: i64,
) -> Outcome {
    let inputs = match eval(run, ctx, &call.inputs) {
        Ok(v) => v,
        Err(m) => return Outcome::failed("InvalidTemplate", m),
    };
    let map = &run.engine.map;
    let Some(op) = map.by_id(call.connector, &call.operation) else {
        return Outcome::failed(
            "UnknownOperation",
            format!("operation {} is not in the operation map", call.operation),
        );
    };
    // Parameters: Power Automate's `parameters`, or Logic Apps' path, queries and body.
    let mut params = if call.logic_apps {
        let method = inputs.get("method").map(to_text).unwrap_or_default();
        let path = inputs.get("path").map(to_text).unwrap_or_default();
        let mut p: Map<String, Value> = match_path(&op.path, &method, &path)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        for (k, v) in inputs
            .get("queries")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            p.insert(k.clone(), v.clone());
        }
        if let Some(b) = inputs.get("body") {
            p.insert("body".to_owned(), b.clone());
            p.insert("item".to_owned(), b.clone());
        }
        p
    } else {
        unflatten(&inputs)
    };
    let (target, key) = match (&op.api, op.sink) {
        (Some(api), _) => match api_target(op, api, &call.connection, &params) {
            Ok(t) => t,
            Err(m) => return Outcome::failed("InvalidTemplate", m).with_inputs_of(inputs),
        },
        (None, Some(sink)) => {
            let body = if call.logic_apps {
                params.remove("body").unwrap_or(Value::Null)
            } else {
                Value::Object(params)
            };
            (Target::Sink(sink, body), None)
        }
        (None, None) => {
            return Outcome::failed("UnknownOperation", "the operation has no target");
        }
    };
    let paginate = match (a.pagination, op.pagination.as_deref()) {
        (Some(min), Some("nextLink")) => Some(min),
        _ => None,
    };
    let mut out = send(run, a, ctx, start, target, paginate).await;
    // Get item: the first row, or 404 as for an unknown item.
    if let Some((key_name, id)) = key
        && out.status == Some(crate::model::Status::Succeeded)
    {
        let row = out.outputs["body"]["value"].get(0).cloned();
        match row {
            Some(r) => out.outputs["body"] = r,
            None => {
                out.status = Some(crate::model::Status::Failed);
                out.code = Some(404);
                out.outputs["statusCode"] = json!(404);
                out.error = Some(
                    json!({"code": "ItemNotFound", "message": format!("no item with {key_name} '{id}'")}),
                );
            }
        }
    }
    out.inputs = inputs;
    out
}

impl Outcome {
    fn with_inputs_of(mut self, inputs: Value) -> Outcome {
        self.inputs = inputs;
        self
    }
}

/// The path below the instance of a URL of the Customer Insights API
/// (`https://api.ci.ai.dynamics.com/v1/instances/{id}/data/Customer?$top=1` →
/// `data/Customer?$top=1`), whatever its host; `None` for any other URL.
pub(crate) fn api_path_of(uri: &str) -> Option<String> {
    let after_scheme = uri.split_once("://").map_or(uri, |(_, r)| r);
    let path = &after_scheme[after_scheme.find('/')?..];
    let rest = path.strip_prefix("/v1/instances")?;
    if rest.is_empty() || rest.starts_with('?') {
        return Some(path.to_owned());
    }
    let rest = rest.strip_prefix('/')?;
    match rest.split_once('/') {
        Some((_instance, below)) => Some(below.to_owned()),
        None => Some(path.to_owned()),
    }
}

pub(crate) async fn http(
    run: &RunShared,
    a: &Action,
    inputs: Value,
    ctx: &Ctx,
    start: i64,
) -> Outcome {
    let method = inputs
        .get("method")
        .map(to_text)
        .unwrap_or_else(|| "GET".to_owned())
        .to_ascii_uppercase();
    let uri = inputs.get("uri").map(to_text).unwrap_or_default();
    let body = inputs.get("body").cloned().filter(|b| !b.is_null());
    let target = match api_path_of(&uri) {
        Some(mut path) => {
            for (k, v) in inputs
                .get("queries")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                path.push(if path.contains('?') { '&' } else { '?' });
                path += &format!("{}={}", encode(k), encode(&query_text(v)));
            }
            // The HTTP action authenticates itself: its bearer token is its connection.
            let auth = inputs
                .get("headers")
                .and_then(Value::as_object)
                .and_then(|h| {
                    h.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("Authorization"))
                        .map(|(_, v)| to_text(v))
                });
            let connection = match auth.as_deref().and_then(|t| t.strip_prefix("Bearer ")) {
                Some(token) if !token.trim().is_empty() => format!("http:{}", token.trim()),
                _ => "http".to_owned(),
            };
            Target::Api {
                connection,
                method,
                path,
                body,
            }
        }
        None => Target::Sink(Sink::Http, body.unwrap_or(Value::Null)),
    };
    let mut out = send(run, a, ctx, start, target, None).await;
    out.inputs = inputs;
    out
}

fn retryable(status: u16) -> bool {
    matches!(status, 0 | 408 | 429 | 500..=599)
}

/// The wait before retry `k` (from 1), drawn from the run's generator: the engine's documented
/// ranges (LA-ERR).
fn retry_wait(policy: RetryPolicy, k: u32, run: &RunShared) -> i64 {
    match policy {
        RetryPolicy::None => 0,
        RetryPolicy::Fixed { interval_ms, .. } => interval_ms,
        RetryPolicy::Exponential {
            interval_ms,
            min_ms,
            max_ms,
            ..
        } => {
            let pow = |e: i32| -> f64 { 2f64.powi(e) * interval_ms as f64 };
            let lo = if k == 1 { 0.0 } else { pow(k as i32 - 2) };
            let lo = lo.max(min_ms as f64);
            let hi = pow(k as i32 - 1).min(max_ms as f64).max(lo);
            let r = (run.next_random() >> 11) as f64 / (1u64 << 53) as f64;
            (lo + (hi - lo) * r).round() as i64
        }
    }
}

fn error_message(reply: &Reply) -> String {
    let m = reply.body["error"]["message"]
        .as_str()
        .or_else(|| reply.body["message"].as_str());
    match (reply.status, m) {
        (0, _) => "the call could not be made (connection failure)".to_owned(),
        (s, Some(m)) => format!("{s}: {m}"),
        (s, None) => format!("{s}"),
    }
}

/// One call with the action's retry policy and time limit.
async fn call_once(
    run: &RunShared,
    a: &Action,
    ctx: &Ctx,
    start: i64,
    target: &Target,
    attempts: &mut u32,
    waited: &mut Vec<i64>,
) -> (Reply, Option<String>) {
    let host = &*run.engine.host;
    let policy = a.retry.unwrap_or(RetryPolicy::DEFAULT);
    let count = match policy {
        RetryPolicy::None => 0,
        RetryPolicy::Fixed { count, .. } | RetryPolicy::Exponential { count, .. } => count,
    };
    let mut retries = 0;
    loop {
        *attempts += 1;
        let reply = match target {
            Target::Api {
                connection,
                method,
                path,
                body,
            } => host.api(connection, method, path, body.clone()).await,
            Target::Sink(sink, body) => Reply::status(host.sink(*sink, body.clone()).await),
        };
        if !retryable(reply.status) {
            return (reply, None);
        }
        if retries >= count {
            let note = match policy {
                RetryPolicy::None if reply.status == 429 => Some(format!(
                    "was throttled (429, Retry-After {} s) and its retryPolicy is none, so it failed at once instead of waiting and retrying",
                    reply.retry_after_s.unwrap_or(0)
                )),
                RetryPolicy::None => None,
                _ => Some(format!(
                    "gave up after {} call(s): its retry policy allows {count} retries; the last answer was {}",
                    retries + 1,
                    error_message(&reply)
                )),
            };
            return (reply, note);
        }
        retries += 1;
        let mut wait = retry_wait(policy, retries, run);
        if reply.status == 429
            && let Some(after) = reply.retry_after_s
        {
            // The platform honours Retry-After on 429 (LA-HTTP).
            wait = wait.max(
                i64::try_from(after)
                    .unwrap_or(i64::MAX / 2)
                    .saturating_mul(1000),
            );
        }
        if let Some(limit) = a.timeout_ms
            && host.now_ms() + wait - start > limit
        {
            return (
                reply,
                Some(format!(
                    "its limit.timeout of {} ran out before retry {retries}",
                    format_duration(limit)
                )),
            );
        }
        waited.push(wait);
        ctx.lane.sleep(host, wait).await;
    }
}

async fn send(
    run: &RunShared,
    a: &Action,
    ctx: &Ctx,
    start: i64,
    target: Target,
    paginate: Option<u64>,
) -> Outcome {
    let mut attempts = 0;
    let mut waited = Vec::new();
    let (reply, note) = call_once(run, a, ctx, start, &target, &mut attempts, &mut waited).await;
    let mut last = reply;
    // A success's body moves into the outputs; a failure's stays for its error message.
    let mut body = if (200..300).contains(&last.status) {
        std::mem::take(&mut last.body)
    } else {
        last.body.clone()
    };
    let mut note = note;
    if let (Some(min), Target::Api { connection, .. }) = (paginate, &target)
        && (200..300).contains(&last.status)
    {
        let mut pages = 1;
        while let Some(next) = body
            .get("@odata.nextLink")
            .and_then(Value::as_str)
            .map(str::to_owned)
        {
            let have = body["value"].as_array().map_or(0, Vec::len) as u64;
            if have >= min || pages >= PAGES_MAX {
                break;
            }
            let page_target = Target::Api {
                connection: connection.clone(),
                method: "GET".to_owned(),
                path: next,
                body: None,
            };
            let (reply, n) =
                call_once(run, a, ctx, start, &page_target, &mut attempts, &mut waited).await;
            pages += 1;
            if !(200..300).contains(&reply.status) {
                last = reply;
                note = n;
                break;
            }
            let mut reply = reply;
            let next = reply
                .body
                .get("@odata.nextLink")
                .cloned()
                .unwrap_or(Value::Null);
            if let (Some(v), Value::Array(more)) =
                (body["value"].as_array_mut(), reply.body["value"].take())
            {
                v.extend(more);
            }
            body["@odata.nextLink"] = next;
            reply.body = Value::Null;
            last = reply;
        }
        if let Some(o) = body.as_object_mut() {
            o.remove("@odata.nextLink");
        }
    }
    let code = last.status;
    let mut outputs = super::object([
        ("statusCode", Value::from(code)),
        ("headers", json!({})),
        ("body", body),
    ]);
    if let Some(loc) = &last.location {
        outputs["headers"]["Location"] = json!(loc);
    }
    if let Some(ra) = last.retry_after_s {
        outputs["headers"]["Retry-After"] = json!(ra.to_string());
    }
    let ok = (200..300).contains(&code);
    let timed_out = note.as_deref().is_some_and(|n| n.contains("limit.timeout"));
    let mut out = Outcome {
        status: Some(if ok {
            crate::model::Status::Succeeded
        } else if timed_out {
            crate::model::Status::TimedOut
        } else {
            crate::model::Status::Failed
        }),
        code: (code != 0).then_some(code),
        outputs,
        attempts,
        note,
        ..Outcome::default()
    };
    if !ok {
        let what = match &target {
            Target::Api { method, path, .. } => format!("{method} {path}"),
            Target::Sink(s, _) => format!("the {s:?} sink").to_lowercase(),
        };
        out.error = Some(json!({
            "code": if code == 0 { "ConnectionFailure".to_owned() } else { code.to_string() },
            "message": format!("{what} answered {}", error_message(&last)),
        }));
    }
    if !waited.is_empty() && ok {
        out.note = Some(format!(
            "succeeded after {attempts} calls, waiting {} between them",
            waited
                .iter()
                .map(|w| format_duration(*w))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_map_to_paths_below_the_instance() {
        assert_eq!(
            api_path_of("https://api.ci.ai.dynamics.com/v1/instances/abc/data/Customer?$top=1"),
            Some("data/Customer?$top=1".to_owned())
        );
        assert_eq!(
            api_path_of("http://127.0.0.1:8080/v1/instances"),
            Some("/v1/instances".to_owned())
        );
        assert_eq!(api_path_of("https://contoso.example/export"), None);
    }

    #[test]
    fn power_automate_parameters_unflatten() {
        let v = json!({"emailMessage/To": "a@b", "emailMessage/Subject": "s", "table": "Customer"});
        assert_eq!(
            Value::Object(unflatten(&v)),
            json!({"emailMessage": {"To": "a@b", "Subject": "s"}, "table": "Customer"})
        );
    }
}
