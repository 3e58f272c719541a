"""One module per point of BENCHMARKS.md: `params(settings)`, `measure(ctx, params)` (through
`tools`) and a pure `render(params, rows)` returning the section and its summary rows."""
