# attack: fill the disk from the private folder: one huge file, many mid-sized files, a sparse
# file, and a flat folder of empty files (inodes)
# stopped-by: sandbox
# expect: cell1=ok cell2=error cell3=error|timeout add_one=passed
# seconds: 60
chunk = b"\0" * (1 << 20)
try:
    with open("huge.bin", "wb") as handle:
        while True:
            handle.write(chunk)
except OSError as exc:
    print("huge file stopped:", type(exc).__name__)
# %%
import os
import tempfile

chunk = b"\0" * (1 << 20)
for folder in (os.getcwd(), tempfile.gettempdir()):
    for index in range(400):
        with open(os.path.join(folder, f"fill-{index}"), "wb") as handle:
            for _ in range(8):
                handle.write(chunk)
# %%
import os

try:
    with open("sparse.bin", "wb") as handle:
        handle.truncate(10**12)
except OSError as exc:
    print("sparse stopped:", type(exc).__name__)
os.makedirs("inodes", exist_ok=True)
for index in range(200_000):
    open(f"inodes/{index}", "w").close()
