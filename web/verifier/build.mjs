// Builds the browser verifier into ONE self-contained HTML file (script, wasm and styles
// inline; nothing fetched), so that a node serves it and a saved copy works offline:
// `node web/verifier/build.mjs [OUT]` (default node/verifier/verify.html).
import { build } from "esbuild";
import { readFile, writeFile, mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? resolve(here, "../../node/verifier/verify.html"));
const bundle = await build({
  entryPoints: [resolve(here, "src/page.ts")],
  bundle: true,
  format: "iife",
  platform: "browser",
  target: "es2022",
  minify: true,
  write: false,
  legalComments: "inline",
  logLevel: "warning",
});
// "</script" inside the bundle would end the inline script early.
const script = bundle.outputFiles[0].text.replaceAll("</script", "<\\/script");
const page = (await readFile(resolve(here, "page.html"), "utf8"))
  .replace("<script>__SCRIPT__</script>", () => `<script>${script}</script>`);
await mkdir(dirname(out), { recursive: true });
await writeFile(out, page);
console.log(`${out}: ${page.length} bytes`);
