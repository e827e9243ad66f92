/**
 * The language client's own messages: a kernel shut down while its language service still starts
 * (a quick restart, a benchmark's start-up rounds) printed "language service unavailable:
 * language worker exited with code 0", which reads as a failure and is none.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { LanguageClient } from "../../kernel/language/language-client.js";

const packageRoot = fileURLToPath(new URL("../../..", import.meta.url));

test("a language service closed while it starts logs no failure; one that started logs that it is ready", async () => {
  const cwd = await mkdtemp(join(tmpdir(), "ringbook-language-"));
  try {
    const cutShort: string[] = [];
    const early = new LanguageClient({ cwd, packageRoot, checker: "native" }, (line) => cutShort.push(line));
    const starting = early.start().catch(() => undefined);
    await early.close();
    await starting;
    assert.deepEqual(cutShort.filter((line) => /unavailable/.test(line)), [], cutShort.join("\n"));

    const lines: string[] = [];
    const started = new LanguageClient({ cwd, packageRoot, checker: "native" }, (line) => lines.push(line));
    await started.start();
    assert.ok(lines.some((line) => /language service ready/.test(line)), lines.join("\n"));
    await started.close();
    assert.deepEqual(lines.filter((line) => /unavailable/.test(line)), []);
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});
