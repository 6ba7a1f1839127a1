// Bundles the viewer into dist/: one minified ES module, the page and its styles.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync, statSync } from "node:fs";

const out = "dist";
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const started = Date.now();
await build({
  entryPoints: { app: "src/main.ts", region: "src/region_main.ts" },
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: "linked",
  legalComments: "none",
  outdir: out,
  logLevel: "warning",
});
copyFileSync("index.html", `${out}/index.html`);
copyFileSync("styles.css", `${out}/styles.css`);
for (const f of ["region.html", "region.css"]) copyFileSync(f, `${out}/${f}`);
const kb = (statSync(`${out}/app.js`).size / 1024).toFixed(0);
console.log(`viewer/web: dist/app.js ${kb} KiB in ${Date.now() - started} ms`);
