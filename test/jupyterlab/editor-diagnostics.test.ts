/**
 * Type errors in the real JupyterLab's editor while the user types, before anything runs: the
 * ringbook-plotly extension's diagnostics plugin sends the edited cell to the kernel over the
 * `ringbook.diagnostics` comm and underlines what the kernel reports (CodeMirror's lint: a wavy
 * underline, the message and its TS code on hover); the underline goes once the code is fixed.
 * The cells that ran are the context: a name declared by a cell that ran is known, with its type.
 * An answer to text that has changed since (the kernel was busy) is never shown.
 */
import assert from "node:assert/strict";
import { describe } from "node:test";
import { errors, type Locator } from "playwright-core";
import { notebookTest, stepTimeoutMs, useJupyterLab, type NotebookPage } from "./lab-page.js";

/** How long a user would wait for an underline after they stopped typing (a check takes ~10 ms, plus the 300 ms pause). */
const patienceMs = 15_000;

/** The error underlines in cell `index`'s editor. */
function underlines(notebook: NotebookPage, index: number): Locator {
  return notebook.editor(index).locator(".cm-lintRange-error");
}

/**
 * Waits until cell `index` shows exactly the underlined texts `expected` (none: every underline
 * gone). Not until the first underline: one shown for text typed before (the user paused while
 * typing) may still be there until the answer for the final text replaces it.
 */
async function expectUnderlined(notebook: NotebookPage, index: number, expected: string[]): Promise<void> {
  const shown = `Array.from(document.querySelectorAll(".jp-NotebookPanel .jp-Notebook .jp-Cell")[${index}]?.querySelectorAll(".cm-content .cm-lintRange-error") ?? [], (range) => range.textContent)`;
  try {
    await notebook.page.waitForFunction(`JSON.stringify(${shown}) === ${JSON.stringify(JSON.stringify(expected))}`, undefined, { timeout: patienceMs });
  } catch (error) {
    if (!(error instanceof errors.TimeoutError)) throw error;
    assert.fail(`cell ${index} (${JSON.stringify(await notebook.editorText(index))}) should underline ${JSON.stringify(expected)} within ${patienceMs} ms; it underlines ${JSON.stringify(await underlines(notebook, index).allInnerTexts())}`);
  }
}

/** Hovers the first underline of cell `index`; the text of the lint tooltip that opens. */
async function hoverMessage(notebook: NotebookPage, index: number): Promise<string> {
  await underlines(notebook, index).first().hover();
  const tooltip = notebook.page.locator(".cm-tooltip-lint");
  await tooltip.waitFor({ timeout: patienceMs });
  return tooltip.innerText();
}

/** The `data` of comm messages on the diagnostics comm the page sent or received so far. */
function checks(notebook: NotebookPage, direction: "sent" | "received"): Array<Record<string, unknown>> {
  return notebook.traffic.frames.flatMap((frame) => {
    const data = frame.content["data"];
    return frame.direction === direction && frame.msgType === "comm_msg" && typeof data === "object" && data !== null && !Array.isArray(data) ? [{ ...data }] : [];
  });
}

/** The kernel's answer to the latest check of `source` the page sent, once it came. */
function answerTo(notebook: NotebookPage, source: string): Record<string, unknown> | undefined {
  const sent = checks(notebook, "sent").filter((data) => data["source"] === source).at(-1);
  return sent === undefined ? undefined : checks(notebook, "received").find((data) => data["version"] === sent["version"]);
}

/** execute_requests the page sent so far. */
function executeRequests(notebook: NotebookPage): number {
  return notebook.traffic.frames.filter((frame) => frame.direction === "sent" && frame.msgType === "execute_request").length;
}

describe("JupyterLab: type errors underlined in the editor as the user types", () => {
  const lab = useJupyterLab();

  notebookTest("typing `const typed: string = 5;` underlines `typed` with TS2322 without running the cell; fixing it removes the underline", { timeout: 180_000 }, lab, async (notebook) => {
    await notebook.enter(0, "const typed: string = 5;");
    await expectUnderlined(notebook, 0, ["typed"]);
    const message = await hoverMessage(notebook, 0);
    assert.match(message, /Type 'number' is not assignable to type 'string'\./);
    assert.match(message, /TS2322/);
    await notebook.screenshot("editor-type-error");
    assert.equal(executeRequests(notebook), 0, "nothing ran: the check went over the comm");
    const checks = notebook.traffic.frames.filter((frame) => frame.direction === "sent" && frame.msgType === "comm_msg");
    assert.ok(checks.length >= 1, "the extension sent the cell over a comm");

    // The user fixes the value: `5;` becomes `"five";` (the editor closes the quote as it is typed).
    await notebook.page.keyboard.press("End");
    await notebook.page.keyboard.press("Backspace");
    await notebook.page.keyboard.press("Backspace");
    await notebook.page.keyboard.type('"five";');
    assert.equal(await notebook.editorText(0), 'const typed: string = "five";');
    await expectUnderlined(notebook, 0, []);
    await notebook.screenshot("editor-type-error-fixed");
    assert.equal(executeRequests(notebook), 0, "still nothing ran");
  });

  notebookTest("a cell is checked after the cells that ran: `const label: string = steps;` is underlined once `const steps = 3;` ran", { timeout: 180_000 }, lab, async (notebook) => {
    await notebook.runToEnd(0, "const steps = 3;");
    await notebook.enter(1, "const label: string = steps;");
    await expectUnderlined(notebook, 1, ["label"]);
    assert.match(await hoverMessage(notebook, 1), /Type 'number' is not assignable to type 'string'/);
    await notebook.screenshot("editor-type-error-context");
    assert.equal(executeRequests(notebook), 1, "only the first cell ran");
  });

  notebookTest("an answer to text edited since (the kernel was busy with a cell) is dropped: the fixed cell never shows the old error", { timeout: 180_000 }, lab, async (notebook) => {
    const answered = (source: string): Record<string, unknown> | undefined => answerTo(notebook, source);
    // A cell that waits for the user: the kernel's shell is busy until the input is given, so the
    // check of the next cell's first text waits for its turn while the user fixes it. The user
    // paused before running it: its own check was answered then (one check is in flight at a time).
    const waiting = 'await input("continue?")';
    await notebook.enter(0, waiting);
    await notebook.traffic.waitFor(() => answered(waiting) !== undefined, { timeoutMs: patienceMs, describe: () => `no answer to the check of cell 0: ${JSON.stringify(checks(notebook, "received"))}` });
    await notebook.page.keyboard.press("Shift+Enter");
    const stdin = notebook.cells.nth(0).locator(".jp-Stdin-input");
    await stdin.waitFor({ timeout: patienceMs });
    // Records whether an error underline ever appears, from now on (the page's DOM, read only).
    await notebook.page.evaluate(`(() => {
      window.ringbookUnderlineSeen = false;
      new MutationObserver(() => { if (document.querySelector(".cm-lintRange-error") !== null) window.ringbookUnderlineSeen = true; })
        .observe(document.body, { subtree: true, childList: true, attributes: true });
    })()`);
    const wrong = "const typed: string = 5;";
    const fixed = 'const typed: string = "five";';
    // Inserted at once (pasted): a pause while typing would send a check of part of it instead.
    await notebook.editor(1).click();
    await notebook.page.keyboard.insertText(wrong);
    assert.equal(await notebook.editorText(1), wrong);
    await notebook.traffic.waitFor(() => checks(notebook, "sent").some((data) => data["source"] === wrong), { timeoutMs: patienceMs, describe: () => `no check of ${JSON.stringify(wrong)} sent: ${JSON.stringify(checks(notebook, "sent"))}` });
    await notebook.page.keyboard.press("End");
    await notebook.page.keyboard.press("Backspace");
    await notebook.page.keyboard.press("Backspace");
    await notebook.page.keyboard.type('"five";');
    assert.equal(await notebook.editorText(1), fixed);
    await stdin.fill("yes");
    await stdin.press("Enter");
    await notebook.finished(0);
    // The kernel answers the old text with its error, then the fixed text without any.
    await notebook.traffic.waitFor(() => answered(fixed) !== undefined, { timeoutMs: patienceMs, describe: () => `no answer to the fixed text: ${JSON.stringify(checks(notebook, "received"))}` });
    const stale = answered(wrong);
    assert.ok(stale !== undefined && Array.isArray(stale["diagnostics"]) && stale["diagnostics"].length === 1, `the kernel answered the old text with its error: ${JSON.stringify(stale)}`);
    assert.deepEqual(answered(fixed)?.["diagnostics"], []);
    await notebook.screenshot("editor-type-error-stale-dropped");
    assert.equal(await notebook.page.evaluate("window.ringbookUnderlineSeen"), false, "the old text's error was never shown on the fixed text");
    assert.equal(await underlines(notebook, 1).count(), 0);
  });

  notebookTest("after Kernel > Restart Kernel… the cell is checked against the restarted kernel: a name declared before the restart is unknown", { timeout: 180_000 }, lab, async (notebook) => {
    await notebook.runToEnd(0, "const steps = 3;");
    const source = "const count: number = steps;";
    await notebook.enter(1, source);
    await notebook.traffic.waitFor(() => answerTo(notebook, source) !== undefined, { timeoutMs: patienceMs, describe: () => `no answer to ${JSON.stringify(source)}: ${JSON.stringify(checks(notebook, "received"))}` });
    assert.deepEqual(answerTo(notebook, source)?.["diagnostics"], [], "`steps` is a number while the kernel has it");
    assert.equal(await underlines(notebook, 1).count(), 0);

    await notebook.menu("Kernel", "Restart Kernel…");
    const dialog = notebook.page.locator(".jp-Dialog");
    await dialog.filter({ hasText: "Restart Kernel?" }).waitFor({ timeout: stepTimeoutMs });
    await dialog.locator("button.jp-mod-accept", { hasText: "Restart" }).click();
    await dialog.waitFor({ state: "hidden", timeout: stepTimeoutMs });
    // The plugin opens a new comm on the restarted kernel and checks the active cell again.
    await expectUnderlined(notebook, 1, ["steps"]);
    assert.match(await hoverMessage(notebook, 1), /Cannot find name 'steps'/);
    await notebook.screenshot("editor-type-error-after-restart");
  });

  notebookTest("a cell showing errors is checked again when another cell runs: `steps` unknown, then declared as a number by a cell run below", { timeout: 180_000 }, lab, async (notebook) => {
    await notebook.enter(0, "const label: string = steps;");
    await expectUnderlined(notebook, 0, ["steps"]);
    assert.match(await hoverMessage(notebook, 0), /Cannot find name 'steps'/);
    // A new cell below (the toolbar's +), run with Ctrl+Enter: the cell above is not the active one.
    await notebook.clickToolbar("notebook:insert-cell-below");
    await notebook.enter(1, "const steps = 3;");
    await notebook.page.keyboard.press("Control+Enter");
    await notebook.finished(1);
    await expectUnderlined(notebook, 0, ["label"]);
    assert.match(await hoverMessage(notebook, 0), /Type 'number' is not assignable to type 'string'/);
    await notebook.screenshot("editor-type-error-rechecked");
    assert.equal(executeRequests(notebook), 1, "only the cell below ran");
  });
});
