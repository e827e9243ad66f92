/**
 * Which backend workers take, and what describe() says about it: wasm with the native kernels
 * where the addon loads (what it is, and why each faster backend was not taken), plain wasm with
 * the reason when the addon is missing or does not load, never a failed start under `auto`.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

import { launchCluster, type ClusterDescription } from "../../lib/index.js";
import { bestCpuBackend } from "./helpers.js";

/** Runs `check` on the description of a fresh 1-worker cluster, then closes it. */
async function describedWith(options: Parameters<typeof launchCluster>[0], check: (rows: ClusterDescription) => void | Promise<void>): Promise<void> {
  const cluster = await launchCluster(options);
  try {
    await check(cluster.describe());
  } finally {
    await cluster.close();
  }
}

function textOf(rows: ClusterDescription): string {
  const render = (rows as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("ringbook.mimeBundle")];
  assert.ok(render, "describe() renders in notebooks");
  return render()["text/plain"] ?? "";
}

describe("the backend workers choose", () => {
  it("is wasm-blas where the native addon loads, and describe() says what it is and why faster ones were not taken", { skip: bestCpuBackend === "wasm-blas" ? undefined : "the native addon is not built here" }, async () => {
    await describedWith({ workers: 1 }, (rows) => {
      const [row] = rows;
      assert.equal(row?.backend, "wasm-blas");
      assert.match(row?.backendSummary ?? "", /^OpenBLAS \S+ \(\w+ kernels, 1 thread\) zero-copy in the wasm heap$/);
      assert.ok(row?.backendNotes.some((note) => /^tensorflow: /.test(note)), `a note says why tensorflow was not taken: ${JSON.stringify(row?.backendNotes)}`);
      const text = textOf(rows);
      assert.match(text, /^backend wasm-blas: OpenBLAS/m);
      assert.match(text, /^ {2}not tensorflow: /m);
    });
  });

  it("falls back to plain wasm, with the reason, when the addon is missing", async () => {
    const missing = "/nonexistent/ringbook-blas.node";
    await describedWith({ workers: 1, env: { RINGBOOK_BLAS_ADDON: missing } }, (rows) => {
      assert.equal(rows[0]?.backend, "wasm");
      const note = rows[0]?.backendNotes.find((line) => line.startsWith("wasm-blas: "));
      assert.ok(note?.includes(`no native BLAS addon at ${missing} (RINGBOOK_BLAS_ADDON)`), `the reason is shown: ${JSON.stringify(rows[0]?.backendNotes)}`);
      assert.match(textOf(rows), /^ {2}not wasm-blas: no native BLAS addon at \/nonexistent/m);
    });
  });

  it("falls back to plain wasm, with the reason, when the addon does not load", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ringbook-addon-"));
    const broken = join(dir, "ringbook-blas.node");
    await writeFile(broken, "not a shared library\n");
    try {
      await describedWith({ workers: 1, env: { RINGBOOK_BLAS_ADDON: broken } }, (rows) => {
        assert.equal(rows[0]?.backend, "wasm");
        const note = rows[0]?.backendNotes.find((line) => line.startsWith("wasm-blas: ")) ?? "";
        assert.match(note, new RegExp(`the native BLAS addon ${broken.replace(/[.]/g, "\\.")} \\(RINGBOOK_BLAS_ADDON\\) did not load: .*(invalid ELF header|file too short)`));
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("asked for explicitly, wasm-blas without its addon fails the launch with the reason", async () => {
    await assert.rejects(
      launchCluster({ workers: 1, backend: "wasm-blas", env: { RINGBOOK_BLAS_ADDON: "/nonexistent/ringbook-blas.node" } }),
      /wasm-blas: no native BLAS addon at \/nonexistent\/ringbook-blas\.node/,
    );
  });
});
