"""Print the device command for a measurement script: `python3 -c "exec(zlib(base64(...)))"` of the script with
its docstrings stripped, short enough for the device tool's 2000-character command limit.

    python benchmarks/gpu/send.py benchmarks/gpu/kernels.py
"""

import base64
import sys
import zlib


def command(path: str) -> str:
    text = open(path).read()
    if text.startswith('"""'):
        text = text[text.index('"""', 3) + 3:].lstrip("\n")
    blob = base64.b64encode(zlib.compress(text.encode(), 9)).decode()
    return f"python3 -c \"import zlib,base64;exec(zlib.decompress(base64.b64decode('{blob}')))\" 2>&1"


if __name__ == "__main__":
    cmd = command(sys.argv[1])
    print(cmd)
    print(len(cmd), file=sys.stderr)
