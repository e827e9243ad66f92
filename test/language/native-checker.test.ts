/**
 * The native checker through many cells: every 256 cells a new generation of cell files starts
 * (the model's only structural change), and a cell is checked in the file its commit will write.
 * A generation started by a cell that declares nothing was unreachable from the program's roots
 * until some file imported it, and the next declaring cell's check failed with "source file not
 * found" (the 30-minute soak met it at its 768th cell).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { NativeChecker } from "../../kernel/language/native-checker.js";

const packageRoot = fileURLToPath(new URL("../../..", import.meta.url));

test("cells across three generation boundaries are checked against the cells before them, whatever the boundary cell declares", async () => {
  const cwd = await mkdtemp(join(tmpdir(), "ringbook-checker-"));
  const checker = await NativeChecker.start({ cwd, packageRoot, checker: "native" });
  try {
    let lastNumber: string | undefined;
    for (let index = 0; index < 3 * 256 + 8; index++) {
      // Cells 256, 512 and 768 (each the first of a generation) declare nothing; the next ones do.
      let code: string;
      if (index % 256 === 0) code = `${index} + 1`;
      else if (index % 2 === 0 || lastNumber === undefined) {
        lastNumber = `v${index}`;
        code = `const ${lastNumber}: number = ${index};`;
      } else code = `const w${index}: string = String(${lastNumber});`;
      assert.deepEqual(checker.diagnose(code), [], `cell ${index}: ${code}`);
      checker.commit(code);
    }
    const wrong = checker.diagnose("const late: string = v1;");
    assert.deepEqual(wrong.map((d) => [d.line, d.column, d.code]), [[1, 7, 2322]], "a name from the first generation keeps its type");
    assert.deepEqual(checker.diagnose(`const fromLast: number = v${3 * 256 + 6};`), []);
  } finally {
    await checker.close();
    await rm(cwd, { recursive: true, force: true });
  }
});

test("the compiler's stderr is not the kernel's: a Go panic of a compiler whose kernel died stays out of the user's terminal", async () => {
  // A compiler whose owner dies mid-request reads EOF on its pipe and panics ("panic: EOF" and a
  // Go stack trace): a CI log of a kernel test showed one, on the kernel's stderr, which is the
  // front end's terminal. The compiler gets a stderr of its own, read by the checker.
  const cwd = await mkdtemp(join(tmpdir(), "ringbook-checker-"));
  const checker = await NativeChecker.start({ cwd, packageRoot, checker: "native" });
  try {
    const compilers = childrenOf(process.pid).filter((pid) => /tsgo|typescript/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8")));
    assert.ok(compilers.length >= 1, "the compiler runs as a child process");
    const ownStderr = readlinkSync("/proc/self/fd/2");
    for (const pid of compilers) assert.notEqual(readlinkSync(`/proc/${pid}/fd/2`), ownStderr, `compiler ${pid} writes elsewhere than the kernel's stderr`);
  } finally {
    await checker.close();
    await rm(cwd, { recursive: true, force: true });
  }
});

/** PIDs of the processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        // The parent is the second field after the command, which ends with ") ".
        return readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]?.split(" ")[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

test("a tsconfig.json beside the notebook gives its options, not its included files: a project's source does not join every check", async () => {
  const cwd = await mkdtemp(join(tmpdir(), "ringbook-checker-"));
  try {
    await mkdir(join(cwd, "src"));
    await writeFile(join(cwd, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, target: "es2022", lib: ["es2023"] }, include: ["src/**/*.ts"] }));
    // A project file with a global declaration: visible only if the project's files joined the program.
    await writeFile(join(cwd, "src", "project-globals.ts"), "declare global { var projectOnly: number }\nexport const fromProject = 1;\n");
    const checker = await NativeChecker.start({ cwd, packageRoot, checker: "native" });
    try {
      assert.deepEqual(checker.diagnose("const n: number = projectOnly;").map((d) => d.code), [2304], "the project's files are not part of the notebook");
      assert.deepEqual(checker.diagnose('import { fromProject } from "./src/project-globals.ts";\nconst m: number = fromProject;'), [], "a cell imports the project's code");
      assert.deepEqual(checker.diagnose("let s: string = 1;").map((d) => d.code), [2322], "the tsconfig's strict options apply");
    } finally {
      await checker.close();
    }
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});
