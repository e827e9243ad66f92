/**
 * Loads the *built* labextension the way JupyterLab does: its remote entry script defines a module
 * federation container, which is given a share scope (the singletons JupyterLab's page provides)
 * and asked for its exposed modules (`./mimeExtension`, `./extension`).
 */
export interface FederatedContainer {
  init(shareScope: Record<string, Record<string, unknown>>): Promise<void>;
  get(module: string): Promise<() => { default?: unknown } & Record<string, unknown>>;
}

declare global {
  interface Window {
    _JUPYTERLAB?: Record<string, FederatedContainer>;
  }
}

export interface LabextensionManifest {
  name: string;
  jupyterlab: { _build: { load: string; mimeExtension?: string; extension?: string } };
}

function loadScript(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${url}`));
    document.head.appendChild(script);
  });
}

/** A share scope entry that provides `module` as version `version` of a package. */
export function shared(version: string, module: unknown): Record<string, unknown> {
  return { [version]: { get: () => Promise.resolve(() => module), from: "page", eager: true, loaded: 1 } };
}

/** Loads `${base}/package.json`'s remote entry and initialises its container with `shareScope`. */
export async function loadContainer(base: string, shareScope: Record<string, Record<string, unknown>>): Promise<{ manifest: LabextensionManifest; container: FederatedContainer }> {
  const manifest = (await (await fetch(`${base}/package.json`)).json()) as LabextensionManifest;
  await loadScript(`${base}/${manifest.jupyterlab._build.load}`);
  const container = window._JUPYTERLAB?.[manifest.name];
  if (container === undefined) throw new Error(`${manifest.name}'s remote entry defined no container`);
  await container.init(shareScope);
  return { manifest, container };
}
