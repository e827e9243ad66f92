/**
 * The slow path for cells with legacy decorators (tsconfig `experimentalDecorators`), which sucrase
 * does not remove: TypeScript's transpileModule, loaded only when such a cell first runs. Its helpers
 * become globals so that no helper code shifts the cell's lines.
 */
import { transpileWithTypeScript } from "../../lib/script/typescript-transpile.js";

let helpersInstalled = false;

/** Transpiles a cell with decorators to JavaScript with ES module syntax. */
export function transpileWithDecorators(source: string, emitDecoratorMetadata: boolean): string {
  if (!helpersInstalled) {
    installDecoratorHelpers();
    helpersInstalled = true;
  }
  return transpileWithTypeScript(source, { experimentalDecorators: true, emitDecoratorMetadata, noEmitHelpers: true });
}

/** tslib's `__decorate`, `__metadata` and `__param`, as globals. */
function installDecoratorHelpers(): void {
  type Decorator = (...args: unknown[]) => unknown;
  const reflect = Reflect as unknown as { decorate?: (...args: unknown[]) => unknown; metadata?: (key: unknown, value: unknown) => unknown };
  const globals = globalThis as Record<string, unknown>;
  globals["__decorate"] = function (decorators: Decorator[], target: object, key?: PropertyKey, descriptor?: PropertyDescriptor | null): unknown {
    const argumentCount = arguments.length;
    let result: unknown =
      argumentCount < 3 ? target : descriptor === null ? (descriptor = Object.getOwnPropertyDescriptor(target, key as PropertyKey) ?? null) : descriptor;
    if (typeof reflect.decorate === "function") {
      result = reflect.decorate(decorators, target, key, descriptor);
    } else {
      for (let i = decorators.length - 1; i >= 0; i--) {
        const decorator = decorators[i];
        if (!decorator) continue;
        result = (argumentCount < 3 ? decorator(result) : argumentCount > 3 ? decorator(target, key, result) : decorator(target, key)) ?? result;
      }
    }
    if (argumentCount > 3 && result) Object.defineProperty(target, key as PropertyKey, result as PropertyDescriptor);
    return result;
  };
  globals["__metadata"] = (key: unknown, value: unknown) => (typeof reflect.metadata === "function" ? reflect.metadata(key, value) : undefined);
  globals["__param"] = (index: number, decorator: Decorator) => (target: unknown, key: unknown) => decorator(target, key, index);
}
