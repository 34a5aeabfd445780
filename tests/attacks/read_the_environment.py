# attack: read the grader's secrets from the sandbox's own environment: os.environ, getenv,
# /proc/self/environ, what a child shell sees, and print everything into the report
# stopped-by: sandbox
# expect: guess_env_secret=failed
# seconds: 40
import os
import subprocess

KEYS = ("TENSORGRADE_SECRET_KEY", "SECRET_KEY", "DATABASE_URL", "TOY_ATTACKS_NET_TOKEN")


def guess_env_secret():
    print(sorted(os.environ.items()))
    for key in KEYS:
        if os.getenv(key):
            print("ATTACK-SUCCEEDED", key, "is in the sandbox's environment")
            return os.environ[key]
    with open("/proc/self/environ", "rb") as handle:
        own = handle.read()
    try:
        shell = subprocess.run(["/bin/sh", "-c", "env"], capture_output=True, timeout=2).stdout
    except Exception:
        shell = b""
    for blob in (own, shell):
        for line in blob.replace(b"\0", b"\n").splitlines():
            key, _, value = line.partition(b"=")
            if key.decode(errors="ignore") in KEYS:
                print("ATTACK-SUCCEEDED found", key)
                return value.decode()
    return "unknown"
