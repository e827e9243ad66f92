/**
 * Import specifiers with an alias (ringbook's modules, tfjs for a folder without it) are replaced
 * in static imports and in `import("...")` expressions anywhere in a cell or a task's source; other
 * specifiers, computed ones and the rest of the code stay as they were.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { aliasImportExpressions, compileCell } from "../../lib/script/index.js";

const aliases = { "@tensorflow/tfjs": "file:///opt/ringbook/tf.node.js", ringbook: "file:///opt/ringbook/index.js" };

describe("module aliases", () => {
  it("replace the literal specifier of import() expressions anywhere in a cell, and of static imports", () => {
    const { code } = compileCell(
      'import * as r from "ringbook";\nasync function load() {\n  return [await import("@tensorflow/tfjs"), await import("./local.js"), await import(name)];\n}\nconst later = () => import("@tensorflow/tfjs");',
      { moduleAliases: aliases },
    );
    assert.match(code, /import\("file:\/\/\/opt\/ringbook\/index\.js"\)/);
    assert.equal(code.match(/import\("file:\/\/\/opt\/ringbook\/tf\.node\.js"\)/g)?.length, 2, code);
    assert.match(code, /import\("\.\/local\.js"\)/);
    assert.match(code, /import\(name\)/);
    assert.doesNotMatch(code, /"@tensorflow\/tfjs"/);
  });

  it("keep a cell's lines: an error's line still points at the cell's own line", () => {
    const source = 'const tf = await import("@tensorflow/tfjs");\nconst x = 1;\nthrow new Error("line 3");';
    const { code, lineOffset } = compileCell(source, { moduleAliases: aliases });
    assert.equal(code.split("\n").length - lineOffset - 1, source.split("\n").length);
  });

  it("replace them in a task function's source; source without import() or that does not parse is returned as it is", () => {
    assert.equal(
      aliasImportExpressions('async ({ rank }) => { const tf = await import("@tensorflow/tfjs"); return import("other") }', aliases),
      'async ({ rank }) => { const tf = await import("file:///opt/ringbook/tf.node.js"); return import("other") }',
    );
    assert.equal(aliasImportExpressions("function () { return import('ringbook') }", aliases), 'function () { return import("file:///opt/ringbook/index.js") }');
    const plain = "({ rank }) => rank * 2";
    assert.equal(aliasImportExpressions(plain, aliases), plain);
    const broken = '() => { import("@tensorflow/tfjs") ';
    assert.equal(aliasImportExpressions(broken, aliases), broken);
    assert.equal(aliasImportExpressions('() => import("@tensorflow/tfjs")', {}), '() => import("@tensorflow/tfjs")');
  });
});
