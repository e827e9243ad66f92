/**
 * ringbook in the real JupyterLab 4.6.4 front end, as a user meets it: the launcher's card opens a
 * notebook on the kernel; typed cells run with Shift+Enter and show results, printed text and HTML;
 * Shift+Tab shows a TypeScript signature and Tab lists completions in JupyterLab's own popups.
 * Screenshots go to test-artifacts/jupyterlab/.
 */
import assert from "node:assert/strict";
import { describe } from "node:test";
import { notebookTest, useJupyterLab } from "./lab-page.js";

describe("JupyterLab: a ringbook notebook runs cells and helps with TypeScript", () => {
  const lab = useJupyterLab();

  notebookTest("the launcher's ringbook card opens a notebook that shows 2 for 1+1, then a console.log line and display.html", { timeout: 180_000, open: "launcher" }, lab, async (notebook) => {
    await notebook.runToEnd(0, "1+1");
    assert.equal(await notebook.outputText(0), "2");
    assert.match(await notebook.cells.nth(0).locator(".jp-InputPrompt").innerText(), /\[1\]:/);

    await notebook.runToEnd(1, 'console.log("hello from ringbook"); display.html("<b class=\\"greeting\\">bold hello</b>")');
    const [stdout, html] = [notebook.outputs(1).nth(0), notebook.outputs(1).nth(1)];
    assert.equal(await stdout.getAttribute("data-mime-type"), "application/vnd.jupyter.stdout");
    assert.equal((await stdout.innerText()).trim(), "hello from ringbook");
    assert.equal(await html.getAttribute("data-mime-type"), "text/html");
    assert.equal(await html.locator("b.greeting").innerText(), "bold hello", "the HTML is rendered, not shown as text");
    await notebook.screenshot("basics-cells");
  });

  notebookTest("Shift+Tab shows a TypeScript signature in a tooltip, and Tab lists a declared object's members in the completer", { timeout: 180_000 }, lab, async (notebook) => {
    await notebook.runToEnd(0, 'const point = { label: "origin", lat: 0, lon: 0 };');

    // Inspection: the cursor just after "Math.floor(".
    await notebook.editor(1).click();
    await notebook.page.keyboard.type("Math.floor(");
    await notebook.page.keyboard.press("Shift+Tab");
    const tooltip = notebook.page.locator(".jp-Tooltip");
    await tooltip.filter({ hasText: "floor(x: number): number" }).waitFor({ timeout: 60_000 });
    assert.match(await tooltip.innerText(), /\(method\) Math\.floor\(x: number\): number/);
    await notebook.screenshot("basics-tooltip");
    await notebook.page.keyboard.press("Escape");
    await tooltip.waitFor({ state: "hidden" });

    // Completion: on a new line (Escape also left the editor: click back in, go to its end,
    // finish the call).
    await notebook.editor(1).click();
    await notebook.page.keyboard.press("Control+End");
    await notebook.page.keyboard.type("1.5);");
    await notebook.page.keyboard.press("Enter");
    await notebook.page.keyboard.type("point.l");
    await notebook.page.keyboard.press("Tab");
    const completer = notebook.page.locator(".jp-Completer");
    await completer.waitFor({ state: "visible", timeout: 60_000 });
    const items = await completer.locator(".jp-Completer-item .jp-Completer-match").allInnerTexts();
    assert.deepEqual(items.map((item) => item.trim()).sort(), ["label", "lat", "lon"]);
    await notebook.screenshot("basics-completer");

    // Enter takes the highlighted completion into the editor.
    await notebook.page.keyboard.press("Enter");
    await completer.waitFor({ state: "hidden" });
    assert.equal(await notebook.editorText(1), "Math.floor(1.5);\npoint.label");
  });
});
