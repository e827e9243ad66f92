/**
 * The names a cell declares at top level and the identifiers it uses, from sucrase's TypeScript
 * parser (already ringbook's cell compiler): it marks each identifier with its role, top-level
 * declarations included (values, types, imports), in ~0.1 ms for a cell, without loading
 * TypeScript. Pinned to the sucrase version whose internals this reads; a test fails if they change.
 */
import { createRequire } from "node:module";

/** What sucrase's tokens carry (see sucrase/dist/types/parser/tokenizer/index.d.ts). */
interface SucraseToken {
  type: number;
  start: number;
  end: number;
  identifierRole: number | null;
}

interface SucraseParser {
  parse(input: string, isJSXEnabled: boolean, isTypeScriptEnabled: boolean, isFlowEnabled: boolean): { tokens: SucraseToken[] };
}

const require = createRequire(import.meta.url);
const parser: SucraseParser = require("sucrase/dist/parser");
const tokenizer: { IdentifierRole: Record<string, number> } = require("sucrase/dist/parser/tokenizer");
const tokenTypes: { TokenType: Record<string, number> } = require("sucrase/dist/parser/tokenizer/types");

function roleOf(name: string): number {
  const role = tokenizer.IdentifierRole[name];
  if (typeof role !== "number") throw new Error(`sucrase has no IdentifierRole.${name}: ringbook's pinned sucrase version changed`);
  return role;
}

const declarationRoles = new Set([roleOf("TopLevelDeclaration"), roleOf("ObjectShorthandTopLevelDeclaration"), roleOf("ImportDeclaration")]);
const nameToken = tokenTypes.TokenType["name"];

/** A cell's top-level names. */
export interface CellNames {
  /** Names declared at top level, imports included, in order, each once. */
  declared: string[];
  /** Every identifier in the cell (a superset of the earlier names it uses). */
  used: Set<string>;
}

/** The names of a cell; code that does not parse gives what a scan of its identifiers finds. */
export function cellNames(code: string, jsx: boolean): CellNames {
  let tokens: SucraseToken[];
  try {
    tokens = parser.parse(code, jsx, true, false).tokens;
  } catch {
    // A syntax error is reported by the check itself; still import what the cell may use.
    return { declared: [], used: new Set(code.match(/[\p{L}_$][\p{L}\p{N}_$]*/gu) ?? []) };
  }
  const declared = new Set<string>();
  const used = new Set<string>();
  for (const token of tokens) {
    if (token.type !== nameToken) continue;
    const name = code.slice(token.start, token.end);
    used.add(name);
    if (token.identifierRole !== null && declarationRoles.has(token.identifierRole)) declared.add(name);
  }
  return { declared: [...declared], used };
}
