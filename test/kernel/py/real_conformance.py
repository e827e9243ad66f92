"""jupyter_kernel_test's conformance suite against the real ringbook kernel (TypeScript cells).

Usage: RINGBOOK_TEST_KERNEL=NAME /usr/bin/python3 -m unittest real_conformance  (from this folder)
"""

import os
import sys
import unittest

import jupyter_kernel_test


class RingbookRealConformance(jupyter_kernel_test.KernelTests):
    kernel_name = os.environ.get("RINGBOOK_TEST_KERNEL", "ringbook")
    language_name = "typescript"
    file_extension = ".ts"
    code_hello_world = "console.log('hello, world')"
    code_stderr = "console.error('error')"
    completion_samples = [
        {"text": "Math.ma", "matches": {"max"}},
        {"text": "const zebraCount: number = 3;\nzebraC", "matches": {"zebraCount"}},
    ]
    complete_code_samples = ["1 + 1", "function f(a: number): number { return a }", "const x = [1, 2]"]
    incomplete_code_samples = ["function f() {", "[1, 2,", "const s = `abc"]
    invalid_code_samples = ["1 +* 2", "const = 5"]
    code_page_something = None
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "'a' + 'b'", "result": "'ab'"},
        {"code": "const typed: number[] = [1, 2, 3];\ntyped.map((v) => v * 2)", "result": "[ 2, 4, 6 ]"},
    ]
    code_display_data = [
        {"code": "display.html('<b>bold</b>')", "mime": "text/html"},
        {"code": "display.markdown('# title')", "mime": "text/markdown"},
        {"code": "display.svg('<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>')", "mime": "image/svg+xml"},
    ]
    code_history_pattern = "6 ?*"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "Math.max"
    code_clear_output = "display.clearOutput()"
    code_generate_error = "throw new Error('boom')"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Lets the Node test kill the kernel by PID if this process dies.
        print("KERNEL_PID %d" % cls.km.provisioner.process.pid, file=sys.stderr, flush=True)


if __name__ == "__main__":
    unittest.main()
