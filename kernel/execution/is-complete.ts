/**
 * Jupyter's is_complete for TypeScript cells, without the language service: a cell that compiles
 * is complete; one that stops inside a bracket, string, template literal or comment, or after an
 * operator that needs a right-hand side, is incomplete; anything else that fails is invalid.
 */
import type { IsCompleteResult } from "./executor.js";

type CompileCell = (source: string) => unknown;

const regexAfterWords = new Set(["return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw", "yield", "await", "instanceof"]);
const continuationOperators = /(?:[+\-*/%&|^<>=!?:,.]|=>|\b(?:extends|implements|new|typeof|in|of|instanceof|return|await|yield|keyof))\s*$/;

/** Decides whether `code` is a complete cell. `compile` throws on syntax errors. */
export function isCellComplete(code: string, compile: CompileCell): IsCompleteResult {
  if (code.trim() === "" || /^\s*%%/.test(code)) return { status: "complete" };
  try {
    compile(code);
    return { status: "complete" };
  } catch {
    // Decide below between "not finished yet" and "wrong".
  }
  const scan = scanOpenings(code);
  const lastLine = code.slice(code.lastIndexOf("\n") + 1);
  const currentIndent = /^\s*/.exec(lastLine)?.[0] ?? "";
  if (scan.insideLiteral) return { status: "incomplete", indent: "" };
  if (scan.openBrackets > 0) return { status: "incomplete", indent: currentIndent + "  " };
  if (scan.unbalanced) return { status: "invalid" };
  const withoutComments = scan.codeOnly.trimEnd();
  if (continuationOperators.test(withoutComments) && !/(\+\+|--)$/.test(withoutComments)) return { status: "incomplete", indent: currentIndent };
  return { status: "invalid" };
}

interface Scan {
  openBrackets: number;
  /** Ends inside a string, template literal, block comment or regex. */
  insideLiteral: boolean;
  /** A closing bracket without its opening one. */
  unbalanced: boolean;
  /** The code with comments removed (to find a trailing operator). */
  codeOnly: string;
}

/** A small JavaScript/TypeScript scanner that tracks brackets, literals and comments. */
function scanOpenings(code: string): Scan {
  const brackets: string[] = [];
  let unbalanced = false;
  let codeOnly = "";
  let lastSignificant = "";
  let lastWord = "";
  let i = 0;
  const length = code.length;
  const closing: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  while (i < length) {
    const char = code[i] ?? "";
    const next = code[i + 1] ?? "";
    if (char === "/" && next === "/") {
      const end = code.indexOf("\n", i);
      i = end === -1 ? length : end;
      continue;
    }
    if (char === "/" && next === "*") {
      const end = code.indexOf("*/", i + 2);
      if (end === -1) return { openBrackets: brackets.length, insideLiteral: true, unbalanced, codeOnly };
      i = end + 2;
      continue;
    }
    if (char === "'" || char === '"') {
      const end = skipString(code, i, char);
      if (end === -1) return { openBrackets: brackets.length, insideLiteral: true, unbalanced, codeOnly };
      codeOnly += code.slice(i, end);
      lastSignificant = char;
      i = end;
      continue;
    }
    if (char === "`" || (char === "}" && brackets[brackets.length - 1] === "${")) {
      if (char === "}") brackets.pop();
      const end = skipTemplate(code, i + 1);
      if (end.kind === "open") return { openBrackets: brackets.length, insideLiteral: true, unbalanced, codeOnly };
      codeOnly += code.slice(i, end.index);
      if (end.kind === "expression") brackets.push("${");
      lastSignificant = "`";
      i = end.index;
      continue;
    }
    if (char === "/" && (lastSignificant === "" || "(,=:[!&|?{};+-*%<>~^".includes(lastSignificant) || regexAfterWords.has(lastWord))) {
      const end = skipRegex(code, i);
      if (end === -1) return { openBrackets: brackets.length, insideLiteral: true, unbalanced, codeOnly };
      codeOnly += code.slice(i, end);
      lastSignificant = "/re";
      lastWord = "";
      i = end;
      continue;
    }
    if (char === "(" || char === "[" || char === "{") brackets.push(char);
    else if (char === ")" || char === "]" || char === "}") {
      if (brackets[brackets.length - 1] === closing[char]) brackets.pop();
      else unbalanced = true;
    }
    if (/[A-Za-z_$0-9]/.test(char)) {
      lastWord = /[A-Za-z_$0-9]/.test(code[i - 1] ?? "") ? lastWord + char : char;
      lastSignificant = "w";
    } else if (!/\s/.test(char)) {
      lastSignificant = char;
      lastWord = "";
    }
    codeOnly += char;
    i++;
  }
  return { openBrackets: brackets.length, insideLiteral: false, unbalanced, codeOnly };
}

function skipString(code: string, start: number, quote: string): number {
  for (let i = start + 1; i < code.length; i++) {
    const char = code[i];
    if (char === "\\") i++;
    else if (char === quote) return i + 1;
    else if (char === "\n") return i;
  }
  return -1;
}

function skipTemplate(code: string, start: number): { kind: "closed" | "expression" | "open"; index: number } {
  for (let i = start; i < code.length; i++) {
    const char = code[i];
    if (char === "\\") i++;
    else if (char === "`") return { kind: "closed", index: i + 1 };
    else if (char === "$" && code[i + 1] === "{") return { kind: "expression", index: i + 2 };
  }
  return { kind: "open", index: code.length };
}

function skipRegex(code: string, start: number): number {
  let inClass = false;
  for (let i = start + 1; i < code.length; i++) {
    const char = code[i];
    if (char === "\\") i++;
    else if (char === "[") inClass = true;
    else if (char === "]") inClass = false;
    else if (char === "/" && !inClass) {
      let end = i + 1;
      while (end < code.length && /[a-z]/.test(code[end] ?? "")) end++;
      return end;
    }
    else if (char === "\n") return -1;
  }
  return -1;
}
