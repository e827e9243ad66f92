/**
 * The notebook host contract (lib/notebook-host.ts): a plain script has none, an installed host is
 * found as it is, something else under the key is refused naming what it lacks, and uninstalling
 * removes only the host it installed.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { installNotebookHost, notebookHost, notebookHostKey, parseNotebookHost, type NotebookHost } from "../../lib/notebook-host.js";
import { findDisplayHost } from "../../lib/plots/live-display.js";

function quietHost(): NotebookHost {
  return {
    displays: { display: () => undefined, clearOutput: () => undefined },
    liveFigures: { create: () => ({ plotly: () => undefined, bundle: () => undefined }) },
    comms: {
      registerTarget: () => undefined,
      unregisterTarget: () => undefined,
      open: () => {
        throw new Error("no front end");
      },
    },
    cellMagics: new Map(),
    interruptHooks: new Set(),
    shutdownHooks: new Set(),
  };
}

describe("notebook host", () => {
  it("is absent in a plain script, so live figures find no display host", () => {
    assert.equal(notebookHost(), undefined);
    assert.equal(findDisplayHost(), undefined);
  });

  it("is found as installed, and removed by its own uninstall only", () => {
    const first = quietHost();
    const uninstallFirst = installNotebookHost(first);
    try {
      assert.equal(notebookHost(), first);
      assert.equal(findDisplayHost(), first.liveFigures);
      const second = quietHost();
      const uninstallSecond = installNotebookHost(second);
      uninstallFirst();
      assert.equal(notebookHost(), second, "a replaced host's uninstall leaves the new one");
      uninstallSecond();
      assert.equal(notebookHost(), undefined);
    } finally {
      uninstallFirst();
      Reflect.deleteProperty(globalThis, notebookHostKey);
    }
  });

  it("refuses what is not a host, naming what it lacks", () => {
    assert.equal(parseNotebookHost(undefined), undefined);
    assert.throws(() => parseNotebookHost(42), { code: "ERR_BAD_NOTEBOOK_HOST", message: /expected an object, got number/ });
    const { comms: _comms, ...withoutComms } = quietHost();
    assert.throws(() => parseNotebookHost(withoutComms), { code: "ERR_BAD_NOTEBOOK_HOST", message: /comms must be an object/ });
    assert.throws(() => parseNotebookHost({ ...quietHost(), cellMagics: {} }), { code: "ERR_BAD_NOTEBOOK_HOST", message: /cellMagics must be a Map/ });
    assert.throws(() => parseNotebookHost({ ...quietHost(), liveFigures: { create: () => undefined, sendFigureDelta: 1 } }), {
      code: "ERR_BAD_NOTEBOOK_HOST",
      message: /liveFigures\.sendFigureDelta must be a function/,
    });
  });
});
