// Lists import cycles between the folders of lib/ and kernel/ (type-only imports included; a file
// directly in lib/ or kernel/ counts as its own node). Exits 1 when there is one.
// Usage: node scripts/folder-cycles.mjs
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";

const root = new URL("..", import.meta.url).pathname;

/** @param {string} dir @returns {string[]} */
function sources(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.c?ts$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** The node a file belongs to: `lib/<folder>`, or the file itself when it sits directly in lib/ or kernel/. @param {string} path */
function nodeOf(path) {
  const parts = relative(root, path).split(sep);
  if (parts[0] !== "lib" && parts[0] !== "kernel") return undefined;
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts.join("/");
}

const specifier = /(?:from\s+|import\s*\(\s*|import\s+)["'](\.[^"']+)["']/g;
/** @type {Map<string, Set<string>>} */
const edges = new Map();
for (const file of [...sources(join(root, "lib")), ...sources(join(root, "kernel"))]) {
  const from = nodeOf(file);
  if (from === undefined) continue;
  for (const match of readFileSync(file, "utf8").matchAll(specifier)) {
    const to = nodeOf(normalize(join(dirname(file), match[1] ?? "")));
    if (to === undefined || to === from) continue;
    if (!edges.has(from)) edges.set(from, new Set());
    edges.get(from)?.add(to);
  }
}

// Tarjan's strongly connected components: every component of more than one node is a cycle.
let counter = 0;
/** @type {Map<string, number>} */ const index = new Map();
/** @type {Map<string, number>} */ const low = new Map();
/** @type {string[]} */ const stack = [];
const onStack = new Set();
/** @type {string[][]} */ const cycles = [];
/** @param {string} node */
function visit(node) {
  index.set(node, counter);
  low.set(node, counter++);
  stack.push(node);
  onStack.add(node);
  for (const next of edges.get(node) ?? []) {
    if (!index.has(next)) {
      visit(next);
      low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
    } else if (onStack.has(next)) {
      low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
    }
  }
  if (low.get(node) !== index.get(node)) return;
  const component = [];
  for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
    onStack.delete(member);
    component.push(member);
    if (member === node) break;
  }
  if (component.length > 1) cycles.push(component.sort());
}
for (const node of edges.keys()) if (!index.has(node)) visit(node);

for (const cycle of cycles) {
  console.log(`cycle: ${cycle.join(", ")}`);
  for (const from of cycle) for (const to of edges.get(from) ?? []) if (cycle.includes(to)) console.log(`  ${from} -> ${to}`);
}
if (cycles.length === 0) console.log("no import cycle between folders");
process.exit(cycles.length === 0 ? 0 : 1);
