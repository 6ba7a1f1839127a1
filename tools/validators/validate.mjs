// Validate GLB/glTF files with the Khronos glTF-Validator and print one JSON report to stdout.
//
// Usage: node validate.mjs FILE [FILE ...]
// Output: {"files": [{"path", "errors", "warnings", "infos", "hints", "messages": [...]}], "ok": bool}
// Exit status: 0 when every file has 0 errors and 0 warnings, 1 otherwise, 2 on bad usage.
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import validator from "gltf-validator";

const paths = process.argv.slice(2);
if (paths.length === 0) {
  console.error("usage: node validate.mjs FILE [FILE ...]");
  process.exit(2);
}

const files = [];
for (const path of paths) {
  let report;
  try {
    const bytes = await readFile(path);
    report = await validator.validateBytes(new Uint8Array(bytes), {
      uri: basename(path),
      maxIssues: 0,
      writeTimestamp: false,
      externalResourceFunction: () => Promise.reject(new Error("external resources are not allowed")),
    });
  } catch (err) {
    files.push({ path, errors: 1, warnings: 0, infos: 0, hints: 0, messages: [{ code: "READ_FAILED", message: String(err), severity: 0 }] });
    continue;
  }
  const issues = report.issues;
  files.push({
    path,
    errors: issues.numErrors,
    warnings: issues.numWarnings,
    infos: issues.numInfos,
    hints: issues.numHints,
    messages: issues.messages.slice(0, 50),
  });
}
const ok = files.every((f) => f.errors === 0 && f.warnings === 0);
process.stdout.write(JSON.stringify({ ok, files }) + "\n");
process.exit(ok ? 0 : 1);
