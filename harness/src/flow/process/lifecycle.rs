//! Turning a flow process on and off: listen, start the flow, serve deliveries until shutdown,
//! then stop the flow and delete the subscriptions it registered.

use std::future::Future;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::env::{FLOW_ADDR, ProcessEnv, default_subscriptions};
use super::http_io::HttpIo;
use super::listener::{HOOK_PATH, Shared, serve};
use crate::flow::{FlowContext, FlowFactory, FlowIo};

/// Why a flow process could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("failed to listen on {FLOW_ADDR}={addr}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read the address bound for {FLOW_ADDR}")]
    LocalAddr(#[source] std::io::Error),
}

/// Runs the flow as a process until SIGTERM or Ctrl-C; see the module docs.
pub async fn run_process(factory: &FlowFactory, env: ProcessEnv) -> Result<(), ProcessError> {
    run_process_until(factory, env, shutdown_signal()).await
}

/// [`run_process`], stopping when `shutdown` completes instead of on a signal.
pub async fn run_process_until(
    factory: &FlowFactory,
    env: ProcessEnv,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ProcessError> {
    let listener =
        TcpListener::bind(&env.flow_addr)
            .await
            .map_err(|source| ProcessError::Listen {
                addr: env.flow_addr.clone(),
                source,
            })?;
    let port = listener
        .local_addr()
        .map_err(ProcessError::LocalAddr)?
        .port();
    let host = env
        .flow_addr
        .rsplit_once(':')
        .map_or(env.flow_addr.as_str(), |(host, _)| host);
    let notification_url = format!("http://{host}:{port}{HOOK_PATH}");

    let flow = (factory.make)();
    let requested = env
        .subscriptions
        .clone()
        .unwrap_or_else(|| default_subscriptions(&flow.triggers()));
    let io = Arc::new(HttpIo::new(factory.name, &env, notification_url));
    let ctx = FlowContext {
        io: io.clone(),
        requested,
    };
    io.log(format_args!(
        "listening for deliveries at {}",
        io.notification_url()
    ));

    let shared = Arc::new(Shared {
        flow,
        ctx,
        io: io.clone(),
        runs: Mutex::new(JoinSet::new()),
    });
    serve(listener, &shared, shutdown).await;

    let mut stopped = std::mem::take(&mut *shared.runs.lock());
    stopped.shutdown().await;

    let locations = io.take_subscriptions();
    io.log(format_args!(
        "turning off: deleting {} subscription(s)",
        locations.len()
    ));
    for location in locations {
        io.api("DELETE", &location, None).await;
    }
    Ok(())
}

/// Waits for SIGTERM (what the harness sends) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                () = ctrl_c => {}
                _ = term.recv() => {}
            },
            Err(_) => ctrl_c.await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}
