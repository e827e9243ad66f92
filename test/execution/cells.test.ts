import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openNotebook, resultText, type TestNotebook } from "./helpers.js";

describe("executor cells", () => {
  let nb: TestNotebook;
  before(async () => {
    nb = await openNotebook({
      files: {
        "helper.mjs": "export const answer = 42;\nexport default function greet(name) { return `hello ${name}`; }\n",
        "legacy.cjs": "module.exports = { kind: 'cjs', twice: (n) => n * 2 };\n",
      },
    });
  });
  after(async () => {
    await nb.close();
  });

  it("keeps declarations across cells and lets later cells redeclare them", async () => {
    assert.equal(resultText(await nb.run("const x: number = 1\nlet y = 2\nx + y")), "3");
    assert.equal(resultText(await nb.run("const x = 10\nfunction f(a: number): number { return a * x }\nclass Point { constructor(public px = 1) {} }\nenum Color { Red = 5 }\nf(y)")), "20");
    assert.equal(resultText(await nb.run("const x = 'again'\nfunction f() { return 'redeclared' }\nclass Point {}\nlet { p, q: [r] } = { p: 1, q: [2] };\n`${x} ${f()} ${typeof Point} ${Color.Red} ${p + r}`")), "'again redeclared function 5 3'");
  });

  it("runs namespaces with code (sucrase drops them; TypeScript compiles them), nested ones too, whose names persist", async () => {
    assert.equal(resultText(await nb.run("namespace Geo {\n  export const pi = 3.14;\n  export function area(r: number) { return pi * r * r; }\n}\nGeo.area(2)")), "12.56");
    assert.equal(resultText(await nb.run("namespace Outer.Inner { export const depth = 2 }\nGeo.pi + Outer.Inner.depth")), "5.140000000000001");
    assert.equal(resultText(await nb.run("declare namespace Shapes { interface Square { side: number } }\nconst square: Shapes.Square = { side: 3 };\nsquare.side")), "3");
  });

  it("supports top-level await and returns the last expression without awaiting it", async () => {
    assert.equal(resultText(await nb.run("const v = await new Promise<number>((resolve) => setTimeout(resolve, 5, 7))\nv * 2")), "14");
    assert.equal(resultText(await nb.run("Promise.resolve(1)")), "Promise { 1 }");
    assert.equal(resultText(await nb.run("await Promise.resolve('awaited')")), "'awaited'");
    // An anonymous function or class shows as anonymous, as in Node's REPL (not named after the wrapper's property).
    assert.equal(resultText(await nb.run("(x: number) => x")), "[Function (anonymous)]");
    assert.equal(resultText(await nb.run("(class {})")), "[class (anonymous)]");
    assert.equal(resultText(await nb.run("const named = () => 1\nnamed")), "[Function: named]");
    const declarationOnly = await nb.run("const nothing = 1");
    assert.equal(declarationOnly.status, "ok");
    assert.equal(declarationOnly.status === "ok" ? declarationOnly.result : "not ok", undefined);
  });

  it("imports builtins, packages from the notebook's node_modules, relative files and the tslab shim", async () => {
    assert.equal(resultText(await nb.run("import { join } from 'node:path'\nimport * as os from 'os'\njoin('a', 'b') + typeof os.cpus")), "'a/bfunction'");
    assert.equal(resultText(await nb.run("import * as acorn from 'acorn'\nimport { parse as parseJs } from 'acorn'\nparseJs('1', { ecmaVersion: 2020 }).type + typeof acorn.tokenizer")), "'Programfunction'");
    assert.equal(resultText(await nb.run("import greet, { answer } from './helper.mjs'\nimport legacy from './legacy.cjs'\ngreet('you') + answer + legacy.twice(2)")), "'hello you424'");
    assert.equal(resultText(await nb.run("import './helper.mjs'\nimport type { Stats } from 'node:fs'\nlet s: Stats | undefined\n'side effect ok'")), "'side effect ok'");
    assert.equal(resultText(await nb.run("import * as tslab from 'tslab'\nexport const kinds = typeof tslab.display.html + typeof tslab.newDisplay\nkinds")), "'functionfunction'");
    const missing = await nb.run("import 'no-such-package-anywhere'");
    assert.equal(missing.status, "error");
    assert.match(missing.status === "error" ? missing.evalue : "", /no-such-package-anywhere/);
  });

  it("builds result bundles: inspect text, custom bundles and Plotly figures", async () => {
    assert.equal(resultText(await nb.run("({ a: 1, nested: { list: [1, 2, 3] } })")), "{ a: 1, nested: { list: [ 1, 2, 3 ] } }");
    const custom = await nb.run("({ [Symbol.for('ringbook.mimeBundle')]() { return { 'text/html': '<b>rich</b>' } } })");
    assert.equal(custom.status === "ok" ? custom.result?.data["text/html"] : undefined, "<b>rich</b>");
    assert.equal(typeof (custom.status === "ok" ? custom.result?.data["text/plain"] : undefined), "string");
    const figure = await nb.run("({ data: [{ x: [1, 2], y: [3, 4], type: 'scatter' }], layout: { title: 't' } })");
    assert.ok(figure.status === "ok");
    assert.deepEqual(figure.result?.data["application/vnd.plotly.v1+json"], { data: [{ x: [1, 2], y: [3, 4], type: "scatter" }], layout: { title: "t" }, config: {} });
    assert.match(String(figure.result?.data["text/html"]), /Plotly\.react/);
    const silent = await nb.run("1 + 1", { silent: true });
    assert.equal(silent.status === "ok" ? silent.result : "not ok", undefined);
  });

  it("reports errors with the cell's line numbers", async () => {
    const thrown = await nb.run("function fails() {\n  throw new RangeError('too far')\n}\n\nfails()");
    assert.ok(thrown.status === "error");
    assert.equal(thrown.ename, "RangeError");
    assert.equal(thrown.evalue, "too far");
    assert.match(thrown.traceback.join("\n"), new RegExp(`at fails \\(In\\[${thrown.cellId.slice(1)}\\] line 2:9\\)`));
    assert.doesNotMatch(thrown.traceback.join("\n"), /node:internal|dist\/kernel/);
    const syntax = await nb.run("const ok = 1\nconst = 2");
    assert.ok(syntax.status === "error");
    assert.equal(syntax.ename, "SyntaxError");
    assert.match(syntax.evalue, /line 2:/);
    const referenceError = await nb.run("\n\nundefinedName + 1");
    assert.ok(referenceError.status === "error");
    assert.match(referenceError.traceback.join("\n"), /line 3:1/);
  });

  it("reports the TypeScript source's column, through type annotations and rewritten declarations, also for late errors", async () => {
    const frameOf = (outcome: { status: string; traceback?: string[] }): string => (outcome.status === "error" ? (outcome.traceback?.[1] ?? "") : `<${outcome.status}>`);
    const declared = await nb.run("const total = 1;\nconst a: number = 2;\nconst sum: number = totl + 1;");
    assert.match(frameOf(declared), /In\[\d+\] line 3:21$/);
    const second = await nb.run("let first = 1, second: number = missing2;");
    assert.match(frameOf(second), /In\[\d+\] line 1:33$/);
    const typed = await nb.run("type T = { a: number };\nfunction g(t: T): number { return (t.a as any).b.c }\ng({ a: 1 })");
    assert.ok(typed.status === "error");
    assert.match(typed.traceback.join("\n"), /at g \(In\[\d+\] line 2:50\)\n\s+at In\[\d+\] line 3:1$/);
    const argument = await nb.run("let x: number = 1\nfunction f(a: number): number { return a }\nconsole.log(f(x), totl)");
    assert.match(frameOf(argument), /In\[\d+\] line 3:19$/);
    const late = await nb.run("setTimeout(() => { const q: number = 1; (undefined as any).boom }, 5)");
    await nb.waitFor(() => nb.eventsOf(late.cellId).some((event) => event.kind === "lateError"));
    const lateError = nb.eventsOf(late.cellId).find((event) => event.kind === "lateError");
    assert.ok(lateError?.kind === "lateError");
    assert.match(lateError.traceback[1] ?? "", /In\[\d+\] line 1:60\)$/);
  });

  it("evaluates user expressions after the cell", async () => {
    const outcome = await nb.run("const ue = 21", { userExpressions: { double: "ue * 2", broken: "nope.nope" } });
    assert.ok(outcome.status === "ok");
    assert.deepEqual(outcome.userExpressions["double"], { status: "ok", data: { "text/plain": "42" }, metadata: {} });
    assert.equal(outcome.userExpressions["broken"]?.status, "error");
  });

  it("passes %%magic cells to registered handlers and rejects unknown magics", async () => {
    await nb.run("const magics = globalThis[Symbol.for('ringbook.notebookHost')].cellMagics as Map<string, (args: string, body: string) => Promise<unknown>>\nmagics.set('shout', async (args, body) => `${args}:${body.toUpperCase()}`)");
    assert.equal(resultText(await nb.run("%%shout loud\nhello\nworld")), "'loud:HELLO\\nWORLD'");
    const unknown = await nb.run("%%nosuchmagic\nbody");
    assert.ok(unknown.status === "error");
    assert.match(unknown.evalue, /unknown cell magic %%nosuchmagic \(registered: %%shout\)/);
  });
});

describe("executor in a folder without node_modules", () => {
  let nb: TestNotebook;
  before(async () => {
    nb = await openNotebook({ nodeModules: false });
  });
  after(async () => {
    await nb.close();
  });

  it("still resolves the kernel's own modules", async () => {
    assert.equal(resultText(await nb.run("import * as tslab from 'tslab'\nimport { display as d } from 'ringbook/display'\ntypeof tslab.newDisplay + typeof d.create")), "'functionfunction'");
  });
});

describe("tfjs in a notebook folder", () => {
  it("without tfjs of its own: ringbook's copy, with its types, the one ringbook's functions use", { timeout: 60_000 }, async () => {
    const nb = await openNotebook({ nodeModules: false, typeCheck: "warn" });
    try {
      const summed = await nb.run('import * as tf from "@tensorflow/tfjs";\nconst total: number = tf.tensor([1, 2, 3]).sum().dataSync()[0]!;\ntotal');
      assert.equal(resultText(summed), "6", JSON.stringify(summed));
      assert.equal(nb.streamOf(summed.cellId, "stderr"), "", "no type error: the import has its types");
      // loadModel builds its model with ringbook's tfjs: instanceof holds only if the cell's tf is that copy.
      // In the notebook's folder: a relative path is the process's working directory (here the test's).
      const modelDir = JSON.stringify(join(nb.dir, "m1"));
      const saved = await nb.run(`import { loadModel, saveModel } from "ringbook";\nconst model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });\nawait saveModel(model, ${modelDir});\nconst again = await loadModel(${modelDir});\nagain instanceof tf.LayersModel`);
      assert.equal(resultText(saved), "true", JSON.stringify(saved));
      const wrong = await nb.run("const wrong: string = tf.scalar(1);");
      assert.match(nb.streamOf(wrong.cellId, "stderr"), /In\[3\] line 1:7 - error TS2322: Type 'Scalar' is not assignable to type 'string'/);
      assert.equal(resultText(await nb.run('const again = await import("@tensorflow/tfjs");\nagain.Tensor === tf.Tensor')), "true", "import() too");
    } finally {
      await nb.close();
    }
  });

  it("with tfjs of its own: that copy", { timeout: 60_000 }, async () => {
    const nb = await openNotebook({
      nodeModules: false,
      files: {
        "node_modules/@tensorflow/tfjs/package.json": JSON.stringify({ name: "@tensorflow/tfjs", version: "0.0.1", main: "index.js" }),
        "node_modules/@tensorflow/tfjs/index.js": "exports.whose = 'the notebook folder\\'s';",
      },
    });
    try {
      assert.equal(resultText(await nb.run('import * as tf from "@tensorflow/tfjs";\n(tf as unknown as { whose: string }).whose')), `"the notebook folder's"`);
    } finally {
      await nb.close();
    }
  });
});
