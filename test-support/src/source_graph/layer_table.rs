//! The layer tables of ARCHITECTURE.md's "Module layers" section.

/// The layer table of ARCHITECTURE.md's "Module layers" section that follows the first line
/// naming `marker` (such as `` `agent/src/` ``): per layer, lowest first, the module names in
/// backticks, leaving out what is said of them in parentheses.
pub fn layer_table(architecture: &str, marker: &str) -> Vec<Vec<String>> {
    let section = architecture
        .split_once("## Module layers")
        .expect("ARCHITECTURE.md has a \"## Module layers\" section")
        .1;
    let section = section.split("\n## ").next().unwrap_or_default();
    let after = section
        .split_once(marker)
        .unwrap_or_else(|| panic!("the Module layers section names {marker}"))
        .1;
    let mut drawn = Vec::new();
    for line in after.lines().skip_while(|l| !l.starts_with("| layer")) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(layer), Some(modules)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        if layer.parse::<usize>().is_err() {
            continue;
        }
        let mut bare = String::new();
        let mut depth = 0;
        for c in modules.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ if depth == 0 => bare.push(c),
                _ => {}
            }
        }
        drawn.push(
            bare.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect(),
        );
    }
    drawn
}
