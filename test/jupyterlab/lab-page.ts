/**
 * The browser half of the JupyterLab tests: Debian's chromium (playwright-core) on the real
 * JupyterLab front end, driven as a user drives it: clicks, typing into cells, Shift+Enter, toolbar
 * buttons, menus and dialogs. Every wait is on something a user would see (a prompt's execution
 * count, the kernel status indicator, an output, a popup), each bounded by a timeout; nothing
 * sleeps and nothing is retried. The page's console errors, uncaught errors and failed requests are
 * collected; a test fails on any that is not known noise (listed below with its reason).
 */
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { chromiumLaunchOptions } from "../helpers/chromium.js";
import { makeNotebook } from "../helpers/notebooks.js";
import { repoRoot } from "../kernel/helpers.js";
import { KernelTraffic } from "./kernel-traffic.js";
import { buildJupyterLab, startLabServer, type LabServer } from "./lab-server.js";

/** Where screenshots go (gitignored). */
export const artifactsDir = join(repoRoot, "test-artifacts", "jupyterlab");
/** The kernelspec's display name, as the launcher and the notebook toolbar show it. */
export const ringbookDisplayName = "TypeScript (ringbook)";
/** Bound on a step a user waits for: a kernel start, a cell, a popup (they take 0.1-5 s here). */
export const stepTimeoutMs = 60_000;

/**
 * What this JupyterLab logs on Debian's jupyter_server 1.23 whatever the notebook does. A console
 * message is matched as "TEXT [URL]", a failed response as "STATUS METHOD PATH".
 */
export const knownNoise: ReadonlyArray<{ pattern: RegExp; reason: string }> = [
  { pattern: /\/api\/me\b/, reason: "jupyter_server 1.23 has no identity endpoint (2.x does): 404, and JupyterLab uses an anonymous identity" },
  { pattern: /\/api\/events\/subscribe\b/, reason: "jupyter_server 1.23 has no event bus (2.x does): its websocket gets 404 and JupyterLab retries with backoff" },
  { pattern: /\/lsp\/status\b/, reason: "the jupyter-lsp server extension is not installed: JupyterLab's LSP client asks for its status once, gets 404 and stays off (as it is by default)" },
];

function isKnownNoise(line: string): boolean {
  return knownNoise.some(({ pattern }) => pattern.test(line));
}

/**
 * Registers `before`/`after` hooks in the calling `describe`: builds JupyterLab (once per lock,
 * cached), starts a lab server with ringbook installed, launches chromium; closes both after, and
 * fails if any process the server started outlived it. Use the returned accessors inside tests.
 */
export function useJupyterLab(): { server: () => LabServer; browser: () => Browser } {
  let server: LabServer | undefined;
  let browser: Browser | undefined;
  before(
    async () => {
      const appDir = await buildJupyterLab();
      server = await startLabServer(appDir);
      browser = await chromium.launch(chromiumLaunchOptions);
      await mkdir(artifactsDir, { recursive: true });
    },
    { timeout: 20 * 60_000 },
  );
  after(async () => {
    try {
      await browser?.close();
    } finally {
      await server?.close();
    }
  });
  return {
    server: () => server ?? assert.fail("the lab server did not start"),
    browser: () => browser ?? assert.fail("chromium did not start"),
  };
}

/**
 * A test with a notebook open in the lab: `body` gets the page; afterwards the page must not have
 * logged anything unexpected. On failure a screenshot goes to test-artifacts/jupyterlab/. The
 * notebook's kernel is shut down and the browser context closed either way.
 */
export function notebookTest(
  name: string,
  options: { timeout: number; open?: "launcher" | "file" },
  lab: ReturnType<typeof useJupyterLab>,
  body: (notebook: NotebookPage, t: TestContext) => Promise<void>,
): void {
  test(name, { timeout: options.timeout }, async (t) => {
    const slug = name.replace(/[^a-z0-9]+/gi, "-").toLowerCase().slice(0, 60).replace(/-$/, "");
    const notebook = await NotebookPage.open(lab.browser(), lab.server(), slug, options.open ?? "file");
    try {
      await body(notebook, t);
      t.diagnostic(`known noise seen: ${JSON.stringify(notebook.knownNoiseSeen())}`);
      assert.deepEqual(notebook.traffic.unreadable, [], "every kernel websocket frame parsed");
      assert.deepEqual(notebook.unexpectedProblems(), [], "the page logged nothing unexpected");
    } catch (error) {
      await notebook.screenshot(`${slug}-failure`).catch(() => undefined);
      throw error;
    } finally {
      await notebook.close();
    }
  });
}

/** One browser context with JupyterLab open on one ringbook notebook. */
export class NotebookPage {
  readonly page: Page;
  readonly traffic: KernelTraffic;
  readonly #context: BrowserContext;
  readonly #server: LabServer;
  readonly #problems: string[] = [];
  readonly #noise: string[] = [];
  /** The notebook's path relative to the server root, once the notebook is open. */
  #path = "";

  private constructor(context: BrowserContext, page: Page, server: LabServer) {
    this.#context = context;
    this.page = page;
    this.#server = server;
    this.traffic = new KernelTraffic(page);
    const report = (line: string): void => void (isKnownNoise(line) ? this.#noise : this.#problems).push(line);
    page.on("pageerror", (error) => report(`pageerror: ${(error.stack ?? error.message).split("\n").slice(0, 4).join(" | ")}`));
    page.on("console", (message) => {
      const line = `console.${message.type()}: ${message.text().slice(0, 500)} [${message.location().url.replace(/\?.*/, "")}]`;
      // ringbook-plotly reports a dropped delta or a failed draw as a warning: a test failure here.
      if (message.type() === "error" || (message.type() === "warning" && /ringbook/i.test(message.text()))) report(line);
    });
    page.on("response", (response) => {
      if (response.status() >= 400) report(`${response.status()} ${response.request().method()} ${new URL(response.url()).pathname}`);
    });
    page.on("requestfailed", (request) => report(`request failed: ${request.method()} ${new URL(request.url()).pathname}: ${request.failure()?.errorText ?? "?"}`));
  }

  /**
   * Opens a fresh workspace named `workspace` (no tabs restored from other tests) with a new ringbook
   * notebook: from the launcher's "TypeScript (ringbook)" card, or by opening a notebook file that
   * asks for the ringbook kernelspec (created through the contents API, as if it had been saved
   * before). Resolves once the notebook's kernel is idle.
   */
  static async open(browser: Browser, server: LabServer, workspace: string, via: "launcher" | "file"): Promise<NotebookPage> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const notebook = new NotebookPage(context, await context.newPage(), server);
      if (via === "launcher") {
        await notebook.page.goto(server.url(`/lab/workspaces/${workspace}`));
        await notebook.page.locator(`.jp-LauncherCard[data-category="Notebook"][title="${ringbookDisplayName}"]`).click({ timeout: stepTimeoutMs });
      } else {
        const path = `${workspace}.ipynb`;
        const created = await server.api(`/api/contents/${encodeURIComponent(path)}`, {
          method: "PUT",
          body: JSON.stringify({ type: "notebook", format: "json", content: JSON.parse(makeNotebook([""], { kernelName: server.kernelName })) }),
        });
        assert.ok(created.ok, `PUT /api/contents/${path}: ${created.status} ${await created.text()}`);
        await notebook.page.goto(server.url(`/lab/workspaces/${workspace}/tree/${encodeURIComponent(path)}`));
      }
      // The toolbar names the kernel as soon as the session has one; its status indicator says
      // "idle" before that too, so the kernel's own first reply is what says it is up.
      await notebook.page.locator(".jp-NotebookPanel-toolbar .jp-KernelName", { hasText: ringbookDisplayName }).waitFor({ timeout: stepTimeoutMs });
      await notebook.traffic.waitFor(() => notebook.traffic.frames.some((frame) => frame.msgType === "kernel_info_reply"), {
        timeoutMs: stepTimeoutMs,
        describe: () => `no kernel_info_reply among ${notebook.traffic.mark} messages`,
      });
      await notebook.kernelStatus("idle").waitFor({ timeout: stepTimeoutMs });
      notebook.#path = await notebook.#currentPath();
      return notebook;
    } catch (error) {
      await context.close();
      throw error;
    }
  }

  /** The open notebook's path, from the server's sessions (the notebook's kernel session). */
  async #currentPath(): Promise<string> {
    const sessions: unknown = await (await this.#server.api("/api/sessions")).json();
    assert.ok(Array.isArray(sessions), `GET /api/sessions: ${JSON.stringify(sessions)}`);
    const paths = sessions.map((session: unknown) => (typeof session === "object" && session !== null && "path" in session ? String(session.path) : "?"));
    const title = (await this.page.locator(".jp-mod-current .lm-TabBar-tabLabel").first().innerText()).trim();
    const path = paths.find((candidate) => candidate === title || candidate.endsWith(`/${title}`));
    assert.ok(path !== undefined, `no kernel session for the notebook tab "${title}" among ${JSON.stringify(paths)}`);
    return path;
  }

  /** The kernel status indicator of the notebook's toolbar, in the given state. */
  kernelStatus(status: "idle" | "busy"): Locator {
    return this.page.locator(`.jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status="${status}"]`);
  }

  /** The notebook's cells, top to bottom. */
  get cells(): Locator {
    return this.page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell");
  }

  /** Cell `index`'s outputs. */
  outputs(index: number): Locator {
    return this.cells.nth(index).locator(".jp-OutputArea-output");
  }

  /** Cell `index`'s editor. */
  editor(index: number): Locator {
    return this.cells.nth(index).locator(".cm-content");
  }

  /**
   * Clicks into cell `index` and enters `code`: typed key by key when it is one line, pasted
   * (inserted at once) when it is several (typing a newline would auto-indent). Checks that the
   * editor then holds exactly `code` (the editor closes brackets and quotes as it is typed into).
   */
  async enter(index: number, code: string): Promise<void> {
    await this.editor(index).click({ timeout: stepTimeoutMs });
    if (code.includes("\n")) await this.page.keyboard.insertText(code);
    else await this.page.keyboard.type(code);
    assert.equal(await this.editorText(index), code, `cell ${index} holds what was entered`);
  }

  /** The text in cell `index`'s editor. */
  async editorText(index: number): Promise<string> {
    return (await this.editor(index).innerText()).replace(/\u200b/g, "");
  }

  /** Enters `code` into cell `index` and runs it with Shift+Enter (which also adds a cell below). */
  async run(index: number, code: string): Promise<void> {
    await this.enter(index, code);
    await this.page.keyboard.press("Shift+Enter");
  }

  /** Waits until cell `index` has finished running: its prompt shows an execution count. */
  async finished(index: number, timeoutMs = stepTimeoutMs): Promise<void> {
    await this.cells.nth(index).locator(".jp-InputPrompt", { hasText: /^\s*\[\d+\]:\s*$/ }).waitFor({ timeout: timeoutMs });
  }

  /** Runs `code` in cell `index` and waits until it has finished and the kernel is idle. */
  async runToEnd(index: number, code: string, timeoutMs = stepTimeoutMs): Promise<void> {
    await this.run(index, code);
    await this.finished(index, timeoutMs);
    await this.kernelStatus("idle").waitFor({ timeout: timeoutMs });
  }

  /** All text of cell `index`'s outputs. */
  async outputText(index: number): Promise<string> {
    return (await this.outputs(index).allInnerTexts()).join("\n");
  }

  /** Waits until an output of cell `index` contains `text`. */
  async waitForOutput(index: number, text: string | RegExp, timeoutMs = stepTimeoutMs): Promise<void> {
    await this.outputs(index).filter({ hasText: text }).first().waitFor({ timeout: timeoutMs });
  }

  /** Clicks a toolbar button of the notebook by its command (e.g. `notebook:interrupt-kernel`). */
  async clickToolbar(command: string, timeoutMs = stepTimeoutMs): Promise<void> {
    await this.page.locator(`.jp-NotebookPanel-toolbar jp-button[data-command="${command}"]`).click({ timeout: timeoutMs });
  }

  /** Opens a main-menu menu (e.g. "Kernel") and clicks an item of it (e.g. "Restart Kernel…"). */
  async menu(menu: string, item: string): Promise<void> {
    await this.page.locator(".lm-MenuBar-itemLabel", { hasText: new RegExp(`^${menu}$`) }).click({ timeout: stepTimeoutMs });
    await this.page.locator(".lm-Menu-content > .lm-Menu-item:not(.lm-mod-hidden)", { has: this.page.locator(".lm-Menu-itemLabel", { hasText: new RegExp(`^${escapeRegExp(item)}$`) }) }).click({ timeout: stepTimeoutMs });
  }

  /** Console and page errors and failed requests that are not known noise. */
  unexpectedProblems(): string[] {
    return [...new Set(this.#problems)];
  }

  /** The known noise the page logged (for diagnostics). */
  knownNoiseSeen(): string[] {
    return [...new Set(this.#noise)];
  }

  async screenshot(name: string): Promise<void> {
    await this.page.screenshot({ path: join(artifactsDir, `${name}.png`), fullPage: true });
  }

  /** Closes the context (the page goes first, so it sees no dying kernel), then shuts the notebook's kernel down (its session, through the REST API). */
  async close(): Promise<void> {
    await this.#context.close();
    if (this.#path === "") return;
    const sessions: unknown = await (await this.#server.api("/api/sessions")).json();
    for (const session of Array.isArray(sessions) ? sessions : []) {
      if (typeof session === "object" && session !== null && "path" in session && "id" in session && session.path === this.#path) {
        const deleted = await this.#server.api(`/api/sessions/${String(session.id)}`, { method: "DELETE" });
        assert.ok(deleted.ok, `DELETE /api/sessions/${String(session.id)}: ${deleted.status}`);
      }
    }
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
