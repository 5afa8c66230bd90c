//! `authfetch-server`: see `--help`.

use std::process::ExitCode;

use authfetch_server::{Config, Server};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
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
    match server.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authfetch-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C, or SIGTERM from the scripts and tests that started the server.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
