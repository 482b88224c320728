// The report page's styles: one column, readable on a laptop and printable, no web fonts (system fonts only, so
// nothing is fetched).
export const REPORT_CSS = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--panel:#f6f8fa;--ok:#1a7f37;--fail:#cf222e;--warn:#9a6700;--accent:#0969da}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:24px 24px 48px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:0 0 4px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
a{color:var(--accent)}
.sub{color:var(--muted);margin:0 0 14px;word-break:break-all}
.verdict{display:inline-block;font-weight:600;padding:6px 12px;border-radius:6px;margin-bottom:16px}
.verdict.ok{background:#dafbe1;color:var(--ok)}
.verdict.fail{background:#ffebe9;color:var(--fail)}
.verdict.warn{background:#fff8c5;color:var(--warn)}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:10px;margin-bottom:8px}
.kpi{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.kpi .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.kpi .value{font-size:20px;font-weight:600;font-variant-numeric:tabular-nums;margin-top:2px}
.kpi .detail{color:var(--muted);font-size:12px}
.kpi.fail .value{color:var(--fail)}
.kpi.ok .value{color:var(--ok)}
section{margin-top:28px}
.note{color:var(--muted);margin:0 0 10px;font-size:13px}
.chart{min-height:120px}
.chart .u-legend{font-size:12.5px}
.grid3{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:18px}
table.data{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
.data th,.data td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
.data th{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.03em;background:var(--panel)}
td.share{white-space:nowrap}
td.num,th.num{text-align:right}
td.msg{word-break:break-word;max-width:560px}
td.response{font-size:12px;max-width:420px}
tr.hidden{display:none}
tr:target td{background:#fff8c5}
.bar{display:inline-block;height:8px;border-radius:2px;background:var(--accent);vertical-align:middle;margin-right:6px;opacity:.75}
.bar.fail{background:var(--fail)}
.status-fail{color:var(--fail);font-weight:600}
.line{color:var(--muted);font-size:12px}
.search{display:flex;gap:12px;align-items:center;margin:8px 0 10px;flex-wrap:wrap}
.search input{font:inherit;padding:6px 10px;border:1px solid var(--line);border-radius:6px;min-width:320px}
.empty{color:var(--muted);font-style:italic}
dl.params{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0}
dl.params dt{color:var(--muted)}
dl.params dd{margin:0;word-break:break-all}
.throttle-key{display:inline-block;width:12px;height:12px;background:rgba(207,34,46,.14);border:1px solid rgba(207,34,46,.45);vertical-align:-2px;margin-right:4px}
footer{margin-top:40px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:10px}
@media print{.search{display:none}section{break-inside:avoid}}
`;
