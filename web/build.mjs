// Bundles web/ into src/networkpulse/serve/static/ (served by the Python package). `--watch` rebuilds on change.
import * as esbuild from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "src", "networkpulse", "serve", "static");
const watch = process.argv.includes("--watch");

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
await copyFile(join(here, "index.html"), join(outdir, "index.html"));

// /docs: Swagger UI from the pinned swagger-ui-dist, served by the app itself (no CDN, so it works offline).
// Its source maps (2 MB) are left out: browsers fetch them only with the developer tools open.
const docs = join(outdir, "docs");
const swagger = join(here, "node_modules", "swagger-ui-dist");
await mkdir(docs);
for (const file of ["index.html", "docs.js"]) await copyFile(join(here, "docs", file), join(docs, file));
for (const file of ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE", "NOTICE"]) {
  await copyFile(join(swagger, file), join(docs, file));
}

const options = {
  entryPoints: { app: join(here, "src", "main.js") },
  bundle: true,
  format: "iife",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  outdir,
  minify: !watch,
  sourcemap: "linked",
  legalComments: "linked",
  logLevel: "info",
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
