//! `numaload certs`: a private CA and certificates for a fleet (mutual TLS).

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct CertsArgs {
    /// Where to write ca.pem/ca.key, agent.pem/agent.key, controller.pem/controller.key.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// A host name or IP address the controller will dial agents at (repeat for each).
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
}

pub fn main(args: CertsArgs) -> anyhow::Result<ExitCode> {
    numaload::tls::generate(&args.dir, &args.hosts).map_err(|e| super::BadInput(e.to_string()))?;
    eprintln!(
        "wrote {} to {}: copy ca.pem, agent.pem and agent.key to each agent (--tls-dir), \
         ca.pem, controller.pem and controller.key to the controller; keep ca.key offline",
        numaload::tls::FILES.join(", "),
        args.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
