import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { cliScript, makeTempDir, repoRoot } from "./helpers.js";

function ringbook(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [cliScript, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
}

describe("ringbook CLI", () => {
  test("--help lists the commands and exits 0", () => {
    const result = ringbook(["--help"]);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /install +install the Jupyter kernelspec/);
    assert.match(result.stdout, /kernel +run the kernel/);
  });

  test("bad arguments print usage and exit 2", () => {
    for (const args of [
      [],
      ["frobnicate"],
      ["install", "--bogus"],
      ["install", "--user", "--prefix", "/tmp/x"],
      ["install", "--name", "bad name"],
      ["install", "--type-check", "strict"],
      ["kernel"],
      ["kernel", "-f", "/nonexistent.json", "--type-check", "strict"],
    ]) {
      const result = ringbook(args);
      assert.equal(result.status, 2, `ringbook ${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, /Usage: ringbook/);
    }
  });

  test("install writes kernel.json with node and the absolute main.js into the Jupyter data dir", async () => {
    const temp = await makeTempDir("cli");
    try {
      const result = ringbook(["install"], { JUPYTER_DATA_DIR: join(temp.path, "data") });
      assert.equal(result.status, 0, result.stderr);
      const specDir = join(temp.path, "data", "kernels", "ringbook");
      assert.equal(result.stdout.split("\n")[0], `Installed kernelspec ringbook in ${specDir}`);
      const spec: unknown = JSON.parse(await readFile(join(specDir, "kernel.json"), "utf8"));
      assert.deepEqual(spec, {
        argv: [process.execPath, join(repoRoot, "dist", "kernel", "main.js"), "--connection-file", "{connection_file}"],
        display_name: "TypeScript (ringbook)",
        language: "typescript",
        interrupt_mode: "message",
        metadata: { ringbook: { entry: join(repoRoot, "dist", "kernel", "main.js"), node: process.version } },
      });
    } finally {
      await temp.remove();
    }
  });

  test("kernel --help documents the type-check modes, warn being the default", () => {
    const result = ringbook(["kernel", "--help"]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /--type-check warn\|error\|off/);
    assert.match(result.stdout, /warn +\(default\) each cell is checked while it runs/);
  });

  test("install --prefix --name --display-name goes to PREFIX/share/jupyter/kernels/NAME", async () => {
    const temp = await makeTempDir("cli-prefix");
    try {
      const result = ringbook(["install", "--prefix", temp.path, "--name", "rb-2", "--display-name", "RB", "--type-check", "error"]);
      assert.equal(result.status, 0, result.stderr);
      const spec = JSON.parse(await readFile(join(temp.path, "share", "jupyter", "kernels", "rb-2", "kernel.json"), "utf8")) as { display_name: string; argv: string[] };
      assert.equal(spec.display_name, "RB");
      assert.deepEqual(spec.argv.slice(-2), ["--type-check", "error"]);
    } finally {
      await temp.remove();
    }
  });

  test("install copies the built JupyterLab extension to DATA/labextensions/ringbook-plotly, replacing an old copy", async () => {
    const temp = await makeTempDir("cli-labextension");
    try {
      const env = { JUPYTER_DATA_DIR: join(temp.path, "data") };
      const target = join(temp.path, "data", "labextensions", "ringbook-plotly");
      assert.equal(ringbook(["install"], env).status, 0);
      await writeFile(join(target, "static", "remoteEntry.stale.js"), "");
      const result = ringbook(["install"], env);
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(result.stdout.trim().split("\n").slice(1), [
        `Installed plotly.js for offline plots in the classic notebook: ${join(temp.path, "data", "nbextensions", "ringbook", "plotly.min.js")}`,
        `Installed the JupyterLab extension ringbook-plotly (live Plotly figures) in ${target}`,
      ]);
      const source = join(repoRoot, "extensions", "ringbook-plotly", "labextension");
      const list = (dir: string) => readdir(dir, { recursive: true }).then((names) => names.sort());
      assert.deepEqual(await list(target), await list(source));
      const { jupyterlab } = JSON.parse(await readFile(join(target, "package.json"), "utf8")) as { jupyterlab: { _build: { load: string; mimeExtension: string; extension: string } } };
      assert.equal(jupyterlab._build.mimeExtension, "./mimeExtension", "the renderer");
      assert.equal(jupyterlab._build.extension, "./extension", "the plugin that opens the figure stream comm");
      assert.equal(await readFile(join(target, jupyterlab._build.load), "utf8"), await readFile(join(source, jupyterlab._build.load), "utf8"));
    } finally {
      await temp.remove();
    }
  });
});
