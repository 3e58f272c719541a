//! `numaload new`: a starter pair for the user's own server, `agent.toml` (how to start it) and
//! `plan.toml` (one process against one replica per NUMA node, open loop, a warm-up), commented
//! and linking to the references. Both files are checked by the same parsers `run` uses before
//! anything is written, so the pair passes `numaload plan` and runs as written.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::BadInput;

#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// The directory to write agent.toml and plan.toml into (created when missing; files already
    /// there are never overwritten).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The server's executable; written as an absolute path.
    #[arg(long, value_name = "PATH")]
    pub program: PathBuf,
    /// One argument of the server, once per argument, with placeholders such as {listen},
    /// {port} and {threads} (`--arg=-listen --arg={listen}`). Without {port} or {listen} in
    /// any, the server is told its port as PORT={port} in its environment.
    #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// When a replica is ready: tcp (its port accepts), http:/PATH (a GET answers 2xx) or
    /// line:REGEX (a line of its output matches).
    #[arg(long, value_name = "PROBE", default_value = "tcp")]
    pub ready: String,
    /// The target's name in both files (default: the program's file name, made [a-z0-9-]).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

pub fn main(args: NewArgs) -> anyhow::Result<ExitCode> {
    let program = absolute(&args.program)?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => target_name(&program),
    };
    let is_go = is_go_binary(&program);
    let agent = agent_toml(&name, &program, &args.args, &args.ready, is_go);
    let plan = plan_toml(&name);
    // The same checks `run --agent-config` and `plan` make, before anything is written: a
    // mistake in a flag is one line naming it, not a broken file.
    numaload_agent::config::ConfigFile::parse(&agent)
        .map_err(|e| BadInput(format!("the agent.toml these flags make is refused: {e}")))?;
    numaload::plan::parse(&plan, "plan.toml")?;
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| BadInput(format!("{}: cannot create: {e}", args.dir.display())))?;
    let agent_path = args.dir.join("agent.toml");
    let plan_path = args.dir.join("plan.toml");
    for path in [&agent_path, &plan_path] {
        if path.exists() {
            return Err(BadInput(format!(
                "{}: already exists; remove it or give another DIR",
                path.display()
            ))
            .into());
        }
    }
    std::fs::write(&agent_path, agent)
        .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", agent_path.display()))?;
    std::fs::write(&plan_path, plan)
        .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", plan_path.display()))?;
    let (agent_path, plan_path) = (agent_path.display(), plan_path.display());
    super::stdout::print(&format!(
        "wrote {agent_path} (target \"{name}\") and {plan_path}\n"
    ))?;
    if is_go {
        super::stdout::print(&format!(
            "{} is a Go binary: GOMAXPROCS follows each replica's CPUs\n",
            program.display()
        ))?;
    }
    super::stdout::print(&format!("next:\n  numaload plan {plan_path}\n  numaload run {plan_path} --agent-config {agent_path}\n"))?;
    Ok(ExitCode::SUCCESS)
}

/// The program as an absolute path that exists and is executable: the agent would refuse any
/// other when it loads the configuration.
fn absolute(program: &Path) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let shown = program.display();
    let path = std::fs::canonicalize(program).map_err(|e| {
        BadInput(format!(
            "--program {shown}: {e}; give the path of the server's executable"
        ))
    })?;
    let meta = std::fs::metadata(&path).map_err(|e| BadInput(format!("--program {shown}: {e}")))?;
    if meta.is_dir() || meta.permissions().mode() & 0o111 == 0 {
        return Err(BadInput(format!(
            "--program {shown}: not an executable file; give the server's binary (chmod +x it)"
        ))
        .into());
    }
    Ok(path)
}

/// `my-server` from `/opt/My_Server.bin`: the file name, lower case, with `[a-z0-9-]` only.
fn target_name(program: &Path) -> String {
    let stem = program
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-').to_owned();
    if name.is_empty() {
        "server".to_owned()
    } else {
        name
    }
}

/// Whether the file is a Go binary: the Go linker puts its build ID note (`.note.go.buildid`:
/// name size 4, then type 4, then the name `Go`) within the first pages of every ELF it writes.
fn is_go_binary(program: &Path) -> bool {
    use std::io::Read as _;
    const NOTE: &[u8] = b"\x04\x00\x00\x00Go\x00\x00";
    let mut head = Vec::new();
    let read = std::fs::File::open(program).and_then(|f| f.take(64 * 1024).read_to_end(&mut head));
    read.is_ok() && head.windows(NOTE.len()).any(|w| w == NOTE)
}

/// A TOML string: quoted and escaped.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn agent_toml(name: &str, program: &Path, args: &[String], ready: &str, is_go: bool) -> String {
    let args_line = args
        .iter()
        .map(|a| quoted(a))
        .collect::<Vec<_>>()
        .join(", ");
    let tells_port = args
        .iter()
        .any(|a| a.contains("{port}") || a.contains("{listen}"));
    let mut env = Vec::new();
    if !tells_port {
        env.push(("PORT", "{port}"));
    }
    if is_go {
        env.push(("GOMAXPROCS", "{threads}"));
    }
    let env_line = env
        .iter()
        .map(|(k, v)| format!("{k} = {}", quoted(v)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = format!(
        "# How the numaload agent starts {name}, one replica at a time (written by `numaload new`).\n\
         # Every key, its default and an example: docs/agent-config.md of numaload's documentation\n\
         # (/usr/share/doc/numaload/ in the Debian package).\n\
         #\n\
         #   numaload plan plan.toml                            # where each replica would run\n\
         #   numaload run plan.toml --agent-config agent.toml   # measure both layouts here\n\
         \n\
         [targets.{name}]\n\
         # An absolute path: the agent never searches its PATH.\n\
         program = {}\n\
         # Placeholders are filled per replica: {{listen}} is 127.0.0.1:{{port}}, a free port the\n\
         # agent chose; {{threads}} the replica's CPUs; {{workdir}} a directory of its own.\n\
         args = [{args_line}]\n",
        quoted(&program.display().to_string()),
    );
    if !env.is_empty() {
        out.push_str("# Added to the agent's environment for each replica.");
        if !tells_port {
            out.push_str(" PORT: no argument names {port} or {listen}, so\n# the port is given here; change the variable to the one the server reads.");
        }
        if is_go {
            out.push_str("\n# GOMAXPROCS: a Go binary runs as many Ps as the replica has CPUs.");
        }
        out.push('\n');
        out.push_str(&format!("env = {{ {env_line} }}\n"));
    }
    out.push_str(&format!(
        "# When a replica is up: \"tcp\" (its port accepts), \"http:/PATH\" (a GET answers 2xx) or\n\
         # \"line:REGEX\" (a line of its stdout or stderr matches).\n\
         ready = {}\n\
         ready_within = \"10s\"\n",
        quoted(ready)
    ));
    if is_go {
        out.push_str(
            "# The Go runtime's scheduler trace in every sample (it changes how Ps blocked in C are\n\
             # handed off: compare with a run without it):\n\
             # schedtrace = \"go\"\n",
        );
    }
    out.push_str(
        "# Its Prometheus metrics, if it has any, scraped every 100 ms:\n\
         # metrics = \"/metrics\"\n",
    );
    out
}

fn plan_toml(name: &str) -> String {
    format!(
        "# Is {name} faster as one process with every CPU, or as one replica per NUMA node with its\n\
         # memory local? Written by `numaload new`; every key, its default and an example:\n\
         # docs/plan.md of numaload's documentation.\n\
         #\n\
         #   numaload run plan.toml --agent-config agent.toml\n\
         \n\
         name = {}\n\
         \n\
         [target]\n\
         # The agent configuration's targets.{name}: the plan never carries a path.\n\
         name = {}\n\
         \n\
         [load]\n\
         # Open loop: a fixed rate whatever the answers do, each request timed from when it was\n\
         # due (docs/how-it-measures.md). Raise the rate to find where each layout breaks, or add\n\
         # a [search] table with slo_p99 to have numaload find it.\n\
         mode = \"open\"\n\
         rate = 1000\n\
         connections = 16\n\
         duration = \"10s\"\n\
         # Load before measuring, so caches, pools and the runtime settle.\n\
         warmup = \"2s\"\n\
         # One CPU for the load generator, never shared with the replicas.\n\
         reserve_cpus = 1\n\
         # A request is GET / unless [[load.requests]] tables say otherwise.\n\
         \n\
         # One process, not pinned, with every CPU the agent may use.\n\
         [[layouts]]\n\
         name = \"one-process\"\n\
         replicas = 1\n\
         threads = \"auto\"\n\
         \n\
         # One replica per NUMA node, pinned to its node's CPUs, its memory on that node.\n\
         [[layouts]]\n\
         name = \"per-node\"\n\
         replicas = \"per-node\"\n",
        quoted(name),
        quoted(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names_are_what_the_agent_takes() {
        for (program, name) in [
            ("/opt/My_Server.bin", "my-server"),
            ("/usr/sbin/nginx", "nginx"),
            ("/x/__", "server"),
        ] {
            assert_eq!(target_name(Path::new(program)), name);
        }
    }

    #[test]
    fn the_pair_parses_with_and_without_a_port_argument() {
        for (args, go) in [
            (vec!["-listen".to_owned(), "{listen}".to_owned()], true),
            (vec![], false),
        ] {
            let agent = agent_toml("svc", Path::new("/opt/svc"), &args, "tcp", go);
            numaload_agent::config::ConfigFile::parse(&agent)
                .unwrap_or_else(|e| panic!("{e}\n{agent}"));
            assert_eq!(
                agent.contains("PORT = \"{port}\""),
                args.is_empty(),
                "{agent}"
            );
            assert_eq!(agent.contains("GOMAXPROCS"), go, "{agent}");
        }
        numaload::plan::parse(&plan_toml("svc"), "plan.toml").expect("plan");
    }

    #[test]
    fn a_placeholder_mistake_names_the_argument() {
        let agent = agent_toml(
            "svc",
            Path::new("/opt/svc"),
            &["{prot}".to_owned()],
            "tcp",
            false,
        );
        let error = numaload_agent::config::ConfigFile::parse(&agent).expect_err("unknown");
        assert!(error.to_string().contains("args[0]"), "{error}");
    }
}
