/**
 * The few tsconfig.json options that change how cells run (JSX, legacy decorators), read without
 * loading TypeScript: comments and trailing commas are stripped, then JSON.parse; `extends` is not
 * followed here (the language service reads the full configuration).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stripJsonComments } from "../language/json-comments.js";
import type { CellWorkerConfig } from "./worker-protocol.js";

/** What the cell worker needs from tsconfig.json. */
export type RuntimeTsconfig = Pick<CellWorkerConfig, "jsx" | "experimentalDecorators" | "emitDecoratorMetadata">;

/** Reads `cwd/tsconfig.json`; missing or unreadable files give the defaults (and a log line). */
export function readRuntimeTsconfig(cwd: string, log: (line: string) => void): RuntimeTsconfig {
  const defaults: RuntimeTsconfig = { experimentalDecorators: false, emitDecoratorMetadata: false };
  let text: string;
  try {
    text = readFileSync(join(cwd, "tsconfig.json"), "utf8");
  } catch {
    return defaults;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(stripJsonComments(text));
  } catch (error) {
    log(`ignoring ${join(cwd, "tsconfig.json")}: ${error instanceof Error ? error.message : String(error)}`);
    return defaults;
  }
  const compilerOptions = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>)["compilerOptions"] : undefined;
  if (typeof compilerOptions !== "object" || compilerOptions === null) return defaults;
  const options = compilerOptions as Record<string, unknown>;
  const result: RuntimeTsconfig = {
    experimentalDecorators: options["experimentalDecorators"] === true,
    emitDecoratorMetadata: options["emitDecoratorMetadata"] === true,
  };
  const jsx = typeof options["jsx"] === "string" ? options["jsx"].toLowerCase() : undefined;
  if (jsx === "react" || jsx === "react-jsx" || jsx === "react-jsxdev") {
    result.jsx = { runtime: jsx === "react" ? "classic" : "automatic" };
    if (typeof options["jsxFactory"] === "string") result.jsx.factory = options["jsxFactory"];
    if (typeof options["jsxFragmentFactory"] === "string") result.jsx.fragmentFactory = options["jsxFragmentFactory"];
    if (typeof options["jsxImportSource"] === "string") result.jsx.importSource = options["jsxImportSource"];
  }
  return result;
}
