"""jupyter_kernel_test's conformance suite against a ringbook kernelspec (the fixture executor).

Usage: RINGBOOK_TEST_KERNEL=NAME /usr/bin/python3 -m unittest conformance  (run from this folder)
"""

import os
import sys
import unittest

import jupyter_kernel_test


class RingbookConformance(jupyter_kernel_test.KernelTests):
    kernel_name = os.environ.get("RINGBOOK_TEST_KERNEL", "ringbook-test")
    language_name = "typescript"
    file_extension = ".ts"
    code_hello_world = "print('hello, world')"
    code_stderr = "eprint('error')"
    completion_samples = [{"text": "pri", "matches": {"print"}}]
    complete_code_samples = ["1 + 1", "function f() { return 1 }"]
    incomplete_code_samples = ["function f() {", "[1, 2,"]
    invalid_code_samples = ["1 +* 2"]
    code_page_something = None
    code_execute_result = [{"code": "6 * 7", "result": "42"}, {"code": "'a' + 'b'", "result": "'ab'"}]
    code_display_data = [{"code": "display({'text/plain': 'shown'})", "mime": "text/plain"}]
    code_history_pattern = "6 ?*"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "print"
    code_clear_output = "clear()"
    code_generate_error = "throw new Error('boom')"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Lets the Node test kill the kernel by PID if this process dies.
        print("KERNEL_PID %d" % cls.km.provisioner.process.pid, file=sys.stderr, flush=True)


if __name__ == "__main__":
    unittest.main()
