//! The result itself, normalised: parsed into [`RunResult`] and written back pretty-printed, in
//! the schema's field order, with fields this version does not know dropped and a final
//! newline. Rendering a normalised file again gives the same bytes.

use crate::result::RunResult;

/// Renders the result as normalised JSON.
pub fn render(result: &RunResult) -> String {
    let mut out = result.to_json();
    out.push('\n');
    out
}
