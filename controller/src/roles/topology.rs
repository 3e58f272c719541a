//! `numaload topology`: what hwloc sees, on this host or in an XML file.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct TopologyArgs {
    /// An hwloc XML file (`lstopo host.xml` on the machine) instead of this host.
    #[arg(long, value_name = "FILE")]
    pub xml: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn main(args: TopologyArgs) -> anyhow::Result<ExitCode> {
    let (topology, source) = match &args.xml {
        Some(path) => (
            numaload_agent::topology::from_xml_file(path)?,
            path.display().to_string(),
        ),
        None => {
            let mut host = numaload_agent::topology::discover()?;
            numaload_agent::nic::read_host(&mut host);
            (host, "this host".to_owned())
        }
    };
    let wire = numaload_proto::v1::Topology::from(&topology);
    if args.json {
        let json = numaload::topology_view::json(&wire);
        super::stdout::print(&(serde_json::to_string_pretty(&json)? + "\n"))?;
    } else {
        super::stdout::print(&numaload::topology_view::text(&wire, &source))?;
        for warning in &topology.warnings {
            eprintln!("warning: {warning}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
