# attack: forge protocol frames on the reply pipe while the cells run: a JSON bomb nested past the
# recursion limit, a 5000-digit integer, results of the wrong type, an event with a bad index,
# a fake "cells done"
# stopped-by: sandbox
# expect: cell1=error cell2=error cell3=error cell4=error add_one=failed|not_implemented
# seconds: 90
# ruff: noqa: F811  (every cell imports what it uses: a cell that breaks the protocol is dropped)
import os
import struct
import sys

OUT = int(sys.argv[2])
body = b"[" * 200_000 + b"]" * 200_000
os.write(OUT, struct.pack(">QQ", len(body), 0) + body)
# %%
import os
import struct
import sys

OUT = int(sys.argv[2])
body = b'{"event": ' + b"1" * 5000 + b"}"  # an integer too long for Python to convert
os.write(OUT, struct.pack(">QQ", len(body), 0) + body)
# %%
import os
import struct
import sys

OUT = int(sys.argv[2])
body = b'{"ok": true, "cells": [1, "x"]}'
os.write(OUT, struct.pack(">QQ", len(body), 0) + body)
# %%
import os
import struct
import sys

OUT = int(sys.argv[2])
body = b'{"event": "cell_start", "index": {"a": 1}}'
os.write(OUT, struct.pack(">QQ", len(body), 0) + body)
# %%
import json
import os
import struct
import sys

OUT = int(sys.argv[2])
body = json.dumps({"ok": True, "cells": [], "names": []}).encode()
os.write(OUT, struct.pack(">QQ", len(body), 0) + body)  # "all cells ran", then keep running them
