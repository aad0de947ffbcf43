"""Run commands and report each one's own peak memory.

Linux counts the memory a process had before exec() in its peak (ru_maxrss), and a child
starts as a copy of its parent. The benchmark's own process grows (it parses syft's JSON),
so commands are started from this small process instead: one JSON request a line on stdin
({"cmd": [...], "env": {...}, "stdout": PATH}), one JSON answer a line on stdout.
"""

import json
import os
import subprocess
import sys
import time

for line in sys.stdin:
    req = json.loads(line)
    with open(req["stdout"], "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(req["cmd"], stdout=out, stderr=subprocess.PIPE, env={**os.environ, **req["env"]})
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    answer = {
        "seconds": elapsed,
        "peak_kb": usage.ru_maxrss,
        "code": os.waitstatus_to_exitcode(status),
        "stderr": err[-2000:],
    }
    print(json.dumps(answer), flush=True)
