# attack: write outside the private folder where a sandbox might keep a writable, memory-backed
# filesystem (/tmp, /var/tmp, /dev/shm, /dev, the root): each file is small, together they are not
# stopped-by: bwrap
# expect: add_one=passed
# seconds: 60
import os

chunk = b"\0" * (1 << 20)
for folder in ("/tmp", "/var/tmp", "/dev/shm", "/dev", "/"):
    written = 0
    try:
        os.makedirs(folder, exist_ok=True)
        for index in range(300):
            with open(os.path.join(folder, f"fill-@@MARK@@-{index}"), "wb") as handle:
                for _ in range(4):
                    handle.write(chunk)
            written += 4
    except OSError as exc:
        print(folder, "stopped:", type(exc).__name__)
    if written:
        print("ATTACK-SUCCEEDED wrote", written, "MiB under", folder)
