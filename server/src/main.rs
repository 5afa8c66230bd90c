//! `authfetch-server`: see `--help`.

use std::process::ExitCode;

use authfetch_server::{Config, Server};
use clap::Parser;
use tokio::signal::unix::{Signal, SignalKind, signal};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    // Installed before the "listening" line: whoever reads that line may signal at once.
    let shutdown = shutdown_signal();
    let server = match Server::bind(&config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("authfetch-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match server.local_addr() {
        // Scripts and tests read this line to learn the port when started with --port 0.
        Ok(addr) => println!("authfetch-server listening on http://{addr}"),
        Err(e) => {
            eprintln!("authfetch-server: {e}");
            return ExitCode::FAILURE;
        }
    }
    match server.run(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authfetch-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C, or SIGTERM from the scripts and tests that started the server. Both handlers are
/// registered when this is called, not when the future is first polled.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        tokio::select! {
            () = received(terminate) => {}
            () = received(interrupt) => {}
        }
    }
}

/// Completes on the first delivery; never, if the handler could not be registered.
async fn received(handler: std::io::Result<Signal>) {
    match handler {
        Ok(mut handler) => {
            handler.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}
