/**
 * The templates in notebooks/, run as CI runs them: each one twice, with `ringbook run` (type
 * errors fail the cell: RINGBOOK_TYPE_CHECK=error) and with Debian's `jupyter nbconvert --execute`
 * on the kernelspec `ringbook install` wrote into a temporary prefix, both with small parameters;
 * the quickstart also through a real Jupyter Server (`ringbook run --server`). Outputs are checked,
 * not only exit codes (see helpers/templates.ts), and every process a run started must be gone
 * when it ends, its temporary folder empty. Durations are reported as test diagnostics.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { readNotebook, writeNotebook } from "../../kernel/notebook/notebook-file.js";
import { injectParameters, type ParameterValue } from "../../kernel/notebook/parameters.js";
import { runProcess, type ProcessResult } from "../helpers/run-process.js";
import { DescendantWatch } from "../helpers/process-watch.js";
import { createJupyterEnv } from "../helpers/jupyter-env.js";
import { startJupyterServer } from "../helpers/jupyter-server.js";
import { checkTemplateRun, notebooksDir, repoRoot, templateSources, templates, type TemplateSpec } from "../helpers/templates.js";

const cli = fileURLToPath(new URL("../../kernel/cli.js", import.meta.url));
const runTimeoutMs = 180_000;

/**
 * A temporary project folder: `node_modules` links to this repository's (so cells import
 * `@tensorflow/tfjs` as a project that installed ringbook would), and `tmp/` is the runs' TMPDIR.
 */
async function withProject<T>(body: (dir: string, scratch: string) => Promise<T>, dir?: string): Promise<T> {
  const root = dir ?? (await mkdtemp(join(tmpdir(), "ringbook-template-test-")));
  const scratch = join(root, "tmp");
  await mkdir(scratch, { mode: 0o700 });
  await symlink(join(repoRoot, "node_modules"), join(root, "node_modules"));
  try {
    return await body(root, scratch);
  } finally {
    if (dir === undefined) await rm(root, { recursive: true, force: true });
  }
}

function cliParameters(spec: TemplateSpec): string[] {
  return Object.entries(spec.ciParameters).flatMap(([name, value]) => ["-p", name, typeof value === "string" ? value : JSON.stringify(value)]);
}

/** Runs a command while watching what it starts; checks the executed notebook and the clean-up. */
async function runChecked(
  spec: TemplateSpec,
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; output: string; scratch: string; watchPid?: number },
): Promise<ProcessResult> {
  const watch = new DescendantWatch();
  try {
    if (options.watchPid !== undefined) watch.watch(options.watchPid);
    const result = await runProcess(command, args, {
      env: options.env,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      timeoutMs: runTimeoutMs,
      onSpawn: (pid) => {
        if (options.watchPid === undefined) watch.watch(pid);
      },
    });
    assert.equal(result.code, 0, `${spec.name} failed:\n${result.stderr}`);
    const leftovers = watch.stillRunning();
    const { pids } = checkTemplateRun(spec, await readFile(options.output, "utf8"));
    const seen = new Set(watch.seen.map((p) => p.pid));
    assert.ok(pids.every((pid) => seen.has(pid)), `the workers ${pids.join(", ")} from describe() were seen below the run`);
    assert.deepEqual(leftovers, [], "no process the run started is left");
    assert.deepEqual(await readdir(options.scratch), [], "the run's temporary folder is empty");
    return result;
  } finally {
    watch.stop();
  }
}

test("every notebook in notebooks/ is generated from its source in notebooks/src and up to date", async () => {
  const sources = templateSources();
  // Executed copies (`npm run quickstart` writes NAME.out.ipynb beside the template) are not templates.
  const built = (await readdir(notebooksDir))
    .filter((name) => name.endsWith(".ipynb") && !name.endsWith(".out.ipynb"))
    .map((name) => name.slice(0, -6))
    .sort();
  assert.deepEqual(built, sources, "one notebook per source");
  assert.deepEqual([...templates.map((t) => t.name)].sort(), sources, "CI runs every template");
  const dir = await mkdtemp(join(tmpdir(), "ringbook-make-notebook-"));
  try {
    for (const name of sources) {
      const fresh = join(dir, `${name}.ipynb`);
      await promisify(execFile)(process.execPath, [join(repoRoot, "scripts/make-notebook.mjs"), join(notebooksDir, "src", `${name}.ts`), fresh]);
      assert.equal(
        await readFile(join(notebooksDir, `${name}.ipynb`), "utf8"),
        await readFile(fresh, "utf8"),
        `notebooks/${name}.ipynb is stale: run node scripts/make-notebook.mjs notebooks/src/${name}.ts notebooks/${name}.ipynb`,
      );
      const notebook = await readNotebook(fresh);
      const code = notebook.cells.filter((cell) => cell.cell_type === "code");
      assert.ok(code.some((cell) => JSON.stringify(cell.metadata["tags"]) === '["parameters"]'), `${name} has a parameters cell`);
      assert.ok(notebook.cells[0]?.cell_type === "markdown", `${name} starts with an explanation`);
      if (code.some((cell) => cell.source.includes("launchCluster("))) {
        assert.match(code.at(-1)!.source, /await cluster\.close\(\);\s*$/, `${name} closes its cluster at the end`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

for (const spec of templates) {
  test(`${spec.name}: ringbook run with CI parameters (type-checked) shows the expected outputs and leaves nothing running`, async (t) => {
    await withProject(async (dir, scratch) => {
      const output = join(dir, `${spec.name}.out.ipynb`);
      const result = await runChecked(spec, process.execPath, [cli, "run", join(notebooksDir, `${spec.name}.ipynb`), "-o", output, ...cliParameters(spec)], {
        env: { ...process.env, RINGBOOK_TYPE_CHECK: "error", TMPDIR: scratch, XDG_RUNTIME_DIR: scratch },
        output,
        scratch,
      });
      assert.equal(result.stdout.trim(), output, "prints where the executed notebook is");
      t.diagnostic(`${spec.name} via ringbook run: ${(result.durationMs / 1000).toFixed(1)} s`);
    });
  });

  test(`${spec.name}: jupyter nbconvert --execute on the installed kernelspec shows the expected outputs and leaves nothing running`, async (t) => {
    const jupyter = await createJupyterEnv();
    try {
      await withProject(async (dir, scratch) => {
        // nbconvert has no parameters: inject them into a copy as papermill (and ringbook run) do.
        const input = join(dir, `${spec.name}.ipynb`);
        const parameters = new Map<string, ParameterValue>(Object.entries(spec.ciParameters));
        await writeNotebook(input, injectParameters(await readNotebook(join(notebooksDir, `${spec.name}.ipynb`)), parameters));
        const result = await runChecked(
          spec,
          "jupyter",
          ["nbconvert", "--to", "notebook", "--execute", `--ExecutePreprocessor.timeout=${runTimeoutMs / 1000}`, "--output", `${spec.name}.executed.ipynb`, input],
          { env: { ...jupyter.env, TMPDIR: scratch, XDG_RUNTIME_DIR: scratch }, cwd: dir, output: join(dir, `${spec.name}.executed.ipynb`), scratch },
        );
        t.diagnostic(`${spec.name} via jupyter nbconvert: ${(result.durationMs / 1000).toFixed(1)} s`);
      }, jupyter.dir);
    } finally {
      await jupyter.close();
    }
  });
}

test("quickstart: ringbook run --server trains through a real Jupyter Server, whose kernel closes its workers", async (t) => {
  const spec = templates.find((template) => template.name === "quickstart")!;
  const jupyter = await createJupyterEnv();
  try {
    await withProject(async (dir, scratch) => {
      const server = await startJupyterServer({ ...jupyter.env, TMPDIR: scratch, XDG_RUNTIME_DIR: scratch }, dir);
      try {
        const output = join(dir, "quickstart.served.ipynb");
        const args = [cli, "run", join(notebooksDir, "quickstart.ipynb"), "-o", output, ...cliParameters(spec), "--server", server.url, "--token", server.token];
        // The kernel and its workers run below the server, not below ringbook run.
        const result = await runChecked(spec, process.execPath, args, { env: process.env, output, scratch, watchPid: server.pid });
        const sessions = (await (await fetch(`${server.url}/api/sessions?token=${server.token}`)).json()) as unknown[];
        assert.deepEqual(sessions, [], "the run shut its session down");
        t.diagnostic(`quickstart via ringbook run --server: ${(result.durationMs / 1000).toFixed(1)} s`);
      } finally {
        await server.close();
      }
    }, jupyter.dir);
  } finally {
    await jupyter.close();
  }
});
