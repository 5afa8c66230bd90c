// Draws the chart of docs/benchmarks.md, docs/benchmarks.png, from the figures the last runs of
// benches/run.mjs and benches/size.mjs wrote to target/bench-results/. Rendered as SVG in
// Debian's Chromium and screenshotted, so nothing beyond the benchmarks' own tools is needed.
// Run:  node benches/run.mjs && node benches/size.mjs && node benches/chart.mjs
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { launchChromium } from "../tests/e2e/support.mjs";

const root = new URL("../", import.meta.url).pathname;
const read = (name) => JSON.parse(readFileSync(join(root, "target/bench-results", name), "utf8"));
const run = read("run.json");
const size = read("size.json");
if (run.quick) console.warn("note: run.json comes from a --quick run");

const escape = (text) => String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;");
const OURS = "#2563eb";
const OTHERS = "#9ca3af";

/** One horizontal bar panel: rows of { label, value, note, ours }. */
function panel(title, subtitle, rows, format) {
  const width = 560;
  // Wide enough for the longest label, the reference row's.
  const labelWidth = 220;
  const barArea = width - labelWidth - 250;
  const max = Math.max(...rows.map((r) => r.value), 1e-9);
  const height = 58 + rows.length * 26;
  const bars = rows.map((row, i) => {
    const y = 50 + i * 26;
    const length = Math.max(2, (row.value / max) * barArea);
    return `<text x="${labelWidth - 8}" y="${y + 13}" text-anchor="end" class="label${row.ours ? " ours" : ""}">${escape(row.label)}</text>
      <rect x="${labelWidth}" y="${y}" width="${length}" height="18" rx="3" fill="${row.ours ? OURS : OTHERS}"/>
      <text x="${labelWidth + length + 6}" y="${y + 13}" class="value">${escape(format(row.value))}${row.note ? ` <tspan class="note">${escape(row.note)}</tspan>` : ""}</text>`;
  });
  return `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">
    <text x="0" y="18" class="title">${escape(title)}</text>
    <text x="0" y="36" class="subtitle">${escape(subtitle)}</text>
    ${bars.join("\n")}
  </svg>`;
}

const L = run.labels;
const perRequest = panel(
  "Per request, relative to plain fetch",
  `${run.perRequest.requests} sequential GETs, median of ${run.perRequest.rounds} rounds; lower is better`,
  Object.entries(run.perRequest.ratio).map(([name, ratio]) => ({ label: L[name], value: ratio, ours: name === "authfetch" })),
  (v) => `${v.toFixed(2)}×`,
);
// The 401 storms (rows without a kind come from runs before storms had several kinds).
const storms401 = run.storms.filter((s) => (s.kind ?? "401") === "401");
const stormSize = Math.max(...storms401.map((s) => s.n));
const storm = panel(
  `Storm of ${stormSize} concurrent 401s: refresh calls`,
  "fewer is better; in brackets: calls that got their 200 (worst of the runs)",
  storms401.filter((s) => s.n === stormSize).map((s) => ({ label: L[s.client], value: s.refreshes, note: `(${s.ok}/${s.n} ok${s.reuse ? `, ${s.reuse} reuse alarms` : ""})`, ours: s.client === "authfetch" })),
  (v) => String(v),
);
const tabs = panel(
  `${run.tabs[0].tabs} tabs expiring together: sessions lost`,
  `rounds (of ${run.tabs[0].rounds}) where reuse detection revoked the session; 0 is right`,
  run.tabs.map((t) => ({ label: L[t.client], value: t.lost, note: `(${t.ok}/${t.tabs * t.rounds} calls ok)`, ours: t.client === "authfetch" })),
  (v) => String(v),
);
const bytes = panel(
  "What a bundle ships, gzip -9",
  "minified with esbuild; authfetch: one module, the wasm inside; smaller is better",
  Object.entries(size.bundles).map(([name, m]) => ({ label: name === "authfetch" ? "authfetch" : name, value: m.gzip / 1024, ours: name === "authfetch" })),
  (v) => `${v.toFixed(1)} KB`,
);

const html = `<!doctype html><meta charset="utf-8"><style>
  body { margin: 0; background: white; font-family: "DejaVu Sans", sans-serif; }
  #chart { display: grid; grid-template-columns: 560px 560px; gap: 18px 36px; padding: 20px 24px; width: max-content; }
  .title { font-size: 15px; font-weight: bold; fill: #111827; }
  .subtitle { font-size: 11px; fill: #6b7280; }
  .label { font-size: 12px; fill: #374151; }
  .label.ours { font-weight: bold; fill: #1e3a8a; }
  .value { font-size: 12px; fill: #111827; }
  .note { fill: #6b7280; }
</style><div id="chart">${perRequest}${storm}${tabs}${bytes}</div>`;

const browser = await launchChromium();
try {
  const page = await browser.context.newPage();
  await page.setContent(html);
  const out = join(root, "docs/benchmarks.png");
  await page.locator("#chart").screenshot({ path: out });
  console.log(`written: ${out}`);
} finally {
  await browser.close();
}
