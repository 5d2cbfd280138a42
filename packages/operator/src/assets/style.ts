/** The surface's stylesheet (served from /assets/app.css; no inline styles, so the CSP stays strict). */
export const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--accent:#0550ae;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--card:#f6f8fa;--focus:#0969da}
@media (prefers-color-scheme:dark){:root:not([data-theme=light]){--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;--line:#30363d;--accent:#79c0ff;--ok:#56d364;--bad:#ff7b72;--warn:#e3b341;--card:#161b22;--focus:#79c0ff}}
:root[data-theme=dark]{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;--line:#30363d;--accent:#79c0ff;--ok:#56d364;--bad:#ff7b72;--warn:#e3b341;--card:#161b22;--focus:#79c0ff}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
a{color:var(--accent)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-9999px}.skip:focus{left:1rem;top:1rem;background:var(--bg);padding:.5rem;z-index:10}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:1rem;padding:.6rem 1rem;border-bottom:1px solid var(--line);background:var(--card)}
.brand{font-weight:700;text-decoration:none;color:var(--fg)}
.top nav ul{display:flex;flex-wrap:wrap;gap:.8rem;list-style:none;margin:0;padding:0}
.top nav a[aria-current=page]{font-weight:700;text-decoration-thickness:2px}
.who{margin-left:auto;color:var(--muted);font-size:.9em}
.pill{border-radius:999px;padding:.15rem .7rem;font-size:.85em;font-weight:600;text-decoration:none;border:1px solid currentColor}
.pill-ok{color:var(--ok)}.pill-bad{color:var(--bad)}.pill-unknown{color:var(--muted)}.pill.stale::after{content:" (stale)"}
main{padding:1rem;max-width:80rem}
h1{font-size:1.5rem;margin:.2rem 0 1rem}h2{font-size:1.15rem;margin-top:1.5rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
caption{text-align:left;color:var(--muted);padding:.3rem 0}
thead th{font-size:.85em;color:var(--muted)}
code,.val,time{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em;overflow-wrap:anywhere}
.val{white-space:pre-wrap}
.none,.meta,.more,.end{color:var(--muted)}
.op{font-weight:600}.op-insert{color:var(--ok)}.op-delete,.op-truncate{color:var(--bad)}.op-update{color:var(--warn)}.op-baseline{color:var(--muted)}
.badge{font-size:.75em;border:1px solid var(--muted);border-radius:4px;padding:0 .3rem;color:var(--muted)}
.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:flex-end;padding:.6rem;background:var(--card);border:1px solid var(--line);border-radius:6px}
.field{display:flex;flex-direction:column;gap:.2rem}
label{font-size:.85em;color:var(--muted)}
input,select,button{font:inherit;color:var(--fg);background:var(--bg);border:1px solid var(--line);border-radius:4px;padding:.3rem .5rem}
button{cursor:pointer;background:var(--card)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:1rem}
.card{padding:1rem;border:1px solid var(--line);border-radius:6px;background:var(--card);display:flex;flex-direction:column;gap:.5rem}
.card h2{margin:0;font-size:1rem}
.pager{display:flex;gap:1rem;margin:1rem 0}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}
.facts dt{color:var(--muted)}.facts dd{margin:0}
.change{border:1px solid var(--line);border-radius:6px;padding:.2rem .8rem;margin:.8rem 0}
.change h3{font-size:1rem}
.redacted th{font-style:italic}
.notice,.warn{padding:.6rem .8rem;border-left:4px solid var(--warn);background:var(--card)}
.error{padding:.6rem .8rem;border-left:4px solid var(--bad);background:var(--card)}
.danger{border:1px solid var(--bad);padding:.8rem;border-radius:6px;display:flex;flex-direction:column;gap:.4rem;max-width:34rem}
.sev-error{color:var(--bad);font-weight:600}.sev-warning{color:var(--warn);font-weight:600}.sev-ok{color:var(--ok);font-weight:600}
.state-drift,.state-not_deployed{color:var(--bad);font-weight:600}.state-matches{color:var(--ok)}
.activity svg{max-width:100%;height:auto;fill:var(--accent)}.activity figcaption,.activity .buckets{font-size:.85em;color:var(--muted)}.activity h2{font-size:1rem;margin:0 0 .3rem}
.activity{margin:.8rem 0}.activity figure{margin:0}.activity svg{border-bottom:1px solid var(--line)}
footer{padding:1rem;border-top:1px solid var(--line);margin-top:2rem}
.theme{display:flex;gap:.5rem;align-items:center}
pre{white-space:pre-wrap;overflow-wrap:anywhere}
`;
